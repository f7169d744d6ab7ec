package webrtc

import (
	"testing"
	"time"
)

// TestSessionClockSenderReports checks that sender reports put two tracks
// with unrelated RTP offsets, whose first packets arrive 300 ms apart, on
// one clock: samples captured at the same instant get the same time.
func TestSessionClockSenderReports(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	sc := &sessionClock{start: t0}
	v, a := sc.track(videoClock), sc.track(audioClock)
	const vOff, aOff = 4000000000, 123456 // RTP offsets (video wraps soon)
	ntp := func(d time.Duration) uint64 {
		const epoch = 3_900_000_000 // seconds, any
		return uint64(epoch+d/time.Second)<<32 | uint64(d%time.Second)<<32/uint64(time.Second)
	}
	// Capture instant c (since the sender's zero) → RTP time.
	vts := func(c time.Duration) uint32 { return uint32(vOff + int64(c)*videoClock/int64(time.Second)) }
	ats := func(c time.Duration) uint32 { return uint32(aOff + int64(c)*audioClock/int64(time.Second)) }

	// Video's first packet at 10 ms, audio's at 310 ms (a slow start).
	if _, ok := v.packet(vts(0), t0.Add(10*time.Millisecond)); ok {
		t.Fatal("video anchored before a sender report or srWait")
	}
	if _, ok := a.packet(ats(0), t0.Add(310*time.Millisecond)); ok {
		t.Fatal("audio anchored early")
	}
	// Sender reports for both at capture instant 500 ms.
	v.senderReport(ntp(500*time.Millisecond), vts(500*time.Millisecond), t0.Add(520*time.Millisecond))
	a.senderReport(ntp(500*time.Millisecond), ats(500*time.Millisecond), t0.Add(530*time.Millisecond))
	for _, c := range []time.Duration{0, time.Second, 20 * time.Second} { // 20 s: video RTP time wrapped
		vu, vok := v.packet(vts(c), t0.Add(c+20*time.Millisecond))
		au, aok := a.packet(ats(c), t0.Add(c+40*time.Millisecond))
		if !vok || !aok {
			t.Fatalf("not anchored after sender reports")
		}
		vt, _ := v.ticks(vu)
		at, _ := a.ticks(au)
		dv := time.Duration(vt) * time.Second / videoClock
		da := time.Duration(at) * time.Second / audioClock
		if d := dv - da; d < -time.Millisecond || d > time.Millisecond {
			t.Errorf("capture %v: video at %v, audio at %v", c, dv, da)
		}
	}

	// Without sender reports a track is anchored on arrival after srWait.
	sc2 := &sessionClock{start: t0}
	x := sc2.track(videoClock)
	x.packet(1000, t0.Add(100*time.Millisecond))
	u, ok := x.packet(1000+videoClock*2, t0.Add(100*time.Millisecond+2*time.Second))
	if !ok {
		t.Fatal("not anchored on arrival after srWait")
	}
	if tk, _ := x.ticks(u); time.Duration(tk)*time.Second/videoClock != clockBase+2100*time.Millisecond {
		t.Errorf("arrival-timed sample at %v, want %v", time.Duration(tk)*time.Second/videoClock, clockBase+2100*time.Millisecond)
	}
}

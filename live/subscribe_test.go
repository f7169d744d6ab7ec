package live

import (
	"context"
	"testing"
)

// TestSubscribe checks that a subscriber sees every accepted sample, with
// its track's description, in the publisher's order, that Tracks lists the
// session's tracks, and that nothing arrives after unsubscribing.
func TestSubscribe(t *testing.T) {
	tracks := openTracks(t, "ladder_360p.mp4")
	clk := &fakeClock{t: epoch}
	ch, _ := newTestChannel(clk, newMem())
	if ch.Tracks() != nil {
		t.Error("Tracks without a publisher")
	}
	var got []TrackSample
	unsub := ch.Subscribe(func(ts TrackSample) {
		ts.Payload = append([]byte(nil), ts.Payload...)
		got = append(got, ts)
	})
	ctx := context.Background()
	pub, err := ch.Publish(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	pp := &pacedPub{Publisher: pub, clk: clk, base: clk.Now()}
	if err := Replay(ctx, tracks, pp, ReplayOptions{Loops: 1}); err != nil {
		t.Fatal(err)
	}
	if ts := ch.Tracks(); len(ts) != len(tracks) || ts[0].Codec == "" {
		t.Errorf("Tracks: %d tracks (want %d), described %v", len(ts), len(tracks), ts)
	}
	st := ch.Stats()
	if int64(len(got)) != st.Samples || st.Samples == 0 {
		t.Fatalf("subscriber saw %d samples, channel accepted %d", len(got), st.Samples)
	}
	last := map[int]uint64{}
	for i, ts := range got {
		if ts.Key != "k" || ts.Info == nil || ts.Info.SampleEntry == nil || int(ts.Sample.Size) != len(ts.Payload) {
			t.Fatalf("sample %d: %+v", i, ts)
		}
		if d, ok := last[ts.Track]; ok && ts.Sample.DecodeTime <= d {
			t.Fatalf("sample %d of track %d out of order", i, ts.Track)
		}
		last[ts.Track] = ts.Sample.DecodeTime
	}
	unsub()
	n := len(got)
	pub.Close(nil)
	pub2, _ := ch.Publish(ctx, "k2")
	Replay(ctx, tracks, pub2, ReplayOptions{Loops: 1})
	if len(got) != n {
		t.Errorf("%d samples after unsubscribing", len(got)-n)
	}
	closeChannel(t, ch)
}

package webrtc

import (
	"sync"
	"time"
)

// srWait is how long a track's first samples wait for an RTCP sender
// report before the track is timed by arrival instead.
const srWait = 1500 * time.Millisecond

// clockBase is added to every publisher time, so that a track starting a
// little before the one that set the session's zero stays positive.
const clockBase = 10 * time.Second

// sessionClock puts the tracks of one WHIP session on one clock, the
// publisher clock the live.Publisher sees. Each track's RTP timestamps are
// unwrapped to 64 bits and anchored once: on the sender's NTP clock by its
// first RTCP sender report (RFC 3550 section 6.4.1), which is what keeps
// audio and video in sync, or, when no report came within srWait, on the
// arrival time of its first packet. An anchor never moves, so a track's
// times never jump.
type sessionClock struct {
	mu      sync.Mutex
	start   time.Time // local zero
	haveNTP bool
	ntpOff  time.Duration // local elapsed - sender NTP time
}

// trackClock maps one track's RTP timestamps.
type trackClock struct {
	sc        *sessionClock
	rate      int64
	started   bool
	last      uint32
	unwrapped int64
	first     time.Time // arrival of the first packet
	anchored  bool
	refRTP    int64
	refT      time.Duration // session time of refRTP
}

func (sc *sessionClock) track(rate int64) *trackClock { return &trackClock{sc: sc, rate: rate} }

// unwrap extends an RTP timestamp to 64 bits relative to the last one.
func (tc *trackClock) unwrap(ts uint32) int64 {
	if !tc.started {
		tc.started, tc.last, tc.unwrapped = true, ts, int64(ts)
		return tc.unwrapped
	}
	tc.unwrapped += int64(int32(ts - tc.last))
	tc.last = ts
	return tc.unwrapped
}

// senderReport anchors the track on a sender report that arrived at now
// (if it is not anchored yet).
func (tc *trackClock) senderReport(ntp uint64, rtpTime uint32, now time.Time) {
	sc := tc.sc
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if tc.anchored || !tc.started {
		return
	}
	nt := ntpDuration(ntp)
	if !sc.haveNTP {
		sc.haveNTP = true
		sc.ntpOff = now.Sub(sc.start) - nt
	}
	tc.anchored = true
	tc.refRTP = tc.unwrapped + int64(int32(rtpTime-tc.last))
	tc.refT = nt + sc.ntpOff
}

// ntpDuration converts a 64-bit NTP timestamp to a duration since the NTP
// epoch (modulo about 136 years, which the session does not live).
func ntpDuration(ntp uint64) time.Duration {
	sec := ntp >> 32
	frac := ntp & 0xffffffff
	return time.Duration(sec)*time.Second + time.Duration(frac*uint64(time.Second)>>32)
}

// packet records an arrival and returns the packet's unwrapped timestamp,
// and whether the track is anchored (else its samples wait).
func (tc *trackClock) packet(ts uint32, now time.Time) (int64, bool) {
	sc := tc.sc
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if !tc.started {
		tc.first = now
	}
	u := tc.unwrap(ts)
	if !tc.anchored && now.Sub(tc.first) >= srWait {
		// No sender report: time the track by the arrival of its
		// first packet.
		tc.anchored = true
		tc.refRTP = u - int64(now.Sub(tc.first))*tc.rate/int64(time.Second)
		tc.refT = tc.first.Sub(sc.start)
	}
	return u, tc.anchored
}

// ticks returns the publisher time of unwrapped timestamp u on the track's
// timescale, false when it falls before the publisher clock's zero.
func (tc *trackClock) ticks(u int64) (uint64, bool) {
	tc.sc.mu.Lock()
	defer tc.sc.mu.Unlock()
	d := tc.refT + clockBase
	t := int64(d/time.Second)*tc.rate + int64(d%time.Second)*tc.rate/int64(time.Second) + (u - tc.refRTP)
	if t < 0 {
		return 0, false
	}
	return uint64(t), true
}

package live

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/cmafkit/cmafkit/manifest"
	"github.com/cmafkit/cmafkit/scte35"
)

// CuePublisher is implemented by the Publishers that take SCTE-35 cues, as
// a Channel's do. An ingest that reads cues (ingest/tsin from stream type
// 0x86 PIDs) checks for it and hands each splice_info_section over with
// WriteCue, in stream order with the samples.
//
// The channel cuts a segment at the first keyframe of the reference video
// track (else the first sample) at or after the splice time, and signals the
// cue there: an EXT-X-DATERANGE in the HLS media playlists and an Event in
// the period's EventStream (urn:scte:scte35:2014:xml+bin) of the dynamic
// MPD, both leaving with the window.
type CuePublisher interface {
	// WriteCue hands over section, whose splice point is at pts, a
	// presentation time on the timescale and clock of the samples of
	// track. A cue that cannot apply (a bad section, a splice already
	// past, a break inside another, a cue before any sample) is logged,
	// counted in Stats.BadCues and refused with an error that is
	// errors.Is ErrBadCue: the stream goes on. splice_null and cancelled
	// events are taken and mark nothing; repetitions of a pending cue are
	// taken once.
	WriteCue(ctx context.Context, track int, pts uint64, section []byte) error
}

// ErrBadCue is wrapped by the error of a cue the channel refuses.
var ErrBadCue = errors.New("live: cue refused")

// maxPendingCues bounds the cues waiting for their splice point.
const maxPendingCues = 64

// pendingCue is a cue waiting for the reference track to reach its splice
// point.
type pendingCue struct {
	pt    *ptrack
	ticks int64 // splice time on pt's channel decode timeline
	cue   manifest.Cue
}

// at is the splice time on the channel's presentation timeline. It is
// worked out when needed: the track's presentation offset (the B-frame
// delay) is known only from its first keyframe on, which a cue sent ahead
// of time may precede.
func (q *pendingCue) at() time.Duration {
	return ticksToDur(q.ticks-q.pt.out.PresentationOffset, q.pt.out.Timescale)
}

// cueState is a period's cues: those waiting and those placed.
type cueState struct {
	pending []pendingCue
	placed  []manifest.Cue // Start relative to the period start
	open    *manifest.Cue  // the break opened and not yet returned from
	seq     uint32         // cues taken, for IDs and DASH Event ids
}

func (s *session) WriteCue(ctx context.Context, track int, pts uint64, section []byte) error {
	c := s.c
	c.lock()
	defer c.unlock()
	if s.done {
		return ErrClosed
	}
	bad := func(detail string, args ...any) error {
		c.stats.BadCues++
		err := fmt.Errorf("%w: %s: %s", ErrBadCue, s.key, fmt.Sprintf(detail, args...))
		c.Logger.Warn("live: SCTE-35 cue skipped", "err", err)
		return err
	}
	sec, err := scte35.Parse(section)
	if err != nil {
		return bad("%v", err)
	}
	role, event, dur := sec.Role()
	if role == scte35.RoleNone {
		return nil
	}
	p := c.period
	if track < 0 || track >= len(s.tracks) || p == nil || !p.anchored || track >= len(p.tracks) || p.tracks[track] == nil {
		return bad("cue before any sample of its track")
	}
	pt := p.tracks[track]
	ts := pt.out.Timescale
	off := pt.off
	if !pt.haveOff {
		off = durToTicks(p.start, ts) - durToTicks(p.anchorPub, ts)
	}
	q := pendingCue{pt: pt, ticks: int64(pts) + off}
	at := q.at()
	cs := &p.cues
	for _, o := range cs.pending {
		if o.at() == at && o.cue.Kind == manifest.CueKind(role) {
			return nil // a repetition senders send ahead of the splice
		}
	}
	for _, q := range cs.placed {
		if q.Kind == manifest.CueKind(role) && cueIDBase(q.ID) == event {
			if d := p.start + q.Start - at; d < time.Second && d > -time.Second {
				return nil // a repetition of a cue already placed
			}
		}
	}
	if p.haveFirst && at < p.refAt {
		return bad("splice at %v is past (the stream is at %v)", at, p.refAt)
	}
	if at < p.start {
		return bad("splice at %v is before the period (%v)", at, p.start)
	}
	if len(cs.pending) >= maxPendingCues {
		return bad("more than %d cues waiting for their splice points", maxPendingCues)
	}
	cue := manifest.Cue{Kind: manifest.CueKind(role), SCTE35: append([]byte(nil), section...)}
	switch cue.Kind {
	case manifest.CueOut:
		if o := cs.open; o != nil && (o.Duration == 0 || p.start+o.Start+o.Duration > at) {
			return bad("a break at %v starts inside break %s", at, o.ID)
		}
		for _, o := range cs.pending {
			if o.cue.Kind == manifest.CueOut {
				return bad("a break at %v while break %s waits for its start", at, o.cue.ID)
			}
		}
		cue.Duration, cue.Planned = dur, dur > 0
	}
	cs.seq++
	cue.ID = event + "-" + strconv.FormatUint(uint64(cs.seq), 10)
	cue.EventID = cs.seq
	q.cue = cue
	cs.pending = append(cs.pending, q)
	c.stats.Cues++
	return nil
}

// cueIDBase strips the sequence number WriteCue adds to an event name.
func cueIDBase(id string) string {
	for i := len(id) - 1; i >= 0; i-- {
		if id[i] == '-' {
			return id[:i]
		}
	}
	return id
}

// spliceDue reports whether a cue waits for a splice at or before t (with
// half a frame of tolerance, frame long).
func (p *period) spliceDue(t, frame time.Duration) bool {
	for i := range p.cues.pending {
		if p.cues.pending[i].at() <= t+frame/2 {
			return true
		}
	}
	return false
}

// placeCues signals the cues due at t, the reference sample that starts a
// segment: their Start is t, where the cut is.
func (p *period) placeCues(t, frame time.Duration) {
	cs := &p.cues
	kept := cs.pending[:0]
	for _, q := range cs.pending {
		at := q.at()
		if at > t+frame/2 {
			kept = append(kept, q)
			continue
		}
		cue := q.cue
		cue.Start = t - p.start
		if d := t - at; d > frame {
			p.c.Logger.Info("live: no keyframe at the splice point; cut at the next", "cue", cue.ID, "splice", at, "cut", t)
		}
		switch cue.Kind {
		case manifest.CueOut:
			o := cue
			cs.open = &o
		case manifest.CueIn:
			if cs.open != nil {
				cue.ID = cs.open.ID
				cs.open = nil
			}
		}
		cs.placed = append(cs.placed, cue)
	}
	cs.pending = kept
}

// windowCues returns the cues placed from since (relative to the period
// start) on, for the manifests, and forgets the older ones. A break's
// start stays while the break is open or its return is in the window: HLS
// writes the return as the break's date range, with the same START-DATE.
func (p *period) windowCues(since time.Duration) []manifest.Cue {
	cs := &p.cues
	keep := func(k int) bool {
		c := &cs.placed[k]
		if c.Start >= since || cs.open != nil && c.ID == cs.open.ID {
			return true
		}
		if c.Kind == manifest.CueOut {
			for _, o := range cs.placed[k+1:] {
				if o.ID == c.ID && o.Kind == manifest.CueIn && o.Start >= since {
					return true
				}
			}
		}
		return false
	}
	k := 0
	for k < len(cs.placed) && !keep(k) {
		k++
	}
	cs.placed = cs.placed[k:]
	return append([]manifest.Cue(nil), cs.placed...)
}

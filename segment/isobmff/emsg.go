package isobmff

import (
	"encoding/binary"
	"slices"
	"time"

	"github.com/cmafkit/cmafkit/internal/emsg"
	"github.com/cmafkit/cmafkit/scte35"
	"github.com/cmafkit/cmafkit/segment"
)

// maxEmsgSize bounds the emsg boxes read for cues (an SCTE-35 section is at
// most 4 KiB); larger ones are skipped.
const maxEmsgSize = 64 << 10

// maxCues bounds the cues kept from one input.
const maxCues = 4096

// emsgCue is an SCTE-35 emsg box until its time is known.
type emsgCue struct {
	m   *emsg.Message
	off int64
	// For version 0: the track and decode time (its timescale) of the
	// fragment that follows the box, which the delta counts from.
	track   uint32
	base    uint64
	hasBase bool
}

// readEmsg reads a top-level emsg box and keeps it if it carries SCTE-35
// (scheme urn:scte:scte35:2013:bin) with a section that parses; other
// schemes are ignored, bad boxes and sections logged and skipped.
func (p *mp4Parser) readEmsg(off, size int64, hdrLen int) {
	if size > maxEmsgSize {
		p.log.Warn("emsg box too large; skipped", "source", p.name, "offset", off, "size", size)
		return
	}
	b := make([]byte, size-int64(hdrLen))
	if _, err := p.r.ReadAt(b, off+int64(hdrLen)); err != nil {
		p.log.Warn("emsg box unreadable; skipped", "source", p.name, "offset", off, "err", err)
		return
	}
	m, err := emsg.Parse(b)
	if err != nil {
		p.log.Warn("emsg box skipped", "source", p.name, "offset", off, "err", err)
		return
	}
	if m.Scheme != emsg.SchemeSCTE35 {
		return
	}
	if _, err := scte35.Parse(m.Data); err != nil {
		p.log.Warn("SCTE-35 emsg skipped", "source", p.name, "offset", off, "err", err)
		return
	}
	if len(p.emsgs) >= maxCues {
		p.log.Warn("too many SCTE-35 emsg boxes; dropping the rest", "source", p.name, "limit", maxCues, "offset", off)
		return
	}
	p.emsgs = append(p.emsgs, emsgCue{m: m, off: off})
}

// moofBase gives the version 0 emsg boxes read since the last fragment the
// time the fragment at off starts at: its first traf's tfdt.
func (p *mp4Parser) moofBase(off, size int64, hdrLen int) {
	waiting := false
	for i := range p.emsgs {
		waiting = waiting || p.emsgs[i].m.Version == 0 && !p.emsgs[i].hasBase
	}
	if !waiting || size > maxHeaderBoxSize {
		return
	}
	b := make([]byte, size-int64(hdrLen))
	if _, err := p.r.ReadAt(b, off+int64(hdrLen)); err != nil {
		return
	}
	track, base, ok := firstTfdt(b)
	if !ok {
		return
	}
	for i := range p.emsgs {
		e := &p.emsgs[i]
		if e.m.Version == 0 && !e.hasBase {
			e.track, e.base, e.hasBase = track, base, true
		}
	}
}

// firstTfdt returns the track ID and base media decode time of the first
// traf of a moof payload.
func firstTfdt(moof []byte) (track uint32, base uint64, ok bool) {
	traf, found := child(moof, "traf")
	if !found {
		return 0, 0, false
	}
	tfhd, ok1 := child(traf, "tfhd")
	tfdt, ok2 := child(traf, "tfdt")
	if !ok1 || !ok2 || len(tfhd) < 8 || len(tfdt) < 8 {
		return 0, 0, false
	}
	track = binary.BigEndian.Uint32(tfhd[4:])
	if tfdt[0] == 1 {
		if len(tfdt) < 12 {
			return 0, 0, false
		}
		return track, binary.BigEndian.Uint64(tfdt[4:]), true
	}
	return track, uint64(binary.BigEndian.Uint32(tfdt[4:])), true
}

// child returns the payload of the first box of type typ in b (a sequence
// of boxes with 32-bit sizes).
func child(b []byte, typ string) ([]byte, bool) {
	for len(b) >= 8 {
		n := int(binary.BigEndian.Uint32(b))
		if n < 8 || n > len(b) {
			return nil, false
		}
		if string(b[4:8]) == typ {
			return b[8:n], true
		}
		b = b[n:]
	}
	return nil, false
}

// emsgCues returns the SCTE-35 emsg boxes as cues on the presentation
// timeline of tracks (zero is media time PresentationOffset of the first
// video track, else the first track), in time order. A version 1 box is at
// presentation_time; a version 0 box at presentation_time_delta after the
// start of the fragment that follows it (its first traf's decode time,
// which is its earliest presentation time in CMAF).
func (p *mp4Parser) emsgCues(tracks []*segment.Track) []segment.Cue {
	if len(p.emsgs) == 0 || len(tracks) == 0 {
		return nil
	}
	ref := tracks[0]
	for _, t := range tracks {
		if t.Kind == segment.KindVideo {
			ref = t
			break
		}
	}
	zeroOf := func(t *segment.Track) time.Duration {
		return ticks(t.PresentationOffset, t.Timescale)
	}
	var out []segment.Cue
	for _, e := range p.emsgs {
		m := e.m
		var at time.Duration
		switch {
		case m.Version == 1:
			at = ticks(int64(min(m.PresentationTime, 1<<62)), m.Timescale) - zeroOf(ref)
		case e.hasBase:
			t := ref
			for _, o := range tracks {
				if o.ID == e.track {
					t = o
				}
			}
			at = ticks(int64(min(e.base, 1<<62)), t.Timescale) + ticks(int64(m.PresentationTimeDelta), m.Timescale) - zeroOf(t)
		default:
			p.log.Warn("SCTE-35 emsg (version 0) without a fragment after it; skipped", "source", p.name, "offset", e.off)
			continue
		}
		out = append(out, segment.Cue{Time: at, Section: m.Data, Offset: e.off})
	}
	slices.SortStableFunc(out, func(a, b segment.Cue) int {
		switch {
		case a.Time < b.Time:
			return -1
		case a.Time > b.Time:
			return 1
		}
		return 0
	})
	return out
}

// ticks converts t ticks of timescale ts to a duration without overflow.
func ticks(t int64, ts uint32) time.Duration {
	if ts == 0 {
		return 0
	}
	return time.Duration(t/int64(ts))*time.Second + time.Duration(t%int64(ts))*time.Second/time.Duration(ts)
}

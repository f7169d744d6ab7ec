package live

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/cmafkit/cmafkit/manifest"
	"github.com/cmafkit/cmafkit/segment/cmaf"
)

// PartTemplate names the partial segments (CMAF chunks) of a low-latency
// channel, as $RepresentationID$/part-$Number$.$Part$.m4s; only an Origin
// serves them, from memory.
const PartTemplate = "%s/part-%d.%d.m4s"

// keptSegments is how many completed segments per representation a
// low-latency channel keeps in memory, parts included, besides the one
// being written: the last few segments of an LL-HLS playlist list their
// parts (RFC 8216bis: up to three target durations back), and storage
// writes lag the completion by up to two segments.
const keptSegments = 4

// lowLatency is what a low-latency channel keeps in memory for its Origin:
// the parts of the segment being written and of the last few, per
// representation, and the presentation of the last manifest update. It has
// its own lock so that HTTP requests never wait for the channel's; the
// channel only appends to it.
type lowLatency struct {
	mu      sync.Mutex
	changed chan struct{} // closed and replaced at every change
	pres    *manifest.Presentation
	reps    map[string]*llRep
	ended   bool
	start   time.Time // availability start time, for program date-times
}

// llRep is one representation's recent segments, oldest first.
type llRep struct {
	timescale uint32
	segs      []*llSeg
}

// llSeg is a segment being written (done false) or written.
type llSeg struct {
	number int
	parts  []llPart
	done   bool
	ref    manifest.SegmentRef // when done
	start  uint64              // media time of the first part
}

type llPart struct {
	data        []byte
	dur         uint64
	independent bool
}

func newLowLatency() *lowLatency {
	return &lowLatency{changed: make(chan struct{}), reps: map[string]*llRep{}}
}

// signal wakes every waiting request; l.mu is held.
func (l *lowLatency) signal() {
	close(l.changed)
	l.changed = make(chan struct{})
}

// seg returns segment n of rep, creating it when create is set.
func (l *lowLatency) seg(rep string, ts uint32, n int, create bool) *llSeg {
	r := l.reps[rep]
	if r == nil {
		if !create {
			return nil
		}
		r = &llRep{timescale: ts}
		l.reps[rep] = r
	}
	for i := len(r.segs) - 1; i >= 0; i-- {
		if r.segs[i].number == n {
			return r.segs[i]
		}
	}
	if !create {
		return nil
	}
	s := &llSeg{number: n}
	r.segs = append(r.segs, s)
	r.timescale = ts
	// Forget the oldest completed segments beyond keptSegments.
	done := 0
	for _, o := range r.segs {
		if o.done {
			done++
		}
	}
	for done > keptSegments && r.segs[0].done {
		r.segs[0] = nil
		r.segs = r.segs[1:]
		done--
	}
	return s
}

func (l *lowLatency) addPart(rep string, ts uint32, n int, start uint64, p llPart) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.seg(rep, ts, n, true)
	if len(s.parts) == 0 {
		s.start = start
	}
	s.parts = append(s.parts, p)
	l.signal()
}

func (l *lowLatency) finish(rep string, n int, ref manifest.SegmentRef) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s := l.seg(rep, 0, n, false); s != nil {
		s.done, s.ref = true, ref
	}
	l.signal()
}

// segmentBytes returns a completed segment's bytes: its parts joined.
func (l *lowLatency) segmentBytes(rep string, n int) ([]byte, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.seg(rep, 0, n, false)
	if s == nil || !s.done {
		return nil, false
	}
	var b bytes.Buffer
	for _, p := range s.parts {
		b.Write(p.data)
	}
	return b.Bytes(), true
}

func (l *lowLatency) setPresentation(p *manifest.Presentation) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pres = p
	l.signal()
}

func (l *lowLatency) end() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ended = true
	l.signal()
}

// llTrack is a track's part state in a low-latency channel.
type llTrack struct {
	partFirst int // absolute number of the first sample not yet in a part
	first     *cmaf.SegmentInfo
	size      int64
	dur       uint64
}

// emitParts writes the samples of the open segment that are certain to
// belong to it as parts of at most PartDuration: all of the reference
// track's; of another track, those that end before the reference's
// newest sample (a cut the reference announces later lies after it), and
// none while a cut it announced is not applied yet.
func (pt *ptrack) emitParts(ctx context.Context) {
	p := pt.p
	end := pt.r.Len()
	if pt != p.ref {
		last := p.ref.r.last()
		if last == nil || len(pt.cuts) > 0 || !pt.started {
			return
		}
		refT := p.ref.pt(last)
		k := max(pt.ll.partFirst, pt.segFirst)
		for ; k < end; k++ {
			s := pt.r.at(k)
			if pt.pt(s)+ticksToDur(int64(s.Duration), pt.out.Timescale)/2 > refT {
				break
			}
		}
		end = k
	}
	pt.partsUpTo(ctx, end, false)
}

// partsUpTo writes parts of the open segment's samples before end: full
// parts only, or with final everything (the segment closes at end).
func (pt *ptrack) partsUpTo(ctx context.Context, end int, final bool) {
	l := pt.ll
	c := pt.p.c
	if l.partFirst < pt.segFirst {
		l.partFirst = pt.segFirst
	}
	target := uint64(durToTicks(c.PartDuration, pt.out.Timescale))
	for l.partFirst < end {
		var acc uint64
		k := l.partFirst
		for ; k < end; k++ {
			d := uint64(pt.r.at(k).Duration)
			if k > l.partFirst && acc+d > target {
				break
			}
			acc += d
		}
		if k == end && !final && acc+uint64(pt.r.at(k-1).Duration) <= target {
			return // room for more samples
		}
		if err := pt.writePart(ctx, l.partFirst, k); err != nil {
			c.stats.Errors++
			c.warn("live: part not written", "rep", pt.st.rep, "number", pt.number, "err", err)
		}
		l.partFirst = k
	}
}

// writePart writes samples [a, b) of the open segment as one CMAF chunk
// and hands it to the channel's memory; the segment's first part starts
// with the styp and a prft box.
func (pt *ptrack) writePart(ctx context.Context, a, b int) error {
	c := pt.p.c
	l := pt.ll
	if err := pt.writeInit(ctx); err != nil {
		return err
	}
	ss, payload, err := pt.r.segment(a, b)
	if err != nil {
		return err
	}
	var chunk bytes.Buffer
	info, err := cmaf.WriteSamples(ctx, &chunk, pt.out, pt.number, a, ss, payload, cmaf.Options{NoStyp: true, ChunkDuration: 24 * time.Hour})
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	first := a == pt.segFirst
	if first {
		l.first, l.size, l.dur = nil, 0, 0
		if err := writeStyp(&buf); err != nil {
			return err
		}
		wall := c.ast.Add(ticksToDur(int64(info.MediaTime), pt.out.Timescale))
		prft := mp4.CreatePrftBox(1, 0, 1, mp4.NewNTP64(float64(wall.UnixNano())/1e9), info.DecodeTime)
		if err := prft.Encode(&buf); err != nil {
			return err
		}
	}
	buf.Write(chunk.Bytes())
	if l.first == nil {
		l.first = &info
	}
	l.size += int64(buf.Len())
	l.dur += info.Duration
	c.ll.addPart(pt.st.rep, pt.out.Timescale, pt.number, info.MediaTime,
		llPart{data: buf.Bytes(), dur: info.Duration, independent: pt.r.at(a).Sync})
	return nil
}

// writeStyp writes the styp box the CMAF writer starts segments with.
func writeStyp(w *bytes.Buffer) error {
	return mp4.NewStyp("msdh", 0, []string{"msdh", "msix", "cmfs", "cmff", "cmf2", "cmfc", "iso6"}).Encode(w)
}

// finishParts writes the rest of the segment closing at end as its last
// parts and records it as complete.
func (pt *ptrack) finishParts(ctx context.Context, end int) {
	if end <= pt.segFirst {
		return
	}
	pt.partsUpTo(ctx, end, true)
	l, c := pt.ll, pt.p.c
	if l.first == nil {
		return
	}
	ts := pt.out.Timescale
	ref := manifest.SegmentRef{URI: fmt.Sprintf("%s/seg-%d.m4s", pt.st.rep, pt.number), Number: uint64(pt.number),
		Start: l.first.MediaTime, Duration: l.dur, Size: uint64(l.size),
		ProgramDateTime: c.ast.Add(ticksToDur(int64(l.first.MediaTime), ts))}
	c.ll.finish(pt.st.rep, pt.number, ref)
	l.first = nil
}

// writeLLSegment stores a low-latency segment: the parts already made.
func (pt *ptrack) writeLLSegment(ctx context.Context, cs closedSeg) error {
	c := pt.p.c
	b, ok := c.ll.segmentBytes(pt.st.rep, cs.number)
	if !ok {
		return fmt.Errorf("live: segment %d of %s not held in memory", cs.number, pt.st.rep)
	}
	c.ll.mu.Lock()
	ref := c.ll.seg(pt.st.rep, 0, cs.number, false).ref
	c.ll.mu.Unlock()
	if err := c.put(ctx, ref.URI, b); err != nil {
		return err
	}
	pt.segs = append(pt.segs, ref)
	c.stats.Segments++
	c.end = max(c.end, ticksToDur(int64(ref.Start+ref.Duration), pt.out.Timescale))
	c.emit(Event{Kind: SegmentWritten, Key: c.sessKey(), Representation: pt.st.rep, Segment: ref})
	return nil
}

// lowLatencyModel adds the low-latency description to the channel's
// presentation: LL-HLS server control, and for DASH segments addressed by
// number and duration from each period's first, available a part after
// they start, with a target latency.
func (c *Channel) lowLatencyModel(p *manifest.Presentation) {
	seg := c.SegmentDuration
	// No suggestedPresentationDelay: the ServiceDescription's target
	// says how far behind the live edge to play. Shaka in low-latency
	// mode ends its seek range that delay behind the edge and then holds
	// Latency@target behind that end, so a delay here adds to the target
	// (2 s + 2 s put it 5-6 s behind the encoder).
	p.SuggestedPresentationDelay = 0
	p.LowLatency = &manifest.LowLatency{
		PartTarget: c.PartDuration,
		// Four parts: hls.js aims for PART-HOLD-BACK and, at the least
		// (three), was seen to run out of buffer on a loaded machine.
		PartHoldBack:           4 * c.PartDuration,
		CanBlockReload:         true,
		CanSkipUntil:           c.SkipUntil,
		AvailabilityTimeOffset: seg - c.PartDuration,
		TargetLatency:          c.TargetLatency,
		MinLatency:             c.TargetLatency / 2,
		MaxLatency:             3 * c.TargetLatency,
		MinPlaybackRate:        0.9,
		MaxPlaybackRate:        1.5,
	}
	for pi := range p.Periods {
		pd := &p.Periods[pi]
		var first uint64
		for _, cp := range c.periods {
			if cp.id == pd.ID {
				first = uint64(cp.first)
			}
		}
		for si := range pd.Sets {
			for ri := range pd.Sets[si].Representations {
				r := &pd.Sets[si].Representations[ri]
				t := *r.Template
				t.Duration, t.StartNumber = seg, first
				r.Template = &t
			}
		}
	}
	if len(p.Periods) > 0 {
		last := p.Periods[len(p.Periods)-1]
		if len(last.Sets) > 0 && len(last.Sets[0].Representations) > 0 {
			r := last.Sets[0].Representations[0]
			s := r.Segments[len(r.Segments)-1]
			pt := last.Start + manifest.TicksToDuration(s.Start-r.PresentationTimeOffset, r.Timescale)
			p.LowLatency.ProducerReference = &manifest.ProducerReference{WallClock: s.ProgramDateTime, PresentationTime: pt, Type: "encoder"}
			if len(c.UTCTiming) > 0 {
				u := c.UTCTiming[0]
				p.LowLatency.ProducerReference.UTCTiming = &u
			}
		}
	}
	c.ll.setPresentation(p)
}

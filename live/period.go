package live

import (
	"context"
	"fmt"
	"time"

	"github.com/cmafkit/cmafkit/manifest"
	"github.com/cmafkit/cmafkit/segment"
	"github.com/cmafkit/cmafkit/segment/cmaf"
)

// period is a discontinuity-free span of the channel: one publisher
// session's tracks with continuous timestamps. Each track has its own
// init segment in it.
type period struct {
	c      *Channel
	id     string
	start  time.Duration // on the channel timeline
	tracks []*ptrack     // by session track number; nil for retired tracks
	ref    *ptrack       // the track whose keyframes cut segments

	anchored  bool
	anchorPub time.Duration // publisher time of the first sample: maps to start

	haveFirst bool
	firstCut  time.Duration // origin of the segment grid: the first segment's start, or the last splice cut
	boundary  time.Duration // the next segment closes at a keyframe at or after this
	segStart  time.Duration // start of the reference's open segment
	lastKey   time.Duration // the reference's last keyframe (video)
	refAt     time.Duration // the reference's last sample's presentation time
	cues      cueState      // SCTE-35 cues (cues.go)
	longWarn  bool          // the open segment's overrun was reported
	first     int           // number of the period's first segment
	nextWrite int           // next segment number to write
}

// ptrack is one track in one period.
type ptrack struct {
	p    *period
	st   *strack
	out  *segment.Track // what the CMAF writer sees: Index and Data are r
	r    ring
	init string // init segment name once written

	haveOff bool
	off     int64 // publisher decode time + off = channel decode time (ticks)
	havePub bool
	lastPub uint64

	held    *segment.Sample // the newest sample, held until the next gives its duration
	lastDur uint32

	started  bool // a sample was accepted (video: from a keyframe on)
	segFirst int  // absolute number of the open segment's first sample
	number   int  // number of the open segment
	cuts     []time.Duration
	scan     int // applyCuts looked at the samples before this one
	closed   []closedSeg
	segs     []manifest.SegmentRef // written, in the window
	ll       *llTrack              // parts, in a low-latency channel
}

type closedSeg struct {
	number, first, end int
}

func (p *period) addTrack(st *strack) *ptrack {
	t := *st.t
	pt := &ptrack{p: p, st: st, out: &t, number: p.nextWrite}
	t.Index, t.Data = &pt.r, &pt.r
	pt.r.base = p.c.sampleBase[st.rep]
	if p.c.ll != nil {
		pt.ll = &llTrack{}
	}
	for len(p.tracks) <= st.num {
		p.tracks = append(p.tracks, nil)
	}
	p.tracks[st.num] = pt
	if !p.haveFirst && (p.ref == nil || (p.ref.out.Kind != segment.KindVideo && t.Kind == segment.KindVideo)) {
		p.ref = pt // the first video track, else the first track
	}
	return pt
}

// pt returns a sample's presentation time on the channel timeline.
func (pt *ptrack) pt(s *segment.Sample) time.Duration {
	return ticksToDur(s.PresentationTime()-pt.out.PresentationOffset, pt.out.Timescale)
}

// push takes a sample already on the channel timeline; it is held back
// until the next one says how long it lasts.
func (pt *ptrack) push(ctx context.Context, s segment.Sample, payload []byte) {
	if h := pt.held; h != nil {
		if d := int64(s.DecodeTime) - int64(h.DecodeTime); d > 0 && d < 1<<32 {
			h.Duration = uint32(d)
		}
		pt.commit(ctx, *h, pt.st.buf)
	}
	pt.st.buf = append(pt.st.buf[:0], payload...)
	s.Size = uint32(len(payload))
	pt.held = &s
}

// commit cuts the segment before s when s starts a new one, then adds s.
func (pt *ptrack) commit(ctx context.Context, s segment.Sample, payload []byte) {
	p, c := pt.p, pt.p.c
	if s.Duration == 0 {
		s.Duration = pt.lastDur
	}
	pt.lastDur = s.Duration
	video := pt.out.Kind == segment.KindVideo
	if !pt.started {
		if video && !s.Sync {
			c.stats.Dropped++
			return
		}
		pt.started = true
		pt.segFirst = pt.r.Len()
		if video && s.CompositionOffset > 0 {
			// The B-frame delay: negative composition offsets put the
			// first keyframe's presentation at its decode time, on the
			// same timeline as audio (as for VOD).
			pt.out.PresentationOffset = int64(s.CompositionOffset)
		}
	}
	t := pt.pt(&s)
	frame := ticksToDur(int64(s.Duration), pt.out.Timescale)
	if pt == p.ref {
		switch {
		case !p.haveFirst:
			p.haveFirst = true
			p.firstCut, p.segStart, p.lastKey = t, t, t
			p.boundary = t + c.SegmentDuration
		case (s.Sync || !video) && t > p.segStart && p.spliceDue(t, frame):
			// A splice point: cut here and restart the grid from here.
			p.firstCut = t
			fallthrough
		case (s.Sync || !video) && (t >= p.boundary || video && p.overrunsAtNextKey(t)):
			pt.close(pt.r.Len())
			p.segStart, p.longWarn = t, false
			for _, o := range p.tracks {
				if o != nil && o != pt {
					o.cuts = append(o.cuts, t)
					o.applyCuts()
				}
			}
			step := c.SegmentDuration
			p.boundary = p.firstCut + ((t-p.firstCut)/step+1)*step
		}
		if video && s.Sync {
			p.lastKey = t
		}
		if (s.Sync || !video) && len(p.cues.pending) > 0 && p.spliceDue(t, frame) {
			p.placeCues(t, frame)
		}
		p.refAt = t
		if end := t + ticksToDur(int64(s.Duration), pt.out.Timescale); end-p.segStart > c.MaxSegmentDuration && !p.longWarn {
			p.longWarn = true
			c.warn("live: no keyframe in time, segment longer than the maximum (target duration kept)",
				"rep", pt.st.rep, "start", p.segStart, "max", c.MaxSegmentDuration)
		}
	}
	pt.r.add(s, payload)
	if pt != p.ref {
		pt.applyCuts()
	}
	if pt.ll != nil {
		pt.emitParts(ctx)
	}
	p.writeReady(ctx)
}

// overrunsAtNextKey reports whether the reference's open segment, if not
// cut at the keyframe at t, would pass MaxSegmentDuration by the next
// keyframe, expected one keyframe interval (the last) later.
func (p *period) overrunsAtNextKey(t time.Duration) bool {
	gop := t - p.lastKey
	return t > p.segStart && gop > 0 && t+gop-p.segStart > p.c.MaxSegmentDuration
}

// applyCuts closes the open segment of a track other than the reference at
// each boundary the reference announced, once the track's samples reach
// it: audio at the sample whose start is nearest the boundary, video at
// its keyframe there. The samples are still held, so a boundary announced
// after the track went past it cuts at the right sample all the same.
func (pt *ptrack) applyCuts() {
	c := pt.p.c
	video := pt.out.Kind == segment.KindVideo
	for len(pt.cuts) > 0 {
		b := pt.cuts[0]
		if pt.scan < pt.segFirst {
			pt.scan = pt.segFirst
		}
		found := -1
		for ; pt.scan < pt.r.Len(); pt.scan++ {
			s := pt.r.at(pt.scan)
			t := pt.pt(s)
			half := ticksToDur(int64(s.Duration), pt.out.Timescale) / 2
			if !video {
				if t+half > b {
					found = pt.scan
					break
				}
				continue
			}
			if t+half < b {
				continue
			}
			if s.Sync {
				found = pt.scan
				break
			}
			if t-half > b {
				// No keyframe at the boundary: cut here anyway, so that
				// every rendition keeps the same segment numbers and
				// times, and say so.
				c.stats.Misaligned++
				c.warn("live: rendition has no keyframe at a segment boundary", "rep", pt.st.rep, "boundary", b, "at", t)
				found = pt.scan
				break
			}
		}
		if found < 0 {
			return
		}
		pt.close(found)
		pt.cuts = pt.cuts[1:]
	}
}

// close ends the open segment before sample end (absolute).
func (pt *ptrack) close(end int) {
	if pt.ll != nil {
		pt.finishParts(context.Background(), end)
	}
	if end > pt.segFirst {
		pt.closed = append(pt.closed, closedSeg{number: pt.number, first: pt.segFirst, end: end})
	}
	pt.segFirst = end
	pt.number++
}

// writeReady writes every segment that all tracks have closed, then the
// manifests. A track more than two segments behind the reference (it
// stopped sending) has its open segment closed as it is, to bound memory.
func (p *period) writeReady(ctx context.Context) {
	wrote := false
	for {
		n := p.nextWrite
		ready := p.ref != nil && p.ref.number > n
		for _, pt := range p.tracks {
			if pt == nil || pt == p.ref || !ready {
				continue
			}
			for pt.number <= n && len(pt.cuts) > 2 {
				pt.close(pt.r.Len())
				pt.cuts = pt.cuts[1:]
			}
			if pt.number <= n {
				ready = false
			}
		}
		if !ready {
			break
		}
		p.writeNumber(ctx, n)
		p.nextWrite++
		wrote = true
	}
	if wrote {
		p.c.writeManifests(ctx)
	}
}

// writeNumber stores segment n of every track that has one.
func (p *period) writeNumber(ctx context.Context, n int) {
	c := p.c
	for _, pt := range p.tracks {
		if pt == nil || len(pt.closed) == 0 || pt.closed[0].number != n {
			continue
		}
		cs := pt.closed[0]
		pt.closed = pt.closed[1:]
		if err := pt.writeSegment(ctx, cs); err != nil {
			c.lost = max(c.lost, cs.number)
			c.stats.Errors++
			c.warn("live: segment not stored", "rep", pt.st.rep, "number", cs.number, "err", err)
		}
		pt.r.drop(cs.end)
	}
	if n >= c.next {
		c.next = n + 1
	}
}

// writeInit stores the track's init segment once.
func (pt *ptrack) writeInit(ctx context.Context) error {
	if pt.init != "" {
		return nil
	}
	name := fmt.Sprintf("%s/init-%s.mp4", pt.st.rep, pt.p.id)
	obj, err := pt.p.c.Storage.Create(ctx, name)
	if err != nil {
		return err
	}
	if err := cmaf.WriteInit(obj, pt.out, pt.protector()); err != nil {
		obj.Abort()
		return err
	}
	if err := obj.Commit(); err != nil {
		return err
	}
	pt.init = name
	return nil
}

func (pt *ptrack) writeSegment(ctx context.Context, cs closedSeg) error {
	c := pt.p.c
	if err := pt.writeInit(ctx); err != nil {
		return err
	}
	if pt.ll != nil {
		return pt.writeLLSegment(ctx, cs)
	}
	if e := pt.st.enc; e != nil {
		if err := e.prepare(ctx, cs.number); err != nil {
			return err
		}
	}
	ss, payload, err := pt.r.segment(cs.first, cs.end)
	if err != nil {
		return err
	}
	name := fmt.Sprintf("%s/seg-%d.m4s", pt.st.rep, cs.number)
	obj, err := c.Storage.Create(ctx, name)
	if err != nil {
		return err
	}
	info, seg, err := pt.writeCMAF(ctx, obj, cs.number, cs.first, ss, payload)
	if err != nil {
		obj.Abort()
		return err
	}
	if err := obj.Commit(); err != nil {
		return err
	}
	ts := pt.out.Timescale
	ref := manifest.SegmentRef{URI: name, Number: uint64(cs.number), Start: info.MediaTime, Duration: info.Duration,
		Size: uint64(info.Size), ProgramDateTime: c.ast.Add(ticksToDur(int64(info.MediaTime), ts))}
	pt.segs = append(pt.segs, ref)
	if seg != nil {
		pt.smoothSegment(ctx, seg, ref, info.DecodeTime)
	}
	c.stats.Segments++
	end := ticksToDur(int64(info.MediaTime+info.Duration), ts)
	c.end = max(c.end, end)
	c.emit(Event{Kind: SegmentWritten, Key: pt.p.c.sessKey(), Representation: pt.st.rep, Segment: ref})
	return nil
}

func (c *Channel) sessKey() string {
	if c.sess != nil {
		return c.sess.key
	}
	return ""
}

// flush writes the held samples and the open segments, however short.
func (p *period) flush(ctx context.Context) {
	last := p.nextWrite
	for _, pt := range p.tracks {
		if pt == nil {
			continue
		}
		if h := pt.held; h != nil {
			pt.held = nil
			pt.commit(ctx, *h, pt.st.buf)
		}
	}
	p.alignEnds()
	for _, pt := range p.tracks {
		if pt == nil {
			continue
		}
		pt.close(pt.r.Len())
		pt.cuts = nil
		last = max(last, pt.number)
	}
	for _, pt := range p.tracks {
		if pt != nil {
			pt.number = last
			p.c.sampleBase[pt.st.rep] = pt.r.Len()
		}
	}
	for ; p.nextWrite < last; p.nextWrite++ {
		p.writeNumber(ctx, p.nextWrite)
	}
}

// alignEnds lengthens the last sample of each track that ends a little
// before the period's longest track (by at most a segment duration: the
// source's audio outlasting its video by part of a frame, as most files
// and encoders leave it), so that every track reaches the period's end,
// where the next period starts: a hole there (13 ms of video on each
// replay of testdata/ladder_360p.mp4) is a gap in the player's buffer at
// every period boundary. Low-latency tracks are left as they are: their
// parts may already be out.
func (p *period) alignEnds() {
	var end time.Duration
	ends := make([]time.Duration, len(p.tracks))
	for i, pt := range p.tracks {
		if pt != nil {
			ends[i] = pt.openEnd()
			end = max(end, ends[i])
		}
	}
	for i, pt := range p.tracks {
		if pt == nil || pt.ll != nil || ends[i] <= 0 {
			continue
		}
		gap := end - ends[i]
		if gap <= 0 || gap > p.c.SegmentDuration {
			continue
		}
		ts := int64(pt.out.Timescale)
		ticks := (int64(gap)*ts + int64(time.Second) - 1) / int64(time.Second) // rounded up: no hole of a tick
		last := pt.r.last()
		if d := int64(last.Duration) + ticks; d < 1<<32 {
			last.Duration = uint32(d)
		}
	}
}

// openEnd returns where the track's open segment ends on the channel
// timeline (its earliest presentation time plus its samples' durations, as
// the CMAF writer reports it), or 0 when it has no sample.
func (pt *ptrack) openEnd() time.Duration {
	if pt.r.Len() <= pt.segFirst {
		return 0
	}
	ept := int64(1<<62 - 1)
	var dur int64
	for k := pt.segFirst; k < pt.r.Len(); k++ {
		s := pt.r.at(k)
		ept = min(ept, s.PresentationTime()-pt.out.PresentationOffset)
		dur += int64(s.Duration)
	}
	return ticksToDur(ept+dur, pt.out.Timescale)
}

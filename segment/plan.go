package segment

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/cmafkit/cmafkit/internal/mediatime"
)

// DefaultSegmentDuration is the target segment duration when none is given.
const DefaultSegmentDuration = 4 * time.Second

// Plan is the segmentation of one presentation: the presentation times at
// which segments start, shared by every track so that all renditions switch
// at the same instants. Times are in Timescale units and relative to the
// presentation start (after edit lists).
type Plan struct {
	Timescale uint32
	// Starts holds the start time of every segment; Starts[0] is the start of
	// the presentation.
	Starts []int64
	// End is the end of the longest track.
	End int64

	// memo keeps what planning learnt from passes over the tracks'
	// samples (nil for a Plan made by hand).
	memo *planMemo
}

// planMemo remembers, per track, the results of passes over its samples —
// its sync samples and end, and its cuts — so that planning and cutting a
// track (Cuts is asked for the same track several times while a job is
// set up) read its index once rather than once a question. A long title's
// tables have hundreds of thousands of samples: each pass over them is
// milliseconds of the first request to a just-in-time origin.
type planMemo struct {
	mu    sync.Mutex
	syncs map[*Track][]syncSample
	ends  map[*Track]int64
	cuts  map[*Track]memoCuts
}

// memoCuts are a track's cuts for the plan's Starts as they were (Starts
// is exported: a caller may change it).
type memoCuts struct {
	starts []int64
	cuts   []int
}

func newPlanMemo() *planMemo {
	return &planMemo{syncs: map[*Track][]syncSample{}, ends: map[*Track]int64{}, cuts: map[*Track]memoCuts{}}
}

// syncSamples is syncSamples(t), remembered. Its pass over t's samples
// also finds t's end.
func (m *planMemo) syncSamples(t *Track) ([]syncSample, error) {
	if m == nil {
		return syncSamples(t)
	}
	m.mu.Lock()
	syncs, ok := m.syncs[t]
	m.mu.Unlock()
	if ok {
		return syncs, nil
	}
	syncs, end, err := syncSamplesAndEnd(t)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	m.syncs[t], m.ends[t] = syncs, end
	m.mu.Unlock()
	return syncs, nil
}

// trackEnd is trackEnd(t), remembered.
func (m *planMemo) trackEnd(t *Track) (int64, error) {
	if m == nil {
		return trackEnd(t)
	}
	m.mu.Lock()
	end, ok := m.ends[t]
	m.mu.Unlock()
	if ok {
		return end, nil
	}
	end, err := trackEnd(t)
	if err != nil {
		return 0, err
	}
	m.mu.Lock()
	m.ends[t] = end
	m.mu.Unlock()
	return end, nil
}

// SegmentCount returns the number of segments in the plan.
func (p *Plan) SegmentCount() int { return len(p.Starts) }

// relPresentation is the presentation time of s relative to the track's
// presentation zero.
func relPresentation(t *Track, s *Sample) int64 {
	return s.PresentationTime() - t.PresentationOffset
}

// rescale converts v from timescale from to timescale to, rounding to nearest.
func rescale(v int64, from, to uint32) int64 {
	if from == to {
		return v
	}
	n := v * int64(to)
	d := int64(from)
	if n >= 0 {
		return (n + d/2) / d
	}
	return -((-n + d/2) / d)
}

// PlanSegments plans segment boundaries for tracks that are renditions of one
// title. Segments start on sync samples of the first video track at or after
// each multiple of target (DefaultSegmentDuration when zero); the last may be
// short. Every other video track must have sync samples at the same times,
// otherwise the error wraps ErrUnaligned and names the track and the time.
// Without video, boundaries fall on the first track's samples.
func PlanSegments(tracks []*Track, target time.Duration) (*Plan, error) {
	if target <= 0 {
		target = DefaultSegmentDuration
	}
	if len(tracks) == 0 {
		return nil, ErrNoTracks
	}
	ref := tracks[0]
	for _, t := range tracks {
		if t.Kind == KindVideo {
			ref = t
			break
		}
	}
	if ref.SampleCount() == 0 {
		return nil, &FormatError{Source: ref.Source, Track: ref.ID, Offset: -1, Err: ErrMalformed, Detail: "track has no samples"}
	}
	ts := ref.Timescale
	step := int64(target) * int64(ts) / int64(time.Second)
	if step <= 0 {
		step = 1
	}
	p := &Plan{Timescale: ts, memo: newPlanMemo()}
	// Candidate start points: the sync samples, which must be presented in
	// decode order (a segment holds the samples from one sync sample to the
	// next in decode order).
	syncs, err := p.memo.syncSamples(ref)
	if err != nil {
		return nil, err
	}
	cands := make([]int64, len(syncs))
	for i, s := range syncs {
		cands[i] = s.pt
	}
	if len(cands) == 0 {
		return nil, &FormatError{Source: ref.Source, Track: ref.ID, Offset: -1, Err: ErrNoSyncSample}
	}
	first := cands[0]
	p.Starts = append(p.Starts, first)
	next := first + step
	for _, c := range cands[1:] {
		if c >= next {
			p.Starts = append(p.Starts, c)
			next = first + ((c-first)/step+1)*step
		}
	}
	for _, t := range tracks {
		end, err := p.memo.trackEnd(t)
		if err != nil {
			return nil, err
		}
		if e := rescale(end, t.Timescale, ts); e > p.End {
			p.End = e
		}
	}
	// Every video rendition must be able to start a segment at every boundary.
	for _, t := range tracks {
		if t == ref || t.Kind != KindVideo {
			continue
		}
		if _, err := p.Cuts(t); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// syncSample is a sync sample's index, presentation time and duration.
type syncSample struct {
	i   int
	pt  int64
	dur int64
}

// syncSamples lists the sync samples of t in decode order. Their
// presentation times must increase: a stream whose sync samples are
// presented out of decode order cannot be cut into segments.
func syncSamples(t *Track) ([]syncSample, error) {
	out, _, err := syncSamplesAndEnd(t)
	return out, err
}

// syncSamplesAndEnd is syncSamples and trackEnd in one pass.
func syncSamplesAndEnd(t *Track) ([]syncSample, int64, error) {
	var out []syncSample
	var end int64
	sc := t.Scan(0, t.SampleCount())
	for sc.Next() {
		s := sc.Sample()
		pt := relPresentation(t, s)
		if e := pt + int64(s.Duration); e > end {
			end = e
		}
		if !s.Sync {
			continue
		}
		if len(out) > 0 && pt <= out[len(out)-1].pt {
			return nil, 0, &FormatError{Source: t.Source, Track: t.ID, Sample: sc.Index() + 1, Offset: s.Offset, Err: ErrMalformed,
				Detail: fmt.Sprintf("sync sample presented at %d, not after the previous sync sample (%d)", pt, out[len(out)-1].pt)}
		}
		out = append(out, syncSample{sc.Index(), pt, int64(s.Duration)})
	}
	return out, end, sc.Err()
}

// trackEnd is the presentation end of a track relative to its zero.
func trackEnd(t *Track) (int64, error) {
	var end int64
	sc := t.Scan(0, t.SampleCount())
	for sc.Next() {
		s := sc.Sample()
		if e := relPresentation(t, s) + int64(s.Duration); e > end {
			end = e
		}
	}
	return end, sc.Err()
}

// Cuts returns, for track t, the index of the first sample of every segment
// of the plan, followed by t.SampleCount(). A video track is cut at the sync
// sample presented at each boundary (within half a frame); other tracks at
// the sample whose start is nearest to the boundary, so that consecutive
// segments neither overlap nor leave a gap.
func (p *Plan) Cuts(t *Track) ([]int, error) {
	m := p.memo
	if m == nil {
		return p.cuts(t)
	}
	m.mu.Lock()
	c, ok := m.cuts[t]
	m.mu.Unlock()
	if ok && slices.Equal(c.starts, p.Starts) {
		return slices.Clone(c.cuts), nil
	}
	cuts, err := p.cuts(t)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	m.cuts[t] = memoCuts{slices.Clone(p.Starts), slices.Clone(cuts)}
	m.mu.Unlock()
	return cuts, nil
}

func (p *Plan) cuts(t *Track) ([]int, error) {
	n := t.SampleCount()
	cuts := make([]int, 0, len(p.Starts)+1)
	cuts = append(cuts, 0)
	if t.Kind == KindVideo {
		syncs, err := p.memo.syncSamples(t)
		if err != nil {
			return nil, err
		}
		tol := int64(0)
		if len(syncs) > 0 {
			tol = syncs[0].dur / 2
		}
		k := 0
		for _, b := range p.Starts[1:] {
			want := rescale(b, p.Timescale, t.Timescale)
			found := -1
			for ; k < len(syncs); k++ {
				pt := syncs[k].pt
				if pt > want+tol {
					break
				}
				if pt >= want-tol {
					found = syncs[k].i
					k++
					break
				}
			}
			if found < 0 {
				end, err := p.memo.trackEnd(t)
				if err != nil {
					return nil, err
				}
				if want >= end {
					break // this rendition ends before the boundary
				}
				return nil, fmt.Errorf("%w: %s has no sync sample at %s", ErrUnaligned, t, mediatime.Duration(b, p.Timescale))
			}
			cuts = append(cuts, found)
		}
	} else {
		sc := t.Scan(0, n)
		more := sc.Next()
		for _, b := range p.Starts[1:] {
			want := rescale(b, p.Timescale, t.Timescale)
			for more {
				s := sc.Sample()
				if relPresentation(t, s)+int64(s.Duration)/2 > want {
					break
				}
				more = sc.Next()
			}
			if err := sc.Err(); err != nil {
				return nil, err
			}
			if !more {
				break
			}
			if i := sc.Index(); i > cuts[len(cuts)-1] {
				cuts = append(cuts, i)
			}
		}
	}
	return append(cuts, n), nil
}

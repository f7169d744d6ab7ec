package segment

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/cmafkit/cmafkit/internal/mediatime"
)

// Cue is an SCTE-35 splice_info_section found in an input, with the time it
// takes effect. Demuxers that find cues (segment/ts for stream type 0x86)
// list them in Source.Cues; the packager turns them into manifest cues and
// cuts segments at them.
type Cue struct {
	// Time is the splice point's presentation time on the source's output
	// timeline (zero is the first presented sample, as for Plan): the
	// section's splice_time plus pts_adjustment, or, for an immediate
	// splice or a section without a time, the presentation time of the
	// last video sample before it arrived.
	Time time.Duration
	// Section is the splice_info_section, CRC checked.
	Section []byte
	// Offset is the byte offset in the input where the section started.
	Offset int64
}

// ErrCueNotOnSyncSample means a segment boundary was asked for at a cue
// time where the video has no sync sample; the error is a *CueCutError.
var ErrCueNotOnSyncSample = errors.New("no sync sample at cue time")

// CueCutError reports a forced cut that cannot fall where it was asked.
type CueCutError struct {
	Track   string        // the reference track (see PlanSegments)
	At      time.Duration // the cue time asked for
	Nearest time.Duration // the nearest sync sample's presentation time
}

func (e *CueCutError) Error() string {
	return fmt.Sprintf("%s: %v: cue at %v, nearest sync sample at %v", e.Track, ErrCueNotOnSyncSample, e.At, e.Nearest)
}

func (e *CueCutError) Unwrap() error { return ErrCueNotOnSyncSample }

// PlanOptions adds forced boundaries to a plan.
type PlanOptions struct {
	// Cuts are presentation times (from the presentation start, as
	// Cue.Time) at which a segment must start, such as the splice points of
	// ad breaks. Each must be the presentation time of a sync sample of
	// the reference video track, within half a frame; the regular
	// boundaries then continue every target duration from the cut.
	Cuts []time.Duration
	// Nearest accepts, for a cut without a sync sample at its time, the
	// nearest sync sample instead of failing with a *CueCutError.
	Nearest bool
}

// PlanSegmentsWith is PlanSegments with forced boundaries. Cuts before the
// first sync sample or at or after the end of the reference track are
// ignored (there is nothing to cut there); cuts that fall on the same sync
// sample are one boundary.
func PlanSegmentsWith(tracks []*Track, target time.Duration, opts PlanOptions) (*Plan, error) {
	if len(opts.Cuts) == 0 {
		return PlanSegments(tracks, target)
	}
	if target <= 0 {
		target = DefaultSegmentDuration
	}
	if len(tracks) == 0 {
		return nil, ErrNoTracks
	}
	ref := referenceTrack(tracks)
	memo := newPlanMemo()
	syncs, err := memo.syncSamples(ref)
	if err != nil {
		return nil, err
	}
	if len(syncs) == 0 {
		return nil, &FormatError{Source: ref.Source, Track: ref.ID, Offset: -1, Err: ErrNoSyncSample}
	}
	refEnd, err := memo.trackEnd(ref)
	if err != nil {
		return nil, err
	}
	ts := ref.Timescale
	tol := syncs[0].dur / 2
	// The forced boundaries as sync sample times, in order.
	var forced []int64
	for _, c := range opts.Cuts {
		want := nearestTicks(c, ts)
		if want <= syncs[0].pt+tol || want >= refEnd {
			continue
		}
		k, _ := slices.BinarySearchFunc(syncs, want, func(s syncSample, v int64) int {
			switch {
			case s.pt < v:
				return -1
			case s.pt > v:
				return 1
			}
			return 0
		})
		best := k
		if best == len(syncs) || best > 0 && want-syncs[best-1].pt < syncs[best].pt-want {
			best--
		}
		got := syncs[best].pt
		if d := got - want; d > tol || d < -tol {
			if !opts.Nearest {
				return nil, &CueCutError{Track: ref.String(), At: c, Nearest: mediatime.Duration(got, ts)}
			}
		}
		if best == 0 {
			continue
		}
		forced = append(forced, got)
	}
	slices.Sort(forced)
	forced = slices.Compact(forced)

	step := int64(target) * int64(ts) / int64(time.Second)
	if step <= 0 {
		step = 1
	}
	p := &Plan{Timescale: ts, memo: memo}
	first := syncs[0].pt
	p.Starts = append(p.Starts, first)
	base, next := first, first+step
	f := 0
	for _, s := range syncs[1:] {
		c := s.pt
		if f < len(forced) && c == forced[f] {
			p.Starts = append(p.Starts, c)
			base, next = c, c+step
			f++
			continue
		}
		if c >= next {
			p.Starts = append(p.Starts, c)
			next = base + ((c-base)/step+1)*step
		}
	}
	for _, t := range tracks {
		end, err := memo.trackEnd(t)
		if err != nil {
			return nil, err
		}
		if e := rescale(end, t.Timescale, ts); e > p.End {
			p.End = e
		}
	}
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

// referenceTrack is the track whose sync samples a plan follows: the first
// video track, else the first track.
func referenceTrack(tracks []*Track) *Track {
	for _, t := range tracks {
		if t.Kind == KindVideo {
			return t
		}
	}
	return tracks[0]
}

// nearestTicks converts d to the nearest tick of timescale ts.
func nearestTicks(d time.Duration, ts uint32) int64 {
	s, ns := int64(d/time.Second), int64(d%time.Second)
	return s*int64(ts) + (ns*int64(ts)+int64(time.Second)/2)/int64(time.Second)
}

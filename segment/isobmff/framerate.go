package isobmff

import "github.com/cmafkit/cmafkit/segment"

// frameRateOf derives the exact frame rate of a video track from its most
// common sample duration (robust to a short last frame or a few irregular
// durations), e.g. timescale 30000 and duration 1001 give 30000/1001.
func frameRateOf(t *segment.Track) (segment.Rational, error) {
	if t.Kind != segment.KindVideo || t.SampleCount() == 0 || t.Timescale == 0 {
		return segment.Rational{}, nil
	}
	if x, ok := t.Index.(*stblIndex); ok {
		// Progressive MP4: the durations are stts's runs, counted without
		// a pass over every sample.
		counts, err := x.durationCounts()
		if err != nil {
			return segment.Rational{}, err
		}
		var best uint32
		for d, n := range counts {
			if n > counts[best] || (n == counts[best] && d < best) {
				best = d
			}
		}
		if best == 0 {
			return segment.Rational{}, nil
		}
		return segment.Rational{Num: int64(t.Timescale), Den: int64(best)}.Reduce(), nil
	}
	counts := map[uint32]int{}
	var best uint32
	sc := t.Scan(0, t.SampleCount())
	for sc.Next() {
		d := sc.Sample().Duration
		counts[d]++
		if counts[d] > counts[best] || (counts[d] == counts[best] && d < best) {
			best = d
		}
	}
	if err := sc.Err(); err != nil {
		return segment.Rational{}, err
	}
	if best == 0 {
		return segment.Rational{}, nil
	}
	return segment.Rational{Num: int64(t.Timescale), Den: int64(best)}.Reduce(), nil
}

package cmafingest

import (
	"context"
	"errors"
	"math/bits"

	"github.com/cmafkit/cmafkit/internal/emsg"
	"github.com/cmafkit/cmafkit/live"
	"github.com/cmafkit/cmafkit/segment"
)

// cues hands the SCTE-35 emsg boxes (scheme urn:scte:scte35:2013:bin) sent
// before a fragment to the publisher, if it takes cues (live.CuePublisher):
// version 1 at presentation_time, version 0 at presentation_time_delta
// after the fragment's earliest presentation time, both rescaled to the
// track's timescale. Other schemes are ignored; bad boxes and cues the
// channel refuses are logged and skipped.
func (s *session) cues(ctx context.Context, t *track, tr *segment.Track, boxes [][]byte, samples []segment.Sample) error {
	cp, ok := s.pub.(live.CuePublisher)
	if !ok || len(boxes) == 0 || len(samples) == 0 {
		return nil
	}
	earliest := samples[0].PresentationTime()
	for i := range samples {
		earliest = min(earliest, samples[i].PresentationTime())
	}
	for _, b := range boxes {
		m, err := emsg.Parse(b)
		if err != nil {
			s.log.Warn("cmafingest: emsg skipped", "path", t.path, "err", err)
			continue
		}
		if m.Scheme != emsg.SchemeSCTE35 {
			continue
		}
		var pts uint64
		if m.Version == 1 {
			pts = rescale(m.PresentationTime, m.Timescale, tr.Timescale)
		} else {
			pts = uint64(max(earliest, 0)) + rescale(uint64(m.PresentationTimeDelta), m.Timescale, tr.Timescale)
		}
		err = cp.WriteCue(ctx, t.num, pts, m.Data)
		if err != nil && !errors.Is(err, live.ErrBadCue) {
			return err
		}
	}
	return nil
}

// rescale converts v ticks of timescale from to timescale to, without
// overflow (saturating).
func rescale(v uint64, from, to uint32) uint64 {
	hi, lo := bits.Mul64(v, uint64(to))
	if hi >= uint64(from) {
		return 1<<63 - 1
	}
	q, _ := bits.Div64(hi, lo, uint64(from))
	return q
}

package live

import (
	"context"
	"fmt"
	"time"

	"github.com/cmafkit/cmafkit/segment"
)

// ReplayOptions configures Replay.
type ReplayOptions struct {
	// Speed is how fast samples are pushed: 1 is real time (each sample
	// when its decode time has passed since the start), 2 twice as fast;
	// zero pushes as fast as the publisher takes them.
	Speed float64
	// TimeOffset is added to every decode time, as an encoder's clock that
	// did not start at zero.
	TimeOffset time.Duration
	// Loops is how many times the source is pushed, back to back on one
	// continuous clock (each loop later by the longest track's duration);
	// zero means once, a negative value until the context is done.
	Loops int
}

// Replay publishes the video and audio tracks of a finished source through
// pub as an encoder would: it declares the tracks, then pushes their
// samples in decode-time order across tracks, paced by opts.Speed. It is a
// stand-in publisher (the `cmafkit live` command's file inputs, tests), not
// an ingest. It returns when every sample is pushed, the context is done,
// or pub refuses something; it does not Close pub.
func Replay(ctx context.Context, tracks []*segment.Track, pub Publisher, opts ReplayOptions) error {
	type cursor struct {
		t   *segment.Track
		num int
		sc  *segment.SampleScanner
		s   *segment.Sample
		off int64 // TimeOffset in the track's ticks
	}
	var all, cs []*cursor
	for _, t := range tracks {
		if t.Kind != segment.KindVideo && t.Kind != segment.KindAudio {
			continue
		}
		num, err := pub.AddTrack(ctx, t)
		if err != nil {
			return fmt.Errorf("live: replay %s: %w", t, err)
		}
		all = append(all, &cursor{t: t, num: num})
	}
	var loopDur time.Duration
	for _, c := range all {
		loopDur = max(loopDur, ticksToDur(int64(c.t.Duration), c.t.Timescale))
	}
	start := time.Now()
	var first time.Duration = -1
	var buf []byte
	timer := time.NewTimer(0)
	defer timer.Stop()
	for loop := 0; opts.Loops < 0 || loop < max(opts.Loops, 1); loop++ {
		cs = cs[:0]
		for _, c := range all {
			c.sc = c.t.Scan(0, c.t.SampleCount())
			c.off = durToTicks(opts.TimeOffset+time.Duration(loop)*loopDur, c.t.Timescale)
			if c.sc.Next() {
				c.s = c.sc.Sample()
				cs = append(cs, c)
			} else if err := c.sc.Err(); err != nil {
				return err
			}
		}
		if len(cs) == 0 {
			return nil
		}
		for len(cs) > 0 {
			// The track whose next sample decodes first.
			k := 0
			for i, c := range cs {
				if ticksToDur(int64(c.s.DecodeTime)+c.off, c.t.Timescale) < ticksToDur(int64(cs[k].s.DecodeTime)+cs[k].off, cs[k].t.Timescale) {
					k = i
				}
			}
			c := cs[k]
			at := ticksToDur(int64(c.s.DecodeTime)+c.off, c.t.Timescale)
			if first < 0 {
				first = at
			}
			if opts.Speed > 0 {
				if wait := time.Duration(float64(at-first)/opts.Speed) - time.Since(start); wait > 0 {
					timer.Reset(wait)
					select {
					case <-ctx.Done():
						return ctx.Err()
					case <-timer.C:
					}
				}
			} else if err := ctx.Err(); err != nil {
				return err
			}
			var err error
			buf, err = c.t.Data.AppendSample(buf[:0], c.s)
			if err != nil {
				return fmt.Errorf("live: replay %s: %w", c.t, err)
			}
			s := *c.s
			s.DecodeTime = uint64(int64(s.DecodeTime) + c.off)
			if err := pub.WriteSample(ctx, c.num, s, buf); err != nil {
				return fmt.Errorf("live: replay %s: %w", c.t, err)
			}
			if c.sc.Next() {
				c.s = c.sc.Sample()
			} else {
				if err := c.sc.Err(); err != nil {
					return err
				}
				cs = append(cs[:k], cs[k+1:]...)
			}
		}
	}
	return nil
}

// Package sim estimates the quality of experience a ladder gives: it plays
// a ladder's segments over a bandwidth trace with a player adaptation
// algorithm and reports average bitrate, rebuffering, switches and startup
// delay.
//
// The model is deliberately simple and fully deterministic: a segment of a
// rung holds Bitrate × SegmentDuration bits, downloads are sequential and
// take the trace's bandwidth (plus a fixed request latency), the buffer
// drains in real time once playback has started, and a full buffer makes the
// player wait. Two built-in algorithms stand for the two families used by
// real players: Throughput (rate-based, harmonic mean of recent downloads)
// and BOLA (buffer-based, Spiteri et al.).
package sim

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"io"
	"math"
	"text/tabwriter"
	"time"

	"github.com/cmafkit/cmafkit/abr"
)

// Config sets the session the simulator plays. The zero value is usable.
type Config struct {
	// SegmentDuration is the media duration of a segment; 0 means 4 s.
	SegmentDuration time.Duration
	// Duration is the content length; 0 means one period of the trace
	// (at least one segment).
	Duration time.Duration
	// MaxBuffer is the buffer the player fills at most; 0 means 30 s.
	MaxBuffer time.Duration
	// StartupBuffer is the buffer needed to start playback; 0 means one segment.
	StartupBuffer time.Duration
	// Latency is added to every request before its bytes flow; 0 means none.
	Latency time.Duration
}

// Limits that keep a simulation bounded.
const (
	maxSegments = 1_000_000
	maxRungs    = 100
)

// State is what an Algorithm sees before each segment request.
type State struct {
	// Bitrates are the ladder's bitrates in bit/s, lowest first.
	Bitrates []int
	// SegmentDuration is the media duration of every segment.
	SegmentDuration time.Duration
	// Segment is the index of the segment about to be requested.
	Segment int
	// Buffer is the media buffered ahead of the playhead.
	Buffer time.Duration
	// MaxBuffer is the configured buffer capacity.
	MaxBuffer time.Duration
	// Last is the rung of the previous segment, -1 before the first.
	Last int
	// Throughput holds the measured throughput (bit/s) of every previous
	// download, oldest first. Algorithms must not modify it.
	Throughput []float64
	// Playing reports whether playback has started.
	Playing bool
}

// Decision is an Algorithm's answer: which rung to request, and how long to
// wait before requesting it (buffer-based players pause when full).
type Decision struct {
	Rung int
	Wait time.Duration
}

// Algorithm is a player's adaptation logic. It must be deterministic and
// keep no state between calls other than its configuration: everything it
// may use is in State, which makes one Algorithm value safe to share.
type Algorithm interface {
	Name() string
	Choose(s State) Decision
}

// Result is the outcome of one simulated session.
type Result struct {
	Ladder    string `json:"ladder"`
	Algorithm string `json:"algorithm"`
	Trace     string `json:"trace"`
	Segments  int    `json:"segments"`
	// AvgBitrate is the mean bitrate of the segments played, in bit/s.
	AvgBitrate float64 `json:"avg_bitrate"`
	// Startup is the time from the first request to the start of playback.
	Startup time.Duration `json:"startup_ns"`
	// Rebuffer is the total stall time after playback started.
	Rebuffer time.Duration `json:"rebuffer_ns"`
	// RebufferRatio is Rebuffer / (Rebuffer + media duration played).
	RebufferRatio float64 `json:"rebuffer_ratio"`
	// RebufferEvents counts stalls.
	RebufferEvents int `json:"rebuffer_events"`
	// Switches counts changes of rung between consecutive segments.
	Switches int `json:"switches"`
	// Selections holds the rung index chosen for each segment.
	Selections []int `json:"selections"`
}

func (c Config) withDefaults(l link) (Config, error) {
	c.SegmentDuration = cmp.Or(c.SegmentDuration, 4*time.Second)
	c.MaxBuffer = cmp.Or(c.MaxBuffer, 30*time.Second)
	c.StartupBuffer = cmp.Or(c.StartupBuffer, c.SegmentDuration)
	if c.Duration == 0 {
		c.Duration = time.Duration(l.period * 1e9)
	}
	bad := func(what string, v any) error { return fmt.Errorf("%w: %s %v", ErrInvalidConfig, what, v) }
	switch {
	case c.SegmentDuration < time.Millisecond:
		return c, bad("segment duration", c.SegmentDuration)
	case c.Duration < 0 || c.Duration/c.SegmentDuration > maxSegments:
		return c, bad("duration", c.Duration)
	case c.MaxBuffer < c.SegmentDuration:
		return c, bad("max buffer below one segment:", c.MaxBuffer)
	case c.StartupBuffer < 0 || c.StartupBuffer > c.MaxBuffer:
		return c, bad("startup buffer", c.StartupBuffer)
	case c.Latency < 0 || c.Latency > time.Minute:
		return c, bad("latency", c.Latency)
	}
	return c, nil
}

// Run plays the ladder over the trace with one algorithm.
func Run(ctx context.Context, l abr.Ladder, tr Trace, cfg Config, alg Algorithm) (Result, error) {
	if err := l.Validate(); err != nil {
		return Result{}, err
	}
	if len(l.Rungs) > maxRungs {
		return Result{}, fmt.Errorf("%w: %d rungs, at most %d", ErrInvalidConfig, len(l.Rungs), maxRungs)
	}
	if err := tr.Validate(); err != nil {
		return Result{}, err
	}
	lk := newLink(tr)
	cfg, err := cfg.withDefaults(lk)
	if err != nil {
		return Result{}, err
	}
	segDur := cfg.SegmentDuration.Seconds()
	n := max(1, int(math.Ceil(float64(cfg.Duration)/float64(cfg.SegmentDuration)-1e-9)))
	st := State{
		Bitrates:        l.Bitrates(),
		SegmentDuration: cfg.SegmentDuration,
		MaxBuffer:       cfg.MaxBuffer,
		Last:            -1,
		Throughput:      make([]float64, 0, n),
	}
	res := Result{Ladder: l.Calculator, Algorithm: alg.Name(), Trace: tr.Name, Segments: n, Selections: make([]int, 0, n)}
	var (
		now, buffer, startup, rebuf float64
		playing                     bool
		sum                         float64
	)
	maxBuf, startBuf, latency := cfg.MaxBuffer.Seconds(), cfg.StartupBuffer.Seconds(), cfg.Latency.Seconds()
	for seg := range n {
		if seg%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return Result{}, err
			}
		}
		st.Segment, st.Buffer, st.Playing = seg, secs(buffer), playing
		d := alg.Choose(st)
		rung := min(max(d.Rung, 0), len(st.Bitrates)-1)
		// Waiting only makes sense while playing: the buffer drains meanwhile.
		if playing {
			wait := math.Max(d.Wait.Seconds(), buffer+segDur-maxBuf)
			if wait > 0 {
				wait = math.Min(wait, buffer) // never wait into a stall
				now += wait
				buffer -= wait
			}
		}
		bits := float64(st.Bitrates[rung]) * segDur
		done := lk.transfer(now+latency, bits)
		dl := done - now
		if playing {
			if buffer >= dl {
				buffer -= dl
			} else {
				rebuf += dl - buffer
				res.RebufferEvents++
				buffer = 0
			}
		}
		now = done
		buffer += segDur
		st.Throughput = append(st.Throughput, bits/math.Max(dl, 1e-9))
		if seg > 0 && rung != st.Last {
			res.Switches++
		}
		st.Last = rung
		res.Selections = append(res.Selections, rung)
		sum += float64(st.Bitrates[rung])
		if !playing && (buffer >= startBuf-1e-9 || seg == n-1) {
			playing, startup = true, now
		}
	}
	res.AvgBitrate = sum / float64(n)
	res.Startup = secs(startup)
	res.Rebuffer = secs(rebuf)
	res.RebufferRatio = rebuf / (rebuf + float64(n)*segDur)
	return res, nil
}

func secs(s float64) time.Duration { return time.Duration(math.Round(s * 1e9)) }

// Candidate is a named ladder to compare.
type Candidate struct {
	Name   string
	Ladder abr.Ladder
}

// Compare plays every candidate ladder with every algorithm over the same
// trace and configuration, typically two ladders to see which serves the
// trace better. Results are ordered by candidate, then algorithm; each
// Result's Ladder field is the candidate's name. Without algorithms the
// built-in Throughput and BOLA are used.
func Compare(ctx context.Context, tr Trace, cfg Config, algs []Algorithm, cands ...Candidate) ([]Result, error) {
	if len(algs) == 0 {
		algs = []Algorithm{Throughput{}, BOLA{}}
	}
	var out []Result
	for _, c := range cands {
		for _, a := range algs {
			r, err := Run(ctx, c.Ladder, tr, cfg, a)
			if err != nil {
				return nil, fmt.Errorf("ladder %s, %s: %w", c.Name, a.Name(), err)
			}
			r.Ladder = c.Name
			out = append(out, r)
		}
	}
	return out, nil
}

// WriteReport writes results as an aligned text table.
func WriteReport(w io.Writer, results []Result) error {
	bw := bufio.NewWriter(w)
	tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "ladder\talgorithm\ttrace\tsegments\tavg kbit/s\tstartup s\trebuffer s\trebuffer %%\tstalls\tswitches\n")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%.0f\t%.2f\t%.2f\t%.2f\t%d\t%d\n", r.Ladder, r.Algorithm, r.Trace, r.Segments,
			r.AvgBitrate/1000, r.Startup.Seconds(), r.Rebuffer.Seconds(), 100*r.RebufferRatio, r.RebufferEvents, r.Switches)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return bw.Flush()
}

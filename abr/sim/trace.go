package sim

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// Sentinel errors of the simulator.
var (
	// ErrMalformedTrace means a trace file cannot be parsed or makes no sense.
	ErrMalformedTrace = errors.New("sim: malformed trace")
	// ErrInvalidConfig means a Config, ladder or algorithm setting is out of range.
	ErrInvalidConfig = errors.New("sim: invalid configuration")
)

// TraceError locates a problem in a trace file.
type TraceError struct {
	Line   int // 1-based; 0 if not line specific
	Detail string
}

func (e *TraceError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%v: line %d: %s", ErrMalformedTrace, e.Line, e.Detail)
	}
	return fmt.Sprintf("%v: %s", ErrMalformedTrace, e.Detail)
}

func (e *TraceError) Unwrap() error { return ErrMalformedTrace }

// Point is one sample of a bandwidth trace: from Time on, until the next
// point, the link carries Bandwidth bits per second.
type Point struct {
	Time      time.Duration `json:"time"`
	Bandwidth int64         `json:"bandwidth"`
}

// Trace is a piecewise-constant bandwidth over time. The last point lasts
// as long as the gap before it (1 s for a single point); after that the
// trace repeats from the start, so any session length can be simulated.
type Trace struct {
	Name   string  `json:"name,omitempty"`
	Points []Point `json:"points"`
}

// Limits keep a hostile trace file from exhausting memory or time.
const (
	maxTraceBytes  = 16 << 20
	maxTracePoints = 1_000_000
	maxBandwidth   = 1e12 // bit/s
	maxTraceTime   = 1e7  // seconds (~115 days)
)

// ReadTrace reads a trace as CSV lines "time,bandwidth": time in seconds
// from the start, bandwidth in kbit/s. An optional header names the
// columns; a bandwidth column named "bandwidth_bps", "bandwidth_kbps" or
// "bandwidth_mbps" sets its unit. Times must start at 0 and increase
// strictly; lines starting with '#' are comments.
func ReadTrace(r io.Reader, name string) (Trace, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxTraceBytes+1))
	if err != nil {
		return Trace{}, err
	}
	if len(b) > maxTraceBytes {
		return Trace{}, &TraceError{Detail: fmt.Sprintf("larger than %d bytes", maxTraceBytes)}
	}
	cr := csv.NewReader(bytes.NewReader(b))
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true
	tcol, bcol, unit := 0, 1, 1e3
	tr := Trace{Name: name}
	first := true
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			line := 0
			if pe, ok := err.(*csv.ParseError); ok {
				line = pe.Line
			}
			return Trace{}, &TraceError{Line: line, Detail: err.Error()}
		}
		line, _ := cr.FieldPos(0) // safe: a successful Read has at least one field
		if first {
			first = false
			if _, err := strconv.ParseFloat(strings.TrimSpace(rec[0]), 64); err != nil {
				tcol, bcol = -1, -1
				for i, h := range rec {
					switch h = strings.ToLower(strings.TrimSpace(h)); {
					case h == "t" || strings.HasPrefix(h, "time"):
						tcol = i
					case strings.HasPrefix(h, "bandwidth") || strings.HasPrefix(h, "throughput"):
						bcol = i
						switch {
						case strings.HasSuffix(h, "_bps"):
							unit = 1
						case strings.HasSuffix(h, "_mbps"):
							unit = 1e6
						}
					}
				}
				if tcol < 0 || bcol < 0 {
					return Trace{}, &TraceError{Line: line, Detail: "header needs a time and a bandwidth column"}
				}
				continue
			}
		}
		if len(rec) <= max(tcol, bcol) {
			return Trace{}, &TraceError{Line: line, Detail: fmt.Sprintf("want %d fields, got %d", max(tcol, bcol)+1, len(rec))}
		}
		t, err1 := strconv.ParseFloat(strings.TrimSpace(rec[tcol]), 64)
		bw, err2 := strconv.ParseFloat(strings.TrimSpace(rec[bcol]), 64)
		if err1 != nil || err2 != nil {
			return Trace{}, &TraceError{Line: line, Detail: fmt.Sprintf("time %q and bandwidth %q must be numbers", rec[tcol], rec[bcol])}
		}
		bw *= unit
		switch {
		case !(t >= 0 && t <= maxTraceTime):
			return Trace{}, &TraceError{Line: line, Detail: fmt.Sprintf("time %v out of range", t)}
		case !(bw >= 0 && bw <= maxBandwidth):
			return Trace{}, &TraceError{Line: line, Detail: fmt.Sprintf("bandwidth %v bit/s out of range", bw)}
		case len(tr.Points) >= maxTracePoints:
			return Trace{}, &TraceError{Line: line, Detail: fmt.Sprintf("more than %d points", maxTracePoints)}
		}
		p := Point{Time: time.Duration(math.Round(t * 1e9)), Bandwidth: int64(math.Round(bw))}
		if n := len(tr.Points); n == 0 && p.Time != 0 {
			return Trace{}, &TraceError{Line: line, Detail: "the first point must be at time 0"}
		} else if n > 0 && p.Time <= tr.Points[n-1].Time {
			return Trace{}, &TraceError{Line: line, Detail: "times must increase"}
		}
		tr.Points = append(tr.Points, p)
	}
	if err := tr.Validate(); err != nil {
		return Trace{}, err
	}
	return tr, nil
}

// Validate checks that the trace starts at 0, its times increase and it
// carries some data.
func (tr Trace) Validate() error {
	if len(tr.Points) == 0 {
		return &TraceError{Detail: "no points"}
	}
	if tr.Points[0].Time != 0 {
		return &TraceError{Detail: "the first point must be at time 0"}
	}
	var any bool
	for i, p := range tr.Points {
		if p.Bandwidth < 0 || p.Bandwidth > maxBandwidth {
			return &TraceError{Detail: fmt.Sprintf("point %d: bandwidth %d out of range", i, p.Bandwidth)}
		}
		if i > 0 && p.Time <= tr.Points[i-1].Time {
			return &TraceError{Detail: fmt.Sprintf("point %d: times must increase", i)}
		}
		any = any || p.Bandwidth > 0
	}
	if !any {
		return &TraceError{Detail: "bandwidth is zero throughout"}
	}
	return nil
}

// link is a trace prepared for transfer-time computation, in seconds.
type link struct {
	start, bw []float64 // piece i covers [start[i], start[i+1]) at bw[i] bit/s
	period    float64
	capacity  float64 // bits per period
}

func newLink(tr Trace) link {
	n := len(tr.Points)
	l := link{start: make([]float64, n+1), bw: make([]float64, n)}
	for i, p := range tr.Points {
		l.start[i] = p.Time.Seconds()
		l.bw[i] = float64(p.Bandwidth)
	}
	last := 1.0
	if n > 1 {
		last = l.start[n-1] - l.start[n-2]
	}
	l.start[n] = l.start[n-1] + last
	l.period = l.start[n]
	for i := range l.bw {
		l.capacity += l.bw[i] * (l.start[i+1] - l.start[i])
	}
	return l
}

// bandwidthAt returns the bandwidth at time t (seconds).
func (l link) bandwidthAt(t float64) float64 {
	t = math.Mod(t, l.period)
	i := l.piece(t)
	return l.bw[i]
}

func (l link) piece(t float64) int {
	lo, hi := 0, len(l.bw)-1
	for lo < hi { // last piece whose start <= t
		mid := (lo + hi + 1) / 2
		if l.start[mid] <= t {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

// transfer returns when a download of bits started at time t completes.
func (l link) transfer(t, bits float64) float64 {
	if bits <= 0 {
		return t
	}
	cycles := math.Floor(t / l.period)
	base := cycles * l.period
	pos := t - base
	// Skip whole periods first so huge downloads over thin links stay cheap.
	if full := math.Floor(bits / l.capacity); full >= 1 {
		// Leave at least a sliver for the piecewise walk below.
		if bits-full*l.capacity <= 0 {
			full--
		}
		bits -= full * l.capacity
		base += full * l.period
	}
	i := l.piece(pos)
	for {
		end := l.start[i+1]
		if avail := l.bw[i] * (end - pos); avail >= bits && l.bw[i] > 0 {
			return base + pos + bits/l.bw[i]
		} else {
			bits -= avail
		}
		pos = end
		i++
		if i == len(l.bw) {
			i, pos, base = 0, 0, base+l.period
		}
	}
}

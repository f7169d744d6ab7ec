package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/internal/testutil"

	"github.com/cmafkit/cmafkit/abr"
)

func loadTrace(t testing.TB, name string) Trace {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "testdata", "traces", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr, err := ReadTrace(f, strings.TrimSuffix(name, ".csv"))
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func ladders(t testing.TB) (apple, geometric abr.Ladder) {
	t.Helper()
	src := abr.Source{Width: 1920, Height: 1080, FrameRate: abr.R(30, 1)}
	apple, err := (&abr.Apple{}).Calculate(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	geometric, err = (&abr.Geometric{}).Calculate(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	return apple, geometric
}

// TestGoldenResults runs both built-in players with the Apple and the
// geometric 1080p30 ladders over every shipped trace and compares with the
// recorded results; the simulator is deterministic, so any change is a
// change of behaviour.
func TestGoldenResults(t *testing.T) {
	apple, geometric := ladders(t)
	names, _ := filepath.Glob(filepath.Join("..", "testdata", "traces", "*.csv"))
	if len(names) < 3 {
		t.Fatalf("found %d traces", len(names))
	}
	var all []Result
	for _, name := range names {
		tr := loadTrace(t, filepath.Base(name))
		res, err := Compare(context.Background(), tr, Config{Duration: 2 * time.Minute, SegmentDuration: 4 * time.Second}, nil,
			Candidate{"apple", apple}, Candidate{"geometric", geometric})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			checkResult(t, r)
		}
		// Same inputs, same outputs.
		again, _ := Compare(context.Background(), tr, Config{Duration: 2 * time.Minute, SegmentDuration: 4 * time.Second}, nil,
			Candidate{"apple", apple}, Candidate{"geometric", geometric})
		a, _ := json.Marshal(res)
		b, _ := json.Marshal(again)
		if !bytes.Equal(a, b) {
			t.Errorf("%s: two runs differ", name)
		}
		all = append(all, res...)
	}
	got, err := json.MarshalIndent(all, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", "sim_golden.json")
	if testutil.Update() {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if !bytes.Equal(got, want) {
		var rep strings.Builder
		WriteReport(&rep, all)
		t.Errorf("results differ from %s (run with -update if intended):\n%s", path, rep.String())
	}
}

func checkResult(t *testing.T, r Result) {
	t.Helper()
	if r.Segments != len(r.Selections) || r.Segments == 0 {
		t.Errorf("%+v: %d selections for %d segments", r, len(r.Selections), r.Segments)
	}
	if r.Rebuffer < 0 || r.Startup <= 0 || r.RebufferRatio < 0 || r.RebufferRatio >= 1 {
		t.Errorf("%s/%s/%s: implausible times %+v", r.Ladder, r.Algorithm, r.Trace, r)
	}
	if (r.Rebuffer > 0) != (r.RebufferEvents > 0) {
		t.Errorf("%s/%s/%s: rebuffer %v with %d events", r.Ladder, r.Algorithm, r.Trace, r.Rebuffer, r.RebufferEvents)
	}
	sw := 0
	for i := 1; i < len(r.Selections); i++ {
		if r.Selections[i] != r.Selections[i-1] {
			sw++
		}
	}
	if sw != r.Switches {
		t.Errorf("switches %d, selections show %d", r.Switches, sw)
	}
}

func TestSteadyLinkConverges(t *testing.T) {
	apple, _ := ladders(t)
	tr := loadTrace(t, "steady_5mbps.csv")
	for _, alg := range []Algorithm{Throughput{}, BOLA{}} {
		r, err := Run(context.Background(), apple, tr, Config{Duration: 5 * time.Minute}, alg)
		if err != nil {
			t.Fatal(err)
		}
		// On 5 Mbit/s the throughput player settles on the best rung below
		// the link (4.5 Mbit/s); BOLA-BASIC, as its authors note, oscillates
		// between the rungs around the link rate (4.5 and 6 Mbit/s), with an
		// average the link sustains. Neither may stall once settled.
		last := r.Selections[len(r.Selections)-30:]
		var sum float64
		for _, s := range last {
			sum += float64(apple.Rungs[s].Bitrate)
			if s < 6 || s > 7 || (alg.Name() == "throughput" && s != 6) {
				t.Errorf("%s: rung %d in the settled phase %v", alg.Name(), s, last)
				break
			}
		}
		if avg := sum / float64(len(last)); avg > 5_000_000 || avg < 4_000_000 {
			t.Errorf("%s: settled average %.0f bit/s on a 5 Mbit/s link", alg.Name(), avg)
		}
		if r.Rebuffer != 0 {
			t.Errorf("%s stalled %v on a steady link above the chosen rung", alg.Name(), r.Rebuffer)
		}
	}
}

func TestOutageStalls(t *testing.T) {
	// Four seconds of 1 Mbit/s for an 8 Mbit/s-per-second rung, exactly:
	// a single-rung ladder makes the arithmetic checkable by hand.
	one := abr.Ladder{Rungs: []abr.Rung{{Width: 640, Height: 360, FrameRate: abr.R(25, 1), Bitrate: 2_000_000}}}
	tr := Trace{Name: "half", Points: []Point{{0, 1_000_000}, {time.Second, 1_000_000}}}
	r, err := Run(context.Background(), one, tr, Config{SegmentDuration: 2 * time.Second, Duration: 6 * time.Second}, Throughput{})
	if err != nil {
		t.Fatal(err)
	}
	// Each 2 s segment holds 4 Mbit and takes 4 s: startup after the first
	// (4 s), then each later segment stalls 4 − 2 = 2 s.
	if r.Startup != 4*time.Second || r.Rebuffer != 4*time.Second || r.RebufferEvents != 2 {
		t.Errorf("startup %v rebuffer %v events %d; want 4s, 4s, 2", r.Startup, r.Rebuffer, r.RebufferEvents)
	}
	if want := 4.0 / (4 + 6); math.Abs(r.RebufferRatio-want) > 1e-12 {
		t.Errorf("rebuffer ratio %v, want %v", r.RebufferRatio, want)
	}
	if r.AvgBitrate != 2_000_000 || r.Switches != 0 {
		t.Errorf("avg %v switches %d", r.AvgBitrate, r.Switches)
	}
}

func TestLatencyAndWrap(t *testing.T) {
	lk := newLink(Trace{Points: []Point{{0, 1000}, {time.Second, 0}, {2 * time.Second, 2000}}})
	// Period 3 s: [0,1) 1000, [1,2) 0, [2,3) 2000 bit/s; capacity 3000 bits.
	for _, tc := range []struct{ start, bits, want float64 }{
		{0, 500, 0.5},
		{0, 1000, 1},
		{0, 1500, 2.25},
		{0.5, 3000, 3.5},   // a full period of capacity from mid-piece
		{1, 3000 * 10, 31}, // ten periods from the start of the outage
		{2.5, 2000, 3 + 1}, // 1000 bits to the wrap, 1000 more in the first piece
		{10, 0, 10},
	} {
		if got := lk.transfer(tc.start, tc.bits); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("transfer(%v, %v) = %v, want %v", tc.start, tc.bits, got, tc.want)
		}
	}
}

func TestBOLAParameters(t *testing.T) {
	s := State{Bitrates: []int{500e3, 1e6, 2e6, 4e6}, SegmentDuration: 4 * time.Second, MaxBuffer: 30 * time.Second}
	b := BOLA{}
	pick := func(buf time.Duration) Decision { s.Buffer = buf; return b.Choose(s) }
	if d := pick(0); d.Rung != 0 || d.Wait != 0 {
		t.Errorf("empty buffer: %+v, want the lowest rung", d)
	}
	// Choices never go down as the buffer grows.
	prev := 0
	for q := time.Duration(0); q <= 26*time.Second; q += 250 * time.Millisecond {
		d := pick(q)
		if d.Rung < prev {
			t.Fatalf("buffer %v: rung %d after %d", q, d.Rung, prev)
		}
		prev = d.Rung
	}
	if prev != 3 {
		t.Errorf("full buffer: rung %d, want the highest", prev)
	}
	_, gp, vp := b.params(s)
	limit := time.Duration(vp * (math.Log(8) + 1 + gp) * 1e9)
	if d := pick(limit + 3*time.Second); d.Wait < 3*time.Second-time.Millisecond || d.Wait > 3*time.Second+time.Millisecond {
		t.Errorf("buffer 3 s above the limit %v: wait %v", limit, d.Wait)
	}
}

func TestThroughputHarmonicMean(t *testing.T) {
	s := State{Bitrates: []int{1e6, 2e6, 3e6}, Throughput: []float64{100e6, 1e6, 4e6, 4e6, 4e6, 4e6}}
	// The last five: harmonic mean of 1,4,4,4,4 Mbit/s = 5/(1+4×0.25) = 2.5; ×0.9 = 2.25.
	if d := (Throughput{}).Choose(s); d.Rung != 1 {
		t.Errorf("rung %d, want 1 (2 Mbit/s)", d.Rung)
	}
	if d := (Throughput{Window: 4, Safety: 1}).Choose(s); d.Rung != 2 {
		t.Errorf("window 4: rung %d, want 2", d.Rung)
	}
	if d := (Throughput{}).Choose(State{Bitrates: s.Bitrates}); d.Rung != 0 {
		t.Errorf("no history: rung %d, want 0", d.Rung)
	}
}

func TestReadTraceErrors(t *testing.T) {
	for in, wantLine := range map[string]int{
		"time,bandwidth\n1,100\n":      2, // must start at 0
		"0,100\n0,200\n":               2, // times must increase
		"0,100\n1,abc\n":               2,
		"0,-5\n":                       1,
		"time,foo\n0,1\n":              1,
		"0,0\n1,0\n":                   0, // no data at all
		"\"0,1\n":                      1,
		"0,100\n1,200,3\n2\n":          3,
		"t,bandwidth_mbps\n0,1\n5,1e9": 3,
	} {
		_, err := ReadTrace(strings.NewReader(in), "x")
		var te *TraceError
		if !errors.As(err, &te) || !errors.Is(err, ErrMalformedTrace) {
			t.Errorf("%q: %v, want a TraceError", in, err)
			continue
		}
		if te.Line != wantLine {
			t.Errorf("%q: line %d, want %d (%v)", in, te.Line, wantLine, err)
		}
	}
	tr, err := ReadTrace(strings.NewReader("# a comment\nbandwidth_mbps,time_s\n2.5,0\n1,10\n"), "units")
	if err != nil {
		t.Fatal(err)
	}
	if want := []Point{{0, 2_500_000}, {10 * time.Second, 1_000_000}}; len(tr.Points) != 2 || tr.Points[0] != want[0] || tr.Points[1] != want[1] {
		t.Errorf("points %+v, want %+v", tr.Points, want)
	}
}

func TestRunRejectsBadInput(t *testing.T) {
	apple, _ := ladders(t)
	tr := Trace{Points: []Point{{0, 1e6}}}
	if _, err := Run(context.Background(), abr.Ladder{}, tr, Config{}, BOLA{}); !errors.Is(err, abr.ErrInvalidLadder) {
		t.Errorf("empty ladder: %v", err)
	}
	if _, err := Run(context.Background(), apple, tr, Config{MaxBuffer: time.Second}, BOLA{}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("max buffer below a segment: %v", err)
	}
	if _, err := Run(context.Background(), apple, Trace{}, Config{}, BOLA{}); !errors.Is(err, ErrMalformedTrace) {
		t.Errorf("empty trace: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, apple, tr, Config{}, BOLA{}); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %v", err)
	}
}

func FuzzReadTrace(f *testing.F) {
	names, _ := filepath.Glob(filepath.Join("..", "testdata", "traces", "*.csv"))
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	one := abr.Ladder{Rungs: []abr.Rung{
		{Width: 640, Height: 360, FrameRate: abr.R(25, 1), Bitrate: 500_000},
		{Width: 1280, Height: 720, FrameRate: abr.R(25, 1), Bitrate: 3_000_000},
	}}
	f.Fuzz(func(t *testing.T, b []byte) {
		tr, err := ReadTrace(bytes.NewReader(b), "fuzz")
		if err != nil {
			if !errors.Is(err, ErrMalformedTrace) {
				t.Fatalf("error %v does not wrap ErrMalformedTrace", err)
			}
			return
		}
		// Any accepted trace can be simulated, and quickly.
		for _, alg := range []Algorithm{Throughput{}, BOLA{}} {
			r, err := Run(context.Background(), one, tr, Config{Duration: time.Minute, SegmentDuration: 2 * time.Second}, alg)
			if err != nil {
				t.Fatal(err)
			}
			if r.Segments != 30 || math.IsNaN(r.RebufferRatio) || r.Rebuffer < 0 {
				t.Fatalf("%+v", r)
			}
		}
	})
}

// BenchmarkRun plays a two-hour session (1800 segments of 4 s) over the
// mobile trace with each player.
func BenchmarkRun(b *testing.B) {
	apple, _ := ladders(b)
	tr := loadTrace(b, "mobile.csv")
	for _, alg := range []Algorithm{Throughput{}, BOLA{}} {
		b.Run(alg.Name(), func(b *testing.B) {
			for b.Loop() {
				if _, err := Run(context.Background(), apple, tr, Config{Duration: 2 * time.Hour}, alg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

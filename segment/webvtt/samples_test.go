package webvtt_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/segment/webvtt"
)

// toSamples collects what ToSamples yields (copying each sample's cues).
func toSamples(t testing.TB, cues []webvtt.Cue, end time.Duration) []webvtt.Sample {
	t.Helper()
	var out []webvtt.Sample
	err := webvtt.ToSamples(context.Background(), cues, end, func(s webvtt.Sample) error {
		s.Cues = append([]webvtt.Cue(nil), s.Cues...)
		out = append(out, s)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// naiveSamples is the definition ToSamples implements, in quadratic time:
// cut at every start and end, and put in each piece every cue covering it.
func naiveSamples(cues []webvtt.Cue) []webvtt.Sample {
	cuts := []time.Duration{0}
	for _, c := range cues {
		if c.End > c.Start && c.End > 0 {
			cuts = append(cuts, max(c.Start, 0), c.End)
		}
	}
	slicesSort(cuts)
	var out []webvtt.Sample
	for i := 0; i+1 < len(cuts); i++ {
		a, b := cuts[i], cuts[i+1]
		if a == b {
			continue
		}
		s := webvtt.Sample{Start: a, End: b}
		for _, c := range cues {
			if c.End > c.Start && c.Start <= a && c.End >= b {
				s.Cues = append(s.Cues, c)
			}
		}
		out = append(out, s)
	}
	return out
}

func slicesSort(d []time.Duration) {
	for i := 1; i < len(d); i++ {
		for j := i; j > 0 && d[j] < d[j-1]; j-- {
			d[j], d[j-1] = d[j-1], d[j]
		}
	}
}

// checkSamples converts cues and compares with naiveSamples, unless a limit
// refuses them; every sample must encode and decode.
func checkSamples(t *testing.T, cues []webvtt.Cue) {
	t.Helper()
	var got []webvtt.Sample
	err := webvtt.ToSamples(context.Background(), cues, 0, func(s webvtt.Sample) error {
		if s.End <= s.Start {
			t.Fatalf("empty sample %+v", s)
		}
		if _, err := webvtt.DecodeSample(webvtt.AppendSample(nil, s.Cues)); err != nil {
			t.Fatal(err)
		}
		s.Cues = append([]webvtt.Cue(nil), s.Cues...)
		got = append(got, s)
		return nil
	})
	var le *webvtt.LimitError
	if errors.As(err, &le) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(cues) > 200 {
		return // the reference is quadratic
	}
	if want := naiveSamples(cues); !reflect.DeepEqual(got, want) {
		t.Fatalf("samples of %+v:\n%+v\nwant\n%+v", cues, got, want)
	}
}

// TestToSamplesOverlaps compares ToSamples with the definition on
// documents with nested, equal, touching and unsorted cues.
func TestToSamplesOverlaps(t *testing.T) {
	for _, cues := range [][]webvtt.Cue{
		nil,
		{{Start: ms(0), End: ms(1000), Text: "a"}},
		{{Start: ms(0), End: ms(0), Text: "zero length"}},
		{{Start: ms(-500), End: ms(500), Text: "before zero"}, {Start: ms(-500), End: ms(-100), Text: "all before zero"}},
		{{Start: ms(100), End: ms(900), Text: "a"}, {Start: ms(100), End: ms(900), Text: "a"}, {Start: ms(200), End: ms(300), Text: "b"}},
		{{Start: ms(0), End: ms(500), Text: "a"}, {Start: ms(500), End: ms(1000), Text: "b"}, {Start: ms(250), End: ms(750), Text: "c"}},
		// Not sorted by start: the cues of a sample stay in this order.
		{{Start: ms(300), End: ms(2000), Text: "late"}, {Start: ms(0), End: ms(1000), Text: "early"}, {Start: ms(300), End: ms(400), Text: "short"}},
		{{Start: ms(0), End: ms(3000), Text: "long"}, {Start: ms(1000), End: ms(2000), Text: "inner", ID: "x", Settings: "line:0"}, {Start: ms(2000), End: ms(3000), Text: "tail"}},
	} {
		checkSamples(t, cues)
	}
	// end beyond the last cue adds a final empty sample.
	got := toSamples(t, []webvtt.Cue{{Start: ms(100), End: ms(200), Text: "a"}}, ms(500))
	if len(got) != 3 || got[2].Start != ms(200) || got[2].End != ms(500) || len(got[2].Cues) != 0 {
		t.Errorf("%+v", got)
	}
}

// TestToSamplesActiveLimit: 4,000 cues active at once would make 8,000
// samples of up to 4,000 cues (GB of output); they are refused at once with
// a LimitError saying where.
func TestToSamplesActiveLimit(t *testing.T) {
	cues := make([]webvtt.Cue, 4000)
	for i := range cues {
		cues[i] = webvtt.Cue{Start: ms(i), End: time.Hour, Text: fmt.Sprint("cue ", i)}
	}
	n := 0
	err := webvtt.ToSamples(context.Background(), cues, 0, func(webvtt.Sample) error { n++; return nil })
	var le *webvtt.LimitError
	if !errors.As(err, &le) || !errors.Is(err, webvtt.ErrTooManyActiveCues) {
		t.Fatalf("got %v, want a LimitError for too many active cues", err)
	}
	if le.At != ms(webvtt.MaxActiveCues) || le.Limit != webvtt.MaxActiveCues || n != webvtt.MaxActiveCues {
		t.Errorf("error %+v after %d samples", le, n)
	}
	if !strings.Contains(err.Error(), "00:00:00.128") {
		t.Errorf("message %q does not say where", err)
	}
	// As many as the limit allows are fine.
	toSamples(t, cues[:webvtt.MaxActiveCues], 0)
}

// TestToSamplesSizeLimit: few cues active at once, but long ones repeated
// in many samples, would exceed MaxSamplesSize.
func TestToSamplesSizeLimit(t *testing.T) {
	long := strings.Repeat("x", 1<<20)
	var cues []webvtt.Cue
	for i := range 8 {
		cues = append(cues, webvtt.Cue{Start: 0, End: time.Hour, Text: long + fmt.Sprint(i)})
	}
	for i := range 100 {
		cues = append(cues, webvtt.Cue{Start: time.Duration(i) * time.Second, End: time.Duration(i)*time.Second + ms(10), Text: "tick"})
	}
	var total int64
	err := webvtt.ToSamples(context.Background(), cues, 0, func(s webvtt.Sample) error {
		total += int64(len(webvtt.AppendSample(nil, s.Cues)))
		return nil
	})
	if !errors.Is(err, webvtt.ErrSamplesTooLarge) {
		t.Fatalf("got %v, want ErrSamplesTooLarge", err)
	}
	if total > webvtt.MaxSamplesSize || total < webvtt.MaxSamplesSize-9<<20 {
		t.Errorf("%d bytes of samples yielded before the error, limit %d", total, webvtt.MaxSamplesSize)
	}
}

// TestToSamplesCancel: a cancelled context stops the conversion before it
// starts and soon after it is cancelled during it.
func TestToSamplesCancel(t *testing.T) {
	cues := make([]webvtt.Cue, 200_000)
	for i := range cues {
		cues[i] = webvtt.Cue{Start: time.Duration(i) * time.Second, End: time.Duration(i)*time.Second + ms(900), Text: "x"}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	called := false
	if err := webvtt.ToSamples(ctx, cues, 0, func(webvtt.Sample) error { called = true; return nil }); !errors.Is(err, context.Canceled) || called {
		t.Errorf("cancelled before: %v (fn called: %v)", err, called)
	}
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	n := 0
	err := webvtt.ToSamples(ctx, cues, 0, func(webvtt.Sample) error {
		if n++; n == 1000 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || n > 1000+8192 {
		t.Errorf("cancelled during: %v after %d of %d samples", err, n, 2*len(cues))
	}
	// fn's error stops it too.
	stop := errors.New("stop")
	if err := webvtt.ToSamples(context.Background(), cues, 0, func(webvtt.Sample) error { return stop }); err != stop {
		t.Errorf("fn error: got %v", err)
	}
}

// TestMergeLong: Merge of many samples with a cue repeated in each stays
// linear and gives the cues back.
func TestMergeLong(t *testing.T) {
	var cues []webvtt.Cue
	for i := range 20_000 {
		cues = append(cues, webvtt.Cue{Start: time.Duration(i) * time.Second, End: time.Duration(i)*time.Second + ms(1500), Text: fmt.Sprint(i)})
	}
	got := webvtt.Merge(toSamples(t, cues, 0))
	if !reflect.DeepEqual(got, cues) {
		t.Errorf("merged %d cues, want %d", len(got), len(cues))
	}
}

// BenchmarkToSamples converts documents of non-overlapping cues (two
// overlapping at a time in every other cue); ns/cue stays flat as the
// count grows.
func BenchmarkToSamples(b *testing.B) {
	for _, n := range []int{20_000, 40_000, 80_000, 1_000_000} {
		cues := make([]webvtt.Cue, n)
		for i := range cues {
			a := time.Duration(i) * time.Second
			d := ms(900)
			if i%2 == 1 {
				d = ms(1500)
			}
			cues[i] = webvtt.Cue{Start: a, End: a + d, Text: fmt.Sprint("cue number ", i)}
		}
		b.Run(fmt.Sprintf("cues=%dk", n/1000), func(b *testing.B) {
			var buf []byte
			for b.Loop() {
				buf = buf[:0]
				err := webvtt.ToSamples(context.Background(), cues, 0, func(s webvtt.Sample) error {
					buf = webvtt.AppendSample(buf, s.Cues)
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/cue")
		})
	}
}

// BenchmarkParse parses a document of n cues.
func BenchmarkParse(b *testing.B) {
	for _, n := range []int{20_000, 80_000} {
		var doc bytes.Buffer
		cues := make([]webvtt.Cue, n)
		for i := range cues {
			a := time.Duration(i) * time.Second
			cues[i] = webvtt.Cue{Start: a, End: a + ms(900), Text: fmt.Sprint("cue number ", i)}
		}
		if err := webvtt.Write(&doc, nil, cues); err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("cues=%dk", n/1000), func(b *testing.B) {
			b.SetBytes(int64(doc.Len()))
			for b.Loop() {
				if _, err := webvtt.Parse(bytes.NewReader(doc.Bytes())); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/cue")
		})
	}
}

// cancelReader cancels a context once it has been read to the end.
type cancelReader struct {
	r      *bytes.Reader
	cancel context.CancelFunc
}

func (c *cancelReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err != nil {
		c.cancel()
	}
	return n, err
}

// TestParseContextCancel: parsing a long document stops on a cancelled
// context, whether it is cancelled before or after reading.
func TestParseContextCancel(t *testing.T) {
	var doc bytes.Buffer
	cues := make([]webvtt.Cue, 20_000)
	for i := range cues {
		cues[i] = webvtt.Cue{Start: time.Duration(i) * time.Second, End: time.Duration(i)*time.Second + ms(900), Text: "x"}
	}
	if err := webvtt.Write(&doc, nil, cues); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := webvtt.ParseContext(ctx, bytes.NewReader(doc.Bytes())); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled before: %v", err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	if _, err := webvtt.ParseContext(ctx, &cancelReader{r: bytes.NewReader(doc.Bytes()), cancel: cancel}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled after reading: %v", err)
	}
	got, err := webvtt.ParseContext(context.Background(), bytes.NewReader(doc.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Cues, cues) {
		t.Errorf("not cancelled: %d cues, want %d", len(got.Cues), len(cues))
	}
}

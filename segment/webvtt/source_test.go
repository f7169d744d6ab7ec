package webvtt_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/segment"
	"github.com/cmafkit/cmafkit/segment/cmaf"
	"github.com/cmafkit/cmafkit/segment/internal/mp4fixture"
	"github.com/cmafkit/cmafkit/segment/webvtt"
)

// vttDoc writes a WebVTT document of n cues, cue i from start(i) to end(i).
func vttDoc(n int, start, end func(i int) time.Duration) []byte {
	var b bytes.Buffer
	b.WriteString("WEBVTT\n")
	for i := range n {
		fmt.Fprintf(&b, "\n%s --> %s\ncue %d\n", webvtt.FormatTimestamp(start(i)), webvtt.FormatTimestamp(end(i)), i)
	}
	return b.Bytes()
}

// TestOpenWebVTTOverlapLimit: 4,000 cues all active at once (about 130 KB)
// would make 8,000 samples repeating up to 4,000 cues each, gigabytes of
// wvtt; Open refuses the document at once with an error naming it and
// the limit.
func TestOpenWebVTTOverlapLimit(t *testing.T) {
	doc := vttDoc(4000, func(i int) time.Duration { return time.Duration(i) * time.Millisecond }, func(int) time.Duration { return time.Hour })
	start := time.Now()
	_, err := webvtt.Open(context.Background(), bytes.NewReader(doc), "overlap.vtt", nil)
	var fe *segment.FormatError
	var le *webvtt.LimitError
	if !errors.As(err, &fe) || fe.Source != "overlap.vtt" || !errors.As(err, &le) || !errors.Is(err, webvtt.ErrTooManyActiveCues) {
		t.Fatalf("got %v, want a FormatError wrapping a webvtt.LimitError", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("refusing took %s", d)
	}
}

// cancelAfter is a context whose Err reports Canceled from its nth call on,
// so a test can cancel in the middle of work without timing.
type cancelAfter struct {
	context.Context
	n, calls atomic.Int64
}

func (c *cancelAfter) Err() error {
	if c.calls.Add(1) >= c.n.Load() {
		return context.Canceled
	}
	return nil
}

// TestOpenWebVTTCancel: a context cancelled while a long document is being
// converted stops the conversion with context.Canceled.
func TestOpenWebVTTCancel(t *testing.T) {
	doc := vttDoc(50_000, func(i int) time.Duration { return time.Duration(i) * time.Second },
		func(i int) time.Duration { return time.Duration(i)*time.Second + 900*time.Millisecond })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := webvtt.Open(ctx, bytes.NewReader(doc), "long.vtt", nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled before: got %v", err)
	}
	// Cancelled at each point where the context is checked, through
	// reading, parsing and converting.
	count := &cancelAfter{Context: context.Background()}
	count.n.Store(1 << 62)
	if _, err := webvtt.Open(count, bytes.NewReader(doc), "long.vtt", nil); err != nil {
		t.Fatal(err)
	}
	checks := count.calls.Load()
	if checks < 20 {
		t.Fatalf("the context was checked %d times for a document of 50,000 cues", checks)
	}
	for k := int64(1); k <= checks; k += max(checks/10, 1) {
		c := &cancelAfter{Context: context.Background()}
		c.n.Store(k)
		if _, err := webvtt.Open(c, bytes.NewReader(doc), "long.vtt", nil); !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled at check %d of %d: got %v", k, checks, err)
		}
	}
	c := &cancelAfter{Context: context.Background()}
	c.n.Store(checks) // the last check, in the conversion
	if _, err := webvtt.Open(c, bytes.NewReader(doc), "long.vtt", nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled at the last check: got %v", err)
	}
}

// TestOpenWebVTTLongGap: a sample longer than its 32-bit duration in
// milliseconds (49.7 days) is refused instead of wrapping around.
func TestOpenWebVTTLongGap(t *testing.T) {
	doc := "WEBVTT\n\n00:00.000 --> 00:01.000\na\n\n2000:00:00.000 --> 2000:00:01.000\nb\n"
	_, err := webvtt.Open(context.Background(), strings.NewReader(doc), "gap.vtt", nil)
	if !errors.Is(err, segment.ErrMalformed) || !strings.Contains(err.Error(), "gap.vtt") {
		t.Errorf("got %v, want ErrMalformed naming gap.vtt", err)
	}
}

// FuzzOpenWebVTT feeds mutated WebVTT side files through the whole text
// path: Open, a plan of 2 s segments, AlignText, CMAF and HLS WebVTT
// segments. Anything may be refused, with a *FormatError; what is accepted
// must give contiguous samples that decode.
func FuzzOpenWebVTT(f *testing.F) {
	f.Add(mp4fixture.Testdata(f, "subtitles_en.vtt"))
	f.Add([]byte("WEBVTT\n\n00:00.000 --> 00:01.000\nx\n"))
	f.Add([]byte("WEBVTT\n\nid\n00:00.500 --> 00:03.000 line:0\na\n\n00:01.000 --> 00:05.000\nb\n\n00:01.000 --> 00:02.000\nc\n"))
	f.Add(vttDoc(12, func(i int) time.Duration { return time.Duration(i) * 300 * time.Millisecond }, func(int) time.Duration { return 5 * time.Second }))
	f.Fuzz(func(t *testing.T, b []byte) {
		// Small documents reach every branch; large ones only make each
		// execution, and minimizing, slow (the limits have their own tests).
		if len(b) > 2<<10 {
			return
		}
		src, err := webvtt.Open(context.Background(), bytes.NewReader(b), "fuzz.vtt", nil)
		if err != nil {
			var fe *segment.FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is not a *FormatError", err)
			}
			return
		}
		tr := src.Tracks[0]
		ss, err := tr.AppendSamples(nil, 0, tr.SampleCount())
		if err != nil {
			t.Fatal(err)
		}
		var at uint64
		for i := range ss {
			if ss[i].DecodeTime != at || ss[i].Duration == 0 {
				t.Fatalf("sample %d at %d for %d, want it at %d", i, ss[i].DecodeTime, ss[i].Duration, at)
			}
			at += uint64(ss[i].Duration)
			p, err := tr.Data.AppendSample(nil, &ss[i])
			if err != nil {
				t.Fatal(err)
			}
			if _, err := webvtt.DecodeSample(p); err != nil {
				t.Fatal(err)
			}
		}
		if at != tr.Duration {
			t.Fatalf("samples end at %d, track duration %d", at, tr.Duration)
		}
		if tr.Duration > 600_000 {
			return // keep each input fast: segments of the first ten minutes are enough
		}
		plan, err := segment.PlanSegments([]*segment.Track{tr}, 2*time.Second)
		if err != nil {
			return
		}
		al, err := segment.AlignText(tr, plan)
		if err != nil {
			t.Fatal(err)
		}
		sw, err := cmaf.NewWriter(al, plan, cmaf.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := cmaf.WriteInit(io.Discard, al, nil); err != nil {
			t.Fatal(err)
		}
		for i := range min(sw.Len(), 8) {
			if _, err := sw.WriteSegment(context.Background(), io.Discard, i); err != nil {
				t.Fatalf("segment %d: %v", i, err)
			}
			if _, err := sw.WriteWebVTT(context.Background(), io.Discard, i); err != nil {
				t.Fatalf("WebVTT segment %d: %v", i, err)
			}
		}
	})
}

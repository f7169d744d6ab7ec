package cmaf

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/segment"
	"github.com/cmafkit/cmafkit/segment/internal/mp4fixture"
)

// BenchmarkSegmentLargeSource writes a large progressive MP4 (CMAFKIT_BENCH_MB,
// default 1024 MB; moov at the end) by looping the test ladder's 720p video
// and audio, then opens it and writes every segment of both tracks to
// io.Discard. It reports throughput, allocations and the peak Go heap from
// opening to the last segment, which must not grow with the source size:
//
//	CMAFKIT_BENCH_MB=100  go test ./segment/cmaf -run '^$' -bench LargeSource -benchtime 1x -benchmem
//	CMAFKIT_BENCH_MB=1024 go test ./segment/cmaf -run '^$' -bench LargeSource -benchtime 1x -benchmem
func BenchmarkSegmentLargeSource(b *testing.B) {
	mb := 1024
	if v, err := strconv.Atoi(os.Getenv("CMAFKIT_BENCH_MB")); err == nil && v > 0 {
		mb = v
	}
	path := filepath.Join(b.TempDir(), "large.mp4")
	size := mp4fixture.Looped(b, openFile(b, filepath.Join("..", "..", "testdata", "ladder_720p.mp4")), path, int64(mb)<<20)
	runtime.GC()
	var peak, samples uint64
	sample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapInuse)
	}
	b.SetBytes(size)
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		src, err := segment.OpenFile(context.Background(), path, nil)
		if err != nil {
			b.Fatal(err)
		}
		sample()
		plan, err := segment.PlanSegments(src.Tracks, 4*time.Second)
		if err != nil {
			b.Fatal(err)
		}
		samples = 0
		for _, t := range src.Tracks {
			samples += uint64(t.SampleCount())
			sw, err := NewWriter(t, plan, Options{IsolateSyncSample: true})
			if err != nil {
				b.Fatal(err)
			}
			for i := 0; i < sw.Len(); i++ {
				if _, err := sw.WriteSegment(context.Background(), io.Discard, i); err != nil {
					b.Fatal(err)
				}
				if i%64 == 0 {
					sample()
				}
			}
		}
		src.Close()
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(samples), "samples")
}

// openFile opens the input at path, closed when the test ends.
func openFile(tb testing.TB, path string) *segment.Source {
	tb.Helper()
	src, err := segment.OpenFile(context.Background(), path, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { src.Close() })
	return src
}

package segment

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// BenchmarkSegmentLargeSource segments a large source built from the test
// ladder's 720p video by repeating its samples (CMAFKIT_BENCH_MB, default
// 1024 MB) in a temp file, writing every segment to io.Discard. It reports
// throughput, allocations and the peak Go heap, which must not grow with the
// source size beyond the index (40 bytes per sample):
//
//	CMAFKIT_BENCH_MB=100  go test ./segment -run '^$' -bench LargeSource -benchtime 1x -benchmem
//	CMAFKIT_BENCH_MB=1024 go test ./segment -run '^$' -bench LargeSource -benchtime 1x -benchmem
func BenchmarkSegmentLargeSource(b *testing.B) {
	mb := 1024
	if v, err := strconv.Atoi(os.Getenv("CMAFKIT_BENCH_MB")); err == nil && v > 0 {
		mb = v
	}
	src, err := OpenFile(context.Background(), filepath.Join("..", "testdata", "ladder_720p.mp4"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	v := src.Tracks[0]
	path := filepath.Join(b.TempDir(), "large.bin")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	big := *v
	big.Samples = nil
	var off int64
	var dts uint64
	var buf []byte
	for off < int64(mb)<<20 {
		for i := range v.Samples {
			s := v.Samples[i]
			buf, err = v.Data.AppendSample(buf[:0], &s)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := f.Write(buf); err != nil {
				b.Fatal(err)
			}
			s.Offset, s.DecodeTime = off, dts
			off += int64(s.Size)
			dts += uint64(s.Duration)
			big.Samples = append(big.Samples, s)
		}
	}
	f.Close()
	in, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close()
	big.Data = &readerAtSamples{r: in}
	big.Duration = dts
	plan, err := PlanSegments([]*Track{&big}, 4*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	var peak uint64
	b.SetBytes(off)
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		sw, err := NewSegmentWriter(&big, plan, SegmentOptions{IsolateSyncSample: true})
		if err != nil {
			b.Fatal(err)
		}
		for i := 0; i < sw.Len(); i++ {
			if _, err := sw.WriteSegment(context.Background(), io.Discard, i); err != nil {
				b.Fatal(err)
			}
			if i%64 == 0 {
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapInuse)
			}
		}
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(len(big.Samples)), "samples")
}

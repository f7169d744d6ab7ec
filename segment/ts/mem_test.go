package ts

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// BenchmarkIndexLarge shows that indexing memory does not grow with the file
// beyond the compact per-sample index. It is opt-in because it writes big
// files: CMAFKIT_TS_BIG=100,1024 (sizes in MiB) makes them by looping
// testdata/h264_aac.ts with ffmpeg -stream_loop into CMAFKIT_TS_BIG_DIR (or a
// temporary directory), then indexes each and reads every sample back.
//
//	CMAFKIT_TS_BIG=100,1024 go test ./segment/ts -run '^$' -bench IndexLarge -benchtime 1x
func BenchmarkIndexLarge(b *testing.B) {
	env := os.Getenv("CMAFKIT_TS_BIG")
	if env == "" {
		b.Skip("set CMAFKIT_TS_BIG=100,1024 (MiB) to run")
	}
	dir := os.Getenv("CMAFKIT_TS_BIG_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	unit := fileSize(b, filepath.Join(testdata, "h264_aac.ts"))
	for _, f := range strings.Split(env, ",") {
		mib, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			b.Fatal(err)
		}
		path := filepath.Join(dir, fmt.Sprintf("big_%dMiB.ts", mib))
		if fileSize(b, path) < int64(mib)<<20*9/10 {
			loops := int(int64(mib)<<20/unit) + 1
			ffmpeg(b, "-stream_loop", strconv.Itoa(loops-1), "-i", filepath.Join(testdata, "h264_aac.ts"), "-c", "copy", "-f", "mpegts", path)
		}
		b.Run(fmt.Sprintf("%dMiB", mib), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				indexLarge(b, path)
			}
		})
	}
}

func fileSize(t testing.TB, p string) int64 {
	fi, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// peakHeap samples the live heap until stop is closed.
type peakHeap struct {
	mu   sync.Mutex
	peak uint64
	stop chan struct{}
	done chan struct{}
}

func watchHeap() *peakHeap {
	p := &peakHeap{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			p.mu.Lock()
			p.peak = max(p.peak, ms.HeapAlloc)
			p.mu.Unlock()
			select {
			case <-p.stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return p
}

func (p *peakHeap) Stop() uint64 {
	close(p.stop)
	<-p.done
	return p.peak
}

func vmHWM() string {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			return strings.TrimSpace(strings.TrimPrefix(l, "VmHWM:"))
		}
	}
	return "?"
}

func indexLarge(b *testing.B, path string) {
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	w := watchHeap()
	start := time.Now()
	src, err := OpenFile(context.Background(), path, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	took := time.Since(start)
	peak := w.Stop()
	indexPeak := peak - min(peak, base.HeapAlloc)
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	var samples, runs, idxBytes int
	for _, t := range src.Tracks {
		x := t.Index.(*index)
		samples += x.Len()
		runs += len(x.runs)
		idxBytes += x.size()
		b.Logf("  %s: %d samples, index %.1f B/sample", t, x.Len(), float64(x.size())/float64(x.Len()))
	}
	b.Logf("%s: %d MiB, %d packets, %d samples, indexed in %v (%.0f MiB/s)", filepath.Base(path), src.Size>>20,
		src.Stats.Packets, samples, took.Round(time.Millisecond), float64(src.Size)/(1<<20)/took.Seconds())
	b.Logf("  stats %+v", src.Stats)
	b.Logf("  heap: peak %.1f MiB while indexing, %.1f MiB retained (index: %.1f MiB = %.1f B/sample, %d explicit runs); VmHWM %s",
		mb(indexPeak), mb(after.HeapAlloc-min(after.HeapAlloc, base.HeapAlloc)), mb(uint64(idxBytes)),
		float64(idxBytes)/float64(samples), runs, vmHWM())

	// Read every sample back, as segment writing does, and watch the heap.
	w = watchHeap()
	start = time.Now()
	var buf []byte
	var bytes int64
	for _, t := range src.Tracks {
		for sc := t.Scan(0, t.SampleCount()); sc.Next(); {
			buf, err = t.Data.AppendSample(buf[:0], sc.Sample())
			if err != nil {
				b.Fatal(err)
			}
			bytes += int64(len(buf))
		}
	}
	peak = w.Stop()
	b.Logf("  read back %d MiB of samples in %v; heap peak %.1f MiB above the index", bytes>>20,
		time.Since(start).Round(time.Millisecond), mb(peak-min(peak, after.HeapAlloc)))
	b.ReportMetric(float64(idxBytes)/float64(samples), "index-B/sample")
	b.ReportMetric(float64(after.HeapAlloc-min(after.HeapAlloc, base.HeapAlloc))/float64(samples), "retained-B/sample")
	b.ReportMetric(mb(indexPeak), "index-peak-heap-MiB")
}

func mb(v uint64) float64 { return float64(v) / (1 << 20) }

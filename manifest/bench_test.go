package manifest_test

import (
	"io"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/internal/testutil"
	"github.com/cmafkit/cmafkit/manifest"
	"github.com/cmafkit/cmafkit/manifest/dash"
	"github.com/cmafkit/cmafkit/manifest/hls"
	"github.com/cmafkit/cmafkit/manifest/internal/manifesttest"
)

// discard counts bytes; it stands for the objects the playlists go to.
type discard struct{ n *int64 }

func (d discard) Write(b []byte) (int, error) { *d.n += int64(len(b)); return len(b), nil }
func (d discard) Close() error                { return nil }

// The benchmark presentation: 3 hours, 8 representations (6 video, 2
// audio) of 2 s segments, 43 200 segments in all.
func bigPresentation() *manifest.Presentation { return manifesttest.Big(3*time.Hour, 6, 2) }

// BenchmarkRenderBoth renders the MPD and every HLS playlist (one
// multivariant and 8 media playlists), validating once per format.
// cpu-ms/op is the CPU time per render, which unlike ns/op does not grow
// when other processes share the machine.
func BenchmarkRenderBoth(b *testing.B) {
	p := bigPresentation()
	var n int64
	b.ReportAllocs()
	cpu0 := testutil.CPUTime()
	for b.Loop() {
		n = 0
		if err := hls.RenderAll(p, "main.m3u8", func(string) (io.WriteCloser, error) { return discard{&n}, nil }); err != nil {
			b.Fatal(err)
		}
		if err := dash.Render(discard{&n}, p); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(testutil.CPUTime()-cpu0)/float64(b.N)/1e6, "cpu-ms/op")
	b.ReportMetric(float64(n), "output-bytes")
}

func BenchmarkRenderHLS(b *testing.B) {
	p := bigPresentation()
	var n int64
	b.ReportAllocs()
	cpu0 := testutil.CPUTime()
	for b.Loop() {
		if err := hls.RenderAll(p, "main.m3u8", func(string) (io.WriteCloser, error) { return discard{&n}, nil }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(testutil.CPUTime()-cpu0)/float64(b.N)/1e6, "cpu-ms/op")
}

func BenchmarkRenderDASH(b *testing.B) {
	p := bigPresentation()
	var n int64
	b.ReportAllocs()
	cpu0 := testutil.CPUTime()
	for b.Loop() {
		if err := dash.Render(discard{&n}, p); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(testutil.CPUTime()-cpu0)/float64(b.N)/1e6, "cpu-ms/op")
}

func BenchmarkValidate(b *testing.B) {
	p := bigPresentation()
	b.ReportAllocs()
	cpu0 := testutil.CPUTime()
	for b.Loop() {
		if err := p.Validate(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(testutil.CPUTime()-cpu0)/float64(b.N)/1e6, "cpu-ms/op")
}

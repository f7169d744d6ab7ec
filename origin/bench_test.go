package origin

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// The benchmarks below need a large source: CMAFKIT_ORIGIN_BENCH_SRC names
// an MP4 with a 1080p H.264 video track (bench/originload makes one), e.g.
//
//	CMAFKIT_ORIGIN_BENCH_SRC=/dev/shm/src.mp4 go test ./origin -run '^$' -bench . -benchtime 20x
func benchRoot(b *testing.B) (root, title string) {
	src := os.Getenv("CMAFKIT_ORIGIN_BENCH_SRC")
	if src == "" {
		b.Skip("CMAFKIT_ORIGIN_BENCH_SRC is not set")
	}
	return filepath.Dir(src), filepath.Base(src)
}

// discardResponse is an http.ResponseWriter that drops the body.
type discardResponse struct {
	h    http.Header
	code int
	n    int64
}

func (d *discardResponse) Header() http.Header {
	if d.h == nil {
		d.h = http.Header{}
	}
	return d.h
}
func (d *discardResponse) WriteHeader(code int) { d.code = code }
func (d *discardResponse) Write(p []byte) (int, error) {
	if d.code == 0 {
		d.code = 200
	}
	d.n += int64(len(p))
	return len(p), nil
}

// BenchmarkFirstSegment opens the title anew in each iteration (a new
// handler, so an empty cache) and writes its first video segment: the
// work behind the first byte of an unseen title.
func BenchmarkFirstSegment(b *testing.B) {
	root, title := benchRoot(b)
	src, err := Dir(root)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		h, err := New(Config{Source: src})
		if err != nil {
			b.Fatal(err)
		}
		w := &discardResponse{}
		h.ServeHTTP(w, httptest.NewRequest("GET", "/"+title+"/video_1080p_avc/seg-1.m4s", nil))
		if w.code != 200 || w.n == 0 {
			b.Fatalf("status %d, %d bytes", w.code, w.n)
		}
	}
}

// BenchmarkSegment writes random video segments of an opened title
// (manifests rendered first, as players ask for them first), clear and
// encrypted, from parallel goroutines.
func BenchmarkSegment(b *testing.B) {
	root, title := benchRoot(b)
	src, err := Dir(root)
	if err != nil {
		b.Fatal(err)
	}
	for _, prefix := range []string{"", "cenc/", "cbcs/"} {
		b.Run("scheme="+strconv.Quote(prefix), func(b *testing.B) {
			h, err := New(Config{Source: src, Keys: testKeys})
			if err != nil {
				b.Fatal(err)
			}
			w := &discardResponse{}
			h.ServeHTTP(w, httptest.NewRequest("GET", "/"+prefix+title+"/video_1080p_avc.m3u8", nil))
			if w.code != 200 {
				b.Fatalf("playlist: %d", w.code)
			}
			var bytes int64
			i := 0
			for b.Loop() {
				i++
				w := &discardResponse{}
				r := httptest.NewRequest("GET", "/"+prefix+title+"/video_1080p_avc/seg-"+strconv.Itoa(1+i*37%300)+".m4s", nil).WithContext(context.Background())
				h.ServeHTTP(w, r)
				if w.code != 200 {
					b.Fatalf("status %d", w.code)
				}
				bytes += w.n
			}
			b.SetBytes(bytes / int64(max(i, 1)))
			_ = io.Discard
		})
	}
}

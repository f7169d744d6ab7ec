package segment_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/cmafkit/cmafkit/segment"
	_ "github.com/cmafkit/cmafkit/segment/isobmff"
	_ "github.com/cmafkit/cmafkit/segment/ts"
	_ "github.com/cmafkit/cmafkit/segment/webvtt"
)

// TestOpenPicksReader: Open hands each input to the reader registered for
// its format, whatever the file is called, from several goroutines at once.
func TestOpenPicksReader(t *testing.T) {
	cases := map[string]string{
		"ladder_360p.mp4":  "MP4",
		"fragmented.mp4":   "MP4",
		"h264_aac.ts":      "MPEG-TS",
		"subtitles_en.vtt": "WebVTT",
	}
	var wg sync.WaitGroup
	for name, want := range cases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			src, err := segment.OpenFile(context.Background(), filepath.Join("..", "testdata", name), nil)
			if err != nil {
				t.Errorf("%s: %v", name, err)
				return
			}
			defer src.Close()
			if src.Format != want || len(src.Tracks) == 0 {
				t.Errorf("%s: format %q with %d tracks, want %s", name, src.Format, len(src.Tracks), want)
			}
		}()
	}
	wg.Wait()
}

// TestOpenRegisteredFormat: a format registered by a new reader is read
// through Open with no other change, and one registered twice is refused.
func TestOpenRegisteredFormat(t *testing.T) {
	testFormatOnce.Do(func() { segment.RegisterFormat(testFormat) })
	in := []byte("TESTFMT! and the rest")
	src, err := segment.Open(context.Background(), bytes.NewReader(in), int64(len(in)), "x.test", nil)
	if err != nil || src.Format != "test-format" || src.Size != int64(len(in)) {
		t.Fatalf("got %+v, %v", src, err)
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "registered twice") {
			t.Errorf("second registration: recovered %v, want a panic", r)
		}
	}()
	segment.RegisterFormat(testFormat)
}

// testFormat is a format of the tests' own, registered once.
var (
	testFormat = segment.Format{
		Name:  "test-format",
		Match: func(head []byte) bool { return bytes.HasPrefix(head, []byte("TESTFMT!")) },
		Open: func(ctx context.Context, r io.ReaderAt, size int64, name string, opts *segment.OpenOptions) (*segment.Source, error) {
			return &segment.Source{Name: name, Size: size, Tracks: []*segment.Track{{ID: 1}}}, nil
		},
	}
	testFormatOnce sync.Once
)

// TestOpenUnregistered: an input whose reader is not registered is refused
// with ErrUnsupportedFormat saying which package to import.
func TestOpenUnregistered(t *testing.T) {
	// A one-packet MPEG-TS: the TS reader wants two.
	in := append([]byte{0x47, 0x40, 0, 0x10}, make([]byte, 184)...)
	_, err := segment.Open(context.Background(), bytes.NewReader(in), int64(len(in)), "short.ts", nil)
	if !errors.Is(err, segment.ErrUnsupportedFormat) || !strings.Contains(err.Error(), "MPEG-TS") {
		t.Fatalf("got %v", err)
	}
}

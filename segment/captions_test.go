package segment_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	_ "github.com/cmafkit/cmafkit/segment/isobmff"

	"github.com/Eyevinn/mp4ff/sei"

	"github.com/cmafkit/cmafkit/internal/cctest"
	"github.com/cmafkit/cmafkit/segment"
)

// captioned re-muxes the video track of a test file with one caption SEI
// per frame holding the cc_data a cctest.Stream gives after queue(i, s)
// was called for frame i; a nil queue adds no SEI at all. The SEI NAL
// units go after the slices with afterSlices, and start with the messages
// before.
func captioned(t testing.TB, file string, afterSlices bool, queue func(i int, s *cctest.Stream), before ...sei.SEIMessage) []byte {
	t.Helper()
	src := openTestFile(t, file)
	var video *segment.Track
	for _, tr := range src.Tracks {
		if tr.Kind == segment.KindVideo {
			video = tr
		}
	}
	hevc := video.Codec[:4] == "hvc1" || video.Codec[:4] == "hev1"
	var cc [][]byte
	if queue != nil {
		var s cctest.Stream
		cc = s.Frames(video.SampleCount(), queue)
	}
	b, err := cctest.Remux(context.Background(), video, afterSlices, func(i int) [][]byte {
		if cc == nil {
			return nil
		}
		nal, err := cctest.SEI(cc[i], hevc, before...)
		if err != nil {
			t.Fatal(err)
		}
		return [][]byte{nal}
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// videoOf opens an MP4 in memory and returns its video track.
func videoOf(t testing.TB, b []byte) *segment.Track {
	t.Helper()
	src, err := segment.Open(context.Background(), bytes.NewReader(b), int64(len(b)), "captioned.mp4", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range src.Tracks {
		if tr.Kind == segment.KindVideo {
			return tr
		}
	}
	t.Fatal("no video track")
	return nil
}

// onlyReader hides everything of a SampleReader but AppendSample, as the
// MPEG-TS reader offers: DetectCaptions then reads whole samples.
type onlyReader struct{ segment.SampleReader }

// at queues f on frame n.
func at(n int, f func(s *cctest.Stream)) func(int, *cctest.Stream) {
	return func(i int, s *cctest.Stream) {
		if i == n {
			f(s)
		}
	}
}

// TestDetectCaptions finds the CEA-608 channels and CEA-708 services of
// caption data written as a caption encoder would, in H.264 and HEVC, with
// the SEI before or after the slices, reading samples from the MP4 file
// (the head of each sample) and through a bare SampleReader (whole samples,
// as for MPEG-TS).
func TestDetectCaptions(t *testing.T) {
	const h264, hevc = "ladder_360p.mp4", "hevc_ac3.mp4"
	cases := []struct {
		name   string
		file   string
		after  bool
		before []sei.SEIMessage
		window time.Duration
		queue  func(int, *cctest.Stream)
		want   segment.Captions
	}{
		{name: "no SEI", file: h264},
		{name: "padding only", file: h264, queue: func(int, *cctest.Stream) {},
			want: segment.Captions{Found: true}},
		{name: "CC1", file: h264, queue: at(0, func(s *cctest.Stream) { s.PopOn(1, "HELLO") }),
			want: segment.Captions{Found: true, CEA608: []int{1}}},
		{name: "every channel and two services", file: h264, queue: at(3, func(s *cctest.Stream) {
			s.PopOn(1, "ONE")
			s.PopOn(2, "TWO")
			s.PopOn(3, "THREE")
			s.PopOn(4, "FOUR")
			s.Service(1, []byte("HI"))
			s.Service(9, []byte("X")) // an extended service number
		}), want: segment.Captions{Found: true, CEA608: []int{1, 2, 3, 4}, CEA708: []int{1, 9}}},
		{name: "text mode is no caption", file: h264, queue: at(0, func(s *cctest.Stream) { s.TextMode(2, "TEXT") }),
			want: segment.Captions{Found: true}},
		{name: "after the window", file: h264, window: time.Second,
			queue: at(60, func(s *cctest.Stream) { s.PopOn(3, "LATE") }), want: segment.Captions{Found: true}},
		{name: "within the default window", file: h264,
			queue: at(60, func(s *cctest.Stream) { s.PopOn(3, "LATE") }), want: segment.Captions{Found: true, CEA608: []int{3}}},
		{name: "after the slices", file: h264, after: true, queue: at(0, func(s *cctest.Stream) { s.PopOn(1, "HELLO") }),
			want: segment.Captions{Found: true, CEA608: []int{1}}},
		// A message with zeros before the captions in the same NAL unit:
		// its emulation prevention bytes must not shift what follows.
		{name: "after another SEI message", file: h264, before: []sei.SEIMessage{sei.NewSEIData(sei.SEIUserDataUnregisteredType, make([]byte, 40))},
			queue: at(0, func(s *cctest.Stream) { s.PopOn(4, "HELLO") }), want: segment.Captions{Found: true, CEA608: []int{4}}},
		{name: "HEVC", file: hevc, queue: at(0, func(s *cctest.Stream) { s.PopOn(1, "HELLO"); s.Service(2, []byte("HI")) }),
			want: segment.Captions{Found: true, CEA608: []int{1}, CEA708: []int{2}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr := videoOf(t, captioned(t, c.file, c.after, c.queue, c.before...))
			for _, whole := range []bool{false, true} {
				if whole {
					tr.Data = onlyReader{tr.Data}
				}
				got, err := segment.DetectCaptions(context.Background(), tr, c.window)
				if err != nil {
					t.Fatal(err)
				}
				if got.Found != c.want.Found || !slices.Equal(got.CEA608, c.want.CEA608) || !slices.Equal(got.CEA708, c.want.CEA708) {
					t.Errorf("whole samples %v: got %+v, want %+v", whole, got, c.want)
				}
			}
		})
	}
}

// TestDetectCaptionsOtherTracks: audio and tracks without SEI give nothing.
func TestDetectCaptionsOtherTracks(t *testing.T) {
	for _, name := range []string{"ladder_360p.mp4", "hevc_ac3.mp4", "av1.mp4", "opus.mp4"} {
		src := openTestFile(t, name)
		for _, tr := range src.Tracks {
			got, err := segment.DetectCaptions(context.Background(), tr, 0)
			if err != nil || !got.IsZero() {
				t.Errorf("%s: %+v, %v; want nothing", tr, got, err)
			}
		}
	}
}

type failingReader struct{ err error }

func (r failingReader) AppendSample(dst []byte, s *segment.Sample) ([]byte, error) { return dst, r.err }

// TestDetectCaptionsErrors: a sample that cannot be read is an error naming
// the track and sample; a cancelled context stops the scan.
func TestDetectCaptionsErrors(t *testing.T) {
	b := captioned(t, "ladder_360p.mp4", false, at(0, func(s *cctest.Stream) { s.PopOn(1, "HELLO") }))
	tr := videoOf(t, b)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := segment.DetectCaptions(ctx, tr, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	boom := errors.New("boom")
	tr.Data = failingReader{boom}
	_, err := segment.DetectCaptions(context.Background(), tr, 0)
	if !errors.Is(err, boom) || !bytes.Contains([]byte(err.Error()), []byte(fmt.Sprintf("track %d", tr.ID))) || !bytes.Contains([]byte(err.Error()), []byte("sample 1")) {
		t.Errorf("read error: %v", err)
	}
}

// openTestFile opens the file name of the module's testdata directory.
func openTestFile(t testing.TB, name string) *segment.Source {
	t.Helper()
	src, err := segment.OpenFile(context.Background(), filepath.Join("..", "testdata", name), nil)
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

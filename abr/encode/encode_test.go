package encode

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/internal/testutil"

	"github.com/cmafkit/cmafkit/abr"
	"github.com/cmafkit/cmafkit/packager"
	"github.com/cmafkit/cmafkit/storage"
)

func needEncoder(t *testing.T, ffmpeg string, enc Encoder) {
	t.Helper()
	out, err := exec.Command(ffmpeg, "-hide_banner", "-encoders").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), " "+string(enc)+" ") {
		if os.Getenv("CI") == "true" {
			t.Fatalf("ffmpeg lacks %s", enc)
		}
		t.Skipf("ffmpeg lacks %s", enc)
	}
}

const source = "../../testdata/ladder_720p.mp4" // 1280x720, 30000/1001 fps, 8 s

func smallLadder(codec abr.Codec, profile string) abr.Ladder {
	ntsc := abr.R(30000, 1001)
	return abr.Ladder{Codec: codec, Rungs: []abr.Rung{
		{Name: "320x180", Width: 320, Height: 180, FrameRate: ntsc.Half(), Codec: codec, Profile: profile, Bitrate: 150_000, MaxBitrate: 165_000, BufferSize: 330_000},
		{Name: "480x270", Width: 480, Height: 270, FrameRate: ntsc, Codec: codec, Profile: profile, Bitrate: 300_000, MaxBitrate: 330_000, BufferSize: 660_000},
		{Name: "640x360", Width: 640, Height: 360, FrameRate: ntsc, Codec: codec, Profile: profile, Bitrate: 500_000, MaxBitrate: 550_000, BufferSize: 1_100_000},
	}}
}

// TestEncodeKeyframesAligned encodes 3 s of a real clip into three rungs
// (one at half the frame rate) with each encoder and checks with ffprobe
// that every rung has key frames exactly at the 1.001 s boundaries and
// nowhere else, and the planned sizes and frame rates.
func TestEncodeKeyframesAligned(t *testing.T) {
	if testing.Short() {
		t.Skip("encodes with three encoders (about 7 s of CPU)")
	}
	ffmpeg, ffprobe := testutil.NeedTool(t, "ffmpeg"), testutil.NeedTool(t, "ffprobe")
	if _, err := os.Stat(source); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		enc     Encoder
		codec   abr.Codec
		profile string
		preset  string
	}{
		{X264, abr.H264, "high", "ultrafast"},
		{X265, abr.HEVC, "main", "ultrafast"},
		{SVTAV1, abr.AV1, "main", "12"},
		{AOMAV1, abr.AV1, "main", "8"},
	} {
		t.Run(string(tc.enc), func(t *testing.T) {
			if tc.enc == AOMAV1 && os.Getenv("ABR_TEST_LIBAOM") != "1" {
				t.Skip("libaom is slow (about 15 s of CPU); set ABR_TEST_LIBAOM=1 to run")
			}
			needEncoder(t, ffmpeg, tc.enc)
			dir := t.TempDir()
			l := smallLadder(tc.codec, tc.profile)
			opts := Options{SegmentDuration: time.Second, SourceFrameRate: abr.R(30000, 1001), Encoder: tc.enc,
				Preset: tc.preset, OutputDir: dir, Duration: 3 * time.Second, Threads: 2}
			plan, err := NewPlan(l, opts)
			if err != nil {
				t.Fatal(err)
			}
			if plan.SourceFrames != 30 || plan.Segment != abr.R(1001, 1000) || !slices.Equal(plan.RungFrames, []int{15, 30, 30}) {
				t.Fatalf("plan %+v", plan)
			}
			outs, err := Encode(context.Background(), ffmpeg, source, l, opts)
			if err != nil {
				t.Fatal(err)
			}
			var files []string
			for _, o := range outs {
				files = append(files, o.Path)
				w, h, fps := probeStream(t, ffprobe, o.Path)
				if w != o.Rung.Width || h != o.Rung.Height || fps != o.Rung.FrameRate.String() {
					t.Errorf("%s: %dx%d@%s, want %dx%d@%v", o.Path, w, h, fps, o.Rung.Width, o.Rung.Height, o.Rung.FrameRate)
				}
				frames, err := Frames(context.Background(), ffprobe, o.Path)
				if err != nil {
					t.Fatal(err)
				}
				var keys []time.Duration
				for _, f := range frames {
					if f.Key {
						keys = append(keys, f.Time-frames[0].Time)
					}
				}
				want := []time.Duration{0, 1001 * time.Millisecond, 2002 * time.Millisecond}
				if !slices.Equal(keys, want) {
					t.Errorf("%s: key frames at %v, want %v", o.Path, keys, want)
				}
			}
			if err := CheckKeyframes(context.Background(), ffprobe, plan.Segment, files...); err != nil {
				t.Error(err)
			}
			// The encodes package as one aligned ladder at the planned segment
			// length: every rendition cut at every boundary, nothing refused.
			pkgDir := t.TempDir()
			job := packager.Job{SegmentDuration: time.Duration(plan.Segment.Num) * time.Second / time.Duration(plan.Segment.Den), Storage: storage.Dir(pkgDir)}
			for _, f := range files {
				job.Inputs = append(job.Inputs, packager.Input{Path: f})
			}
			res, err := packager.Run(context.Background(), job)
			if err != nil {
				t.Fatalf("packaging the encodes: %v", err)
			}
			for _, set := range res.Presentation.Periods[0].Sets {
				for _, r := range set.Representations {
					if len(r.Segments) != 3 {
						t.Errorf("%s: %d segments, want 3 aligned segments", r.ID, len(r.Segments))
					}
				}
			}
			// The same files checked against a different segment length fail.
			if err := CheckKeyframes(context.Background(), ffprobe, abr.R(1, 2), files[0]); !errors.Is(err, ErrMisaligned) {
				t.Errorf("0.5 s segments: %v, want ErrMisaligned", err)
			}
		})
	}
}

func probeStream(t *testing.T, ffprobe, file string) (w, h int, fps string) {
	t.Helper()
	out, err := exec.Command(ffprobe, "-v", "error", "-select_streams", "v:0", "-show_entries",
		"stream=width,height,r_frame_rate", "-of", "csv=p=0", file).Output()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fmt.Sscanf(strings.TrimSpace(string(out)), "%d,%d,%s", &w, &h, &fps); err != nil {
		t.Fatalf("ffprobe %q: %v", out, err)
	}
	return w, h, fps
}

func TestCheckFrames(t *testing.T) {
	ms := time.Millisecond
	mk := func(keys ...int) []Frame { // 10 frames a second for 3 s; keys are frame numbers
		var f []Frame
		for i := range 30 {
			f = append(f, Frame{Time: time.Duration(i) * 100 * ms, Key: slices.Contains(keys, i)})
		}
		return f
	}
	if err := checkFrames("ok", mk(0, 10, 20), abr.R(1, 1)); err != nil {
		t.Error(err)
	}
	var ae *AlignmentError
	for name, frames := range map[string][]Frame{
		"missing": mk(0, 20),
		"extra":   mk(0, 10, 15, 20),
		"late":    mk(0, 11, 20),
		"first":   mk(10, 20),
	} {
		if err := checkFrames(name, frames, abr.R(1, 1)); !errors.As(err, &ae) || ae.File != name {
			t.Errorf("%s: %v, want an AlignmentError", name, err)
		}
	}
}

func TestPlan(t *testing.T) {
	l := smallLadder(abr.H264, "high")
	for _, tc := range []struct {
		seg    time.Duration
		src    abr.Rational
		frames int
		rungs  []int
	}{
		{2 * time.Second, abr.R(30000, 1001), 60, []int{30, 60, 60}},
		{6 * time.Second, abr.Rational{}, 180, []int{90, 180, 180}},          // source rate from the ladder
		{time.Second, abr.R(60000, 1001), 60, []int{15, 30, 30}},             // rungs at a quarter and half
		{1100 * time.Millisecond, abr.R(30000, 1001), 32, []int{16, 32, 32}}, // 32.97 frames: nearest even count
		{10 * time.Millisecond, abr.R(30000, 1001), 2, []int{1, 2, 2}},       // at least one frame per rung
	} {
		p, err := NewPlan(l, Options{SegmentDuration: tc.seg, SourceFrameRate: tc.src})
		if err != nil {
			t.Fatal(err)
		}
		if p.SourceFrames != tc.frames || !slices.Equal(p.RungFrames, tc.rungs) {
			t.Errorf("%v at %v: plan %+v, want %d frames %v", tc.seg, tc.src, p, tc.frames, tc.rungs)
		}
	}
	// 25 fps source with a 12.5 fps rung: segments must be an even number of frames.
	pal := abr.Ladder{Rungs: []abr.Rung{{Name: "a", FrameRate: abr.R(25, 2)}, {Name: "b", FrameRate: abr.R(25, 1)}}}
	p, _ := NewPlan(pal, Options{SegmentDuration: time.Second})
	if p.SourceFrames != 26 || p.Segment != abr.R(26, 25) {
		t.Errorf("PAL with a half-rate rung: %+v, want 26 frames = 1.04 s", p)
	}
	bad := abr.Ladder{Rungs: []abr.Rung{{Name: "x", FrameRate: abr.R(24, 1)}, {Name: "y", FrameRate: abr.R(30, 1)}}}
	if _, err := NewPlan(bad, Options{SegmentDuration: time.Second}); !errors.Is(err, ErrFrameRate) {
		t.Errorf("24 fps rung of a 30 fps source: %v, want ErrFrameRate", err)
	}
	if _, err := NewPlan(l, Options{}); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("no segment duration: %v", err)
	}
}

func TestArgsRejects(t *testing.T) {
	l := smallLadder(abr.H264, "high")
	opts := Options{SegmentDuration: time.Second}
	if _, err := Args("in.mp4", l, Options{SegmentDuration: time.Second, Encoder: X265}); !errors.Is(err, ErrUnsupportedEncoder) {
		t.Errorf("x265 for an H.264 ladder: %v", err)
	}
	if _, err := Args("in.mp4", l, Options{SegmentDuration: time.Second, Encoder: "libvpx"}); !errors.Is(err, ErrUnsupportedEncoder) {
		t.Errorf("libvpx: %v", err)
	}
	l.Rungs[0].Name = "../escape"
	if _, err := Args("in.mp4", l, opts); !errors.Is(err, abr.ErrInvalidLadder) {
		t.Errorf("rung name with a path: %v", err)
	}
	l = smallLadder(abr.H264, "high")
	l.Rungs[1].Width = 481
	if _, err := Args("in.mp4", l, opts); !errors.Is(err, abr.ErrInvalidLadder) {
		t.Errorf("odd width: %v", err)
	}
}

func ExampleArgs() {
	ladder := abr.Ladder{Codec: abr.H264, Rungs: []abr.Rung{
		{Name: "480x270-400k", Width: 480, Height: 270, FrameRate: abr.R(25, 1), Codec: abr.H264,
			Profile: "high", Level: "2.1", Bitrate: 400_000, MaxBitrate: 440_000, BufferSize: 880_000},
	}}
	args, err := Args("in.mp4", ladder, Options{SegmentDuration: 2 * time.Second, Preset: "veryfast", OutputDir: "out"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(strings.Join(args, " "))
	// Output:
	// -hide_banner -nostdin -y -i in.mp4 -map 0:v:0 -an -sn -dn -map_metadata -1 -vf scale=480:270:flags=bicubic,setsar=1 -c:v libx264 -preset veryfast -b:v 400000 -maxrate 440000 -bufsize 880000 -pix_fmt yuv420p -g 50 -keyint_min 50 -sc_threshold 0 -force_key_frames expr:eq(mod(n,50),0) -profile:v high -level:v 2.1 -flags +cgop -x264-params keyint=50:min-keyint=50:scenecut=0:open-gop=0 -f mp4 out/480x270-400k.mp4
}

func TestOutputPath(t *testing.T) {
	if got := OutputPath(Options{OutputDir: "/o"}, abr.Rung{Name: "a"}); got != filepath.Join("/o", "a.mp4") {
		t.Error(got)
	}
}

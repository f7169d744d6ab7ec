package cmaf_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/internal/testutil"
	"github.com/cmafkit/cmafkit/segment/cmaf"

	"github.com/cmafkit/cmafkit/segment"
)

// ffprobeStream returns the frame count and duration ffprobe decodes from
// the first stream of file.
func ffprobeStream(t *testing.T, ffprobe, file string) (frames int, dur float64) {
	t.Helper()
	out, err := exec.Command(ffprobe, "-v", "error", "-count_frames", "-select_streams", "0",
		"-show_entries", "stream=nb_read_frames:format=duration", "-of", "default=nw=1", file).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe %s: %v\n%s", file, err, out)
	}
	for _, l := range strings.Split(string(out), "\n") {
		k, v, _ := strings.Cut(l, "=")
		switch k {
		case "nb_read_frames":
			frames, _ = strconv.Atoi(v)
		case "duration":
			dur, _ = strconv.ParseFloat(v, 64)
		}
	}
	return frames, dur
}

// TestFFprobe decodes init + segments of every track with ffprobe and checks
// the frame count and duration against the source track.
func TestFFprobe(t *testing.T) {
	ffprobe := testutil.NeedTool(t, "ffprobe")
	for _, name := range testFiles {
		src := openTestFile(t, name)
		plan, err := segment.PlanSegments(src.Tracks, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		for _, tr := range src.Tracks {
			init, segs, _ := writeTrack(t, tr, plan, cmaf.Options{})
			file := filepath.Join(t.TempDir(), "track.mp4")
			if err := os.WriteFile(file, bytes.Join(append([][]byte{init}, segs...), nil), 0o644); err != nil {
				t.Fatal(err)
			}
			frames, dur := ffprobeStream(t, ffprobe, file)
			if frames != tr.SampleCount() {
				t.Errorf("%s: ffprobe decodes %d frames, source has %d", tr, frames, tr.SampleCount())
			}
			want := float64(tr.Duration) / float64(tr.Timescale)
			if d := dur - want; d > 0.05 || d < -0.05 {
				t.Errorf("%s: ffprobe duration %.3f s, source %.3f s", tr, dur, want)
			}
		}
	}
}

// TestPlanLadder plans the two-rung ladder once for both renditions and
// refuses a rendition whose keyframes are not at the planned boundaries.
func TestPlanLadder(t *testing.T) {
	hi := openTestFile(t, "ladder_720p.mp4")
	lo := openTestFile(t, "ladder_360p.mp4")
	tracks := append(append([]*segment.Track(nil), hi.Tracks...), lo.Tracks...)
	plan, err := segment.PlanSegments(tracks, 4*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// 8.008 s of 2 s GOPs at 30000/1001 fps: cuts at 0, 4.004 s (GOP at 4.004).
	if got := len(plan.Starts); got != 2 {
		t.Fatalf("got %d segments (%v), want 2", got, plan.Starts)
	}
	for _, tr := range tracks {
		cuts, err := plan.Cuts(tr)
		if err != nil {
			t.Fatal(err)
		}
		if len(cuts) != 3 {
			t.Fatalf("%s: cuts %v", tr, cuts)
		}
		// Audio is cut at the audio frame nearest to the video boundary.
		b := float64(plan.Starts[1]) / float64(plan.Timescale)
		ss := allSamples(t, tr)
		c := float64(ss[cuts[1]].PresentationTime()-tr.PresentationOffset) / float64(tr.Timescale)
		half := float64(ss[0].Duration) / float64(tr.Timescale) / 2
		if c < b-half || c > b+half {
			t.Errorf("%s: cut at %.4f s, boundary %.4f s", tr, c, b)
		}
	}

	// A rendition whose keyframe at 4 s is missing must be refused, naming file and time.
	bad := *lo.Tracks[0]
	badSamples := allSamples(t, &bad)
	for i := range badSamples {
		if i > 0 && badSamples[i].Sync && badSamples[i].DecodeTime >= 3*uint64(bad.Timescale) && badSamples[i].DecodeTime < 5*uint64(bad.Timescale) {
			badSamples[i].Sync = false
		}
	}
	bad.Index = segment.SampleList(badSamples)
	_, err = segment.PlanSegments([]*segment.Track{hi.Tracks[0], &bad}, 4*time.Second)
	if !errors.Is(err, segment.ErrUnaligned) {
		t.Fatalf("got %v, want ErrUnaligned", err)
	}
	if !strings.Contains(err.Error(), "ladder_360p.mp4") || !strings.Contains(err.Error(), "4.004s") {
		t.Errorf("error %q should name the file and the time", err)
	}
}

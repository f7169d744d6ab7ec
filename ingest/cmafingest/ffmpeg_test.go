package cmafingest

import (
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/internal/testutil"
	"github.com/cmafkit/cmafkit/live"
)

// ffmpegInput is 4 s of lavfi test pattern and tone, in real time, as
// H.264 (1 s GOP) and AAC.
func ffmpegInput(seconds string) []string {
	return []string{"-hide_banner", "-loglevel", "error", "-re",
		"-f", "lavfi", "-t", seconds, "-i", "testsrc2=size=320x240:rate=25",
		"-f", "lavfi", "-t", seconds, "-i", "sine=frequency=440:sample_rate=48000",
		"-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-pix_fmt", "yuv420p", "-c:a", "aac"}
}

// cmafOutput is one track of ffmpeg's interface-1 shape: a fragmented
// MP4 of one stream, posted as one long chunked request.
func cmafOutput(stream, url string) []string {
	return []string{"-map", stream, "-f", "mp4", "-movflags", "empty_moov+separate_moof+default_base_moof+cmaf",
		"-frag_duration", "1000000", url}
}

func runFFmpeg(t *testing.T, ctx context.Context, args ...string) error {
	t.Helper()
	ff := testutil.NeedTool(t, "ffmpeg")
	out, err := exec.CommandContext(ctx, ff, args...).CombinedOutput()
	if err != nil {
		t.Logf("ffmpeg: %v\n%s", err, out)
	}
	return err
}

// TestFFmpegLongPost: ffmpeg posts a video and an audio CMAF track, each
// as a long-running POST to its Streams() path (as in the specification's
// FFmpeg example); the stream is repackaged, ends normally (ffmpeg's
// closing mfra), and its MPD validates.
func TestFFmpegLongPost(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("4 s of real-time ffmpeg")
	}
	testutil.NeedTool(t, "ffmpeg")
	r := newRig(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args := append(ffmpegInput("4"), cmafOutput("0:v", r.url("k1/Streams(video)"))...)
	args = append(args, cmafOutput("1:a", r.url("k1/Streams(audio)"))...)
	if err := runFFmpeg(t, ctx, args...); err != nil {
		t.Fatal(err)
	}
	gone := r.waitEvent(live.PublisherGone, 1, 5*time.Second)
	if gone[0].Err != nil {
		t.Errorf("session ended with %v, want a normal end", gone[0].Err)
	}
	st := r.ch.Stats()
	// 4 s: 100 frames and 187.5 AAC frames.
	if st.Samples < 280 || st.Rejected != 0 || st.Discontinuities != 0 {
		t.Errorf("stats %+v, want ~288 samples, none rejected, no discontinuity", st)
	}
	r.checkOutput("video0", "audio0")
}

// TestFFmpegDASH: ffmpeg's DASH muxer pushes its MPD, init segments and
// low-latency chunked segments with PUT, one request per object (the
// interface-2 shape of the same CMAF); the MPD maps segments to tracks,
// and ffmpeg's DELETE of its MPD at exit ends the stream.
func TestFFmpegDASH(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("4 s of real-time ffmpeg")
	}
	testutil.NeedTool(t, "ffmpeg")
	r := newRig(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args := append(ffmpegInput("4"), "-f", "dash", "-streaming", "1", "-ldash", "1", "-seg_duration", "1",
		"-remove_at_exit", "1", "-method", "PUT", r.url("k2/live/manifest.mpd"))
	if err := runFFmpeg(t, ctx, args...); err != nil {
		t.Fatal(err)
	}
	gone := r.waitEvent(live.PublisherGone, 1, 5*time.Second)
	if gone[0].Err != nil {
		t.Errorf("session ended with %v, want a normal end (DELETE of the MPD)", gone[0].Err)
	}
	st := r.ch.Stats()
	if st.Samples < 280 || st.Rejected != 0 || st.Discontinuities != 0 {
		t.Errorf("stats %+v, want ~288 samples, none rejected, no discontinuity", st)
	}
	r.checkOutput("video0", "audio0")
}

package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/internal/testutil"
	"github.com/cmafkit/cmafkit/live"
)

// startKeyedLive runs `cmafkit live -o DIR --http 127.0.0.1:0 args...` until the
// test ends and returns DIR and the server's base URL.
func startKeyedLive(t *testing.T, args ...string) (dir, base string, stderr *syncBuffer, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	dir = t.TempDir()
	stdout := &syncBuffer{}
	stderr = &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- runLive(ctx, append([]string{"-o", dir, "--http", "127.0.0.1:0"}, args...), stdout, stderr)
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("cmafkit live: %v", err)
			}
			t.Logf("cmafkit live stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
		})
	}
	t.Cleanup(stop)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := liveAtRE.FindStringSubmatch(stdout.String()); m != nil {
			return dir, m[1], stderr, stop
		}
		if time.Now().After(deadline) {
			t.Fatalf("cmafkit live did not start: %q %q", stdout.String(), stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ffmpegLive is `ffmpeg -re` on seconds of lavfi test pattern (1 s GOP) and
// tone, H.264 and AAC, with the output arguments.
func ffmpegLive(ctx context.Context, t *testing.T, seconds string, out ...string) *exec.Cmd {
	ff := testutil.NeedTool(t, "ffmpeg")
	args := []string{"-hide_banner", "-loglevel", "error", "-re",
		"-f", "lavfi", "-t", seconds, "-i", "testsrc2=size=320x240:rate=25",
		"-f", "lavfi", "-t", seconds, "-i", "sine=frequency=440:sample_rate=48000",
		"-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-pix_fmt", "yuv420p", "-c:a", "aac"}
	return exec.CommandContext(ctx, ff, append(args, out...)...)
}

// cmafIngestArgs are ffmpeg's output arguments for CMAF ingest of its
// video and audio, each a long POST to its own Streams() path under url.
func cmafIngestArgs(url string) []string {
	var out []string
	for _, tr := range [][2]string{{"0:v", "video"}, {"1:a", "audio"}} {
		out = append(out, "-map", tr[0], "-f", "mp4", "-movflags", "empty_moov+separate_moof+default_base_moof+cmaf",
			"-frag_duration", "1000000", url+"/Streams("+tr[1]+")")
	}
	return out
}

// checkChannel checks a channel's output: the MPD validates, the media
// playlists name segments (ended with EXT-X-ENDLIST), and reports how many
// discontinuities the video playlist has.
func checkChannel(t *testing.T, dir string) (discontinuities int) {
	t.Helper()
	testutil.ValidateMPD(t, filepath.Join(dir, live.DASHName))
	for _, rep := range []string{"video0", "audio0"} {
		b, err := os.ReadFile(filepath.Join(dir, rep+".m3u8"))
		if err != nil {
			t.Error(err)
			continue
		}
		pl := string(b)
		if strings.Count(pl, "#EXTINF") < 2 || !strings.Contains(pl, "#EXT-X-ENDLIST") {
			t.Errorf("%s/%s.m3u8:\n%s", dir, rep, pl)
		}
		if rep == "video0" {
			discontinuities = strings.Count(pl, "#EXT-X-DISCONTINUITY\n")
		}
	}
	return discontinuities
}

// TestLiveChannelsAndFaults runs one `cmafkit live` with two ffmpeg
// publishers at once (for a few seconds), on two keys: CMAF ingest on "cmaf" and an MPEG-TS
// push on "ts". Meanwhile a second encoder on each key is refused (409),
// and a client posting random bytes as CMAF ingest on "junk" is cut off (400)
// and one pushing them as MPEG-TS on "junkts" gets nothing published,
// without affecting the two channels: each is packaged into DIR/KEY/
// without a discontinuity and its MPD validates.
func TestLiveChannelsAndFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("8 s of real-time ffmpeg")
	}
	t.Parallel()
	dir, base, _, stop := startKeyedLive(t)
	// The CMAF publisher runs until the checks are done, then is killed;
	// the TS push ends by itself after 8 s.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	cmafCtx, kill := context.WithCancel(ctx)
	run := func(name string, cmd *exec.Cmd) {
		wg.Go(func() {
			if out, err := cmd.CombinedOutput(); err != nil && cmafCtx.Err() == nil {
				t.Errorf("%s: %v\n%s", name, err, out)
			}
		})
	}
	run("cmaf", ffmpegLive(cmafCtx, t, "60", cmafIngestArgs(base+"/ingest/cmaf/cmaf")...))
	run("ts", ffmpegLive(ctx, t, "8", "-f", "mpegts", "-method", "PUT", base+"/ingest/ts/ts"))

	waitSegments(t, filepath.Join(dir, "cmaf", "video0.m3u8"), 2)
	waitSegments(t, filepath.Join(dir, "ts", "video0.m3u8"), 2)
	// A second encoder on each key while they publish: a CMAF header (the
	// channel's own init segment is one) and an MPEG-TS.
	header, err := os.ReadFile(filepath.Join(dir, "cmaf", "video0", "init-p0.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	ts, err := os.ReadFile(filepath.Join("..", "..", "testdata", "h264_aac.ts"))
	if err != nil {
		t.Fatal(err)
	}
	junk := make([]byte, 1<<20)
	rand.Read(junk)
	for _, tc := range []struct {
		path string
		body []byte
		code int
	}{
		{"/ingest/cmaf/cmaf/Streams(video)", header, http.StatusConflict},
		{"/ingest/ts/ts", ts, http.StatusConflict},
		{"/ingest/cmaf/junk/Streams(video)", junk, http.StatusBadRequest},
		{"/ingest/ts/junkts", junk, http.StatusNoContent},
	} {
		resp, err := http.Post(base+tc.path, "application/octet-stream", bytes.NewReader(tc.body))
		if err != nil {
			t.Errorf("%s: %v", tc.path, err)
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != tc.code {
			t.Errorf("%s: %d, want %d", tc.path, resp.StatusCode, tc.code)
		}
	}
	kill()
	wg.Wait()
	stop()
	for _, key := range []string{"cmaf", "ts"} {
		if d := checkChannel(t, filepath.Join(dir, key)); d != 0 {
			t.Errorf("%s: %d discontinuities", key, d)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "junkts", live.HLSName)); err == nil {
		t.Error("random bytes published a stream")
	}
}

// TestLivePublisherKilledAndBack kills an ffmpeg CMAF ingest publisher
// mid-stream and starts it again on the same key: the channel goes on
// after one discontinuity (a new DASH Period, an HLS
// EXT-X-DISCONTINUITY), and its MPD validates.
func TestLivePublisherKilledAndBack(t *testing.T) {
	if testing.Short() {
		t.Skip("6 s of real-time ffmpeg")
	}
	t.Parallel()
	dir, base, _, stop := startKeyedLive(t, "--segment-duration", "1s")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	first := ffmpegLive(ctx, t, "30", cmafIngestArgs(base+"/ingest/cmaf/k")...)
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	waitSegments(t, filepath.Join(dir, "k", "video0.m3u8"), 2)
	first.Process.Kill() // mid-segment, no end of stream
	first.Wait()
	time.Sleep(500 * time.Millisecond)
	again := ffmpegLive(ctx, t, "3", cmafIngestArgs(base+"/ingest/cmaf/k")...)
	if out, err := again.CombinedOutput(); err != nil {
		t.Fatalf("publisher back: %v\n%s", err, out)
	}
	time.Sleep(200 * time.Millisecond)
	stop()
	if d := checkChannel(t, filepath.Join(dir, "k")); d != 1 {
		t.Errorf("%d discontinuities, want 1", d)
	}
	mpd, err := os.ReadFile(filepath.Join(dir, "k", live.DASHName))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(mpd), "<Period"); n != 2 {
		t.Errorf("%d Periods, want 2", n)
	}
}

// waitSegments waits until a media playlist names n segments.
func waitSegments(t *testing.T, playlist string, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, _ := os.ReadFile(playlist)
		if strings.Count(string(b), "#EXTINF") >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: fewer than %d segments after 30 s", playlist, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/internal/playertest"
	"github.com/cmafkit/cmafkit/internal/testutil"
	"github.com/cmafkit/cmafkit/live"
)

// liveCmd is one `cmafkit live` running in the test process.
type liveCmd struct {
	dir, base      string
	stdout, stderr *syncBuffer
}

// startLive runs `cmafkit live -o DIR --http 127.0.0.1:0 ARGS...` until the
// test ends, and waits for its URL.
func startLive(t *testing.T, stdin io.Reader, args ...string) *liveCmd {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	lc := &liveCmd{dir: t.TempDir(), stdout: new(syncBuffer), stderr: new(syncBuffer)}
	done := make(chan error, 1)
	go func() {
		done <- runLiveIO(ctx, append([]string{"-o", lc.dir, "--http", "127.0.0.1:0"}, args...), stdin, lc.stdout, lc.stderr)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("cmafkit live: %v", err)
		}
		t.Logf("cmafkit live stdout:\n%s\nstderr:\n%s", lc.stdout.String(), lc.stderr.String())
	})
	lc.base = lc.await(t, liveAtRE, 10*time.Second)
	return lc
}

// await waits for re to match stdout and returns its first group.
func (lc *liveCmd) await(t *testing.T, re *regexp.Regexp, d time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if m := re.FindStringSubmatch(lc.stdout.String()); m != nil {
			return m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q on stdout after %v: stdout %q stderr %q", re, d, lc.stdout.String(), lc.stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// awaitSegments waits until the video media playlist of the channel in
// lc.dir/sub (sub is "" for the INPUTs' channel, the stream key for a
// publisher's) names n segments: the players start a few segments behind
// the live edge.
func (lc *liveCmd) awaitSegments(t *testing.T, sub string, n int, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		b, _ := os.ReadFile(filepath.Join(lc.dir, sub, "video0.m3u8"))
		if strings.Count(string(b), "#EXTINF") >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d segments after %v: stdout %q stderr %q", n, d, lc.stdout.String(), lc.stderr.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// encoderArgs makes ffmpeg encode a live test signal in real time (-re):
// testsrc2 at 640x360 25 fps as H.264 with a keyframe every 2 s, and a sine
// as AAC, until it is killed.
func encoderArgs(out ...string) []string {
	return append([]string{"-hide_banner", "-loglevel", "error", "-nostdin",
		"-re", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25",
		"-re", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-pix_fmt", "yuv420p", "-b:v", "600k",
		"-g", "50", "-keyint_min", "50", "-sc_threshold", "0",
		"-c:a", "aac", "-b:a", "64k"}, out...)
}

// startEncoder runs ffmpeg with args until the test ends. With pipe, its
// stdout is returned for the caller to read.
func startEncoder(t *testing.T, pipe bool, args []string) io.Reader {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "ffmpeg", args...)
	var stderr syncBuffer
	cmd.Stderr = &stderr
	var out io.Reader
	if pipe {
		r, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		out = r
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Registered after startLive's cleanup when the caller starts the
	// encoder later, so it runs first: the encoder stops before the
	// packager.
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		if s := stderr.String(); s != "" {
			t.Logf("ffmpeg: %s", s)
		}
	})
	return out
}

var rtmpAtRE = regexp.MustCompile(`RTMP: publish to (rtmp://\S+)/live/KEY`)

// freeUDPPort returns a UDP port on 127.0.0.1 that was free a moment ago.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// TestLiveIngestPlayers publishes a real-time ffmpeg encoding to each
// ingest of `cmafkit live` at once (RTMP, MPEG-TS over UDP, on stdin and
// pushed by HTTP PUT; and CMAF ingest of `cmafkit package` output, paced in
// real time), one `cmafkit live` each, and plays each stream in a
// player in live mode for 30 s of wall clock with no stall, the players in
// parallel (as many as playertest and -parallel allow; the streams run
// all along): hls.js, Shaka and dash.js, each ingest in another player
// and manifest format. Each run logs its latency.
func TestLiveIngestPlayers(t *testing.T) {
	if testing.Short() {
		t.Skip("real-time encoders and browsers")
	}
	if err := playertest.Available(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip(err)
	}
	t.Parallel()
	type ingest struct {
		name     string
		player   playertest.Player
		manifest string
		start    func(t *testing.T) *liveCmd
	}
	ingests := []ingest{
		{"rtmp", playertest.HLSJS, "test/" + live.HLSName, func(t *testing.T) *liveCmd {
			lc := startLive(t, nil, "--rtmp", "127.0.0.1:0")
			url := lc.await(t, rtmpAtRE, 10*time.Second)
			startEncoder(t, false, encoderArgs("-f", "flv", url+"/live/test"))
			return lc
		}},
		{"udp", playertest.Shaka, live.DASHName, func(t *testing.T) *liveCmd {
			port := freeUDPPort(t)
			lc := startLive(t, nil, fmt.Sprintf("udp://127.0.0.1:%d", port))
			startEncoder(t, false, encoderArgs("-f", "mpegts", fmt.Sprintf("udp://127.0.0.1:%d?pkt_size=1316", port)))
			return lc
		}},
		{"stdin", playertest.DashJS, live.DASHName, func(t *testing.T) *liveCmd {
			out := startEncoder(t, true, encoderArgs("-f", "mpegts", "pipe:1"))
			return startLive(t, out, "-")
		}},
		{"http", playertest.Shaka, "test/" + live.HLSName, func(t *testing.T) *liveCmd {
			lc := startLive(t, nil)
			startEncoder(t, false, encoderArgs("-f", "mpegts", "-method", "PUT", lc.base+tsIngestPath+"test"))
			return lc
		}},
		{"cmaf", playertest.DashJS, "test/" + live.DASHName, func(t *testing.T) *liveCmd {
			lc := startLive(t, nil)
			startCMAFIngest(t, filepath.Join("..", "..", "testdata", "ladder_360p.mp4"), lc.base+cmafIngestPath+"test/")
			return lc
		}},
	}
	// Every stream runs from the start, whichever player runs first.
	lcs := make([]*liveCmd, len(ingests))
	for i, in := range ingests {
		lcs[i] = in.start(t)
	}
	for i, in := range ingests {
		lc := lcs[i]
		t.Run(in.name, func(t *testing.T) {
			t.Parallel()
			lc.awaitSegments(t, path.Dir(in.manifest), 4, 30*time.Second)
			playertest.Play(t, context.Background(), playertest.Options{
				Manifest: lc.base + "/" + in.manifest, Player: in.player, Live: true,
				MinPlay: 30 * time.Second, Timeout: 2 * time.Minute,
			})
			if in.name == "cmaf" {
				// The ingest's timestamps run on across loops: one
				// period, and a valid dynamic MPD.
				testutil.ValidateMPD(t, filepath.Join(lc.dir, in.manifest))
				if b, _ := os.ReadFile(filepath.Join(lc.dir, "test", "video0.m3u8")); strings.Contains(string(b), "#EXT-X-DISCONTINUITY") {
					t.Errorf("discontinuity in a continuous CMAF ingest:\n%s", b)
				}
			}
		})
	}
}

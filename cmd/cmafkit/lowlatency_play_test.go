package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/internal/playertest"
	"github.com/cmafkit/cmafkit/live"
)

// maxLowLatency is the most a low-latency player may lag the encoder.
const maxLowLatency = 3 * time.Second

// TestLowLatencyPlayers publishes a real-time RTMP stream from ffmpeg
// (-re, x264 zerolatency, a keyframe every second) into `cmafkit live
// --low-latency` (2 s segments, 0.5 s parts, served on 127.0.0.1 by the
// command's origin), and plays its LL-HLS in hls.js and Shaka and its
// LL-DASH in dash.js and Shaka, in parallel, each in its own low-latency
// mode with latency catch-up (playertest.Options.LowLatency):
// each must play for 30 s without a stall, and the latency it reports
// (wall clock minus the playhead's program date-time, or dash.js's live
// latency) must have settled, for hls.js and dash.js (Shaka's is only
// logged, see below), under 3 s by the end of the run (the mean
// of its last five samples, one a second), corrected by how far the
// program date-times are off the arrival of the media (see pdtSkew).
func TestLowLatencyPlayers(t *testing.T) {
	if testing.Short() {
		t.Skip("real-time live stream and browsers")
	}
	// Sub-3 s latency needs the CPU to itself: on a loaded 2-core machine
	// (the whole suite at once) hls.js timed out on a held playlist
	// request and dash.js stalled, where the test passes on its own. The
	// origin's holds are bounded (TestOriginHoldEndsWhenStalled,
	// TestOriginHoldEndsAtClose); hls.js 1.7.4 gives a blocking reload
	// only max(3 PART-TARGET, 0.8 TARGETDURATION) = 2.4 s here, so an
	// ffmpeg or packager starved of CPU for that long times its requests
	// out (it retries without the directives, at most twice). Run it alone:
	// CMAFKIT_LL_PLAYERS=1 go test -run TestLowLatencyPlayers ./cmd/cmafkit
	if os.Getenv("CMAFKIT_LL_PLAYERS") == "" {
		t.Skip("set CMAFKIT_LL_PLAYERS=1 to run (needs an otherwise idle machine)")
	}
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("no ffmpeg")
	}
	if err := playertest.Available(); err != nil {
		t.Skip(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	dir := t.TempDir()
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- runLive(ctx, []string{"-o", dir, "--http", "127.0.0.1:0", "--rtmp", "127.0.0.1:0",
			"--low-latency", "--part-duration", "500ms", "--segment-duration", "2s", "--window", "30s"}, &stdout, &stderr)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("cmafkit live: %v", err)
		}
		t.Logf("cmafkit live stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	})
	var base, rtmpURL string
	deadline := time.Now().Add(20 * time.Second)
	for base == "" || rtmpURL == "" {
		if m := liveAtRE.FindStringSubmatch(stdout.String()); m != nil {
			base = m[1]
		}
		if m := rtmpAtRE.FindStringSubmatch(stdout.String()); m != nil {
			rtmpURL = m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("cmafkit live did not start: %q %q", stdout.String(), stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	fctx, fcancel := context.WithCancel(ctx)
	var ffErr syncBuffer
	cmd := exec.CommandContext(fctx, ffmpeg, "-hide_banner", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", "600", "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-pix_fmt", "yuv420p",
		"-g", "25", "-keyint_min", "25", "-sc_threshold", "0", "-b:v", "600k",
		"-c:a", "aac", "-b:a", "64k", "-f", "flv", rtmpURL+"/live/test")
	cmd.Stderr = &ffErr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		fcancel()
		cmd.Wait()
		if s := ffErr.String(); s != "" {
			t.Logf("ffmpeg: %s", s)
		}
	})

	// The players start near the live edge: wait until the low-latency
	// playlist has two segments and parts.
	deadline = time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/video0.m3u8")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 && strings.Count(string(b), "#EXTINF") >= 2 && strings.Contains(string(b), "#EXT-X-PART:") {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no low-latency playlist after 30 s: %q %q %q", stdout.String(), stderr.String(), ffErr.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	skew := pdtSkew(t, base+"/video0.m3u8")
	t.Logf("media reaches the packager %v after its program date-time", skew)
	for _, manifest := range []string{live.HLSName, live.DASHName} {
		for _, p := range playertest.Players(manifest) {
			t.Run(string(p)+"/"+filepath.Ext(manifest)[1:], func(t *testing.T) {
				t.Parallel()
				res := playertest.Play(t, ctx, playertest.Options{
					Manifest: base + "/" + manifest, Player: p, Live: true, LowLatency: true,
					MinPlay: 30 * time.Second, Timeout: 120 * time.Second,
				})
				// The players measure against the program date-times;
				// the media came skew later (or earlier) than those say.
				final := time.Duration(res.FinalLatency*float64(time.Second)) - skew
				mean := time.Duration(res.Latency*float64(time.Second)) - skew
				t.Logf("%s: latency behind the encoder %v at the end (mean %v)", p, final.Round(time.Millisecond), mean.Round(time.Millisecond))
				if p == playertest.Shaka {
					// Shaka's liveSync measures latency from the end of its
					// seek range: for LL-HLS PART-HOLD-BACK behind the edge
					// (about 3 s here), for DASH its live edge (the clock
					// less MPD@maxSegmentDuration, 3 s) plus
					// availabilityTimeOffset (1.5 s), then Latency@target:
					// about 4 s. Its run must play without a stall; its
					// latency is reported.
					return
				}
				if res.FinalLatency <= 0 || final > maxLowLatency {
					t.Errorf("%s: latency settled at %v (mean %v over the run), want under %v", p, final, mean, maxLowLatency)
				}
			})
		}
	}
}

var (
	pdtRE      = regexp.MustCompile(`#EXT-X-PROGRAM-DATE-TIME:(\S+)`)
	durationRE = regexp.MustCompile(`#EXT(?:INF:|-X-PART:DURATION=)([0-9.]+)`)
	hintRE     = regexp.MustCompile(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI="[^"]*part-([0-9]+)\.([0-9]+)\.m4s"`)
)

// pdtSkew measures how much later the media of a low-latency playlist
// reaches the packager than its program date-times say: it asks for the part the preload
// hint names with blocking playlist reloads, and compares the time the answer comes (the
// part was just made from samples that just arrived) with the program
// date-time of the part's end, the median over eight parts. The channel
// dates media by the arrival of its first sample, which an encoder's
// start-up delays.
func pdtSkew(t *testing.T, playlist string) time.Duration {
	t.Helper()
	var skews []time.Duration
	msn, part := -1, -1
	for len(skews) < 8 {
		url := playlist
		if msn >= 0 {
			url = fmt.Sprintf("%s?_HLS_msn=%d&_HLS_part=%d", playlist, msn, part)
		}
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		at := time.Now()
		s := string(b)
		// The edge: the last program date-time plus every duration after it.
		i := strings.LastIndex(s, "#EXT-X-PROGRAM-DATE-TIME:")
		m := pdtRE.FindStringSubmatch(s[i:])
		pdt, err := time.Parse(time.RFC3339Nano, m[1])
		if err != nil {
			t.Fatalf("%v in\n%s", err, s)
		}
		tail := s[i:]
		// A complete segment counts once: its EXTINF, not its parts.
		if j := strings.Index(tail, "#EXTINF:"); j >= 0 {
			k := strings.Index(tail[j:], "\n")
			f, _ := strconv.ParseFloat(strings.TrimSuffix(tail[j+8:j+k], ","), 64)
			pdt = pdt.Add(time.Duration(f * float64(time.Second)))
			tail = tail[j+k:]
		}
		for _, d := range durationRE.FindAllStringSubmatch(tail, -1) {
			f, _ := strconv.ParseFloat(d[1], 64)
			pdt = pdt.Add(time.Duration(f * float64(time.Second)))
		}
		if msn >= 0 {
			skews = append(skews, at.Sub(pdt))
		}
		r := hintRE.FindStringSubmatch(s)
		if r == nil {
			t.Fatalf("no preload hint:\n%s", s)
		}
		msn, _ = strconv.Atoi(r[1])
		part, _ = strconv.Atoi(r[2])
	}
	sort.Slice(skews, func(i, j int) bool { return skews[i] < skews[j] })
	return skews[len(skews)/2]
}

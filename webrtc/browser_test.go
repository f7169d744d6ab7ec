package webrtc

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Eyevinn/mp4ff/mp4"

	"github.com/cmafkit/cmafkit/internal/playertest"
	"github.com/cmafkit/cmafkit/internal/testutil"
	"github.com/cmafkit/cmafkit/live"
)

// chromiumWebRTC are the switches for WebRTC tests: a fake camera and
// microphone granted without a prompt, and loopback ICE candidates (the
// server gathers loopback ones only).
var chromiumWebRTC = []string{"--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
	"--allow-loopback-in-peer-connection"}

// TestChromiumWHIPToHLS publishes Chromium's fake camera and microphone
// with WHIP (H.264 + Opus) and plays the live HLS output in hls.js while
// it is being published. Segments stay near their 1 s target because the
// publisher is asked for keyframes (Chromium's encoder sends few by
// itself).
func TestChromiumWHIPToHLS(t *testing.T) {
	if testing.Short() {
		t.Skip("real browsers: skipped with -short")
	}
	t.Parallel()
	playertest.Require(t)
	_, ch, base, dir := newTestServer(t, time.Second)
	pageURL := base + "/_t/whip.html?" + url.Values{"whip": {"/whip/ch"}, "token": {"secret"}, "seconds": {"22"}}.Encode()
	type pubResult struct {
		OK               bool   `json:"ok"`
		State            string `json:"state"`
		Codec            string `json:"codec"`
		FramesEncoded    int    `json:"framesEncoded"`
		KeyFramesEncoded int    `json:"keyFramesEncoded"`
		Error            string `json:"error"`
	}
	done := make(chan struct{})
	var res pubResult
	var console []string
	var runErr error
	go func() {
		defer close(done)
		var raw json.RawMessage
		raw, console, runErr = playertest.RunPage(context.Background(), pageURL, chromiumWebRTC, 90*time.Second)
		if len(raw) > 0 {
			json.Unmarshal(raw, &res)
		}
	}()
	// Wait for a few segments of both tracks before the player starts.
	deadline := time.Now().Add(40 * time.Second)
	for ch.Stats().Segments < 6 {
		select {
		case <-done:
			t.Fatalf("publisher ended before 6 segments (%+v): %v %+v\n%s", ch.Stats(), runErr, res, strings.Join(console, "\n"))
		default:
		}
		if time.Now().After(deadline) {
			<-done
			t.Fatalf("no segments 40 s after the publisher started: %+v\npublisher: %v %+v\n%s", ch.Stats(), runErr, res, strings.Join(console, "\n"))
		}
		time.Sleep(200 * time.Millisecond)
	}
	lagBefore := edgeLag(t, ch)
	pr := playertest.Play(t, context.Background(), playertest.Options{Dir: dir, Manifest: live.HLSName, Player: playertest.HLSJS,
		Live: true, MinPlay: 8 * time.Second, Timeout: 60 * time.Second})
	lagAfter := edgeLag(t, ch)
	// The program date times follow the wall clock: the end of the newest
	// segment is behind it by about a segment (it is written when the next
	// keyframe arrives). It may look ahead by up to srWait: the channel
	// takes the wall clock of the first sample it is given as the zero of
	// its program date times, and a WHIP track's first samples wait up to
	// srWait for a sender report. hls.js then plays three target durations
	// (2 s here) behind that edge, as with any other ingest; the bounds
	// are loose for a loaded machine.
	t.Logf("newest segment's end behind the wall clock: %v before play, %v after; hls.js latency %.2fs", lagBefore, lagAfter, pr.Latency)
	for _, lag := range []time.Duration{lagBefore, lagAfter} {
		if lag < -srWait-500*time.Millisecond || lag > 4*time.Second {
			t.Errorf("program date times off the wall clock: the newest segment ends %v before now, want -2–4 s", lag)
		}
	}
	if pr.Latency < 1 || pr.Latency > 16 {
		t.Errorf("hls.js latency %.2fs, want 1–16 s (3 × 2 s target duration behind an edge about 1 s old: about 7.5 s)", pr.Latency)
	}
	<-done
	if runErr != nil || !res.OK || !strings.EqualFold(res.Codec, "video/H264") {
		t.Fatalf("publisher: %v %+v\n%s", runErr, res, strings.Join(console, "\n"))
	}
	t.Logf("publisher: %+v", res)
	p := ch.Presentation()
	if p == nil {
		t.Fatal("no presentation")
	}
	checkInit(t, filepath.Join(dir, "video0", "init-p0.mp4"), "avc1", 640, 360)
	checkInit(t, filepath.Join(dir, "audio0", "init-p0.mp4"), "Opus", 0, 0)
	for _, as := range p.Periods[len(p.Periods)-1].Sets {
		for _, r := range as.Representations {
			var ds []string
			long := 0
			for _, s := range r.Segments {
				d := time.Duration(s.Duration) * time.Second / time.Duration(r.Timescale)
				ds = append(ds, d.Round(10*time.Millisecond).String())
				if d > 1600*time.Millisecond {
					long++
				}
			}
			t.Logf("%s segments: %s", r.ID, strings.Join(ds, " "))
			if long > 1 {
				t.Errorf("%s: %d segments longer than 1.6 s with a 1 s target and PLIs", r.ID, long)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, live.DASHName)); err != nil {
		t.Error(err)
	}
}

// TestChromiumWHEP plays a channel fed by a pion WHIP publisher in Chromium
// with the preview page's WHEP player (whep.js): frames are decoded within
// 3 s and playback goes on for 20 s without a freeze. Alone it plays with
// no freeze; beside other browsers on a 2-core machine Chromium's renderer
// can miss a few frames, so up to two freezes of 0.5 s in all pass (the
// count is logged).
func TestChromiumWHEP(t *testing.T) {
	if testing.Short() {
		t.Skip("real browsers: skipped with -short")
	}
	// Not parallel: the freeze count measures our pacing, and a second
	// Chromium encoding beside this one on a 2-core machine starves the
	// viewer's decoder instead (3 freezes, 0 packets lost, in CI).
	playertest.Require(t)
	m := makeTestMedia(t, 2)
	_, _, base, _ := newTestServer(t, time.Second)
	pub := publishPion(t, base, "ch", "secret", m)
	defer pub.Close()
	raw, console, err := playertest.RunPage(context.Background(), base+"/_t/whep.html?seconds=20", chromiumWebRTC, 90*time.Second)
	var res struct {
		OK                   bool        `json:"ok"`
		FramesAt3s           int         `json:"framesAt3s"`
		FramesDecoded        int         `json:"framesDecoded"`
		FreezeCount          int         `json:"freezeCount"`
		TotalFreezesDuration float64     `json:"totalFreezesDuration"`
		PacketsLost          int         `json:"packetsLost"`
		Codec                string      `json:"codec"`
		Width                int         `json:"width"`
		Error                string      `json:"error"`
		Samples              [][]float64 `json:"samples"`
	}
	if len(raw) > 0 {
		json.Unmarshal(raw, &res)
	}
	t.Logf("WHEP viewer: ok %v, %d frames at 3 s, %d frames in 20 s, %d freezes (%.2fs), %d lost, %s %dpx",
		res.OK, res.FramesAt3s, res.FramesDecoded, res.FreezeCount, res.TotalFreezesDuration, res.PacketsLost, res.Codec, res.Width)
	if err != nil || !res.OK || res.FramesAt3s == 0 || res.FreezeCount > 2 || res.TotalFreezesDuration > 0.5 || res.FramesDecoded < 20*20 || res.Width != 320 {
		t.Fatalf("WHEP playback: %v %+v\n%s", err, res, strings.Join(console, "\n"))
	}
}

// edgeLag returns how far the wall clock is past the program date time of
// the end of ch's newest video segment.
func edgeLag(t *testing.T, ch *live.Channel) time.Duration {
	t.Helper()
	p := ch.Presentation()
	if p == nil || len(p.Periods) == 0 {
		t.Fatal("no presentation")
	}
	for _, as := range p.Periods[len(p.Periods)-1].Sets {
		for _, r := range as.Representations {
			if !strings.HasPrefix(r.ID, "video") || len(r.Segments) == 0 {
				continue
			}
			s := r.Segments[len(r.Segments)-1]
			end := s.ProgramDateTime.Add(time.Duration(s.Duration) * time.Second / time.Duration(r.Timescale))
			return time.Since(end)
		}
	}
	t.Fatal("no video segment")
	return 0
}

// TestChromiumWHIPAV1 publishes Chromium's fake camera with WHIP offering
// AV1 only (as a page that prefers AV1 does): the channel packages it as
// av01 with an av1C from the stream's sequence header, and ffmpeg decodes
// the HLS output (every frame, no error). hls.js playback is the H.264
// test's; the AV1 path differs only before the channel.
func TestChromiumWHIPAV1(t *testing.T) {
	if testing.Short() {
		t.Skip("real browsers: skipped with -short")
	}
	t.Parallel()
	playertest.Require(t)
	testutil.NeedTool(t, "ffmpeg")
	_, ch, base, dir := newTestServer(t, time.Second)
	pageURL := base + "/_t/whip.html?" + url.Values{"whip": {"/whip/ch"}, "token": {"secret"}, "seconds": {"8"}, "codec": {"av1"}}.Encode()
	raw, console, err := playertest.RunPage(context.Background(), pageURL, chromiumWebRTC, 60*time.Second)
	var res struct {
		OK            bool   `json:"ok"`
		Codec         string `json:"codec"`
		FramesEncoded int    `json:"framesEncoded"`
		Error         string `json:"error"`
	}
	if len(raw) > 0 {
		json.Unmarshal(raw, &res)
	}
	if err != nil || !res.OK {
		t.Fatalf("publisher: %v %+v\n%s", err, res, strings.Join(console, "\n"))
	}
	if !strings.EqualFold(res.Codec, "video/AV1") {
		t.Skipf("Chromium published %s, not AV1 (no AV1 encoder in this build?)", res.Codec)
	}
	if err := ch.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := ch.Stats()
	t.Logf("publisher: %+v; channel: %+v", res, st)
	f, err := mp4.ReadMP4File(filepath.Join(dir, "video0", "init-p0.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	if ve := f.Init.Moov.Trak.Mdia.Minf.Stbl.Stsd.Av01; ve == nil || ve.Av1C == nil || ve.Width != 640 || ve.Height != 360 {
		t.Fatalf("init segment without a 640x360 av01 sample entry and av1C")
	}
	master, err := os.ReadFile(filepath.Join(dir, live.HLSName))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(master), "av01.") {
		t.Errorf("master playlist without an av01 codec:\n%s", master)
	}
	// ffmpeg decodes the video of the HLS output; errors are on stderr.
	// (Passthrough, in the input's own time base: WebRTC frame times vary,
	// and frames closer than a tick of ffmpeg's guessed output rate would be
	// reported as non-monotonic although their times differ.)
	cmd := exec.Command("ffmpeg", "-v", "error", "-i", filepath.Join(dir, live.HLSName), "-map", "0:v:0", "-fps_mode", "passthrough", "-enc_time_base:v", "-1", "-f", "null", "-")
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("ffmpeg decoding the HLS output: %v\n%s", err, out)
	}
	cmd = exec.Command("ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
		"-show_entries", "stream=codec_name,nb_read_frames", "-of", "csv=p=0", filepath.Join(dir, live.HLSName))
	out, err = cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	var codec string
	var frames int
	if _, err := fmt.Sscanf(strings.ReplaceAll(strings.TrimSpace(string(out)), ",", " "), "%s %d", &codec, &frames); err != nil || codec != "av1" {
		t.Fatalf("ffprobe: %q %v", out, err)
	}
	// Every frame Chromium encoded (its AV1 encoder runs at 20–30
	// frames/s here, fewer under load), none made up.
	if frames < 50 || frames < res.FramesEncoded*9/10 || frames > res.FramesEncoded+5 {
		t.Errorf("ffprobe read %d AV1 frames; Chromium encoded %d", frames, res.FramesEncoded)
	}
	t.Logf("ffprobe: %d %s frames", frames, codec)
}

package webrtc

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/internal/playertest"
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
	playertest.Play(t, context.Background(), playertest.Options{Dir: dir, Manifest: live.HLSName, Player: playertest.HLSJS,
		Live: true, MinPlay: 8 * time.Second, Timeout: 60 * time.Second})
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
	t.Parallel()
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

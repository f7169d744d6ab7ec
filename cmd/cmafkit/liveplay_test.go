package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/internal/playertest"
	"github.com/cmafkit/cmafkit/live"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var liveAtRE = regexp.MustCompile(`Live at (http://\S+)/`)

// periodLength is the length of testdata/ladder_360p.mp4, one publisher
// session of TestLivePlayers.
const periodLength = 8008 * time.Millisecond

// TestLivePlayers runs `cmafkit live --loop` on testdata/ladder_360p.mp4
// given twice (a real-time replay, served on 127.0.0.1 by the command's own
// server; each replay a new publisher with timestamps reset to zero, so a
// new period and an EXT-X-DISCONTINUITY every 8 s) and plays its live HLS
// in hls.js and Shaka and its live MPD in dash.js and Shaka, in parallel:
// each player must report a live stream and play at real-time speed
// without a stall for 14 s, across a discontinuity; the latency is logged.
// The 360p rendition keeps three browsers decoding at once within two
// cores.
func TestLivePlayers(t *testing.T) {
	if testing.Short() {
		t.Skip("real-time live stream and browsers")
	}
	if err := playertest.Available(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	dir := t.TempDir()
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		// The file twice: each replay is a new publisher whose
		// timestamps restart at zero, a discontinuity every 8 s.
		in := filepath.Join("..", "..", "testdata", "ladder_360p.mp4")
		done <- runLive(ctx, []string{"-o", dir, "--http", "127.0.0.1:0", "--loop", in, in}, &stdout, &stderr)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("cmafkit live: %v", err)
		}
		t.Logf("cmafkit live stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	})

	// The players start a few segments behind the live edge: wait until
	// the media playlists name four segments.
	var base string
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := liveAtRE.FindStringSubmatch(stdout.String()); m != nil && base == "" {
			base = m[1]
		}
		b, _ := os.ReadFile(filepath.Join(dir, "video0.m3u8"))
		if base != "" && strings.Count(string(b), "#EXTINF") >= 4 && strings.Contains(string(b), "#EXT-X-DISCONTINUITY\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no live stream after 30 s: stdout %q stderr %q", stdout.String(), stderr.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, manifest := range []string{live.HLSName, live.DASHName} {
		for _, p := range playertest.Players(manifest) {
			t.Run(string(p)+"/"+manifest, func(t *testing.T) {
				t.Parallel()
				res := playertest.Play(t, ctx, playertest.Options{
					Manifest: base + "/" + manifest, Player: p, Live: true,
					MinPlay: 14 * time.Second, Timeout: 90 * time.Second,
				})
				// More media than one publisher session lasts: the
				// player played across a discontinuity.
				if res.MediaPlayed <= periodLength.Seconds() {
					t.Errorf("played %.2fs of media, no more than one period (%v): no discontinuity crossed for sure", res.MediaPlayed, periodLength)
				}
			})
		}
	}
}

// TestLiveSmoothPlays runs `cmafkit live --smooth --loop` on
// testdata/ladder_360p.mp4 in real time and plays its live Smooth
// Streaming client manifest in dash.js with its MSS module: the player
// must report a live stream and play 10 s without a stall.
func TestLiveSmoothPlays(t *testing.T) {
	if testing.Short() {
		t.Skip("real-time live stream and a browser")
	}
	if err := playertest.Available(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	dir := t.TempDir()
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		in := filepath.Join("..", "..", "testdata", "ladder_360p.mp4")
		done <- runLive(ctx, []string{"-o", dir, "--http", "127.0.0.1:0", "--smooth", "--loop", in}, &stdout, &stderr)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("cmafkit live: %v", err)
		}
		t.Logf("cmafkit live stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	})
	var base string
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := liveAtRE.FindStringSubmatch(stdout.String()); m != nil && base == "" {
			base = m[1]
		}
		b, _ := os.ReadFile(filepath.Join(dir, filepath.FromSlash(live.SmoothName)))
		if base != "" && strings.Count(string(b), "<c ") >= 2*3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no live Smooth stream after 30 s: stdout %q stderr %q", stdout.String(), stderr.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	res := playertest.Play(t, ctx, playertest.Options{
		Manifest: base + "/" + live.SmoothName, Player: playertest.DashJSMSS, Live: true,
		MinPlay: 10 * time.Second, Timeout: 40 * time.Second, Log: t.Logf,
	})
	if !res.IsLive {
		t.Errorf("dash.js did not report a live stream: %+v", res)
	}
}

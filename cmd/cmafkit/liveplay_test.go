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

// TestLivePlayers runs `cmafkit live --loop` on testdata/ladder_360p.mp4 (a
// real-time replay, served on 127.0.0.1 by the command's own server) and
// plays its live HLS in hls.js and Shaka and its live MPD in dash.js and
// Shaka, in parallel: each player must report a live stream and play at
// real-time speed without a stall for 10 s; the latency is logged. The 360p
// rendition keeps three browsers decoding at once within two cores.
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
		done <- runLive(ctx, []string{"-o", dir, "--http", "127.0.0.1:0", "--loop", filepath.Join("..", "..", "testdata", "ladder_360p.mp4")}, &stdout, &stderr)
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
		if base != "" && strings.Count(string(b), "#EXTINF") >= 4 {
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
				playertest.Play(t, ctx, playertest.Options{
					Manifest: base + "/" + manifest, Player: p, Live: true,
					MinPlay: 10 * time.Second, Timeout: 90 * time.Second,
				})
			})
		}
	}
}

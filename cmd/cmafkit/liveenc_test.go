package main

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/internal/playertest"
	"github.com/cmafkit/cmafkit/live"
)

// TestLivePlayersClearKey runs `cmafkit live --encryption cenc` with two
// keys rotating every two segments on a real-time replay, and plays its
// HLS and DASH in Shaka with the ClearKey keys, in live mode; no key
// appears on the command's output.
func TestLivePlayersClearKey(t *testing.T) {
	if testing.Short() {
		t.Skip("real-time live stream and browsers")
	}
	if err := playertest.Available(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	t.Parallel()
	keys := map[string]string{
		"00112233445566778899aabbccddeeff": "0123456789abcdef0123456789abcdef",
		"ffeeddccbbaa99887766554433221100": "fedcba9876543210fedcba9876543210",
	}
	var pairs []string
	for kid, k := range keys {
		pairs = append(pairs, kid+":"+k)
	}
	// Widevine too: shaka-player 5.2's HLS parser maps no
	// org.w3.clearkey KEYFORMAT (error 4026 without another system); it
	// plays with the keys given inline all the same.
	lc := startLive(t, nil, "--encryption", "cenc", "--key", strings.Join(pairs, ","), "--crypto-period", "2", "--drm", "clearkey,widevine",
		"--loop", filepath.Join("..", "..", "testdata", "ladder_360p.mp4"))
	lc.awaitSegments(t, "", 4, 30*time.Second)
	mpd, _ := os.ReadFile(filepath.Join(lc.dir, live.DASHName))
	if !strings.Contains(string(mpd), `value="cenc"`) {
		t.Fatalf("MPD does not signal cenc:\n%s", mpd)
	}
	// What the server answers carries no key.
	for _, path := range []string{live.DASHName, live.HLSName, "video0.m3u8", "audio0.m3u8", statusMount + statusName} {
		resp, err := http.Get(lc.base + "/" + strings.TrimPrefix(path, "/"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %s", path, resp.Status)
		}
		for _, k := range keys {
			raw, _ := hex.DecodeString(k)
			if strings.Contains(strings.ToLower(string(b)), k) || strings.Contains(string(b), base64.StdEncoding.EncodeToString(raw)) ||
				strings.Contains(string(b), base64.RawURLEncoding.EncodeToString(raw)) {
				t.Errorf("%s carries a content key:\n%s", path, b)
			}
		}
	}
	for _, manifest := range []string{live.DASHName, live.HLSName} {
		t.Run(manifest, func(t *testing.T) {
			t.Parallel()
			playertest.Play(t, context.Background(), playertest.Options{
				Manifest: lc.base + "/" + manifest, Player: playertest.Shaka, Live: true, ClearKeys: keys,
				MinPlay: 10 * time.Second, Timeout: 90 * time.Second,
			})
		})
	}
	t.Cleanup(func() {
		out := lc.stdout.String() + lc.stderr.String()
		for _, k := range keys {
			if strings.Contains(strings.ToLower(out), k) {
				t.Errorf("a content key is on the output:\n%s", out)
			}
		}
	})
}

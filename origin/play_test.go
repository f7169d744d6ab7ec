package origin

import (
	"context"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/drm"
	"github.com/cmafkit/cmafkit/internal/playertest"
	"github.com/cmafkit/cmafkit/internal/testutil"
	"github.com/cmafkit/cmafkit/steering"
)

// TestPlayers plays titles from a running origin in Chromium: hls.js the
// clear ladder with subtitles, dash.js and Shaka the ladder encrypted on
// request with cenc and cbcs (ClearKey, keys given to the player), and
// dash.js with its MSS module the clear ladder as Smooth Streaming.
func TestPlayers(t *testing.T) {
	if testing.Short() {
		t.Skip("player tests start browsers")
	}
	if err := playertest.Available(); err != nil && !testutil.InCI() {
		t.Skip(err)
	}
	t.Parallel()
	root := ladderRoot(t)
	// Shaka's HLS parser knows no org.w3.clearkey KEYFORMAT: it finds the
	// KIDs through the Widevine and PlayReady signalling.
	srv := newTestOrigin(t, root, Config{Keys: testKeys,
		Signaling: drm.SignalingOptions{Systems: []drm.System{drm.ClearKey, drm.Widevine, drm.PlayReady}}, Smooth: true})
	clearKeys := map[string]string{}
	for _, k := range []drm.ContentKey{testKeyHD, testKeySD, testKeyAudio} {
		clearKeys[k.KID.Hex()] = hex.EncodeToString(k.Key.Secret())
	}
	for _, c := range []struct {
		name   string
		path   string
		player playertest.Player
		keys   map[string]string
	}{
		{"clear/hlsjs", "/movies/ladder.json/master.m3u8", playertest.HLSJS, nil},
		{"cenc/dashjs", "/cenc/movies/ladder.json/manifest.mpd", playertest.DashJS, clearKeys},
		{"cbcs/shaka", "/cbcs/movies/ladder.json/master.m3u8", playertest.Shaka, clearKeys},
		{"smooth/dashjs-mss", "/movies/ladder.json/smooth/Manifest", playertest.DashJSMSS, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			playertest.Play(t, context.Background(), playertest.Options{Manifest: srv.URL + c.path, Player: c.player, ClearKeys: c.keys, Log: t.Logf})
		})
	}
}

// steeringSource makes a 40 s title of 1 s GOPs in dir (ffmpeg).
func steeringSource(t *testing.T, dir string) {
	t.Helper()
	ffmpeg := testutil.NeedTool(t, "ffmpeg")
	cmd := exec.Command(ffmpeg, "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=256x144:rate=25:duration=40",
		"-f", "lavfi", "-i", "sine=frequency=440:duration=40", "-c:v", "libx264", "-preset", "ultrafast", "-g", "25",
		"-keyint_min", "25", "-sc_threshold", "0", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k",
		"-movflags", "+faststart", filepath.Join(dir, "steer.mp4"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
}

// TestSteeringPlayers plays a title through two local "CDNs" in front of
// one origin, with content steering; once CDN a has served a few
// segments the steering policy marks it down, and hls.js and dash.js must
// move their segment requests to CDN b.
func TestSteeringPlayers(t *testing.T) {
	if testing.Short() {
		t.Skip("player tests start browsers")
	}
	if err := playertest.Available(); err != nil && !testutil.InCI() {
		t.Skip(err)
	}
	t.Parallel()
	root := t.TempDir()
	steeringSource(t, root)
	for _, c := range []struct {
		player   playertest.Player
		manifest string
	}{{playertest.HLSJS, "master.m3u8"}, {playertest.DashJS, "manifest.mpd"}} {
		t.Run(string(c.player), func(t *testing.T) {
			t.Parallel()
			policy := steering.NewPolicy("cdn-a", "cdn-b")
			policy.SetTTL(time.Second)
			steer := httptest.NewServer(steering.Handler(policy))
			defer steer.Close()

			var mu sync.Mutex
			var seq []string // the CDN of each media segment request
			downAt := -1
			cdn := func(id string, next func() http.Handler) *httptest.Server {
				return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if strings.HasSuffix(r.URL.Path, ".m4s") && r.Method == http.MethodGet {
						mu.Lock()
						seq = append(seq, id)
						if id == "cdn-a" && downAt < 0 && len(seq) >= 4 {
							downAt = len(seq)
							policy.SetDown("cdn-a", true)
						}
						mu.Unlock()
					}
					next().ServeHTTP(w, r)
				}))
			}
			var h http.Handler
			a := cdn("cdn-a", func() http.Handler { return h })
			defer a.Close()
			b := cdn("cdn-b", func() http.Handler { return h })
			defer b.Close()
			src, err := Dir(root)
			if err != nil {
				t.Fatal(err)
			}
			h, err = New(Config{Source: src, SegmentDuration: time.Second, Steering: &steering.Config{
				ServerURI: steer.URL + "/steer.json",
				Pathways:  []steering.Pathway{{ID: "cdn-a", BaseURL: a.URL + "/"}, {ID: "cdn-b", BaseURL: b.URL + "/"}},
			}})
			if err != nil {
				t.Fatal(err)
			}
			playertest.Play(t, context.Background(), playertest.Options{Manifest: a.URL + "/steer.mp4/" + c.manifest, Player: c.player,
				MinPlay: 8 * time.Second, Log: t.Logf})
			mu.Lock()
			defer mu.Unlock()
			t.Logf("segment requests by CDN: %v (cdn-a marked down after %d)", seq, downAt)
			if downAt < 0 {
				t.Fatalf("cdn-a never served 4 segments: %v", seq)
			}
			after := seq[downAt:]
			nb := strings.Count(strings.Join(after, " "), "cdn-b")
			if nb < 3 {
				t.Errorf("%d segment requests went to cdn-b after cdn-a was marked down: %v", nb, after)
			}
			if n := len(seq); seq[n-1] != "cdn-b" {
				t.Errorf("the last segment requests still go to cdn-a: %v", seq[max(0, n-5):])
			}
		})
	}
}

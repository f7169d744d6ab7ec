package origin

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/drm"
	"github.com/cmafkit/cmafkit/internal/testutil"
	"github.com/cmafkit/cmafkit/packager"
	"github.com/cmafkit/cmafkit/steering"
	"github.com/cmafkit/cmafkit/storage"
	"gocloud.dev/blob/memblob"
)

// The test keys: one per track class, so cenc tracks never share a key
// and IV by accident; their IVs are derived by the origin (stableIVs).
var (
	testKeyHD    = drm.ContentKey{KID: drm.MustParseKID("a0112233445566778899aabbccddeeff"), Key: mustParseKey("a00102030405060708090a0b0c0d0e0f")}
	testKeySD    = drm.ContentKey{KID: drm.MustParseKID("b0112233445566778899aabbccddeeff"), Key: mustParseKey("b00102030405060708090a0b0c0d0e0f")}
	testKeyAudio = drm.ContentKey{KID: drm.MustParseKID("c0112233445566778899aabbccddeeff"), Key: mustParseKey("c00102030405060708090a0b0c0d0e0f")}
	testKeys     = &StaticKeys{Default: []drm.ContentKey{testKeyAudio}, ByClass: map[drm.TrackClass][]drm.ContentKey{
		drm.ClassHD: {testKeyHD}, drm.ClassSD: {testKeySD}}}
)

func mustParseKey(s string) drm.Key {
	k, err := drm.ParseKey(s)
	if err != nil {
		panic(err)
	}
	return k
}

// ladderRoot returns a source directory with the test ladder: two
// renditions, a subtitle file, a title file naming them, and a copy of
// the 720p rendition as a title of its own.
func ladderRoot(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"ladder_720p.mp4", "ladder_360p.mp4", "subtitles_en.vtt"} {
		b, err := os.ReadFile(filepath.Join("..", "testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dir, "movies"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "movies", f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	title := `{"renditions": [{"path": "ladder_720p.mp4"}, {"path": "ladder_360p.mp4"}],
	  "subtitles": [{"path": "subtitles_en.vtt", "language": "en", "label": "English"}]}`
	if err := os.WriteFile(filepath.Join(dir, "movies", "ladder.json"), []byte(title), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// newTestOrigin serves cfg (with a Dir source of root unless set) on 127.0.0.1.
func newTestOrigin(t testing.TB, root string, cfg Config) *httptest.Server {
	t.Helper()
	if cfg.Source == nil {
		src, err := Dir(root)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Source = src
	}
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// rawClient does not ask for gzip, so bodies arrive as sent.
var rawClient = &http.Client{Transport: &http.Transport{DisableCompression: true}}

func get(t testing.TB, url string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := rawClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// offline packages the title's inputs as the origin names them, with
// packager.Run into a directory, and returns the objects.
func offline(t testing.TB, root, title string, scheme drm.Scheme, steer ...*steering.Config) (*packager.Result, map[string][]byte) {
	t.Helper()
	var s *steering.Config
	if len(steer) > 0 {
		s = steer[0]
	}
	return offlineWith(t, Config{Keys: testKeys}, root, title, scheme, s)
}

// offlineWith is offline for an origin configured as cfg (its Keys,
// Signaling and Smooth): Smooth Streaming is written too when the origin
// serves it for the title.
func offlineWith(t testing.TB, cfg Config, root, title string, scheme drm.Scheme, steer *steering.Config) (*packager.Result, map[string][]byte) {
	t.Helper()
	src, err := Dir(root)
	if err != nil {
		t.Fatal(err)
	}
	ot, err := openTitle(t.Context(), src, title)
	if err != nil {
		t.Fatal(err)
	}
	defer ot.close()
	var enc *drm.Config
	if scheme != "" {
		kp, _ := cfg.Keys.TitleKeys(t.Context(), title)
		enc = &drm.Config{Scheme: scheme, Keys: stableIVs{kp: kp, title: title, scheme: scheme}, SignalingOptions: cfg.Signaling}
	}
	job := cfg.job(ot, enc, steer)
	if cfg.Smooth && cfg.smoothRefusal(scheme) == nil {
		job.Formats |= packager.Smooth
	}
	out := t.TempDir()
	job.Storage = storage.Dir(out)
	res, err := packager.Run(t.Context(), job)
	if errors.Is(err, packager.ErrSmooth) {
		job.Formats &^= packager.Smooth
		res, err = packager.Run(t.Context(), job)
	}
	if err != nil {
		t.Fatal(err)
	}
	testutil.ValidateMPDs(t, out)
	objs := map[string][]byte{}
	for _, o := range res.Objects {
		b, err := os.ReadFile(filepath.Join(out, filepath.FromSlash(o.Name)))
		if err != nil {
			t.Fatal(err)
		}
		objs[o.Name] = b
	}
	return res, objs
}

// TestByteIdentity requests every object of a title from the origin, clear
// and encrypted with cenc and cbcs (by request path), with Smooth
// Streaming served too, and compares each byte for byte with what
// packager.Run writes for the same inputs and options; names that Run
// does not write are not found. Smooth Streaming is served clear, and
// with cenc when the origin signals PlayReady and the title has one key;
// otherwise its URLs are refused with 409 naming why.
func TestByteIdentity(t *testing.T) {
	root := ladderRoot(t)
	oneKey := &StaticKeys{Default: []drm.ContentKey{testKeyHD}}
	playReady := drm.SignalingOptions{Systems: []drm.System{drm.PlayReady, drm.Widevine}}
	for _, c := range []struct {
		name string
		cfg  Config
		// refused is what the Smooth refusal names, by scheme ("" where
		// Smooth is served).
		refused map[drm.Scheme]string
	}{
		{"key per class", Config{Keys: testKeys, Smooth: true},
			map[drm.Scheme]string{drm.SchemeCENC: "no PlayReady", drm.SchemeCBCS: "Smooth Streaming with cbcs"}},
		{"PlayReady", Config{Keys: testKeys, Signaling: playReady, Smooth: true},
			map[drm.Scheme]string{drm.SchemeCENC: "different keys", drm.SchemeCBCS: "Smooth Streaming with cbcs"}},
		{"PlayReady one key", Config{Keys: oneKey, Signaling: playReady, Smooth: true},
			map[drm.Scheme]string{drm.SchemeCBCS: "Smooth Streaming with cbcs"}},
	} {
		srv := newTestOrigin(t, root, c.cfg)
		for _, title := range []string{"movies/ladder.json", "movies/ladder_720p.mp4"} {
			for _, scheme := range []drm.Scheme{"", drm.SchemeCENC, drm.SchemeCBCS} {
				if c.name != "key per class" && scheme == "" {
					continue // the same as the first
				}
				t.Run(fmt.Sprintf("%s/%s/%s", c.name, title, scheme), func(t *testing.T) {
					t.Parallel()
					res, want := offlineWith(t, c.cfg, root, title, scheme, nil)
					base := srv.URL + "/" + title + "/"
					if scheme != "" {
						base = srv.URL + "/" + string(scheme) + "/" + title + "/"
					}
					// Segments before manifests, in reverse, concurrently.
					var wg sync.WaitGroup
					smooth := 0
					for i := len(res.Objects) - 1; i >= 0; i-- {
						name := res.Objects[i].Name
						if strings.HasPrefix(name, "smooth/") {
							smooth++
						}
						wg.Go(func() {
							resp, body := get(t, base+name)
							if resp.StatusCode != http.StatusOK {
								t.Errorf("%s: %s", name, resp.Status)
								return
							}
							if !bytes.Equal(body, want[name]) {
								t.Errorf("%s: %d bytes differ from packager.Run's %d", name, len(body), len(want[name]))
							}
						})
					}
					wg.Wait()
					if why := c.refused[scheme]; why != "" {
						if smooth != 0 {
							t.Errorf("packager.Run wrote %d Smooth objects where the origin refuses Smooth", smooth)
						}
						for _, name := range []string{"smooth/Manifest", "smooth/QualityLevels(1)/Fragments(video=0)"} {
							resp, body := get(t, base+name)
							if resp.StatusCode != http.StatusConflict || !strings.Contains(string(body), why) {
								t.Errorf("%s: %s %q, want 409 naming %q", name, resp.Status, body, why)
							}
						}
					} else if _, ok := want["smooth/Manifest"]; !ok || smooth < 3 {
						t.Errorf("%d Smooth objects (manifest: %v), want the manifest and every fragment", smooth, ok)
					}
					for _, name := range []string{"video_720p_avc/seg-99.m4s", "video_720p_avc/init.mp4x", "aes-128.key", "nope/master.m3u8", "smooth/QualityLevels(1)/Fragments(video=0)"} {
						if resp, _ := get(t, base+name); resp.StatusCode != http.StatusNotFound && (c.refused[scheme] == "" || !strings.HasPrefix(name, "smooth/")) {
							t.Errorf("%s: %s, want 404", name, resp.Status)
						}
					}
				})
			}
		}
	}
}

// TestBucketSource serves a title from a gocloud bucket with the bytes of
// the directory source.
func TestBucketSource(t *testing.T) {
	root := ladderRoot(t)
	b := memblob.OpenBucket(nil)
	defer b.Close()
	for _, f := range []string{"ladder_720p.mp4", "ladder_360p.mp4", "subtitles_en.vtt", "ladder.json"} {
		data, err := os.ReadFile(filepath.Join(root, "movies", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := b.WriteAll(t.Context(), "media/movies/"+f, data, nil); err != nil {
			t.Fatal(err)
		}
	}
	src := &countingSource{Source: Bucket(b, "media/")}
	srv := newTestOrigin(t, "", Config{Source: src})
	res, want := offline(t, root, "movies/ladder.json", "")
	for _, o := range res.Objects {
		resp, body := get(t, srv.URL+"/movies/ladder.json/"+o.Name)
		if resp.StatusCode != http.StatusOK || !bytes.Equal(body, want[o.Name]) {
			t.Errorf("%s: %s, %d bytes, want %d", o.Name, resp.Status, len(body), len(want[o.Name]))
		}
	}
	if resp, _ := get(t, srv.URL+"/movies/missing.mp4/master.m3u8"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("missing title in a bucket: %s, want 404", resp.Status)
	}
}

// countingSource counts opens and bytes read.
type countingSource struct {
	Source
	opens atomic.Int64
	read  atomic.Int64
	delay time.Duration
}

func (c *countingSource) Open(ctx context.Context, name string) (File, error) {
	c.opens.Add(1)
	time.Sleep(c.delay)
	f, err := c.Source.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	return &countingFile{File: f, n: &c.read}, nil
}

type countingFile struct {
	File
	n *atomic.Int64
}

func (f *countingFile) ReadAt(p []byte, off int64) (int, error) {
	n, err := f.File.ReadAt(p, off)
	f.n.Add(int64(n))
	return n, err
}

// TestHTTP checks the HTTP semantics, table-driven: methods, ranges,
// conditional requests, caching and CORS headers, content types, gzip,
// and the refusal of malformed paths and of anything outside the root.
func TestHTTP(t *testing.T) {
	root := ladderRoot(t)
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret.mp4"), []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "secret.mp4"), filepath.Join(root, "link.mp4")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "linkdir")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "corrupt.mp4"), bytes.Repeat([]byte("not an mp4 "), 100), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bad.json"), []byte(`{"renditions": [{"path": "../../etc/passwd"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := newTestOrigin(t, root, Config{Keys: testKeys})
	seg := "/movies/ladder.json/video_720p_avc/seg-1.m4s"
	_, full := get(t, srv.URL+seg)
	if len(full) < 1000 {
		t.Fatalf("segment of %d bytes", len(full))
	}
	resp, _ := get(t, srv.URL+seg)
	etag := resp.Header.Get("ETag")
	lastMod := resp.Header.Get("Last-Modified")
	if etag == "" || lastMod == "" {
		t.Fatalf("no ETag (%q) or Last-Modified (%q)", etag, lastMod)
	}

	for _, tc := range []struct {
		name    string
		method  string
		path    string
		hdr     []string
		status  int
		want    map[string]string // response headers
		body    []byte            // exact body, if set
		bodyHas string
	}{
		{name: "segment", path: seg, status: 200, body: full, want: map[string]string{
			"Content-Type": "video/mp4", "Cache-Control": "public, max-age=31536000, immutable", "Access-Control-Allow-Origin": "*",
			"Accept-Ranges": "bytes", "Content-Length": fmt.Sprint(len(full))}},
		{name: "range", path: seg, hdr: []string{"Range", "bytes=100-199"}, status: 206, body: full[100:200],
			want: map[string]string{"Content-Range": fmt.Sprintf("bytes 100-199/%d", len(full))}},
		{name: "suffix range", path: seg, hdr: []string{"Range", "bytes=-10"}, status: 206, body: full[len(full)-10:]},
		{name: "unsatisfiable range", path: seg, hdr: []string{"Range", fmt.Sprintf("bytes=%d-", len(full)+5)}, status: 416},
		{name: "head", method: "HEAD", path: seg, status: 200, body: []byte{}, want: map[string]string{"Content-Length": fmt.Sprint(len(full))}},
		{name: "if-none-match", path: seg, hdr: []string{"If-None-Match", etag}, status: 304},
		{name: "if-none-match other", path: seg, hdr: []string{"If-None-Match", `"other"`}, status: 200},
		{name: "if-modified-since", path: seg, hdr: []string{"If-Modified-Since", lastMod}, status: 304},
		{name: "if-range stale", path: seg, hdr: []string{"Range", "bytes=0-9", "If-Range", `"other"`}, status: 200, body: full},
		{name: "init", path: "/movies/ladder.json/video_720p_avc/init.mp4", status: 200, want: map[string]string{"Content-Type": "video/mp4"}},
		{name: "webvtt", path: "/movies/ladder.json/text_en_webvtt/seg-1.vtt", status: 200, want: map[string]string{"Content-Type": "text/vtt; charset=utf-8"}},
		{name: "hls", path: "/movies/ladder.json/master.m3u8", status: 200, bodyHas: "#EXTM3U", want: map[string]string{
			"Content-Type": "application/vnd.apple.mpegurl", "Cache-Control": "public, max-age=10", "Vary": "Accept-Encoding"}},
		{name: "dash", path: "/movies/ladder.json/manifest.mpd", status: 200, bodyHas: "<MPD", want: map[string]string{"Content-Type": "application/dash+xml"}},
		{name: "dash gzip", path: "/movies/ladder.json/manifest.mpd", hdr: []string{"Accept-Encoding", "br, gzip"}, status: 200, want: map[string]string{"Content-Encoding": "gzip"}},
		{name: "dash gzip refused", path: "/movies/ladder.json/manifest.mpd", hdr: []string{"Accept-Encoding", "gzip;q=0"}, status: 200, bodyHas: "<MPD", want: map[string]string{"Content-Encoding": ""}},
		{name: "preflight", method: "OPTIONS", path: seg, status: 204, want: map[string]string{"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS"}},
		{name: "post", method: "POST", path: seg, status: 405},
		{name: "unknown title", path: "/movies/none.mp4/master.m3u8", status: 404},
		{name: "unknown object", path: "/movies/ladder.json/video_720p_avc/seg-1000.m4s", status: 404},
		{name: "object of no title", path: "/movies/master.m3u8", status: 404},
		{name: "title alone", path: "/movies/ladder.json", status: 404},
		{name: "dotdot", path: "/movies/../movies/ladder.json/master.m3u8", status: 400},
		{name: "encoded dotdot", path: "/movies/%2e%2e/movies/ladder.json/master.m3u8", status: 400},
		{name: "encoded slash", path: "/movies%2fladder.json/master.m3u8", status: 400},
		{name: "backslash", path: "/movies\\..\\ladder.json/master.m3u8", status: 400},
		{name: "encoded backslash", path: "/movies%5c..%5cladder.json/master.m3u8", status: 400},
		{name: "double slash", path: "//etc/passwd.mp4/master.m3u8", status: 400},
		{name: "nul", path: "/movies/ladder.json%00/master.m3u8", status: 400},
		{name: "bad escape", path: "/movies/%zz.mp4/master.m3u8", status: 400},
		{name: "dot file", path: "/movies/.ladder.json/master.m3u8", status: 400},
		{name: "symlink out", path: "/link.mp4/master.m3u8", status: 404},
		{name: "symlink dir out", path: "/linkdir/secret.mp4/master.m3u8", status: 404},
		{name: "title file out of root", path: "/bad.json/master.m3u8", status: 502, bodyHas: "not a relative path inside the source"},
		{name: "corrupt source", path: "/corrupt.mp4/master.m3u8", status: 502, bodyHas: "cannot package title corrupt.mp4"},
		{name: "still serving", path: seg, status: 200, body: full},
		// Once the manifests are rendered, sizes are known and whole
		// objects are streamed.
		{name: "streamed", path: seg, status: 200, body: full, want: map[string]string{"Content-Length": fmt.Sprint(len(full)), "ETag": etag, "Last-Modified": lastMod}},
		{name: "head streamed", method: "HEAD", path: seg, status: 200, body: []byte{}, want: map[string]string{"Content-Length": fmt.Sprint(len(full)), "ETag": etag}},
		{name: "range after render", path: seg, hdr: []string{"Range", "bytes=5-9"}, status: 206, body: full[5:10]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = http.MethodGet
			}
			req, err := http.NewRequest(method, srv.URL, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.URL.RawPath, req.URL.Path = "", ""
			req.URL.Opaque = "//" + req.URL.Host + tc.path // sent as written
			for i := 0; i+1 < len(tc.hdr); i += 2 {
				req.Header.Set(tc.hdr[i], tc.hdr[i+1])
			}
			resp, err := rawClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("%s %s: %s (%q), want %d", method, tc.path, resp.Status, body, tc.status)
			}
			for k, v := range tc.want {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
			if tc.body != nil && !bytes.Equal(body, tc.body) {
				t.Errorf("body of %d bytes, want %d", len(body), len(tc.body))
			}
			if tc.bodyHas != "" && !bytes.Contains(body, []byte(tc.bodyHas)) {
				t.Errorf("body %.200q lacks %q", body, tc.bodyHas)
			}
			if resp.StatusCode >= 400 && (bytes.Contains(body, []byte("goroutine")) || bytes.Contains(body, []byte(".go:")) || bytes.Contains(body, []byte(root))) {
				t.Errorf("error body %q shows internals", body)
			}
			if resp.Header.Get("Content-Encoding") == "gzip" {
				zr, err := gzip.NewReader(bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				plain, err := io.ReadAll(zr)
				if err != nil || !bytes.Contains(plain, []byte("<MPD")) {
					t.Errorf("gzip body: %v, %.100q", err, plain)
				}
			}
		})
	}
}

// TestKeysNeverLeak serves encrypted titles, and a title whose keys cannot
// be had, and finds no key, in any form, in any response or log record.
func TestKeysNeverLeak(t *testing.T) {
	root := ladderRoot(t)
	var logs bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewJSONHandler(&lockedWriter{w: &logs, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	keys := KeyFunc(func(ctx context.Context, title string, req drm.KeyRequest) (drm.ContentKey, error) {
		if strings.Contains(title, "720p") {
			return drm.ContentKey{}, fmt.Errorf("key server down: %w", drm.ErrNoKey)
		}
		kp, _ := testKeys.TitleKeys(ctx, title)
		return kp.ContentKey(ctx, req)
	})
	srv := newTestOrigin(t, root, Config{Keys: keys, Encryption: drm.SchemeCBCS, Logger: logger})
	var bodies [][]byte
	for _, scheme := range []string{"", "cenc/", "cbcs/"} {
		res, _ := offline(t, root, "movies/ladder.json", "")
		for _, o := range res.Objects {
			resp, body := get(t, srv.URL+"/"+scheme+"movies/ladder.json/"+o.Name)
			if resp.StatusCode != 200 {
				t.Errorf("%s: %s", o.Name, resp.Status)
			}
			bodies = append(bodies, body, []byte(fmt.Sprint(resp.Header)))
		}
	}
	resp, body := get(t, srv.URL+"/movies/ladder_720p.mp4/master.m3u8")
	if resp.StatusCode != http.StatusBadGateway {
		t.Errorf("title without keys: %s, want 502", resp.Status)
	}
	bodies = append(bodies, body)
	mu.Lock()
	bodies = append(bodies, logs.Bytes())
	mu.Unlock()
	for _, k := range []drm.ContentKey{testKeyHD, testKeySD, testKeyAudio} {
		s := k.Key.Secret()
		forms := [][]byte{s, []byte(hex.EncodeToString(s)), []byte(strings.ToUpper(hex.EncodeToString(s))),
			[]byte(base64.StdEncoding.EncodeToString(s)), []byte(base64.RawURLEncoding.EncodeToString(s))}
		for i, b := range bodies {
			for _, f := range forms {
				if bytes.Contains(b, f) {
					t.Errorf("key %s found in output %d (%d bytes)", k.KID, i, len(b))
				}
			}
		}
	}
	if !bytes.Contains(logs.Bytes(), []byte(`"path":"/cbcs/movies/ladder.json/master.m3u8"`)) {
		t.Errorf("request log lacks the requests: %.300s", logs.Bytes())
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// TestCacheSharesOpens: concurrent requests for one unseen title open it
// once; a cache too small for two titles keeps its byte budget, evicting
// the least recently used, and serves both correctly.
func TestCacheSharesOpens(t *testing.T) {
	root := ladderRoot(t)
	src, err := Dir(root)
	if err != nil {
		t.Fatal(err)
	}
	cs := &countingSource{Source: src, delay: 20 * time.Millisecond}
	h, err := New(Config{Source: cs})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	// One segment of an unseen title reads the sample tables and that
	// segment, not the file.
	seg := srv.URL + "/movies/ladder_720p.mp4/video_720p_avc/seg-2.m4s"
	_, body := get(t, seg)
	fi, _ := os.Stat(filepath.Join(root, "movies", "ladder_720p.mp4"))
	if n := cs.read.Load(); n > int64(len(body))+fi.Size()/4 {
		t.Errorf("read %d bytes of a %d-byte file for one segment of %d", n, fi.Size(), len(body))
	}
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if resp, _ := get(t, srv.URL+"/movies/ladder_360p.mp4/video_360p_avc/seg-2.m4s"); resp.StatusCode != 200 {
				t.Errorf("%s", resp.Status)
			}
		})
	}
	wg.Wait()
	if n := cs.opens.Load(); n != 2 {
		t.Errorf("16 concurrent requests for one title, after one for another: %d opens, want 2", n)
	}

	// A budget smaller than two opened titles.
	small, err := New(Config{Source: src, CacheBytes: 1})
	if err != nil {
		t.Fatal(err)
	}
	hs := small.(*handler)
	srv2 := httptest.NewServer(small)
	defer srv2.Close()
	for i := range 3 {
		for _, title := range []string{"movies/ladder_720p.mp4", "movies/ladder_360p.mp4"} {
			resp, _ := get(t, srv2.URL+"/"+title+"/master.m3u8")
			if resp.StatusCode != 200 {
				t.Fatalf("round %d %s: %s", i, title, resp.Status)
			}
			if n, _ := hs.cache.stats(); n != 1 {
				t.Errorf("%d titles cached under a 1-byte budget, want the last one only", n)
			}
		}
	}
}

// TestSourceChange: a title whose file is replaced is reopened once the
// manifest max-age has passed, with new manifests and ETags.
func TestSourceChange(t *testing.T) {
	root := ladderRoot(t)
	srv := newTestOrigin(t, root, Config{ManifestMaxAge: time.Second})
	url := srv.URL + "/movies/a.mp4/master.m3u8"
	src := filepath.Join(root, "movies", "a.mp4")
	copyFile(t, filepath.Join(root, "movies", "ladder_720p.mp4"), src)
	r1, b1 := get(t, url)
	copyFile(t, filepath.Join(root, "movies", "ladder_360p.mp4"), src)
	os.Chtimes(src, time.Now().Add(time.Hour), time.Now().Add(time.Hour))
	time.Sleep(1100 * time.Millisecond)
	r2, b2 := get(t, url)
	if r1.StatusCode != 200 || r2.StatusCode != 200 {
		t.Fatalf("%s, %s", r1.Status, r2.Status)
	}
	if bytes.Equal(b1, b2) || r1.Header.Get("ETag") == r2.Header.Get("ETag") {
		t.Errorf("the manifest did not change with its source (ETag %s)", r2.Header.Get("ETag"))
	}
	if !bytes.Contains(b2, []byte("RESOLUTION=640x360")) {
		t.Errorf("new manifest is not the new file's:\n%s", b2)
	}
}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestTitleEncryption: a title file's encryption applies to requests that
// name no scheme, and a request path's scheme overrides it.
func TestTitleEncryption(t *testing.T) {
	root := ladderRoot(t)
	title := `{"renditions": [{"path": "ladder_360p.mp4"}], "encryption": "cenc"}`
	if err := os.WriteFile(filepath.Join(root, "movies", "enc.json"), []byte(title), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := newTestOrigin(t, root, Config{Keys: testKeys})
	for path, want := range map[string]string{
		"/movies/enc.json/manifest.mpd":             "urn:mpeg:dash:mp4protection:2011\" value=\"cenc\"",
		"/cbcs/movies/enc.json/manifest.mpd":        "value=\"cbcs\"",
		"/movies/ladder_360p.mp4/manifest.mpd":      "<MPD",
		"/cenc/movies/ladder_360p.mp4/manifest.mpd": "value=\"cenc\"",
	} {
		resp, body := get(t, srv.URL+path)
		if resp.StatusCode != 200 || !bytes.Contains(body, []byte(want)) {
			t.Errorf("%s: %s, body lacks %q", path, resp.Status, want)
		}
		if want == "<MPD" && bytes.Contains(body, []byte("ContentProtection")) {
			t.Errorf("%s: encrypted without asking", path)
		}
	}
	// Without keys, a title asking for encryption cannot be served.
	noKeys := newTestOrigin(t, root, Config{})
	if resp, _ := get(t, noKeys.URL+"/movies/enc.json/manifest.mpd"); resp.StatusCode != http.StatusBadGateway {
		t.Errorf("encrypted title without keys: %s, want 502", resp.Status)
	}
	// Without keys, /cenc/ is a directory like any other.
	if resp, _ := get(t, noKeys.URL+"/cenc/movies/ladder_360p.mp4/manifest.mpd"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("/cenc/ without keys: %s, want 404", resp.Status)
	}
}

// TestEmbedded mounts the origin under a prefix of a service's own mux
// (as examples/origin does), with content steering: the steered
// manifests name each CDN's URL of the title.
func TestEmbedded(t *testing.T) {
	root := ladderRoot(t)
	src, err := Dir(root)
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(Config{Source: src, Keys: testKeys, Steering: &steering.Config{ServerURI: "/steer.json", Pathways: []steering.Pathway{
		{ID: "a", BaseURL: "https://a.example/vod/"}, {ID: "b", BaseURL: "https://b.example/"}}}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/vod/", http.StripPrefix("/vod", h))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	resp, body := get(t, srv.URL+"/vod/cbcs/movies/ladder.json/master.m3u8")
	if resp.StatusCode != 200 {
		t.Fatalf("%s", resp.Status)
	}
	for _, want := range []string{`#EXT-X-CONTENT-STEERING:SERVER-URI="/steer.json",PATHWAY-ID="a"`,
		"PATHWAY-ID=\"b\"\nhttps://b.example/cbcs/movies/ladder.json/video_720p_avc.m3u8\n",
		`URI="https://a.example/vod/cbcs/movies/ladder.json/audio_und_aac_2ch.m3u8"`} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("steered playlist lacks %q:\n%s", want, body)
		}
	}
	resp, body = get(t, srv.URL+"/vod/movies/ladder.json/manifest.mpd")
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte(`<BaseURL serviceLocation="b">https://b.example/movies/ladder.json/</BaseURL>`)) {
		t.Errorf("%s: steered MPD:\n%.600s", resp.Status, body)
	}
	testutil.ValidateMPDBytes(t, "steered.mpd", body)
	if resp, _ := get(t, srv.URL+"/vod/movies/%2e%2e/movies/ladder.json/master.m3u8"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("encoded dot-dot under a prefix: %s", resp.Status)
	}
	if resp, _ := get(t, srv.URL+"/vod/movies/ladder.json/video_720p_avc/seg-1.m4s"); resp.StatusCode != 200 {
		t.Errorf("segment under a prefix: %s", resp.Status)
	}
}

// TestSteeringByteIdentity: the steered manifests of the origin are those
// `cmafkit package --steering-server --pathway` writes with the title's
// URL on each CDN.
func TestSteeringByteIdentity(t *testing.T) {
	root := ladderRoot(t)
	cfg := &steering.Config{ServerURI: "https://steer.example/s.json", Pathways: []steering.Pathway{
		{ID: "a", BaseURL: "https://a.example/"}, {ID: "b", BaseURL: "https://b.example/x"}}}
	srv := newTestOrigin(t, root, Config{Keys: testKeys, Steering: cfg})
	_, want := offline(t, root, "movies/ladder.json", drm.SchemeCBCS, &steering.Config{ServerURI: cfg.ServerURI, Pathways: []steering.Pathway{
		{ID: "a", BaseURL: "https://a.example/cbcs/movies/ladder.json/"}, {ID: "b", BaseURL: "https://b.example/x/cbcs/movies/ladder.json/"}}})
	for _, name := range []string{"master.m3u8", "manifest.mpd", "video_720p_avc.m3u8"} {
		resp, body := get(t, srv.URL+"/cbcs/movies/ladder.json/"+name)
		if resp.StatusCode != 200 || !bytes.Equal(body, want[name]) {
			t.Errorf("%s: %s, differs from packager.Run's:\n%s\n---\n%s", name, resp.Status, body, want[name])
		}
	}
}

// TestFailuresRemembered: a corrupt or missing title requested again
// within ManifestMaxAge is not opened again; later it is (it may have
// been fixed).
func TestFailuresRemembered(t *testing.T) {
	root := ladderRoot(t)
	if err := os.WriteFile(filepath.Join(root, "corrupt.mp4"), bytes.Repeat([]byte("junk"), 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := Dir(root)
	if err != nil {
		t.Fatal(err)
	}
	cs := &countingSource{Source: src}
	srv := newTestOrigin(t, "", Config{Source: cs, ManifestMaxAge: time.Second})
	for _, c := range []struct {
		path   string
		status int
	}{{"/corrupt.mp4/master.m3u8", 502}, {"/missing.mp4/master.m3u8", 404}} {
		before := cs.opens.Load()
		for range 5 {
			if resp, _ := get(t, srv.URL+c.path); resp.StatusCode != c.status {
				t.Fatalf("%s: %s, want %d", c.path, resp.Status, c.status)
			}
		}
		if n := cs.opens.Load() - before; n != 1 {
			t.Errorf("%s: opened %d times in 5 requests, want 1", c.path, n)
		}
	}
	copyFile(t, filepath.Join(root, "movies", "ladder_360p.mp4"), filepath.Join(root, "corrupt.mp4"))
	time.Sleep(1100 * time.Millisecond)
	if resp, _ := get(t, srv.URL+"/corrupt.mp4/master.m3u8"); resp.StatusCode != 200 {
		t.Errorf("fixed title after the max-age: %s", resp.Status)
	}
}

package serve

import (
	"bufio"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

const multivariant = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000000,CODECS=\"avc1.64001e\"\nvideo/360p.m3u8\n"
const mediaPlaylist = "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\nseg-1.m4s\n#EXT-X-ENDLIST\n"

func testFS() fstest.MapFS {
	seg := make([]byte, 1000)
	for i := range seg {
		seg[i] = byte(i)
	}
	return fstest.MapFS{
		"master.m3u8":          {Data: []byte(multivariant)},
		"manifest.mpd":         {Data: []byte("<?xml version=\"1.0\"?><MPD/>")},
		"video/360p.m3u8":      {Data: []byte(mediaPlaylist)},
		"video/seg-1.m4s":      {Data: seg},
		"video/init.mp4":       {Data: []byte("init")},
		"audio/en.m4a":         {Data: []byte("aac")},
		"subs/en.vtt":          {Data: []byte("WEBVTT\n")},
		"ts/seg.ts":            {Data: []byte{0x47}},
		"other/player.js":      {Data: []byte("var x;")},
		"other/page.html":      {Data: []byte("<p>hi</p>")},
		"other/blob.bin":       {Data: []byte{1, 2, 3}},
		".hidden/secret.mpd":   {Data: []byte("<MPD/>")},
		"video/.hidden.mpd":    {Data: []byte("<MPD/>")},
		"nested/a/b/other.mpd": {Data: []byte("<MPD/>")},
	}
}

func do(t *testing.T, h http.Handler, method, target string, hdr map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	req.Host = "localhost:8080"
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestContentTypes(t *testing.T) {
	h := Handler(testFS())
	cases := map[string]string{
		"/master.m3u8":     "application/vnd.apple.mpegurl",
		"/manifest.mpd":    "application/dash+xml",
		"/video/seg-1.m4s": "video/mp4",
		"/video/init.mp4":  "video/mp4",
		"/audio/en.m4a":    "audio/mp4",
		"/subs/en.vtt":     "text/vtt; charset=utf-8",
		"/ts/seg.ts":       "video/mp2t",
	}
	for target, want := range cases {
		resp := do(t, h, http.MethodGet, target, nil)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: status %d", target, resp.StatusCode)
			continue
		}
		if got := resp.Header.Get("Content-Type"); got != want {
			t.Errorf("GET %s: Content-Type %q, want %q", target, got, want)
		}
	}
	if got := body(t, do(t, h, http.MethodGet, "/master.m3u8", nil)); got != multivariant {
		t.Errorf("body of master.m3u8 = %q", got)
	}
	// Other files of the directory are not served (see TestServeOnlyMedia);
	// the table still types the preview's and mounted trees' files.
	for target := range map[string]bool{"/other/player.js": true, "/other/page.html": true, "/other/blob.bin": true} {
		if resp := do(t, h, http.MethodGet, target, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", target, resp.StatusCode)
		}
	}
	for name, want := range map[string]string{
		"player.js": "text/javascript; charset=utf-8",
		"page.html": "text/html; charset=utf-8",
		"blob.bin":  "application/octet-stream",
	} {
		if got := ContentType(name); got != want {
			t.Errorf("ContentType(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestRange(t *testing.T) {
	h := Handler(testFS())
	resp := do(t, h, http.MethodGet, "/video/seg-1.m4s", map[string]string{"Range": "bytes=100-199"})
	if resp.StatusCode != http.StatusPartialContent {
		t.Fatalf("status %d, want 206", resp.StatusCode)
	}
	if got := resp.Header.Get("Content-Range"); got != "bytes 100-199/1000" {
		t.Errorf("Content-Range %q", got)
	}
	b := body(t, resp)
	if len(b) != 100 || b[0] != 100 || b[99] != byte(199) {
		t.Errorf("range body: len %d first %d last %d", len(b), b[0], b[len(b)-1])
	}
	if got := resp.Header.Get("Content-Type"); got != "video/mp4" {
		t.Errorf("Content-Type %q on a range response", got)
	}

	// Suffix range and an unsatisfiable one.
	resp = do(t, h, http.MethodGet, "/video/seg-1.m4s", map[string]string{"Range": "bytes=-10"})
	if resp.StatusCode != http.StatusPartialContent || resp.Header.Get("Content-Range") != "bytes 990-999/1000" {
		t.Errorf("suffix range: %d %q", resp.StatusCode, resp.Header.Get("Content-Range"))
	}
	resp = do(t, h, http.MethodGet, "/video/seg-1.m4s", map[string]string{"Range": "bytes=5000-"})
	if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable {
		t.Errorf("unsatisfiable range: status %d", resp.StatusCode)
	}
	resp = do(t, h, http.MethodGet, "/video/seg-1.m4s", nil)
	if resp.Header.Get("Accept-Ranges") != "bytes" {
		t.Errorf("Accept-Ranges %q", resp.Header.Get("Accept-Ranges"))
	}
}

func TestCORS(t *testing.T) {
	h := Handler(testFS())
	resp := do(t, h, http.MethodGet, "/video/seg-1.m4s", map[string]string{"Origin": "http://example.test", "Range": "bytes=0-1"})
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "*" {
		t.Errorf("Allow-Origin %q", got)
	}
	expose := resp.Header.Get("Access-Control-Expose-Headers")
	for _, want := range []string{"Content-Length", "Content-Range"} {
		if !strings.Contains(expose, want) {
			t.Errorf("Expose-Headers %q lacks %s", expose, want)
		}
	}

	resp = do(t, h, http.MethodOptions, "/video/seg-1.m4s", map[string]string{
		"Origin":                         "http://example.test",
		"Access-Control-Request-Method":  "GET",
		"Access-Control-Request-Headers": "range",
	})
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("preflight status %d", resp.StatusCode)
	}
	if got := strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers")); !strings.Contains(got, "range") {
		t.Errorf("preflight Allow-Headers %q lacks Range", got)
	}
	if got := resp.Header.Get("Access-Control-Allow-Methods"); !strings.Contains(got, "GET") {
		t.Errorf("preflight Allow-Methods %q", got)
	}
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "*" {
		t.Errorf("preflight Allow-Origin %q", got)
	}
}

func TestMethodNotAllowed(t *testing.T) {
	resp := do(t, Handler(testFS()), http.MethodPost, "/master.m3u8", nil)
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST status %d", resp.StatusCode)
	}
}

func TestHead(t *testing.T) {
	resp := do(t, Handler(testFS()), http.MethodHead, "/video/seg-1.m4s", nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Length") != "1000" {
		t.Errorf("HEAD: %d, Content-Length %q", resp.StatusCode, resp.Header.Get("Content-Length"))
	}
	if b := body(t, resp); b != "" {
		t.Errorf("HEAD returned a body of %d bytes", len(b))
	}
}

func TestNotFoundAndDirectories(t *testing.T) {
	h := Handler(testFS())
	for _, target := range []string{"/nope.mpd", "/video", "/video/", "/video/seg-9.m4s"} {
		if resp := do(t, h, http.MethodGet, target, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", target, resp.StatusCode)
		}
	}
}

func TestPathTraversalRefused(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret.txt"), []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ok.mpd"), []byte("<MPD/>"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "secret.txt"), filepath.Join(dir, "link.txt")); err != nil {
		t.Fatal(err)
	}
	root, err := Dir(dir)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(Handler(root))
	defer srv.Close()

	// Raw requests, so that no client-side cleaning hides what the server does.
	rel, err := filepath.Rel(dir, filepath.Join(outside, "secret.txt"))
	if err != nil {
		t.Fatal(err)
	}
	targets := []string{
		"/../" + filepath.Base(outside) + "/secret.txt",
		"/" + filepath.ToSlash(rel),
		"/%2e%2e/%2e%2e/etc/passwd",
		"/..%2f..%2fetc/passwd",
		"/a/../../etc/passwd",
		"/..\\..\\etc\\passwd",
		"/link.txt", // symlink that escapes the root
		"//etc/passwd",
	}
	for _, target := range targets {
		status, b := rawGet(t, srv.Listener.Addr().String(), target)
		if status == http.StatusOK || strings.Contains(b, "secret") || strings.Contains(b, "root:") {
			t.Errorf("GET %s: status %d, body %q", target, status, b)
		}
	}
	if status, _ := rawGet(t, srv.Listener.Addr().String(), "/ok.mpd"); status != http.StatusOK {
		t.Errorf("GET /ok.mpd: status %d", status)
	}
}

func rawGet(t *testing.T, addr, target string) (int, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", target, addr)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestPreviewPage(t *testing.T) {
	h := Handler(testFS())
	resp := do(t, h, http.MethodGet, "/", nil)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	page := body(t, resp)
	for _, want := range []string{
		`href="/?play=manifest.mpd"`, `href="/?play=master.m3u8"`, `href="/?play=nested%2fa%2fb%2fother.mpd"`,
		AssetPrefix + "shaka-player.ui.js", AssetPrefix + "preview.js", "data-shaka-player",
		`data-manifest="/manifest.mpd"`, // first in lexical order is preselected
	} {
		if !strings.Contains(page, want) {
			t.Errorf("preview page lacks %s", want)
		}
	}
	// Media playlists are hidden when a multivariant playlist exists; hidden
	// directories are not walked.
	for _, unwanted := range []string{"video/360p.m3u8", "secret.mpd", "hidden.mpd"} {
		if strings.Contains(page, unwanted) {
			t.Errorf("preview page lists %s", unwanted)
		}
	}

	page = body(t, do(t, h, http.MethodGet, "/?play=master.m3u8", nil))
	if !strings.Contains(page, `data-manifest="/master.m3u8"`) || !strings.Contains(page, "HLS: master.m3u8") {
		t.Errorf("play=master.m3u8 not selected:\n%s", page)
	}
	page = body(t, do(t, h, http.MethodGet, "/?play=https://evil.test/x.mpd", nil))
	if strings.Contains(page, "data-manifest") || !strings.Contains(page, "not a manifest in this directory") {
		t.Errorf("an unknown manifest was accepted:\n%s", page)
	}
}

func TestPreviewMediaPlaylistFallback(t *testing.T) {
	fsys := fstest.MapFS{"audio/en.m3u8": {Data: []byte(mediaPlaylist)}}
	page := body(t, do(t, Handler(fsys), http.MethodGet, "/", nil))
	if !strings.Contains(page, `href="/?play=audio%2fen.m3u8"`) {
		t.Errorf("media playlist not listed without a multivariant one:\n%s", page)
	}
	page = body(t, do(t, Handler(fstest.MapFS{}), http.MethodGet, "/", nil))
	if !strings.Contains(page, "No .mpd or .m3u8 manifest") || strings.Contains(page, "shaka-player.ui.js") {
		t.Errorf("empty directory page:\n%s", page)
	}
}

// TestRootIndexIgnored: a directory's own index.html is not served (it
// would run with the server's origin); "/" is the preview.
func TestRootIndexIgnored(t *testing.T) {
	fsys := fstest.MapFS{"index.html": {Data: []byte("mine")}}
	for _, target := range []string{"/", "/index.html"} {
		if got := body(t, do(t, Handler(fsys), http.MethodGet, target, nil)); got == "mine" || !strings.Contains(got, "cmafkit preview") {
			t.Errorf("GET %s = %q, want the preview page", target, got)
		}
	}
}

func TestAssets(t *testing.T) {
	h := Handler(fstest.MapFS{})
	resp := do(t, h, http.MethodGet, AssetPrefix+"shaka-player.ui.js", nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/javascript; charset=utf-8" {
		t.Fatalf("player asset: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if b := body(t, resp); len(b) < 500_000 || !strings.Contains(b[:200], "Shaka Player") {
		t.Errorf("embedded player looks wrong: %d bytes", len(b))
	}
	lic := body(t, do(t, h, http.MethodGet, AssetPrefix+"shaka-player.LICENSE", nil))
	if !strings.Contains(lic, "Apache License") {
		t.Errorf("licence not served")
	}
	if resp := do(t, h, http.MethodGet, AssetPrefix+"nope.js", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("missing asset: status %d", resp.StatusCode)
	}
}

func TestMounts(t *testing.T) {
	h := NewHandler(testFS(), Config{Mounts: map[string]fs.FS{
		"/_players/":       fstest.MapFS{"hls.js": {Data: []byte("hls")}},
		"/_players/inner/": fstest.MapFS{"x.js": {Data: []byte("inner")}},
		"bad":              fstest.MapFS{},
	}})
	if got := body(t, do(t, h, http.MethodGet, "/_players/hls.js", nil)); got != "hls" {
		t.Errorf("mounted file = %q", got)
	}
	if got := body(t, do(t, h, http.MethodGet, "/_players/inner/x.js", nil)); got != "inner" {
		t.Errorf("nested mount = %q", got)
	}
	if resp := do(t, h, http.MethodGet, "/_players/../master.m3u8", nil); resp.StatusCode == http.StatusOK {
		t.Errorf("traversal out of a mount: status %d", resp.StatusCode)
	}
}

func TestFindManifestsBounded(t *testing.T) {
	fsys := fstest.MapFS{}
	for i := range 50 {
		fsys[fmt.Sprintf("d%02d/manifest.mpd", i)] = &fstest.MapFile{Data: []byte("<MPD/>")}
	}
	ms, truncated, err := FindManifests(fsys, 1000, 10)
	if err != nil || len(ms) != 10 || !truncated {
		t.Errorf("maxFound: %d manifests, truncated %v, err %v", len(ms), truncated, err)
	}
	ms, truncated, err = FindManifests(fsys, 20, 1000)
	if err != nil || len(ms) >= 20 || !truncated {
		t.Errorf("maxWalk: %d manifests, truncated %v, err %v", len(ms), truncated, err)
	}
	ms, truncated, err = FindManifests(fsys, 1000, 1000)
	if err != nil || len(ms) != 50 || truncated || ms[0].Path != "d00/manifest.mpd" {
		t.Errorf("unbounded: %d manifests, truncated %v, err %v", len(ms), truncated, err)
	}
}

func TestContentTypeUnknown(t *testing.T) {
	if got := ContentType("a/B.M3U8"); got != "application/vnd.apple.mpegurl" {
		t.Errorf("upper-case extension: %q", got)
	}
	if got := ContentType("noext"); got != "application/octet-stream" {
		t.Errorf("no extension: %q", got)
	}
}

func TestCacheControl(t *testing.T) {
	root := fstest.MapFS{"a.m3u8": {Data: []byte("#EXTM3U\n")}, "v/seg-1.m4s": {Data: []byte("x")}}
	h := NewHandler(root, Config{CacheControl: func(name string) string {
		if strings.HasSuffix(name, ".m4s") {
			return "max-age=86400"
		}
		return ""
	}})
	for name, want := range map[string]string{"/a.m3u8": "no-cache", "/v/seg-1.m4s": "max-age=86400"} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", name, nil)
		req.Host = "127.0.0.1:8080"
		h.ServeHTTP(rec, req)
		if got := rec.Header().Get("Cache-Control"); rec.Code != 200 || got != want {
			t.Errorf("%s: %d, Cache-Control %q, want %q", name, rec.Code, got, want)
		}
	}
}

// TestSmoothObjects serves a Smooth Streaming output, whose client
// manifest and fragments have no extension, with CORS and the media types
// clients expect, and still nothing else without an extension.
func TestSmoothObjects(t *testing.T) {
	root := fstest.MapFS{
		"ss/Manifest": {Data: []byte("<SmoothStreamingMedia/>")},
		"ss/QualityLevels(800000)/Fragments(video=60060)": {Data: []byte("moof")},
		"ss/QualityLevels(800000)/notes":                  {Data: []byte("secret")},
		"ss/Fragments(video=0)":                           {Data: []byte("stray")},
	}
	h := Handler(root)
	for target, want := range map[string]string{
		"/ss/Manifest": "text/xml; charset=utf-8",
		"/ss/QualityLevels(800000)/Fragments(video=60060)": "video/mp4",
	} {
		resp := do(t, h, http.MethodGet, target, nil)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != want || resp.Header.Get("Access-Control-Allow-Origin") == "" {
			t.Errorf("GET %s: status %d, Content-Type %q, CORS %q; want 200 %q with CORS", target, resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Access-Control-Allow-Origin"), want)
		}
	}
	for _, target := range []string{"/ss/QualityLevels(800000)/notes", "/ss/Fragments(video=0)"} {
		if resp := do(t, h, http.MethodGet, target, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", target, resp.StatusCode)
		}
	}
}

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

// exposedDir makes an output directory holding, beside a small HLS output,
// what must not leak: dot-files, files of other types, an index.html, and
// symbolic links out of the directory. outside is the directory the links
// point into.
func exposedDir(t *testing.T) (dir, outside string) {
	t.Helper()
	dir, outside = t.TempDir(), t.TempDir()
	files := map[string]string{
		"master.m3u8":              multivariant,
		"video/360p.m3u8":          mediaPlaylist,
		"video/seg-1.m4s":          "segment",
		"video/init.mp4":           "init",
		"subs/en.vtt":              "WEBVTT\n",
		".env":                     "SECRET=1",
		".git/config":              "[core]",
		".git/HEAD.m3u8":           "#EXTM3U",
		"video/.hidden.m4s":        "hidden",
		".cmafkit-tmp-seg-2.m4s.1": "half",
		"notes.txt":                "notes",
		"config.json":              "{}",
		"page.html":                "<script>fetch('/')</script>",
		"index.html":               "<script>mine</script>",
		"keys/video.key":           "0123456789abcdef",
		"tool.sh":                  "rm -rf",
		"inside.mp4":               "inside",
	}
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(outside, "secret.mp4"), []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{
		"link.mp4":       filepath.Join(outside, "secret.mp4"),
		"linkdir":        outside,
		"inlink.mp4":     "inside.mp4", // a link within the directory is fine
		"video/up.m3u8":  "../../" + filepath.Base(outside) + "/secret.mp4",
		"dangling.m3u8":  filepath.Join(outside, "missing.m3u8"),
		"linkdir2/x.mpd": filepath.Join(outside, "secret.mp4"),
	} {
		p := filepath.Join(dir, filepath.FromSlash(link))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, p); err != nil {
			t.Skipf("symlinks: %v", err)
		}
	}
	return dir, outside
}

// rawRequest sends target verbatim (no client-side cleaning or escaping)
// with the given Host header and returns the response.
func rawRequest(t *testing.T, addr, method, target, host string, hdr map[string]string) *http.Response {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n", method, target, host)
	for k, v := range hdr {
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(c, b.String()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	return resp
}

// serveExposed serves exposedDir with cfg on a local listener.
func serveExposed(t *testing.T, cfg Config) (addr string) {
	t.Helper()
	dir, _ := exposedDir(t)
	root, err := Dir(dir)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(NewHandler(root, cfg))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// TestServeOnlyMedia: the directory serves manifests, media and HLS key
// files only; dot files and directories, other file types and a directory's
// own index.html are not found, and "/" is always the built-in preview.
func TestServeOnlyMedia(t *testing.T) {
	addr := serveExposed(t, Config{})
	for target, want := range map[string]int{
		"/master.m3u8":                  200,
		"/video/360p.m3u8":              200,
		"/video/seg-1.m4s":              200,
		"/video/init.mp4":               200,
		"/subs/en.vtt":                  200,
		"/inlink.mp4":                   200,
		"/.env":                         404,
		"/.git/config":                  404,
		"/.git/HEAD.m3u8":               404,
		"/video/.hidden.m4s":            404,
		"/.cmafkit-tmp-seg-2.m4s.1":     404,
		"/%2eenv":                       404,
		"/video/%2ehidden.m4s":          404,
		"/notes.txt":                    404,
		"/config.json":                  404,
		"/page.html":                    404,
		"/tool.sh":                      404,
		"/keys/video.key":               200, // same-origin only: see TestServeHeaders
		"/_cmafkit/../.env":             400,
		"/_cmafkit/.hidden":             404,
		"/_cmafkit/shaka-player.ui.js":  200,
		"/index.html?x=1":               200, // the preview, not the directory's file
		"/?play=master.m3u8":            200,
		"/video/":                       404,
		"/video%2fseg-1.m4s":            200, // an escaped slash is a slash
		"/%2e%2e/%2e%2e/etc/passwd":     400,
		"/..%2f..%2fetc/passwd":         400,
		"/video/..%2f..%2f.env":         400,
		"/%2e%2e%2f%2e%2e%2fetc/passwd": 400,
	} {
		resp := rawRequest(t, addr, http.MethodGet, target, addr, nil)
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Errorf("GET %s: status %d, want %d", target, resp.StatusCode, want)
		}
		for _, leak := range []string{"SECRET", "[core]", "<script>", "rm -rf", "0123456789abcdef", "notes"} {
			if want != 200 && strings.Contains(string(b), leak) {
				t.Errorf("GET %s: body leaks %q", target, leak)
			}
		}
	}
	resp := rawRequest(t, addr, http.MethodGet, "/", addr, nil)
	if b, _ := io.ReadAll(resp.Body); strings.Contains(string(b), "<script>mine</script>") || !strings.Contains(string(b), "data-shaka-player") {
		t.Errorf("GET / did not show the built-in preview")
	}
}

// TestServeSymlinksOut: links out of the directory are forbidden (403),
// not an internal error, and never serve what they point at.
func TestServeSymlinksOut(t *testing.T) {
	addr := serveExposed(t, Config{})
	for _, target := range []string{"/link.mp4", "/linkdir/secret.mp4", "/video/up.m3u8", "/linkdir2/x.mpd", "/dangling.m3u8"} {
		resp := rawRequest(t, addr, http.MethodGet, target, addr, nil)
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusForbidden || strings.Contains(string(b), "secret") {
			t.Errorf("GET %s: status %d, want 403 (body %q)", target, resp.StatusCode, b)
		}
	}
}

// TestServeNUL: a NUL (or other control character) in the path is a bad
// request, not a file system error.
func TestServeNUL(t *testing.T) {
	addr := serveExposed(t, Config{})
	for _, target := range []string{"/master.m3u8%00", "/master%00.m3u8", "/%00", "/video/seg-1.m4s%00.txt", "/a%0a.mpd", "/_cmafkit/preview.js%00"} {
		if resp := rawRequest(t, addr, http.MethodGet, target, addr, nil); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("GET %s: status %d, want 400", target, resp.StatusCode)
		}
	}
}

// TestServeHostCheck: requests must name the server by an allowed host, so
// a page on another name that resolves to this machine (DNS rebinding)
// cannot read the directory. By default the loopback names are allowed on
// any port.
func TestServeHostCheck(t *testing.T) {
	addr := serveExposed(t, Config{})
	_, port, _ := net.SplitHostPort(addr)
	for host, want := range map[string]int{
		"127.0.0.1:" + port:   200,
		"localhost:" + port:   200,
		"LocalHost:" + port:   200,
		"localhost.:" + port:  200,
		"[::1]:" + port:       200,
		"localhost":           200,
		"127.0.0.1:1":         200,
		"evil.test":           403,
		"evil.test:" + port:   403,
		"127.0.0.1.evil.test": 403,
		"localhost.evil.test": 403,
		"10.0.0.1:" + port:    403,
		"":                    403,
	} {
		for _, target := range []string{"/master.m3u8", "/", "/_cmafkit/preview.js"} {
			resp := rawRequest(t, addr, http.MethodGet, target, host, nil)
			if resp.StatusCode != want {
				t.Errorf("GET %s with Host %q: status %d, want %d", target, host, resp.StatusCode, want)
			}
		}
	}

	addr = serveExposed(t, Config{AllowedHosts: []string{"127.0.0.1:8080", "Media.LAN", "[::1]:9"}})
	for host, want := range map[string]int{
		"127.0.0.1:8080": 200,
		"127.0.0.1:8081": 403,
		"127.0.0.1":      403,
		"media.lan:1234": 200,
		"media.lan":      200,
		"[::1]:9":        200,
		"[::1]:10":       403,
		"localhost:8080": 403,
		"evil.test":      403,
	} {
		if resp := rawRequest(t, addr, http.MethodGet, "/master.m3u8", host, nil); resp.StatusCode != want {
			t.Errorf("allowed hosts set: Host %q: status %d, want %d", host, resp.StatusCode, want)
		}
	}
	addr = serveExposed(t, Config{AllowedHosts: []string{"*"}})
	if resp := rawRequest(t, addr, http.MethodGet, "/master.m3u8", "anything.test", nil); resp.StatusCode != 200 {
		t.Errorf(`AllowedHosts "*": status %d`, resp.StatusCode)
	}
}

// TestServeHeaders: CORS headers go with media and manifests only (and
// their preflight), not with key files, which only the server's own pages
// may read; every response says nosniff.
func TestServeHeaders(t *testing.T) {
	addr := serveExposed(t, Config{})
	origin := map[string]string{"Origin": "http://player.example"}
	for _, c := range []struct {
		method, target, host string
		cors                 bool
	}{
		{"GET", "/master.m3u8", addr, true},
		{"GET", "/video/seg-1.m4s", addr, true},
		{"HEAD", "/video/init.mp4", addr, true},
		{"GET", "/video/seg-9.m4s", addr, true}, // a missing segment: the player may read the 404
		{"OPTIONS", "/video/seg-1.m4s", addr, true},
		{"GET", "/", addr, false},
		{"GET", "/?play=master.m3u8", addr, false},
		{"OPTIONS", "/", addr, false},
		{"GET", "/_cmafkit/preview.js", addr, false},
		{"GET", "/keys/video.key", addr, false},
		{"OPTIONS", "/keys/video.key", addr, false},
		{"GET", "/notes.txt", addr, false},
		{"GET", "/.env", addr, false},
		{"OPTIONS", "/.env", addr, false},
		{"GET", "/link.mp4", addr, false},
		{"GET", "/%2e%2e/x.mp4", addr, false},
		{"GET", "/x%00.mp4", addr, false},
		{"GET", "/master.m3u8", "evil.test", false},
		{"POST", "/master.m3u8", addr, false},
	} {
		resp := rawRequest(t, addr, c.method, c.target, c.host, origin)
		what := fmt.Sprintf("%s %s (Host %s, status %d)", c.method, c.target, c.host, resp.StatusCode)
		if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options %q", what, got)
		}
		acao := resp.Header.Get("Access-Control-Allow-Origin")
		if c.cors && acao != "*" {
			t.Errorf("%s: Access-Control-Allow-Origin %q, want *", what, acao)
		}
		if !c.cors && acao != "" {
			t.Errorf("%s: Access-Control-Allow-Origin %q, want none", what, acao)
		}
	}
}

// TestMountsRefuseDotFiles: mounted trees (the player test pages) follow
// the same path rules, without the media-only rule.
func TestMountsRefuseDotFiles(t *testing.T) {
	h := NewHandler(fstest.MapFS{}, Config{Mounts: map[string]fs.FS{"/_pt/": fstest.MapFS{
		"page.html": {Data: []byte("page")},
		".npmrc":    {Data: []byte("token")},
		".bin/x.js": {Data: []byte("x")},
	}}})
	for target, want := range map[string]int{"/_pt/page.html": 200, "/_pt/.npmrc": 404, "/_pt/.bin/x.js": 404} {
		resp := do(t, h, http.MethodGet, target, nil)
		if resp.StatusCode != want {
			t.Errorf("GET %s: status %d, want %d", target, resp.StatusCode, want)
		}
		if resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("GET %s: CORS on a mounted file", target)
		}
	}
}

// TestListenHosts: the Host values allowed for the address a server
// listens on.
func TestListenHosts(t *testing.T) {
	for addr, want := range map[string][]string{
		"127.0.0.1:8080":   {"localhost:8080", "127.0.0.1:8080"},
		"127.0.0.2:8080":   {"localhost:8080", "127.0.0.2:8080"},
		"[::1]:8080":       {"localhost:8080", "[::1]:8080"},
		"192.168.1.5:8080": {"192.168.1.5:8080"},
		"[2001:db8::1]:80": {"[2001:db8::1]:80"},
	} {
		tcp, err := net.ResolveTCPAddr("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		got := ListenHosts(tcp)
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("ListenHosts(%s) = %q, want %q", addr, got, want)
		}
	}
	// An unspecified address is reached through loopback and every local
	// interface address.
	got := ListenHosts(&net.TCPAddr{IP: net.IPv4zero, Port: 80})
	if len(got) < 3 || got[0] != "localhost:80" || got[1] != "127.0.0.1:80" || got[2] != "[::1]:80" {
		t.Errorf("ListenHosts(0.0.0.0:80) = %q", got)
	}
}

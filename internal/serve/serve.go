// Package serve is the HTTP side of `cmafkit serve`: it serves a packaged
// output tree to browser players on the local machine.
//
// The handler serves manifests, media and HLS key files only (chosen by
// file extension: see IsMedia), sets the media types players expect,
// answers Range requests (single-file outputs are addressed by byte range),
// and shows a preview page at "/" that lists the manifests it finds and
// plays the chosen one with Shaka Player, which is embedded in the binary
// so that no network access is needed.
//
// Any web page the user visits can send requests to a local server, so the
// handler exposes no more than a player needs: media and manifest
// responses carry permissive CORS headers (the page playing the stream may
// come from another origin, such as a hosted player demo) and nothing else
// does, key files included, which only this server's pages may read;
// dot-files and dot-directories (.git, .env, temporary files of a running
// job) and every other file type are not found; requests must name the
// server by an allowed host (Config.AllowedHosts), which defeats DNS
// rebinding; paths with "..", NUL or other control characters are refused,
// and so are symbolic links out of the served directory. Every response
// says X-Content-Type-Options: nosniff.
package serve

import (
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/cmafkit/cmafkit/internal/httpx"
)

// AssetPrefix is the URL path under which the preview page's own files (the
// embedded player, its stylesheet and licence) are served. Paths under it never
// reach the served directory.
const AssetPrefix = "/_cmafkit/"

// Config configures a handler. The zero value serves the directory, the
// preview page and the embedded player, and logs nothing.
type Config struct {
	// Mounts serves extra file systems under URL path prefixes, for example a
	// node_modules tree with test players under "/_players/". Each key must
	// start and end with "/"; keys that do not are ignored. The longest
	// matching prefix wins, and a mount shadows the served directory.
	Mounts map[string]fs.FS

	// WHEP is the path of a WHEP endpoint (RFC 9725) on the same server,
	// e.g. "/whep/live": the preview page then offers a WebRTC player for
	// it. Empty means none.
	WHEP string

	// Logger receives one Debug record per request. Nil logs nothing.
	Logger *slog.Logger

	// MaxManifests bounds how many manifests the preview page lists and
	// MaxWalk how many directory entries it visits to find them, so that
	// serving a huge tree stays cheap. Zero means 200 and 20000.
	MaxManifests int
	MaxWalk      int

	// AllowedHosts lists the values of the Host header that requests may
	// carry: "name" or an IP address for any port, "name:port" or
	// "[ipv6]:port" for one port, "*" for any host. Names are compared
	// without case and without a trailing dot. Requests naming another host
	// are refused (403), so that a page on a name that resolves to this
	// machine cannot read the directory (DNS rebinding). Empty means
	// localhost, 127.0.0.1 and ::1 on any port; see ListenHosts for the
	// hosts of a listener.
	AllowedHosts []string

	// CacheControl returns the Cache-Control header of a served file
	// (name is its slash-separated path in the root). Nil, or an empty
	// result, means "no-cache": a tree being re-packaged is revalidated.
	// A live origin gives manifests a short max-age and segments a long one.
	CacheControl func(name string) string
}

// Handler returns a handler serving root with the zero Config.
func Handler(root fs.FS) http.Handler {
	return NewHandler(root, Config{})
}

// NewHandler returns a handler serving root as configured by cfg.
//
// Files must implement io.Seeker (those of os.DirFS, os.Root.FS, embed.FS and
// fstest.MapFS do) so that Range requests can be answered. Directories are
// not listed; "/" and "/index.html" show the preview page unless root has its
// own index.html.
func NewHandler(root fs.FS, cfg Config) http.Handler {
	h := &handler{root: root, cfg: cfg}
	if h.cfg.MaxManifests <= 0 {
		h.cfg.MaxManifests = 200
	}
	if h.cfg.MaxWalk <= 0 {
		h.cfg.MaxWalk = 20000
	}
	for p, fsys := range cfg.Mounts {
		if len(p) < 2 || !strings.HasPrefix(p, "/") || !strings.HasSuffix(p, "/") || fsys == nil {
			continue
		}
		h.mounts = append(h.mounts, mount{prefix: p, fsys: fsys})
	}
	// Longest prefix first so that nested mounts resolve to the innermost one.
	sort.Slice(h.mounts, func(i, j int) bool { return len(h.mounts[i].prefix) > len(h.mounts[j].prefix) })
	hosts := cfg.AllowedHosts
	if len(hosts) == 0 {
		hosts = []string{"localhost", "127.0.0.1", "::1"}
	}
	for _, a := range hosts {
		if a == "*" {
			h.anyHost = true
			continue
		}
		name, port := splitHost(a)
		h.hosts = append(h.hosts, hostPort{name, port})
	}
	return h
}

// hostPort is an allowed host; an empty port allows any.
type hostPort struct{ name, port string }

// splitHost splits a Host header value (or an AllowedHosts entry) into a
// normalised name (lower case, no trailing dot, no IPv6 brackets) and a
// port, empty when there is none.
func splitHost(hostport string) (name, port string) {
	name = hostport
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		name, port = h, p
	} else {
		name = strings.TrimSuffix(strings.TrimPrefix(name, "["), "]")
	}
	return strings.TrimSuffix(strings.ToLower(name), "."), port
}

// hostAllowed reports whether the request's Host header names this server.
func (h *handler) hostAllowed(host string) bool {
	if h.anyHost {
		return true
	}
	if host == "" {
		return false
	}
	name, port := splitHost(host)
	for _, a := range h.hosts {
		if a.name == name && (a.port == "" || a.port == port) {
			return true
		}
	}
	return false
}

// ListenHosts returns the Host values ("host:port") by which a browser on
// this machine reaches a server listening on addr: for a loopback address
// localhost and that address; for an unspecified one (0.0.0.0, ::)
// localhost, 127.0.0.1, ::1 and every address of the machine's interfaces;
// otherwise the address itself. Use it for Config.AllowedHosts.
func ListenHosts(addr net.Addr) []string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return nil
	}
	ip := net.ParseIP(host)
	var out []string
	add := func(h string) {
		hp := net.JoinHostPort(h, port)
		for _, o := range out {
			if o == hp {
				return
			}
		}
		out = append(out, hp)
	}
	switch {
	case ip == nil:
		add(host)
	case ip.IsLoopback():
		add("localhost")
		add(ip.String())
	case ip.IsUnspecified():
		add("localhost")
		add("127.0.0.1")
		add("::1")
		addrs, _ := net.InterfaceAddrs()
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.To16() != nil && !n.IP.IsLinkLocalUnicast() {
				add(n.IP.String())
			}
		}
	default:
		add(ip.String())
	}
	return out
}

// Dir opens dir for serving. Unlike os.DirFS, the returned file system refuses
// symbolic links that point outside dir, so a link in an output tree cannot
// expose the rest of the machine.
func Dir(dir string) (fs.FS, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	return r.FS(), nil
}

type mount struct {
	prefix string
	fsys   fs.FS
}

type handler struct {
	root    fs.FS
	cfg     Config
	mounts  []mount
	hosts   []hostPort
	anyHost bool
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	h.serve(rec, r)
	if h.cfg.Logger != nil {
		h.cfg.Logger.Debug("serve", "method", r.Method, "path", r.URL.Path,
			"range", r.Header.Get("Range"), "status", rec.status, "elapsed", time.Since(start))
	}
}

func (h *handler) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if !h.hostAllowed(r.Host) {
		http.Error(w, "host not allowed (see cmafkit serve --allow-host)", http.StatusForbidden)
		return
	}
	p := r.URL.Path
	if !strings.HasPrefix(p, "/") || hasControl(p) || containsDotDot(p) {
		http.Error(w, "bad path", http.StatusBadRequest)
		return
	}
	if hasDotElement(p) {
		http.NotFound(w, r)
		return
	}

	// What the path names: an asset, a mounted file, the preview page or a
	// file of the served directory, which must be a manifest or media.
	var fsys fs.FS
	var name string
	var cacheControl func(string) string // the configured one, for files of the root only
	media := false
	switch {
	case strings.HasPrefix(p, AssetPrefix):
		sub, err := fs.Sub(assets, "assets")
		if err != nil { // cannot happen: the directory is embedded
			http.Error(w, "assets missing", http.StatusInternalServerError)
			return
		}
		fsys, name = sub, strings.TrimPrefix(p, AssetPrefix)
	case p == "/" || p == "/index.html":
		// The preview page, whatever the directory holds: an HTML file of
		// its own would run with this server's origin.
	default:
		fsys, name = h.root, strings.TrimPrefix(p, "/")
		cacheControl = h.cfg.CacheControl
		media = IsMedia(name)
		key := isKeyFile(name)
		mounted := false
		for _, m := range h.mounts {
			if strings.HasPrefix(p, m.prefix) {
				fsys, name, media, mounted = m.fsys, strings.TrimPrefix(p, m.prefix), false, true
				cacheControl = nil
				break
			}
		}
		if !mounted && !media && !key {
			http.NotFound(w, r)
			return
		}
	}

	// Manifests and media are readable from other origins (a player page
	// elsewhere); the preview page, assets and mounts are not.
	var cors *httpx.CORS
	if media {
		cors = httpx.MediaCORS
	}
	if !httpx.ReadOnly(w, r, cors) {
		return
	}
	if fsys == nil {
		h.servePreview(w, r)
		return
	}
	serveFile(w, r, fsys, name, cacheControl)
}

// hasControl reports whether p holds a NUL or another control character,
// which no file name of an output has and which file systems refuse.
func hasControl(p string) bool {
	for i := 0; i < len(p); i++ {
		if p[i] < 0x20 || p[i] == 0x7f {
			return true
		}
	}
	return false
}

// hasDotElement reports whether an element of the slash-separated path
// starts with a dot: dot-files and dot-directories (.git, .env, a running
// job's temporary files) are never served.
func hasDotElement(p string) bool {
	return strings.HasPrefix(p, ".") || strings.Contains(p, "/.")
}

// containsDotDot reports whether any element of the slash-separated path is
// "..". Such requests are refused outright rather than cleaned, so a client
// cannot rely on cleaning to reach a different file than it named.
func containsDotDot(p string) bool {
	if !strings.Contains(p, "..") {
		return false
	}
	for _, e := range strings.FieldsFunc(p, func(r rune) bool { return r == '/' || r == '\\' }) {
		if e == ".." {
			return true
		}
	}
	return false
}

// serveFile serves name from fsys with Range support and an explicit media
// type. It never lists directories. CORS headers set by the method preamble
// stay on the file and its absence (404) and are taken off refusals.
func serveFile(w http.ResponseWriter, r *http.Request, fsys fs.FS, name string, cacheControl func(string) string) {
	if name == "" || !fs.ValidPath(name) || strings.Contains(name, "\\") {
		http.NotFound(w, r)
		return
	}
	f, err := fsys.Open(name)
	if err != nil {
		writeFSError(w, r, fsys, name, err)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		writeFSError(w, r, fsys, name, err)
		return
	}
	if fi.IsDir() {
		http.NotFound(w, r)
		return
	}
	rs, ok := f.(io.ReadSeeker)
	if !ok {
		http.Error(w, "file does not support seeking", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", ContentType(name))
	// Output trees change under a running preview while re-packaging; make the
	// browser revalidate rather than play a stale manifest.
	cc := "no-cache"
	if cacheControl != nil {
		if v := cacheControl(name); v != "" {
			cc = v
		}
	}
	w.Header().Set("Cache-Control", cc)
	http.ServeContent(w, r, name, fi.ModTime(), rs)
}

func writeFSError(w http.ResponseWriter, r *http.Request, fsys fs.FS, name string, err error) {
	if errors.Is(err, fs.ErrNotExist) {
		http.NotFound(w, r)
		return
	}
	unsetCORS(w.Header())
	switch {
	case errors.Is(err, fs.ErrPermission), errors.Is(err, fs.ErrInvalid), throughSymlink(fsys, name):
		// os.Root refuses symbolic links out of the directory with an
		// error of its own ("path escapes from parent").
		http.Error(w, "forbidden", http.StatusForbidden)
	default:
		http.Error(w, "cannot read file", http.StatusInternalServerError)
	}
}

// throughSymlink reports whether name, or a directory on its way, is a
// symbolic link in fsys.
func throughSymlink(fsys fs.FS, name string) bool {
	rl, ok := fsys.(fs.ReadLinkFS)
	if !ok {
		return false
	}
	for p := name; p != "." && p != ""; p = path.Dir(p) {
		if fi, err := rl.Lstat(p); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return true
		}
	}
	return false
}

func unsetCORS(h http.Header) {
	h.Del("Access-Control-Allow-Origin")
	h.Del("Access-Control-Expose-Headers")
}

// contentTypes maps lower-case file extensions to media types. The table is
// fixed rather than taken from mime.TypeByExtension, whose answers depend on
// the machine's /etc/mime.types.
var contentTypes = map[string]string{
	".m3u8": "application/vnd.apple.mpegurl",
	".m3u":  "application/vnd.apple.mpegurl",
	".mpd":  "application/dash+xml",
	".mp4":  "video/mp4",
	".m4s":  "video/mp4", // MSE takes codecs from the manifest; video/mp4 is accepted for audio fragments too
	".m4v":  "video/mp4",
	".m4i":  "video/mp4",
	".cmfv": "video/mp4",
	".m4a":  "audio/mp4",
	".cmfa": "audio/mp4",
	".cmft": "application/mp4",
	".mp4a": "audio/mp4",
	".ts":   "video/mp2t",
	".aac":  "audio/aac",
	".ac3":  "audio/ac3",
	".ec3":  "audio/eac3",
	".mp3":  "audio/mpeg",
	".vtt":  "text/vtt; charset=utf-8",
	".ttml": "application/ttml+xml",
	".dfxp": "application/ttml+xml",
	".html": "text/html; charset=utf-8",
	".htm":  "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".mjs":  "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".json": "application/json",
	".map":  "application/json",
	".xml":  "application/xml",
	".txt":  "text/plain; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".jpg":  "image/jpeg",
	".jpeg": "image/jpeg",
	".wasm": "application/wasm",
	".key":  "application/octet-stream",
}

// mediaExts are the lower-case extensions of the files served from the
// directory with CORS headers: manifests, media segments and subtitles.
var mediaExts = map[string]bool{
	".m3u8": true, ".mpd": true,
	".mp4": true, ".m4s": true, ".m4v": true, ".m4a": true, ".cmfv": true, ".cmfa": true, ".cmft": true,
	".ts": true, ".aac": true, ".ac3": true, ".ec3": true, ".mp3": true,
	".vtt": true, ".ttml": true, ".dfxp": true,
}

// IsMedia reports whether name is a manifest, media segment or subtitle
// file by its extension. The directory serves these, to any origin, and HLS
// key files, to this server's own pages only.
func IsMedia(name string) bool {
	return mediaExts[strings.ToLower(path.Ext(name))] || smoothType(name) != ""
}

// smoothType returns the media type of a Smooth Streaming object, which
// has no extension: the client manifest ("Manifest") or a fragment
// (".../QualityLevels(bitrate)/Fragments(stream=time)", as package
// manifest/smooth names them); "" for any other name.
func smoothType(name string) string {
	base := path.Base(name)
	if base == "Manifest" {
		return "text/xml; charset=utf-8"
	}
	dir := path.Base(path.Dir(name))
	if strings.HasPrefix(base, "Fragments(") && strings.HasSuffix(base, ")") && strings.Contains(base, "=") &&
		strings.HasPrefix(dir, "QualityLevels(") && strings.HasSuffix(dir, ")") {
		return "video/mp4"
	}
	return ""
}

// isKeyFile reports whether name is an HLS key file (an EXT-X-KEY URI such
// as "key.key"). Key files are served without CORS headers, so that the
// preview can play streams encrypted with them but pages of other origins
// cannot read the keys.
func isKeyFile(name string) bool {
	return strings.EqualFold(path.Ext(name), ".key")
}

// ContentType returns the media type served for a file name, chosen by its
// extension, or application/octet-stream when the extension is unknown.
func ContentType(name string) string {
	if ct, ok := contentTypes[strings.ToLower(path.Ext(name))]; ok {
		return ct
	}
	if ct := smoothType(name); ct != "" {
		return ct
	}
	if strings.EqualFold(path.Base(name), "LICENSE") {
		return "text/plain; charset=utf-8"
	}
	return "application/octet-stream"
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Package serve is the HTTP side of `cmafkit serve`: it serves a packaged
// output tree to browser players on the local machine.
//
// The handler sets the media types players expect (browsers and MSE players
// look at them for manifests and subtitles), answers Range requests (single-file
// outputs are addressed by byte range), sends permissive CORS headers (the page
// playing the stream may come from another origin, e.g. a hosted player demo),
// and shows a preview page at "/" that lists the manifests it finds and plays the
// chosen one with Shaka Player, which is embedded in the binary so that no
// network access is needed.
package serve

import (
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path"
	"sort"
	"strings"
	"time"
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

	// Logger receives one Debug record per request. Nil logs nothing.
	Logger *slog.Logger

	// MaxManifests bounds how many manifests the preview page lists and
	// MaxWalk how many directory entries it visits to find them, so that
	// serving a huge tree stays cheap. Zero means 200 and 20000.
	MaxManifests int
	MaxWalk      int

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
	return h
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
	root   fs.FS
	cfg    Config
	mounts []mount
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
	setCORS(w.Header())
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodOptions:
		// CORS preflight: players send Range, which is not a simple header.
		w.Header().Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
		w.Header().Set("Access-Control-Allow-Headers", "Range, Content-Type, Accept, Origin, If-Modified-Since, If-None-Match, If-Range")
		w.Header().Set("Access-Control-Max-Age", "86400")
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		w.Header().Set("Allow", "GET, HEAD, OPTIONS")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}

	p := r.URL.Path
	if !strings.HasPrefix(p, "/") || containsDotDot(p) {
		http.Error(w, "bad path", http.StatusBadRequest)
		return
	}
	if strings.HasPrefix(p, AssetPrefix) {
		h.serveAsset(w, r, strings.TrimPrefix(p, AssetPrefix))
		return
	}
	for _, m := range h.mounts {
		if strings.HasPrefix(p, m.prefix) {
			serveFile(w, r, m.fsys, strings.TrimPrefix(p, m.prefix), nil)
			return
		}
	}
	name := strings.TrimPrefix(p, "/")
	if name == "" || name == "index.html" {
		if _, err := fs.Stat(h.root, "index.html"); err != nil {
			h.servePreview(w, r)
			return
		}
		name = "index.html"
	}
	serveFile(w, r, h.root, name, h.cfg.CacheControl)
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
// type. It never lists directories.
func serveFile(w http.ResponseWriter, r *http.Request, fsys fs.FS, name string, cacheControl func(string) string) {
	if name == "" || !fs.ValidPath(name) || strings.Contains(name, "\\") {
		http.NotFound(w, r)
		return
	}
	f, err := fsys.Open(name)
	if err != nil {
		writeFSError(w, r, err)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		writeFSError(w, r, err)
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

func writeFSError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		http.NotFound(w, r)
	case errors.Is(err, fs.ErrPermission), errors.Is(err, fs.ErrInvalid):
		// os.Root reports escaping symlinks as invalid or permission errors.
		http.Error(w, "forbidden", http.StatusForbidden)
	default:
		http.Error(w, "cannot read file", http.StatusInternalServerError)
	}
}

func setCORS(h http.Header) {
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Expose-Headers", "Content-Length, Content-Range, Accept-Ranges, Content-Type")
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

// ContentType returns the media type served for a file name, chosen by its
// extension, or application/octet-stream when the extension is unknown.
func ContentType(name string) string {
	if ct, ok := contentTypes[strings.ToLower(path.Ext(name))]; ok {
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

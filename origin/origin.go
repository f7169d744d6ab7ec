// Package origin packages titles just in time: an http.Handler that serves
// the HLS and DASH manifests, init segments and media segments of MP4
// files kept in a directory or a blob bucket, clear or encrypted, as they
// are requested, with the bytes that `cmafkit package` writes for the same
// inputs and options (it runs the packager's own code: packager.Prepare).
//
// A title is one MP4 or fragmented MP4 file, or a JSON title file naming
// the renditions, audio languages and subtitles of one ladder (see
// TitleFile). Its objects are under its path:
//
//	/movies/a.mp4/master.m3u8
//	/movies/a.mp4/manifest.mpd
//	/movies/a.mp4/video_720p_avc/seg-1.m4s   (as the manifests name them)
//	/cbcs/movies/a.mp4/master.m3u8           (encrypted, with Config.Keys)
//	/movies/a.mp4/smooth/Manifest            (Smooth Streaming, with Config.Smooth)
//
// Opening a title reads its sample tables, not its media; a segment is
// read from the source by byte range and written from the index alone, so
// a first request costs one open and one segment's reads. Manifests need
// every segment's size and are rendered once per opened title. Opened
// titles are kept in a cache bounded in bytes; concurrent requests for one
// title share one open.
//
// The handler is stateless otherwise: any number of instances behind a CDN
// serve the same titles from the same source with the same bytes and
// ETags. Segments are immutable (Cache-Control: immutable, a year);
// manifests get a short max-age (Config.ManifestMaxAge) since a source may
// be replaced, and a title whose files changed is reopened.
package origin

import (
	"bytes"
	"compress/gzip"
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/cmafkit/cmafkit/drm"
	"github.com/cmafkit/cmafkit/internal/httpx"
	"github.com/cmafkit/cmafkit/internal/serve"
	"github.com/cmafkit/cmafkit/packager"
	"github.com/cmafkit/cmafkit/steering"
)

// Config configures an origin. Source is required.
type Config struct {
	// Source holds the titles.
	Source Source

	// Keys, when set, enables encryption: a request path starting with
	// "/cenc/" or "/cbcs/" gets the title encrypted with that scheme, and
	// other requests are encrypted as the title file or Encryption says.
	// (Top-level directories named cenc or cbcs then hold no titles.)
	Keys Keys
	// Encryption is the scheme of titles requested without one and whose
	// title file names none: drm.SchemeCENC, drm.SchemeCBCS, or empty for
	// clear. It needs Keys.
	Encryption drm.Scheme
	// Signaling selects the DRM systems signalled; none means ClearKey.
	Signaling drm.SignalingOptions

	// SegmentDuration is the target segment duration (default 4 s, as
	// packager.Job).
	SegmentDuration time.Duration

	// CacheBytes bounds the memory of opened titles (their indexes, object
	// tables and rendered manifests, as estimated); zero means 256 MiB.
	CacheBytes int64
	// ManifestMaxAge is the Cache-Control max-age of manifests; zero means
	// 10 s, and it is also how often a title's files are checked for change.
	ManifestMaxAge time.Duration
	// RenderParallelism bounds the tracks written at once when a title's
	// manifests are rendered (packager.Job.Parallelism); zero means all cores.
	RenderParallelism int

	// Smooth also serves each title as Microsoft Smooth Streaming: the
	// client manifest at {title}/smooth/Manifest and its fragments at
	// {title}/smooth/QualityLevels({bitrate})/Fragments({type}={time}),
	// with the bytes of `cmafkit package --smooth`. Titles that Smooth
	// cannot carry (a codec other than H.264 or AAC, cbcs, cenc without
	// PlayReady in Signaling or with a key per track) are still served as
	// HLS and DASH; their Smooth URLs answer 409 Conflict naming why.
	// Rendering a title's manifests then also sizes its Smooth fragments.
	Smooth bool

	// Steering, when set, adds content steering to the multivariant
	// playlists and MPDs: each pathway's BaseURL is where that CDN serves
	// this origin's root (the title's path is appended). See package
	// steering for the steering server.
	Steering *steering.Config

	// Logger receives one Info record per request (method, path, status,
	// bytes, duration) and the errors of titles that cannot be packaged;
	// nil logs nothing. Keys never reach it.
	Logger *slog.Logger
}

// New returns the origin's handler.
func New(cfg Config) (http.Handler, error) {
	if cfg.Source == nil {
		return nil, errors.New("origin: no source")
	}
	switch cfg.Encryption {
	case "":
	case drm.SchemeCENC, drm.SchemeCBCS:
		if cfg.Keys == nil {
			return nil, fmt.Errorf("origin: encryption %s without keys", cfg.Encryption)
		}
	default:
		return nil, fmt.Errorf("origin: encryption %q: want cenc or cbcs", cfg.Encryption)
	}
	if cfg.CacheBytes <= 0 {
		cfg.CacheBytes = 256 << 20
	}
	if cfg.ManifestMaxAge <= 0 {
		cfg.ManifestMaxAge = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Steering != nil {
		if err := cfg.Steering.Check(); err != nil {
			return nil, err
		}
	}
	return &handler{cfg: cfg, cache: newTitleCache(cfg.CacheBytes), failed: map[string]failure{}}, nil
}

type handler struct {
	cfg   Config
	cache *titleCache

	// failed remembers, for ManifestMaxAge, titles that could not be
	// opened, so a missing or corrupt title requested again and again
	// is not looked for or parsed again and again.
	failMu sync.Mutex
	failed map[string]failure
}

type failure struct {
	err error
	at  time.Time
}

// maxFailures bounds the failures remembered.
const maxFailures = 4096

func (h *handler) failure(key string) error {
	h.failMu.Lock()
	defer h.failMu.Unlock()
	f, ok := h.failed[key]
	if !ok {
		return nil
	}
	if time.Since(f.at) >= h.cfg.ManifestMaxAge {
		delete(h.failed, key)
		return nil
	}
	return f.err
}

func (h *handler) remember(key string, err error) {
	h.failMu.Lock()
	defer h.failMu.Unlock()
	if len(h.failed) >= maxFailures {
		for k, f := range h.failed {
			if time.Since(f.at) >= h.cfg.ManifestMaxAge {
				delete(h.failed, k)
			}
		}
		if len(h.failed) >= maxFailures {
			clear(h.failed)
		}
	}
	h.failed[key] = failure{err, time.Now()}
}

// entry is an opened title.
type entry struct {
	key   string
	title *openedTitle
	prep  *packager.Prepared
	etag  string // hex, from the files' versions and the options
	// noSmooth, with Config.Smooth, is why the title is not served as
	// Smooth Streaming (nil when it is).
	noSmooth error
	// Set and read under titleCache.mu.
	el   *list.Element
	refs int
	cost int64

	mu        sync.Mutex
	manifests map[string]*rendered
	checked   time.Time // when the files' versions were last compared
	onClose   func()    // for tests
}

// rendered is a manifest kept in memory, with its gzip form.
type rendered struct {
	raw, gz []byte
}

func (e *entry) close() {
	if e.onClose != nil {
		e.onClose()
	}
	if e.prep != nil {
		e.prep.Close()
	}
	if e.title != nil {
		e.title.close()
	}
}

// target is what a request path names.
type target struct {
	scheme drm.Scheme // from the path; empty when it names none
	title  string     // the title's path in the source
	object string     // the object's name within the title
}

// errBadPath means a malformed request path (400); errNoTitle a path that
// names no title or no object in it (404).
var (
	errBadPath = errors.New("origin: malformed request path")
	errNoTitle = errors.New("origin: no title in the path")
)

// maxPath bounds the length of a request path.
const maxPath = 2048

// parsePath splits an escaped request path into scheme, title and
// object. Paths with "..", "." or empty elements, encoded slashes or
// backslashes, control characters, invalid escapes or UTF-8, or elements
// starting with a dot are malformed: refused, never cleaned.
func parsePath(escaped string, schemes bool) (target, error) {
	if len(escaped) > maxPath || !strings.HasPrefix(escaped, "/") {
		return target{}, errBadPath
	}
	low := strings.ToLower(escaped)
	if strings.Contains(low, "%2f") || strings.Contains(low, "%5c") {
		return target{}, errBadPath
	}
	p, err := url.PathUnescape(escaped)
	if err != nil || !utf8.ValidString(p) {
		return target{}, errBadPath
	}
	els := strings.Split(p[1:], "/")
	for _, e := range els {
		if e == "" || e[0] == '.' || strings.ContainsRune(e, '\\') {
			return target{}, errBadPath
		}
		for i := 0; i < len(e); i++ {
			if e[i] < 0x20 || e[i] == 0x7f {
				return target{}, errBadPath
			}
		}
	}
	var t target
	if schemes && len(els) > 1 {
		switch els[0] {
		case string(drm.SchemeCENC), string(drm.SchemeCBCS):
			t.scheme, els = drm.Scheme(els[0]), els[1:]
		}
	}
	for i, e := range els {
		if isTitleName(e) {
			if i == len(els)-1 {
				return target{}, errNoTitle
			}
			t.title, t.object = strings.Join(els[:i+1], "/"), strings.Join(els[i+1:], "/")
			return t, nil
		}
	}
	return target{}, errNoTitle
}

// hasDotElement reports whether an element of a slash-separated path
// starts with a dot.
func hasDotElement(p string) bool {
	return strings.HasPrefix(p, ".") || strings.Contains(p, "/.")
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	defer rec.closeFiles()
	defer func() {
		v := recover()
		if v != nil && v != http.ErrAbortHandler {
			// No stack trace, in the response or the log.
			h.cfg.Logger.Error("origin: internal error", "path", r.URL.Path, "panic", fmt.Sprint(v))
			if !rec.wrote {
				http.Error(rec, "internal error", http.StatusInternalServerError)
			}
		}
		h.cfg.Logger.Info("origin", "method", r.Method, "path", r.URL.Path, "range", r.Header.Get("Range"),
			"status", rec.status, "bytes", rec.n, "elapsed", time.Since(start), "aborted", v == http.ErrAbortHandler)
		if v == http.ErrAbortHandler {
			panic(v) // net/http closes the connection, quietly
		}
	}()
	h.serve(rec, r)
}

func (h *handler) serve(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("X-Content-Type-Options", "nosniff")
	if !httpx.ReadOnly(w, r, httpx.MediaCORS) {
		return
	}
	t, err := parsePath(r.URL.EscapedPath(), h.cfg.Keys != nil)
	switch {
	case errors.Is(err, errBadPath):
		http.Error(w, "malformed path", http.StatusBadRequest)
		return
	case err != nil:
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	e, err := h.open(r.Context(), t)
	if err != nil {
		h.titleError(w, r, t, err)
		return
	}
	defer h.cache.release(e)
	if e.noSmooth != nil && isSmoothObject(t.object) {
		hd.Set("Cache-Control", "no-store")
		http.Error(w, "no Smooth Streaming for "+t.title+": "+e.noSmooth.Error(), http.StatusConflict)
		return
	}
	if !e.prep.Has(t.object) {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if e.prep.IsManifest(t.object) {
		h.serveManifest(w, r, e, t)
		return
	}
	etag := objectETag(e, t.object, "")
	hd.Set("Content-Type", serve.ContentType(t.object))
	hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	hd.Set("ETag", etag)
	if r.Header.Get("Range") == "" && etagMatch(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	plain := plainGet(r)
	wholeHeader := func(size int64) {
		hd.Set("Content-Length", strconv.FormatInt(size, 10))
		hd.Set("Accept-Ranges", "bytes")
		if !e.title.modTime.IsZero() {
			hd.Set("Last-Modified", e.title.modTime.UTC().Format(http.TimeFormat))
		}
		w.WriteHeader(http.StatusOK)
	}
	if size, ok := e.prep.Size(t.object); ok && plain {
		// The size is known: stream the object, without a buffer.
		wholeHeader(size)
		if r.Method == http.MethodHead {
			return
		}
		if err := e.prep.WriteObject(r.Context(), t.object, w); err != nil {
			if r.Context().Err() == nil {
				h.cfg.Logger.Error("origin: cannot write object", "title", t.title, "object", t.object, "err", err)
			}
			panic(http.ErrAbortHandler) // the client sees a truncated response
		}
		return
	}
	buf := getBuffer()
	defer putBuffer(buf)
	if err := e.prep.WriteObject(r.Context(), t.object, buf); err != nil {
		if r.Context().Err() != nil {
			return
		}
		h.cfg.Logger.Error("origin: cannot write object", "title", t.title, "object", t.object, "err", err)
		hd.Del("ETag")
		hd.Set("Cache-Control", "no-store")
		http.Error(w, "cannot package "+t.object+": "+err.Error(), http.StatusBadGateway)
		return
	}
	if plain {
		// The whole object in one write (http.ServeContent would copy it
		// 32 KiB a write).
		wholeHeader(int64(buf.Len()))
		if r.Method != http.MethodHead {
			w.Write(buf.Bytes())
		}
		return
	}
	http.ServeContent(w, r, "", e.title.modTime, bytes.NewReader(buf.Bytes()))
}

// plainGet reports whether r is a GET or HEAD without a range or a
// condition other than If-None-Match (handled before), which can be
// answered by streaming the whole object.
func plainGet(r *http.Request) bool {
	for _, k := range []string{"Range", "If-Range", "If-Modified-Since", "If-Match", "If-Unmodified-Since"} {
		if r.Header.Get(k) != "" {
			return false
		}
	}
	return true
}

// serveManifest serves a manifest, rendered once per opened title, gzipped
// when the client accepts it and asks for no range.
func (h *handler) serveManifest(w http.ResponseWriter, r *http.Request, e *entry, t target) {
	hd := w.Header()
	m, err := h.manifest(r.Context(), e, t)
	if err != nil {
		if r.Context().Err() != nil {
			return
		}
		h.cfg.Logger.Error("origin: cannot render manifest", "title", t.title, "object", t.object, "err", err)
		hd.Set("Cache-Control", "no-store")
		http.Error(w, "cannot package "+t.object+": "+err.Error(), http.StatusBadGateway)
		return
	}
	hd.Set("Content-Type", serve.ContentType(t.object))
	hd.Set("Cache-Control", "public, max-age="+strconv.Itoa(int(h.cfg.ManifestMaxAge/time.Second)))
	hd.Add("Vary", "Accept-Encoding")
	body := m.raw
	variant := ""
	if r.Header.Get("Range") == "" && acceptsGzip(r.Header.Get("Accept-Encoding")) {
		body, variant = m.gz, "gz"
		hd.Set("Content-Encoding", "gzip")
	}
	etag := objectETag(e, t.object, variant)
	hd.Set("ETag", etag)
	http.ServeContent(w, r, "", e.title.modTime, bytes.NewReader(body))
}

// manifest returns the rendered manifest named by t, with steering added.
func (h *handler) manifest(ctx context.Context, e *entry, t target) (*rendered, error) {
	e.mu.Lock()
	m := e.manifests[t.object]
	e.mu.Unlock()
	if m != nil {
		return m, nil
	}
	var b bytes.Buffer
	if err := e.prep.WriteObject(ctx, t.object, &b); err != nil {
		return nil, err
	}
	raw := b.Bytes()
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	zw.Write(raw)
	zw.Close()
	m = &rendered{raw: raw, gz: gz.Bytes()}
	e.mu.Lock()
	if old := e.manifests[t.object]; old != nil {
		m = old
	} else {
		e.manifests[t.object] = m
		defer h.cache.grow(e, int64(len(m.raw)+len(m.gz)+len(t.object)+64))
	}
	e.mu.Unlock()
	return m, nil
}

// steering returns the content steering of t's manifests: the origin's,
// with each pathway's base URL extended by the title's path.
func (h *handler) steering(t target) *steering.Config {
	if h.cfg.Steering == nil {
		return nil
	}
	prefix := t.title + "/"
	if t.scheme != "" {
		prefix = string(t.scheme) + "/" + prefix
	}
	prefix = (&url.URL{Path: prefix}).EscapedPath()
	c := *h.cfg.Steering
	c.Pathways = nil
	for _, p := range h.cfg.Steering.Pathways {
		if !strings.HasSuffix(p.BaseURL, "/") {
			p.BaseURL += "/"
		}
		p.BaseURL += prefix
		c.Pathways = append(c.Pathways, p)
	}
	return &c
}

// titleError answers a request whose title cannot be opened.
func (h *handler) titleError(w http.ResponseWriter, r *http.Request, t target, err error) {
	if r.Context().Err() != nil {
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	if notFound(err) {
		http.Error(w, "title not found", http.StatusNotFound)
		return
	}
	h.cfg.Logger.Error("origin: cannot open title", "title", t.title, "err", err)
	http.Error(w, "cannot package title "+t.title+": "+err.Error(), http.StatusBadGateway)
}

// open returns the opened title of t, from the cache or opened now. A
// cached title whose files changed (checked at most every ManifestMaxAge)
// is dropped and opened again.
func (h *handler) open(ctx context.Context, t target) (*entry, error) {
	key := string(t.scheme) + "|" + t.title
	if err := h.failure(key); err != nil {
		return nil, err
	}
	for range 2 {
		e, err := h.cache.get(ctx, key, func(ctx context.Context) (*entry, error) { return h.openEntry(ctx, t) })
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				h.remember(key, err)
			}
			return nil, err
		}
		if h.current(ctx, e) {
			return e, nil
		}
		h.cache.drop(e)
		h.cache.release(e)
	}
	return nil, fmt.Errorf("origin: %s keeps changing", t.title)
}

// current reports whether e's files are unchanged, checking at most every
// ManifestMaxAge.
func (h *handler) current(ctx context.Context, e *entry) bool {
	e.mu.Lock()
	due := time.Since(e.checked) >= h.cfg.ManifestMaxAge
	if due {
		e.checked = time.Now()
	}
	e.mu.Unlock()
	if !due {
		return true
	}
	for i, f := range e.title.files {
		g, err := h.cfg.Source.Open(ctx, e.title.inputName(i))
		if err != nil {
			return false
		}
		same := g.Version() == f.Version()
		g.Close()
		if !same {
			return false
		}
	}
	return true
}

// openEntry opens the title of t and prepares its job.
func (h *handler) openEntry(ctx context.Context, t target) (*entry, error) {
	ot, err := openTitle(ctx, h.cfg.Source, t.title)
	if err != nil {
		return nil, err
	}
	scheme := t.scheme
	if scheme == "" {
		switch ot.encryption {
		case "none":
		case "":
			scheme = h.cfg.Encryption
		default:
			scheme = drm.Scheme(ot.encryption)
		}
	}
	var enc *drm.Config
	if scheme != "" {
		if h.cfg.Keys == nil {
			ot.close()
			return nil, fmt.Errorf("origin: %s asks for %s encryption and the origin has no keys", t.title, scheme)
		}
		kp, err := h.cfg.Keys.TitleKeys(ctx, t.title)
		if err != nil {
			ot.close()
			return nil, err
		}
		enc = &drm.Config{Scheme: scheme, Keys: stableIVs{kp: kp, title: t.title, scheme: scheme},
			SignalingOptions: h.cfg.Signaling, Logger: h.cfg.Logger}
	}
	job := h.cfg.job(ot, enc, h.steering(t))
	noSmooth := h.cfg.smoothRefusal(scheme)
	if h.cfg.Smooth && noSmooth == nil {
		job.Formats |= packager.Smooth
	}
	prep, err := packager.Prepare(ctx, job)
	if errors.Is(err, packager.ErrSmooth) {
		// The title, not the origin, rules Smooth out: serve the rest.
		noSmooth, job.Formats = err, job.Formats&^packager.Smooth
		prep, err = packager.Prepare(ctx, job)
	}
	if err != nil {
		ot.close()
		return nil, err
	}
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%s\x00%d\x00%s", ot.version, scheme, h.cfg.SegmentDuration, t.title)))
	if !h.cfg.Smooth {
		noSmooth = nil
	}
	return &entry{
		title: ot, prep: prep, etag: hex.EncodeToString(sum[:9]), noSmooth: noSmooth,
		manifests: map[string]*rendered{}, checked: time.Now(),
		cost: 16<<10 + 160*int64(prep.SegmentCount()),
	}, nil
}

// smoothDir is the directory, in a title, of the Smooth Streaming client
// manifest and fragments (packager.Naming's default).
const smoothDir = "smooth/"

// isSmoothObject reports whether a title's object is a Smooth Streaming
// one.
func isSmoothObject(object string) bool { return strings.HasPrefix(object, smoothDir) }

// smoothRefusal returns why titles encrypted with scheme cannot be served
// as Smooth Streaming by this origin, or nil.
func (c *Config) smoothRefusal(scheme drm.Scheme) error {
	switch {
	case scheme == "":
		return nil
	case scheme != drm.SchemeCENC:
		return fmt.Errorf("%w: Smooth Streaming with %s encryption (PlayReady in Smooth is cenc: request it under /cenc/)", packager.ErrCombination, scheme)
	case !slices.Contains(c.Signaling.Systems, drm.PlayReady):
		return fmt.Errorf("%w: Smooth Streaming with cenc and no PlayReady signaling (Smooth's ProtectionHeader is PlayReady's)", packager.ErrCombination)
	}
	return nil
}

// inputName returns the source name of the title's i-th file.
func (t *openedTitle) inputName(i int) string {
	if i < len(t.names) {
		return t.names[i]
	}
	return ""
}

// objectETag is the strong ETag of an object of e (variant "gz" for the
// gzip form of a manifest).
func objectETag(e *entry, object, variant string) string {
	f := fnv.New64a()
	f.Write([]byte(object))
	s := `"` + e.etag + "-" + strconv.FormatUint(f.Sum64(), 36)
	if variant != "" {
		s += "-" + variant
	}
	return s + `"`
}

// etagMatch reports whether an If-None-Match header value lists etag.
func etagMatch(header, etag string) bool {
	if header == "" {
		return false
	}
	for _, v := range strings.Split(header, ",") {
		v = strings.TrimPrefix(strings.TrimSpace(v), "W/")
		if v == etag || v == "*" {
			return true
		}
	}
	return false
}

// acceptsGzip reports whether an Accept-Encoding value accepts gzip.
func acceptsGzip(v string) bool {
	for _, part := range strings.Split(v, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
			continue
		}
		params = strings.ReplaceAll(strings.TrimSpace(params), " ", "")
		return params != "q=0" && params != "q=0.0" && params != "q=0.00" && params != "q=0.000"
	}
	return false
}

var bufferPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func getBuffer() *bytes.Buffer { return bufferPool.Get().(*bytes.Buffer) }

// putBuffer returns b to the pool unless it grew past 32 MiB.
func putBuffer(b *bytes.Buffer) {
	if b.Cap() > 32<<20 {
		return
	}
	b.Reset()
	bufferPool.Put(b)
}

type recorder struct {
	http.ResponseWriter
	status int
	n      int64
	wrote  bool
	// reopened holds the source files ReadFrom opened for sendfile.
	reopened map[*os.File]*os.File
}

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	n, err := r.ResponseWriter.Write(b)
	r.n += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

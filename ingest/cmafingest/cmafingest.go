// Package cmafingest receives CMAF ingest (DASH-IF Live Media Ingest
// Protocol 1.2, interface 1): an encoder that already makes CMAF POSTs or
// PUTs each track's CMAF header and then its fragments over HTTP, and the
// samples go to a live.Publisher as they are, without re-encoding or
// re-muxing: the encoder's sample entries become the channel's tracks and
// each fragment's samples (from its moof and mdat) are written one by one.
//
// Requests go to /KEY/PATH under the handler (mount it with
// http.StripPrefix, e.g. at /ingest/cmaf): KEY is the stream key and PATH
// names the track. Both shapes of the specification are accepted:
//
//   - one request per track for as long as the stream lasts, the header
//     and then every fragment in one chunked body, to a path per track
//     ("Streams(video)"; ffmpeg: -f mp4 -movflags
//     empty_moov+separate_moof+default_base_moof+cmaf+frag_keyframe, one
//     output per track, http://HOST/ingest/cmaf/KEY/Streams(video));
//   - one request per object, named as the encoder's MPD says (its
//     SegmentTemplate@initialization and @media with $RepresentationID$):
//     the MPD first or early, then each track's header and its segments
//     (ffmpeg: -f dash -streaming 1 -method PUT
//     http://HOST/ingest/cmaf/KEY/manifest.mpd). Without an MPD, a
//     segment must be posted to its header's path.
//
// The first request of a key opens a publishing session with the Handler's
// PublisherFunc: an unknown key is refused with 403 Forbidden, a key
// already publishing with 409 Conflict. The session's tracks are declared
// together: fragments are held back until every track announced (by its
// header, or by the MPD) has sent one, for at most MaxStartDelay of stream
// time or MaxStartBytes. A second publisher on a key is refused with 409:
// a header re-posted for a track that is receiving fragments, unless that
// track's last request failed (its encoder restarted) or it ended.
//
// The session ends normally when every track sent its last segment (a
// styp with the lmsg brand, or the deprecated mfra box) or when the MPD
// (or the key's path) is deleted, once the requests in progress are done;
// it ends with an error when no request
// arrives for IdleTimeout (the encoder is gone). Deleting media objects is
// answered 200 and does nothing: the channel keeps its own window.
//
// Answers follow the specification: 200 for an object taken, 400 for a
// body that is not CMAF (with the reason), 403, 409, 412 Precondition
// Failed for a fragment without a header, 413 for a box over the limits,
// 415 for a codec the packager cannot package live, 503 when the channel
// is closed. A request whose body stalls for ReadTimeout is cut; one
// encoder's slow or broken connection holds nothing but its own track.
package cmafingest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cmafkit/cmafkit/live"
	"github.com/cmafkit/cmafkit/segment"
)

// Defaults of Options' zero fields.
const (
	DefaultIdleTimeout     = 10 * time.Second
	DefaultReadTimeout     = 10 * time.Second
	DefaultMaxFragmentSize = 64 << 20
	DefaultMaxStartBytes   = 32 << 20
	DefaultMaxStartDelay   = 5 * time.Second
)

// Fixed bounds.
const (
	maxHeaderSize   = 1 << 20 // ftyp … moov
	maxMoofSize     = 4 << 20
	maxSkippedSize  = 4 << 20 // emsg, prft, sidx, free … read and dropped
	maxManifestSize = 1 << 20
	maxTracks       = 32 // track paths per session
	maxPathLen      = 1024
)

// Errors answered to an encoder, besides live's ErrUnknownKey and
// ErrKeyInUse.
var (
	// ErrNoHeader refuses a fragment for a track whose CMAF header was not
	// posted (412 Precondition Failed).
	ErrNoHeader = errors.New("cmafingest: no CMAF header for this track")
	// ErrBadPath refuses a request path that is not /KEY/PATH with a
	// usable key and clean path elements (400).
	ErrBadPath = errors.New("cmafingest: bad ingest path")
	// ErrGone ends a session whose encoder sent nothing for IdleTimeout.
	ErrGone = errors.New("cmafingest: encoder gone")
)

// Options configure a Handler. The zero value is ready to use.
type Options struct {
	// Logger receives warnings and session events; nil discards them.
	Logger *slog.Logger
	// IdleTimeout ends a session when no request arrives and none is in
	// progress for this long; zero means DefaultIdleTimeout.
	IdleTimeout time.Duration
	// ReadTimeout cuts a request whose body sends nothing for this long;
	// zero means DefaultReadTimeout.
	ReadTimeout time.Duration
	// MaxFragmentSize bounds one mdat; zero means DefaultMaxFragmentSize.
	MaxFragmentSize int64
	// MaxStartBytes bounds the fragments held back at the start while
	// waiting for every track; zero means DefaultMaxStartBytes.
	MaxStartBytes int64
	// MaxStartDelay bounds how much stream time a track holds back at the
	// start; zero means DefaultMaxStartDelay.
	MaxStartDelay time.Duration
}

// Handler is an http.Handler receiving CMAF ingest (see the package
// documentation). Set Publish before serving; a Handler must not be copied
// after first use.
type Handler struct {
	// Publish opens the Publisher of a stream key's session. Required.
	Publish live.PublisherFunc
	// Options configure the sessions.
	Options Options

	mu       sync.Mutex
	sessions map[string]*session
	reqs     atomic.Int64
}

func (h *Handler) log() *slog.Logger {
	if h.Options.Logger != nil {
		return h.Options.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func orDur(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

func orInt(n, def int64) int64 {
	if n > 0 {
		return n
	}
	return def
}

// Close ends every session as if its encoder had gone (with err).
func (h *Handler) Close(err error) {
	h.mu.Lock()
	ss := make([]*session, 0, len(h.sessions))
	for _, s := range h.sessions {
		ss = append(ss, s)
	}
	h.mu.Unlock()
	for _, s := range ss {
		s.mu.Lock()
		s.close(context.Background(), err)
		s.mu.Unlock()
	}
}

// ServeHTTP takes one PUT, POST or DELETE of an ingest object.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key, rest, err := splitPath(r.URL.Path)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	switch r.Method {
	case http.MethodPut, http.MethodPost:
		h.post(w, r, key, rest)
	case http.MethodDelete:
		h.delete(r.Context(), key, rest)
		w.WriteHeader(http.StatusOK)
	default:
		w.Header().Set("Allow", "PUT, POST, DELETE")
		http.Error(w, "CMAF ingest takes PUT, POST and DELETE", http.StatusMethodNotAllowed)
	}
}

// splitPath splits /KEY/PATH. The key is one path element of printable
// characters; PATH (maybe empty) has no empty, "." or ".." elements.
func splitPath(p string) (key, rest string, err error) {
	if len(p) > maxPathLen {
		return "", "", fmt.Errorf("%w: longer than %d bytes", ErrBadPath, maxPathLen)
	}
	p, ok := strings.CutPrefix(p, "/")
	if !ok {
		return "", "", fmt.Errorf("%w: %q", ErrBadPath, p)
	}
	key, rest, _ = strings.Cut(p, "/")
	if key == "" || key == "." || key == ".." {
		return "", "", fmt.Errorf("%w: the path must be /STREAMKEY/TRACK…, got %q", ErrBadPath, "/"+p)
	}
	for _, c := range []byte(p) {
		if c < 0x20 || c == 0x7f || c == '\\' {
			return "", "", fmt.Errorf("%w: control character or backslash in %q", ErrBadPath, "/"+p)
		}
	}
	if rest != "" {
		for _, e := range strings.Split(rest, "/") {
			if e == "" || e == "." || e == ".." {
				return "", "", fmt.Errorf("%w: empty, . or .. element in %q", ErrBadPath, "/"+p)
			}
		}
	}
	return key, rest, nil
}

// statusOf maps an error to the answer the specification gives it.
func statusOf(err error) int {
	var be *BoxError
	switch {
	case errors.As(err, &be) && errors.Is(err, ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrNoHeader):
		return http.StatusPreconditionFailed
	case errors.Is(err, live.ErrUnknownKey):
		return http.StatusForbidden
	case errors.Is(err, live.ErrKeyInUse):
		return http.StatusConflict
	case errors.Is(err, live.ErrBadTrack):
		return http.StatusUnsupportedMediaType
	case errors.Is(err, live.ErrClosed):
		return http.StatusServiceUnavailable
	case errors.Is(err, ErrBadPath), errors.Is(err, ErrNotCMAF), errors.Is(err, segment.ErrUnsupportedFormat):
		return http.StatusBadRequest
	}
	var se interface{ Timeout() bool }
	if errors.As(err, &se) && se.Timeout() {
		return http.StatusRequestTimeout
	}
	return http.StatusBadRequest
}

func isManifest(p string) bool {
	return strings.HasSuffix(p, ".mpd") || strings.HasSuffix(p, ".m3u8")
}

// session returns the key's open session, opening one with Publish when
// create is set.
func (h *Handler) session(ctx context.Context, key string, create bool) (*session, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s := h.sessions[key]; s != nil && !s.ended.Load() {
		return s, nil
	}
	if !create {
		return nil, fmt.Errorf("%w: no session of stream %q (post the header first)", ErrNoHeader, key)
	}
	pub, err := h.Publish(ctx, key)
	if err != nil {
		return nil, err
	}
	if h.sessions == nil {
		h.sessions = map[string]*session{}
	}
	s := &session{h: h, key: key, pub: pub, tracks: map[string]*track{}, busy: map[string]int64{}, last: time.Now(),
		idle: orDur(h.Options.IdleTimeout, DefaultIdleTimeout), log: h.log().With("key", key)}
	s.timer = time.AfterFunc(s.idle, s.idleCheck)
	h.sessions[key] = s
	s.log.Info("cmafingest: session opened")
	return s, nil
}

func (h *Handler) remove(s *session) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.sessions[s.key] == s {
		delete(h.sessions, s.key)
	}
}

// delete takes a DELETE: of the MPD or the key's path it ends the stream;
// else it does nothing (media objects, headers).
func (h *Handler) delete(ctx context.Context, key, rest string) {
	h.mu.Lock()
	s := h.sessions[key]
	h.mu.Unlock()
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if rest == "" || isManifest(rest) {
		// The end of the stream, once the requests in progress are
		// done (encoders delete while their last segments are sent).
		s.log.Info("cmafingest: stream deleted", "path", rest)
		s.deleted = true
		if s.active == 0 {
			s.close(ctx, nil)
		}
	}
}

// deadlineReader sets a read deadline before each read of a request body.
type deadlineReader struct {
	r  io.Reader
	rc *http.ResponseController
	d  time.Duration
}

func (d deadlineReader) Read(p []byte) (int, error) {
	_ = d.rc.SetReadDeadline(time.Now().Add(d.d)) // unsupported (tests' recorders): no deadline
	return d.r.Read(p)
}

func (h *Handler) post(w http.ResponseWriter, r *http.Request, key, rest string) {
	ctx := context.WithoutCancel(r.Context())
	req := h.reqs.Add(1)
	var s *session
	var failed error
	defer func() {
		if s != nil {
			s.finish(req, rest, failed)
		}
	}()
	// open finds (or with create, opens) the key's session and makes
	// this request the one writing to its path.
	open := func(create bool) error {
		if s != nil {
			return nil
		}
		ss, err := h.session(r.Context(), key, create)
		if err != nil {
			return err
		}
		if err := ss.begin(req, rest); err != nil {
			return err
		}
		s = ss
		return nil
	}
	fail := func(err error) {
		failed = err
		h.log().Warn("cmafingest: request refused", "key", key, "path", rest, "err", err)
		http.Error(w, fmt.Sprintf("stream %q %s: %v", key, rest, err), statusOf(err))
	}
	body := deadlineReader{r: r.Body, rc: http.NewResponseController(w), d: orDur(h.Options.ReadTimeout, DefaultReadTimeout)}
	if isManifest(rest) {
		err := open(true)
		if err == nil {
			err = s.manifest(body, rest)
		}
		if err != nil {
			fail(err)
			return
		}
		w.WriteHeader(http.StatusOK)
		return
	}
	maxFrag := orInt(h.Options.MaxFragmentSize, DefaultMaxFragmentSize)
	br := newBodyReader(body, limits{header: maxHeaderSize, moof: maxMoofSize, mdat: maxFrag, skipped: maxSkippedSize})
	// The CMAF chunks of a segment (after a styp) are read together,
	// from its first: a chunk on its own has no keyframe to start from.
	// Each chunk's samples are published as it arrives.
	var group []unit
	var groupBytes int64
	done := 0 // samples of the group published
	styps := false
	for {
		u, err := br.next()
		if err == io.EOF {
			if len(group) > 0 && group[0].last {
				s.trackEnd(ctx, rest)
			}
			break
		}
		if err == nil {
			switch u.kind {
			case unitHeader:
				group, groupBytes, done = nil, 0, 0
				if err = open(true); err == nil {
					err = s.header(ctx, req, rest, u.data)
				}
			case unitEnd:
				group, groupBytes, done = nil, 0, 0
				if s != nil {
					s.trackEnd(ctx, rest)
				}
			case unitFragment:
				if err = open(false); err != nil {
					break
				}
				if u.styp || !styps {
					if len(group) > 0 && group[0].last {
						s.trackEnd(ctx, rest)
					}
					group, groupBytes, done = nil, 0, 0
				}
				styps = styps || u.styp
				group = append(group, u)
				if groupBytes += int64(len(u.data) + len(u.mdat)); groupBytes > maxFrag {
					err = &BoxError{Box: "mdat", Err: ErrTooLarge, Detail: fmt.Sprintf("segment's chunks over %d bytes", maxFrag)}
					break
				}
				err = s.fragments(ctx, req, rest, group, &done)
			}
		}
		if err != nil {
			fail(err)
			return
		}
	}
	if s == nil {
		// An empty body: the encoder checks that the key is taken.
		if err := open(true); err != nil {
			fail(err)
			return
		}
	}
	w.WriteHeader(http.StatusOK)
}

// session is one stream key's publishing session: the tracks its encoder
// posts, over any number of requests.
type session struct {
	h     *Handler
	key   string
	pub   live.Publisher
	log   *slog.Logger
	idle  time.Duration
	timer *time.Timer
	ended atomic.Bool

	mu        sync.Mutex
	tracks    map[string]*track // by header path
	busy      map[string]int64  // path → request writing to it
	deleted   bool              // the MPD was deleted: end when the requests in progress are done
	order     []*track
	mpd       *mpdNames
	started   bool // held fragments were released: samples go straight through
	heldBytes int64
	active    int       // requests in progress
	last      time.Time // end of the last request
	lastErr   error     // why the last failed request failed
	buf       []byte
}

// heldFrag is samples [from, to) of a fragment held back at the start.
type heldFrag struct {
	tr       *segment.Track
	from, to int
}

// track is one CMAF track of a session.
type track struct {
	path      string
	header    []byte
	lastReq   int64 // request that last wrote to it
	num       int   // publisher track number once declared
	declared  bool
	fragments int64
	broken    bool // its last request failed: its encoder may post the header again
	ended     bool // lmsg, mfra or DELETE
	held      []heldFrag
	heldDur   time.Duration
	haveEnd   bool
	end       time.Duration // decode end of the last fragment taken
	restart   bool          // the header came again: times may start over
}

// begin starts request req, writing to path p: a second request to a path
// that is receiving one is another encoder on the key.
func (s *session) begin(req int64, p string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended.Load() {
		return errEnded
	}
	if !isManifest(p) {
		// Encoders PUT their manifests again and again, sometimes in
		// parallel; media paths take one request at a time.
		if o := s.busy[p]; o != 0 && o != req {
			return fmt.Errorf("%w: %q: %q is receiving another request", live.ErrKeyInUse, s.key, p)
		}
		s.busy[p] = req
	}
	s.active++
	return nil
}

// finish ends request req to path p: the tracks it wrote are broken if it
// failed with err (their encoder may post their header again).
func (s *session) finish(req int64, p string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.active--
	s.last = time.Now()
	if s.busy[p] == req {
		delete(s.busy, p)
	}
	if err != nil {
		s.lastErr = err
	}
	for _, t := range s.order {
		if t.lastReq == req && err != nil {
			t.broken = true
		}
	}
	if s.deleted && s.active == 0 {
		s.close(context.Background(), nil)
	}
}

// idleCheck ends the session when nothing arrived for the idle timeout.
func (s *session) idleCheck() {
	s.mu.Lock()
	if s.ended.Load() {
		s.mu.Unlock()
		return
	}
	wait := s.idle - time.Since(s.last)
	if s.active > 0 || wait > 0 {
		s.timer.Reset(max(wait, s.idle/4))
		s.mu.Unlock()
		return
	}
	err := fmt.Errorf("%w: nothing received for %v", ErrGone, s.idle)
	if s.lastErr != nil {
		err = fmt.Errorf("%w: nothing received for %v after: %w", ErrGone, s.idle, s.lastErr)
	}
	s.log.Info("cmafingest: session idle", "err", err)
	s.close(context.Background(), err)
	s.mu.Unlock()
}

// close ends the session (under s.mu): what is held is published first.
// The key is free for a new session afterwards.
func (s *session) close(ctx context.Context, err error) {
	if s.ended.Load() {
		return
	}
	if !s.started {
		s.release(ctx)
	}
	s.ended.Store(true)
	s.timer.Stop()
	s.pub.Close(err)
	s.h.remove(s)
}

var errEnded = fmt.Errorf("%w: the session ended", live.ErrClosed)

// manifest takes an MPD (its names map segments to tracks) or an HLS
// playlist (ignored, as the specification allows).
func (s *session) manifest(body io.Reader, p string) error {
	b, err := io.ReadAll(io.LimitReader(body, maxManifestSize+1))
	if err != nil {
		return err
	}
	if len(b) > maxManifestSize {
		return &BoxError{Box: "manifest", Err: ErrTooLarge, Detail: fmt.Sprintf("more than %d bytes", maxManifestSize)}
	}
	if !strings.HasSuffix(p, ".mpd") {
		return nil
	}
	names, err := parseMPD(b, p)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended.Load() {
		return errEnded
	}
	s.mpd = names
	return nil
}

// trackEnd ends the track posted at p (an mfra).
func (s *session) trackEnd(ctx context.Context, p string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.resolve(p); t != nil && !s.ended.Load() {
		t.ended = true
		s.checkEnded(ctx)
	}
}

// fragments takes the chunks of a segment (or one fragment) that request
// req posted at path p, as they arrive: the samples after the first done
// were not taken yet.
func (s *session) fragments(ctx context.Context, req int64, p string, group []unit, done *int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended.Load() {
		return errEnded
	}
	t := s.resolve(p)
	if t == nil {
		return fmt.Errorf("%w %q (post it first, or an MPD that names it)", ErrNoHeader, p)
	}
	t.lastReq = req
	tr, err := openFragment(ctx, s.key+"/"+p, t.header, group, s.log)
	if err != nil {
		return err
	}
	n := tr.SampleCount()
	if n <= *done {
		return nil
	}
	from := *done
	*done = n
	samples, err := tr.AppendSamples(nil, from, n)
	if err != nil {
		return err
	}
	first, last := samples[0], samples[len(samples)-1]
	start := ticksToDur(first.DecodeTime, tr.Timescale)
	if t.haveEnd && !t.restart && start < t.end-time.Millisecond {
		// Sent again (a retry) or overtaken by the next: the
		// specification lets a receiver ignore what it already has.
		s.log.Warn("cmafingest: late fragment dropped", "path", p, "start", start, "track end", t.end)
		return nil
	}
	t.haveEnd, t.restart = true, false
	t.end = ticksToDur(last.DecodeTime+uint64(last.Duration), tr.Timescale)
	t.fragments++
	if !s.started {
		if len(group[len(group)-1].emsgs) > 0 {
			s.log.Warn("cmafingest: emsg before the stream started; skipped", "path", p)
		}
		t.held = append(t.held, heldFrag{tr: tr, from: from, to: n})
		for _, smp := range samples {
			s.heldBytes += int64(smp.Size)
		}
		t.heldDur += t.end - start
		s.checkStart(ctx)
		return nil
	}
	if !t.declared {
		if err := s.declare(ctx, t, tr); err != nil {
			return err
		}
	}
	// The cues first: one may splice at this fragment's start.
	if err := s.cues(ctx, t, tr, group[len(group)-1].emsgs, samples); err != nil {
		return err
	}
	for i := range samples {
		if err := s.writeSample(ctx, t, tr, &samples[i]); err != nil {
			return err
		}
	}
	return nil
}

// resolve finds the track that path p posts to: its own header's, or by
// the MPD's names.
func (s *session) resolve(p string) *track {
	if t := s.tracks[p]; t != nil {
		return t
	}
	if hp := s.mpd.track(p); hp != "" {
		return s.tracks[hp]
	}
	return nil
}

// header takes a CMAF header posted at p by request req.
func (s *session) header(ctx context.Context, req int64, p string, h []byte) error {
	if err := checkHeader(h); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended.Load() {
		return errEnded
	}
	t := s.tracks[p]
	if t == nil {
		if len(s.order) >= maxTracks {
			return fmt.Errorf("%w: more than %d tracks", ErrNotCMAF, maxTracks)
		}
		t = &track{path: p}
		s.tracks[p] = t
		s.order = append(s.order, t)
		s.log.Info("cmafingest: track", "path", p)
	} else if t.fragments > 0 && !t.broken && !t.ended && t.lastReq != req {
		return fmt.Errorf("%w: %q: track %q is publishing; a second encoder on the key is refused", live.ErrKeyInUse, s.key, p)
	}
	t.lastReq = req
	if t.fragments > 0 {
		// An encoder that restarts may start its times again: what it
		// sent before goes out first, and the channel sees the jump.
		t.restart = true
		if !s.started {
			s.release(ctx)
		}
	}
	t.broken, t.ended = false, false
	if string(t.header) != string(h) {
		// A new configuration is declared again at its next fragment.
		t.header = h
		t.declared = false
	}
	return nil
}

// checkStart releases the held fragments once every announced track has
// some, or the hold is long or large enough. The tracks an MPD announces
// start with a fragment each; without an MPD, every track waits for its
// second fragment, which gives the headers of the other tracks one
// fragment's time to arrive.
func (s *session) checkStart(ctx context.Context) {
	ready := true
	need := 2
	if s.mpd != nil {
		need = 1
		for _, r := range s.mpd.reps {
			if s.tracks[r.init] == nil {
				ready = false
			}
		}
	}
	for _, t := range s.order {
		if len(t.held) < need && !t.ended {
			ready = false
		}
	}
	maxDelay := orDur(s.h.Options.MaxStartDelay, DefaultMaxStartDelay)
	for _, t := range s.order {
		if t.heldDur >= maxDelay {
			ready = true
		}
	}
	if ready || s.heldBytes > orInt(s.h.Options.MaxStartBytes, DefaultMaxStartBytes) {
		s.release(ctx)
	}
}

// release declares the tracks that have fragments and writes the held
// samples in decode-time order across tracks.
func (s *session) release(ctx context.Context) {
	s.started = true
	type held struct {
		t  *track
		tr *segment.Track
		s  segment.Sample
		at time.Duration
	}
	var all []held
	for _, t := range s.order {
		if len(t.held) == 0 {
			continue
		}
		if !t.declared {
			if err := s.declare(ctx, t, t.held[0].tr); err != nil {
				s.log.Warn("cmafingest: track refused", "path", t.path, "err", err)
				t.held, t.broken = nil, true
				continue
			}
		}
		for _, h := range t.held {
			sc := h.tr.Scan(h.from, h.to)
			for sc.Next() {
				smp := *sc.Sample()
				all = append(all, held{t: t, tr: h.tr, s: smp, at: ticksToDur(smp.DecodeTime, h.tr.Timescale)})
			}
		}
		t.held = nil
	}
	s.heldBytes = 0
	slices.SortStableFunc(all, func(a, b held) int { return cmp.Compare(a.at, b.at) })
	for _, x := range all {
		if err := s.writeSample(ctx, x.t, x.tr, &x.s); err != nil {
			s.log.Warn("cmafingest: held samples not published", "err", err)
			return
		}
	}
}

func (s *session) declare(ctx context.Context, t *track, tr *segment.Track) error {
	num, err := s.pub.AddTrack(ctx, tr)
	if err != nil {
		return err
	}
	t.num, t.declared = num, true
	return nil
}

// writeSample publishes one sample; a sample the channel refuses is
// dropped (it said why in its log), anything else stops the request.
func (s *session) writeSample(ctx context.Context, t *track, tr *segment.Track, smp *segment.Sample) error {
	var err error
	s.buf, err = tr.Data.AppendSample(s.buf[:0], smp)
	if err != nil {
		return err
	}
	err = s.pub.WriteSample(ctx, t.num, *smp, s.buf)
	if errors.Is(err, live.ErrBadSample) {
		return nil
	}
	return err
}

// checkEnded ends the session normally once every track has ended.
func (s *session) checkEnded(ctx context.Context) {
	if len(s.order) == 0 {
		return
	}
	for _, t := range s.order {
		if !t.ended {
			return
		}
	}
	s.log.Info("cmafingest: every track ended")
	s.close(ctx, nil)
}

func ticksToDur[T ~uint64 | ~int64](t T, ts uint32) time.Duration {
	if ts == 0 {
		return 0
	}
	return time.Duration(t/T(ts))*time.Second + time.Duration(t%T(ts))*time.Second/time.Duration(ts)
}

package live

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cmafkit/cmafkit/manifest"
	"github.com/cmafkit/cmafkit/manifest/hls"
)

// TimePath is where an Origin serves its wall clock for DASH UTCTiming
// (urn:mpeg:dash:utc:http-iso:2014), relative to where it is mounted.
const TimePath = "_cmafkit/live/time"

// OriginOptions configures an Origin.
type OriginOptions struct {
	// Fallback answers what the origin does not hold in memory: the
	// multivariant playlist, the MPD, init segments and older segments
	// (for instance a file server over the channel's storage). Nil
	// answers 404.
	Fallback http.Handler
	// MaxHold bounds how long a request for a playlist update, a part or a
	// segment not made yet is held; zero means three target durations
	// (RFC 8216bis 6.2.5.2). A request still unanswerable then gets 503.
	MaxHold time.Duration
	// WriteTimeout bounds each write to a client, so that one that does not
	// read is dropped; zero means 10 s.
	WriteTimeout time.Duration
}

// Origin is the HTTP side of a low-latency Channel (one with a
// PartDuration): it serves the channel's LL-HLS media playlists from
// memory, holding requests with _HLS_msn/_HLS_part until the playlist
// holds that part (blocking playlist reload), with delta updates for
// _HLS_skip, the parts themselves (a request for the part that comes next,
// as the preload hint names it, is answered when it is made), and the
// segments still in memory, a segment being written sent with chunked
// transfer encoding part by part as it grows (LL-DASH). Everything else
// goes to the Fallback. Requests wait on the channel's memory under a
// lock of their own, so held or slow clients never slow the channel or
// each other; each write has a deadline.
//
// Responses allow any origin (CORS) and say how long they may be cached:
// parts and segments never change, a playlist for a given
// _HLS_msn/_HLS_part request neither.
type Origin struct {
	ch    *Channel
	opts  OriginOptions
	clock func() time.Time
}

// NewOrigin returns the origin of ch. Set ch's fields before.
func NewOrigin(ch *Channel, opts OriginOptions) *Origin {
	ch.lock()
	clock := ch.Clock
	if opts.MaxHold <= 0 {
		opts.MaxHold = 3 * ch.MaxSegmentDuration
	}
	ch.unlock()
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 10 * time.Second
	}
	return &Origin{ch: ch, opts: opts, clock: clock}
}

// ServeHTTP implements http.Handler.
func (o *Origin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Expose-Headers", "Age, Date, Content-Length")
	name := strings.TrimPrefix(r.URL.Path, "/")
	if name == TimePath {
		if !o.method(w, r) {
			return
		}
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		fmt.Fprint(w, o.clock().UTC().Format("2006-01-02T15:04:05.000Z"))
		return
	}
	if l := o.ch.ll; l != nil {
		if rep, ok := strings.CutSuffix(name, ".m3u8"); ok && name != HLSName && validRep(rep) {
			if o.method(w, r) {
				o.servePlaylist(w, r, rep)
			}
			return
		}
		if rep, file, ok := strings.Cut(name, "/"); ok && validRep(rep) {
			if n, k, ok := parsePartName(file); ok {
				if o.method(w, r) {
					o.servePart(w, r, rep, n, k)
				}
				return
			}
			if n, ok := parseSegName(file); ok && o.holds(rep, n) {
				if o.method(w, r) {
					o.serveSegment(w, r, rep, n)
				}
				return
			}
		}
	}
	if o.opts.Fallback == nil {
		o.fail(w, http.StatusNotFound, "not found")
		return
	}
	o.opts.Fallback.ServeHTTP(w, r)
}

// method accepts GET and HEAD.
func (o *Origin) method(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	o.fail(w, http.StatusMethodNotAllowed, "method not allowed")
	return false
}

func (o *Origin) fail(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Cache-Control", "no-store")
	http.Error(w, msg, code)
}

// validRep accepts the representation IDs a channel makes: letters and
// digits.
func validRep(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// parseNum parses a decimal number without sign or leading zeros.
func parseNum(s string) (int, bool) {
	if s == "" || len(s) > 9 || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	return n, true
}

// parsePartName parses "part-N.K.m4s".
func parsePartName(s string) (n, k int, ok bool) {
	s, ok1 := strings.CutPrefix(s, "part-")
	s, ok2 := strings.CutSuffix(s, ".m4s")
	a, b, ok3 := strings.Cut(s, ".")
	if !ok1 || !ok2 || !ok3 {
		return 0, 0, false
	}
	n, okn := parseNum(a)
	k, okk := parseNum(b)
	return n, k, okn && okk
}

// parseSegName parses "seg-N.m4s".
func parseSegName(s string) (int, bool) {
	s, ok1 := strings.CutPrefix(s, "seg-")
	s, ok2 := strings.CutSuffix(s, ".m4s")
	if !ok1 || !ok2 {
		return 0, false
	}
	return parseNum(s)
}

// edge is where a representation's parts are: the newest part (msn, part;
// part -1 when the segment msn is complete without parts in memory) and
// the last complete segment.
type edge struct {
	msn, part int
	lastDone  int
	parts     map[int]int // parts of the complete segments in memory
	done      map[int]bool
}

// edgeOf returns rep's edge; l.mu is held.
func (l *lowLatency) edgeOf(rep string) (edge, bool) {
	e := edge{lastDone: -1, msn: -1, part: -1, parts: map[int]int{}, done: map[int]bool{}}
	r := l.reps[rep]
	if l.pres != nil {
		for _, pd := range l.pres.Periods {
			for _, set := range pd.Sets {
				for _, rp := range set.Representations {
					if rp.ID == rep && len(rp.Segments) > 0 {
						e.lastDone = max(e.lastDone, int(rp.Segments[len(rp.Segments)-1].Number))
					}
				}
			}
		}
	}
	if r == nil && e.lastDone < 0 {
		return e, false
	}
	e.msn = e.lastDone
	if r != nil {
		for _, s := range r.segs {
			if s.done {
				e.lastDone = max(e.lastDone, s.number)
				e.parts[s.number] = len(s.parts)
				e.done[s.number] = true
			}
			if len(s.parts) > 0 && (s.number > e.msn || s.number == e.msn && len(s.parts)-1 > e.part) {
				e.msn, e.part = s.number, len(s.parts)-1
			}
		}
	}
	if e.lastDone > e.msn {
		e.msn, e.part = e.lastDone, -1
	}
	return e, true
}

// reached reports whether the playlist holds segment msn (part < 0) or
// part part of segment msn; a part past the last of a complete segment
// is the first of the next (RFC 8216bis 6.2.5.2).
func (e edge) reached(msn, part int) bool {
	if part < 0 {
		return e.lastDone >= msn
	}
	if e.done[msn] && part >= e.parts[msn] {
		msn, part = msn+1, 0
	}
	return e.msn > msn || e.msn == msn && (e.part >= part || e.done[msn])
}

// tooFar reports a request that RFC 8216bis 6.2.5.2 answers with 400: an
// _HLS_msn more than two segments past the last, or an _HLS_part more
// than the Advance Part Limit past the last part.
func (e edge) tooFar(msn, part int, partTarget time.Duration) bool {
	if msn > e.msn+2 {
		return true
	}
	limit := 3
	if partTarget > 0 && partTarget < time.Second {
		limit = int(3 * time.Second / partTarget)
	}
	return part >= 0 && msn == e.msn && part > e.part+limit
}

// wait holds until check is true (true), the stream ended or hold ran
// out (false); check runs under l.mu.
func (o *Origin) wait(ctx context.Context, hold time.Duration, check func(l *lowLatency) bool) (bool, error) {
	l := o.ch.ll
	timer := time.NewTimer(max(hold, 0))
	defer timer.Stop()
	for {
		l.mu.Lock()
		ok, ended, changed := check(l), l.ended, l.changed
		l.mu.Unlock()
		if ok || ended {
			return ok, nil
		}
		select {
		case <-changed:
		case <-timer.C:
			return false, nil
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
}

func (o *Origin) servePlaylist(w http.ResponseWriter, r *http.Request, rep string) {
	q := r.URL.Query()
	msn, part := -1, -1
	if v := q.Get("_HLS_msn"); v != "" {
		n, ok := parseNum(v)
		if !ok {
			o.fail(w, http.StatusBadRequest, "bad _HLS_msn")
			return
		}
		msn = n
	}
	if v := q.Get("_HLS_part"); v != "" {
		n, ok := parseNum(v)
		if !ok || msn < 0 {
			// RFC 8216bis 6.2.5.2: _HLS_part without _HLS_msn is a bad request.
			o.fail(w, http.StatusBadRequest, "bad _HLS_part, or _HLS_part without _HLS_msn")
			return
		}
		part = n
	}
	skip := false
	switch v := q.Get("_HLS_skip"); v {
	case "":
	case "YES", "v2":
		skip = true
	default:
		o.fail(w, http.StatusBadRequest, "bad _HLS_skip")
		return
	}
	partTarget := o.ch.PartDuration
	var known, tooFar bool
	ok, err := o.wait(r.Context(), o.opts.MaxHold, func(l *lowLatency) bool {
		if l.pres == nil {
			return false
		}
		e, has := l.edgeOf(rep)
		known = has
		if !has || msn < 0 {
			return true
		}
		if e.tooFar(msn, part, partTarget) {
			tooFar = true
			return true
		}
		return e.reached(msn, part)
	})
	switch {
	case err != nil:
		return // the client went away
	case !ok:
		o.fail(w, http.StatusServiceUnavailable, "playlist update not available in time")
		return
	case !known:
		o.fail(w, http.StatusNotFound, "no such playlist")
		return
	case tooFar:
		o.fail(w, http.StatusBadRequest, "_HLS_msn/_HLS_part too far ahead of the playlist")
		return
	}
	p := o.snapshot(rep)
	var buf bytes.Buffer
	render := hls.RenderMedia
	if skip {
		render = hls.RenderMediaSkip
	}
	if err := render(&buf, p, rep); err != nil {
		o.fail(w, http.StatusInternalServerError, "playlist not rendered")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/vnd.apple.mpegurl")
	if msn >= 0 {
		h.Set("Cache-Control", fmt.Sprintf("public, max-age=%d", int(6*o.ch.MaxSegmentDuration/time.Second)))
	} else {
		h.Set("Cache-Control", "public, max-age=1")
	}
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	o.write(w, buf.Bytes())
}

// snapshot returns the last presentation with the parts in memory added
// to rep's playlist: the parts of the last segments (within three target
// durations of the end), the segments completed since, the parts of the
// segment being written and the preload hint for the next part.
func (o *Origin) snapshot(rep string) *manifest.Presentation {
	l := o.ch.ll
	l.mu.Lock()
	defer l.mu.Unlock()
	p := *l.pres
	p.Periods = append([]manifest.Period(nil), p.Periods...)
	pd := &p.Periods[len(p.Periods)-1]
	pd.Sets = append([]manifest.SwitchingSet(nil), pd.Sets...)
	for si := range pd.Sets {
		set := &pd.Sets[si]
		set.Representations = append([]manifest.Representation(nil), set.Representations...)
		for ri := range set.Representations {
			r := &set.Representations[ri]
			lr := l.reps[r.ID]
			if lr == nil || len(r.Segments) == 0 {
				continue
			}
			r.Segments = append([]manifest.SegmentRef(nil), r.Segments...)
			var open *llSeg
			for _, s := range lr.segs {
				last := int(r.Segments[len(r.Segments)-1].Number)
				switch {
				case !s.done:
					open = s
				case s.number == last+1:
					r.Segments = append(r.Segments, s.ref)
				}
			}
			end := manifest.TicksToDuration(r.End(), r.Timescale)
			for i := range r.Segments {
				sr := &r.Segments[i]
				if end-manifest.TicksToDuration(sr.Start, r.Timescale) > 3*p.TargetDuration {
					continue
				}
				for _, s := range lr.segs {
					if s.done && s.number == int(sr.Number) {
						sr.Parts = partsOf(r.ID, s)
					}
				}
			}
			next := int(r.Segments[len(r.Segments)-1].Number) + 1
			if open != nil && open.number == next {
				r.Parts = partsOf(r.ID, open)
				r.PreloadHint = fmt.Sprintf(PartTemplate, r.ID, next, len(open.parts))
			} else {
				r.PreloadHint = fmt.Sprintf(PartTemplate, r.ID, next, 0)
			}
		}
	}
	return &p
}

func partsOf(rep string, s *llSeg) []manifest.Part {
	out := make([]manifest.Part, len(s.parts))
	for i, pt := range s.parts {
		out[i] = manifest.Part{URI: fmt.Sprintf(PartTemplate, rep, s.number, i), Duration: pt.dur, Independent: pt.independent}
	}
	return out
}

// holds reports whether segment n of rep is in memory or is one of the
// next two to be made (a DASH client asks for a segment as its first part
// is due, by its own clock).
func (o *Origin) holds(rep string, n int) bool {
	l := o.ch.ll
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seg(rep, 0, n, false) != nil {
		return true
	}
	e, ok := l.edgeOf(rep)
	return ok && !l.ended && n > e.lastDone && n <= e.msn+2
}

func (o *Origin) servePart(w http.ResponseWriter, r *http.Request, rep string, n, k int) {
	var data []byte
	var gone bool
	ok, err := o.wait(r.Context(), o.opts.MaxHold, func(l *lowLatency) bool {
		if s := l.seg(rep, 0, n, false); s != nil {
			if k < len(s.parts) {
				data = s.parts[k].data
				return true
			}
			gone = s.done || k > len(s.parts)
			return gone
		}
		e, has := l.edgeOf(rep)
		// Only the next part is waited for: the preload hint.
		gone = !has || !(n == e.msn+1 && k == 0) || n <= e.lastDone
		return gone
	})
	switch {
	case err != nil:
		return
	case data != nil:
		h := w.Header()
		h.Set("Content-Type", "video/mp4")
		h.Set("Cache-Control", "public, max-age=86400, immutable")
		h.Set("Content-Length", strconv.Itoa(len(data)))
		o.write(w, data)
	case gone || ok:
		o.fail(w, http.StatusNotFound, "no such part")
	default:
		o.fail(w, http.StatusServiceUnavailable, "part not made in time")
	}
}

// serveSegment sends a segment from memory: whole when complete, else
// part by part as they are made (chunked transfer encoding), each flushed
// as it is written.
func (o *Origin) serveSegment(w http.ResponseWriter, r *http.Request, rep string, n int) {
	ctx := r.Context()
	sent := 0
	started := false
	deadline := time.Now().Add(o.opts.MaxHold + 2*o.ch.MaxSegmentDuration)
	for {
		var parts [][]byte
		var done, exists bool
		// Each wait ends by the deadline, so that a segment whose parts
		// trickle in never holds its response longer.
		ok, err := o.wait(ctx, min(o.opts.MaxHold, time.Until(deadline)), func(l *lowLatency) bool {
			s := l.seg(rep, 0, n, false)
			if s == nil {
				return false
			}
			exists = true
			for _, p := range s.parts[sent:] {
				parts = append(parts, p.data)
			}
			done = s.done
			return len(parts) > 0 || done
		})
		if err != nil {
			return
		}
		if !ok || (!started && !exists) || time.Now().After(deadline) {
			if !started {
				o.fail(w, http.StatusServiceUnavailable, "segment not made in time")
				return
			}
			// Cut the response short so that no cache keeps it whole.
			panic(http.ErrAbortHandler)
		}
		if !started {
			started = true
			h := w.Header()
			h.Set("Content-Type", "video/mp4")
			h.Set("Cache-Control", "public, max-age=86400, immutable")
			if done {
				size := 0
				for _, p := range parts {
					size += len(p)
				}
				h.Set("Content-Length", strconv.Itoa(size))
			}
			w.WriteHeader(http.StatusOK)
		}
		for _, p := range parts {
			if !o.write(w, p) {
				return
			}
			sent++
		}
		if done {
			return
		}
	}
}

// write writes b with a deadline and flushes it; false when the client is
// gone or too slow.
func (o *Origin) write(w http.ResponseWriter, b []byte) bool {
	rc := http.NewResponseController(w)
	if err := rc.SetWriteDeadline(o.clockNow().Add(o.opts.WriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return false
	}
	if _, err := w.Write(b); err != nil {
		return false
	}
	if err := rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return false
	}
	return true
}

// clockNow is the real clock: write deadlines are for the network, whatever
// the channel's clock.
func (o *Origin) clockNow() time.Time { return time.Now() }

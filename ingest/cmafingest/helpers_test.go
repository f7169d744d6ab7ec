package cmafingest

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Eyevinn/mp4ff/mp4"

	"github.com/cmafkit/cmafkit/internal/testutil"
	"github.com/cmafkit/cmafkit/live"
	"github.com/cmafkit/cmafkit/segment"
	"github.com/cmafkit/cmafkit/segment/cmaf"
	_ "github.com/cmafkit/cmafkit/segment/isobmff" // segment.OpenFile reads MP4
	"github.com/cmafkit/cmafkit/storage"
)

// cmafTrack is one track of a test file as an encoder would send it: its
// CMAF header and its segments (one fragment each, cut at keyframes about
// every segDur), made by the packager's own CMAF writer.
type cmafTrack struct {
	kind    segment.Kind
	header  []byte
	segs    [][]byte
	samples int
}

var (
	fixtureOnce sync.Once
	fixture     []cmafTrack
	fixtureErr  error
)

// ladderTracks returns testdata/ladder_360p.mp4 (8 s of H.264 and AAC) as
// CMAF tracks with 1 s segments.
func ladderTracks(t testing.TB) []cmafTrack {
	t.Helper()
	fixtureOnce.Do(func() {
		fixture, fixtureErr = buildTracks(filepath.Join("..", "..", "testdata", "ladder_360p.mp4"), time.Second)
	})
	if fixtureErr != nil {
		t.Fatal(fixtureErr)
	}
	return fixture
}

func buildTracks(file string, segDur time.Duration) ([]cmafTrack, error) {
	ctx := context.Background()
	src, err := segment.OpenFile(ctx, file, nil)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	var out []cmafTrack
	for _, tr := range src.Tracks {
		var hdr bytes.Buffer
		if err := cmaf.WriteInit(&hdr, tr, nil); err != nil {
			return nil, err
		}
		samples, err := tr.AppendSamples(nil, 0, tr.SampleCount())
		if err != nil {
			return nil, err
		}
		cuts := []int{0}
		step := uint64(segDur.Seconds() * float64(tr.Timescale))
		next := step
		for i, s := range samples {
			if i > 0 && s.DecodeTime >= next && s.Sync {
				cuts = append(cuts, i)
				next += step
			}
		}
		cuts = append(cuts, len(samples))
		sw, err := cmaf.NewWriterAt(tr, cuts, 1, cmaf.Options{})
		if err != nil {
			return nil, err
		}
		ct := cmafTrack{kind: tr.Kind, header: hdr.Bytes(), samples: len(samples)}
		for i := 0; i < sw.Len(); i++ {
			var b bytes.Buffer
			if _, err := sw.WriteSegment(ctx, &b, i); err != nil {
				return nil, err
			}
			ct.segs = append(ct.segs, b.Bytes())
		}
		out = append(out, ct)
	}
	return out, nil
}

// lastSegment returns seg with its styp replaced by one with the lmsg
// brand: the track's last segment.
func lastSegment(t testing.TB, seg []byte) []byte {
	t.Helper()
	size := binary.BigEndian.Uint32(seg)
	if string(seg[4:8]) != "styp" {
		t.Fatalf("segment starts with %q", seg[4:8])
	}
	var b bytes.Buffer
	if err := mp4.NewStyp("msdh", 0, []string{"msdh", "lmsg", "cmfs"}).Encode(&b); err != nil {
		t.Fatal(err)
	}
	return append(b.Bytes(), seg[size:]...)
}

// testWriter logs to t.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// rig is a live channel fed by a Handler on an httptest server.
type rig struct {
	t       *testing.T
	dir     string
	ch      *live.Channel
	h       *Handler
	srv     *httptest.Server
	mu      sync.Mutex
	events  []live.Event
	allowed map[string]bool
}

func newRig(t *testing.T, opts Options) *rig {
	t.Helper()
	r := &rig{t: t, dir: t.TempDir()}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	r.ch = &live.Channel{Storage: storage.Dir(r.dir), SegmentDuration: 2 * time.Second, Logger: opts.Logger, OnEvent: func(e live.Event) {
		r.mu.Lock()
		r.events = append(r.events, e)
		r.mu.Unlock()
	}}
	r.h = &Handler{Options: opts, Publish: func(ctx context.Context, key string) (live.Publisher, error) {
		if r.allowed != nil && !r.allowed[key] {
			return nil, live.ErrUnknownKey
		}
		return r.ch.Publish(ctx, key)
	}}
	mux := http.NewServeMux()
	mux.Handle("/ingest/cmaf/", http.StripPrefix("/ingest/cmaf", r.h))
	r.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		r.srv.Close()
		r.h.Close(nil)
	})
	return r
}

func (r *rig) url(p string) string { return r.srv.URL + "/ingest/cmaf/" + p }

// send makes one request and returns its status and body; a request that
// fails (its body broke) returns -1 and the error. It may be called from
// any goroutine.
func (r *rig) send(method, p string, body io.Reader) (int, string) {
	req, err := http.NewRequest(method, r.url(p), body)
	if err != nil {
		return -1, err.Error()
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return -1, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (r *rig) put(p string, body []byte) (int, string) {
	r.t.Helper()
	return r.send(http.MethodPut, p, bytes.NewReader(body))
}

// eventsOf returns the events of a kind so far.
func (r *rig) eventsOf(k live.EventKind) []live.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []live.Event
	for _, e := range r.events {
		if e.Kind == k {
			out = append(out, e)
		}
	}
	return out
}

// waitEvent waits until n events of kind k happened.
func (r *rig) waitEvent(k live.EventKind, n int, within time.Duration) []live.Event {
	r.t.Helper()
	deadline := time.Now().Add(within)
	for {
		if evs := r.eventsOf(k); len(evs) >= n {
			return evs
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%d %s events after %v, want %d", len(r.eventsOf(k)), k, within, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkOutput closes the channel and checks its manifests: the MPD
// validates, and each media playlist names segments.
func (r *rig) checkOutput(reps ...string) {
	r.t.Helper()
	if err := r.ch.Close(context.Background()); err != nil {
		r.t.Fatal(err)
	}
	testutil.ValidateMPD(r.t, filepath.Join(r.dir, live.DASHName))
	for _, rep := range reps {
		b, err := os.ReadFile(filepath.Join(r.dir, rep+".m3u8"))
		if err != nil {
			r.t.Fatal(err)
		}
		if n := strings.Count(string(b), "#EXTINF"); n < 2 {
			r.t.Errorf("%s.m3u8 names %d segments:\n%s", rep, n, b)
		}
	}
}

// waitSession waits until the session of key satisfies ok (called under
// the session's lock).
func (r *rig) waitSession(key string, ok func(s *session) bool) {
	r.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r.h.mu.Lock()
		s := r.h.sessions[key]
		r.h.mu.Unlock()
		if s != nil {
			s.mu.Lock()
			done := ok(s)
			s.mu.Unlock()
			if done {
				return
			}
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("session %q not in the state waited for", key)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

package cmafingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/live"
	"github.com/cmafkit/cmafkit/segment"
	"github.com/cmafkit/cmafkit/segment/isobmff"
	"github.com/cmafkit/cmafkit/storage"
)

// TestLongPost posts each track of the packager's own CMAF output as one
// long-running chunked POST to its own Streams() path, in parallel, the
// last segment with the lmsg brand: every sample reaches the channel, the
// session ends normally, and the manifests validate.
func TestLongPost(t *testing.T) {
	t.Parallel()
	tracks := ladderTracks(t)
	// Sent faster than real time, one track may run far ahead of the
	// other: only the rule "two fragments of every track" starts it.
	r := newRig(t, Options{MaxStartDelay: time.Minute})
	var wg sync.WaitGroup
	total := 0
	pws := make([]*io.PipeWriter, len(tracks))
	for k, tr := range tracks {
		total += tr.samples
		pr, pw := io.Pipe()
		pws[k] = pw
		wg.Go(func() {
			if code, msg := r.send(http.MethodPost, fmt.Sprintf("key/Streams(%s)", tr.kind), pr); code != http.StatusOK {
				t.Errorf("%s: %d %s", tr.kind, code, msg)
			}
		})
	}
	// As an encoder: the headers, then each track's segments as they
	// are made, the tracks in step.
	for k, tr := range tracks {
		pws[k].Write(tr.header)
	}
	r.waitSession("key", func(s *session) bool { return len(s.order) == len(tracks) })
	for i := 0; ; i++ {
		more := false
		for k, tr := range tracks {
			if i > len(tr.segs) {
				continue
			}
			more = true
			if i == len(tr.segs) {
				pws[k].Close()
				continue
			}
			seg := tr.segs[i]
			if i == len(tr.segs)-1 {
				seg = lastSegment(t, seg)
			}
			pws[k].Write(seg)
		}
		if !more {
			break
		}
	}
	wg.Wait()
	gone := r.waitEvent(live.PublisherGone, 1, 5*time.Second)
	if gone[0].Err != nil {
		t.Errorf("session ended with %v, want a normal end (lmsg on every track)", gone[0].Err)
	}
	if st := r.ch.Stats(); st.Samples != int64(total) || st.Rejected != 0 || st.Discontinuities != 0 {
		t.Errorf("stats %+v, want %d samples, none rejected, no discontinuity", st, total)
	}
	r.checkOutput("video0", "audio0")
}

// TestPerObject sends the DASH shape: an MPD naming the tracks, each
// header, then each segment in its own PUT, interleaved across tracks; the
// MPD maps segment names to tracks. Deleting the MPD ends the stream.
func TestPerObject(t *testing.T) {
	t.Parallel()
	tracks := ladderTracks(t)
	r := newRig(t, Options{})
	mpd := `<?xml version="1.0"?><MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="dynamic"><Period id="0">` +
		`<AdaptationSet><SegmentTemplate initialization="init-$RepresentationID$.cmfv" media="seg-$RepresentationID$-$Number%05d$.cmfv"/>` +
		`<Representation id="v1"/></AdaptationSet>` +
		`<AdaptationSet><Representation id="a1"><SegmentTemplate initialization="init-$RepresentationID$.cmfa" media="seg-$RepresentationID$-$Number%05d$.cmfa"/></Representation></AdaptationSet>` +
		`</Period></MPD>`
	if code, msg := r.put("k/live/in.mpd", []byte(mpd)); code != http.StatusOK {
		t.Fatalf("MPD: %d %s", code, msg)
	}
	names := map[segment.Kind][2]string{segment.KindVideo: {"v1", "cmfv"}, segment.KindAudio: {"a1", "cmfa"}}
	total := 0
	for _, tr := range tracks {
		n := names[tr.kind]
		total += tr.samples
		if code, msg := r.put(fmt.Sprintf("k/live/init-%s.%s", n[0], n[1]), tr.header); code != http.StatusOK {
			t.Fatalf("header: %d %s", code, msg)
		}
	}
	for i := 0; ; i++ {
		more := false
		for _, tr := range tracks {
			if i >= len(tr.segs) {
				continue
			}
			more = true
			n := names[tr.kind]
			if code, msg := r.put(fmt.Sprintf("k/live/seg-%s-%05d.%s", n[0], i+1, n[1]), tr.segs[i]); code != http.StatusOK {
				t.Fatalf("segment %d: %d %s", i+1, code, msg)
			}
		}
		if !more {
			break
		}
	}
	if code, _ := r.send(http.MethodDelete, "k/live/seg-v1-00001.cmfv", nil); code != http.StatusOK {
		t.Errorf("DELETE of a segment: %d", code)
	}
	if len(r.eventsOf(live.PublisherGone)) != 0 {
		t.Fatal("the session ended before the MPD was deleted")
	}
	if code, _ := r.send(http.MethodDelete, "k/live/in.mpd", nil); code != http.StatusOK {
		t.Errorf("DELETE of the MPD: %d", code)
	}
	gone := r.waitEvent(live.PublisherGone, 1, 5*time.Second)
	if gone[0].Err != nil {
		t.Errorf("session ended with %v, want a normal end", gone[0].Err)
	}
	if st := r.ch.Stats(); st.Samples != int64(total) || st.Discontinuities != 0 {
		t.Errorf("stats %+v, want %d samples and no discontinuity", st, total)
	}
	r.checkOutput("video0", "audio0")
}

// TestRefused checks the answers to what an ingest must refuse, each with
// a message saying why; the channel takes nothing from them.
func TestRefused(t *testing.T) {
	t.Parallel()
	tracks := ladderTracks(t)
	video := tracks[0]
	progressive, err := os.ReadFile(filepath.Join("..", "..", "testdata", "ladder_360p.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	ts, err := os.ReadFile(filepath.Join("..", "..", "testdata", "h264_aac.ts"))
	if err != nil {
		t.Fatal(err)
	}
	bigMdat := append(append([]byte{}, video.header...), video.segs[0]...)
	for _, tc := range []struct {
		name, method, path string
		body               []byte
		code               int
		msg                string
	}{
		{"mpeg-ts", "POST", "k/Streams(v)", ts[:4096], 400, "starts with ftyp, moov, styp or moof"},
		{"text", "PUT", "k/v.cmfv", []byte("hello, this is not a box stream"), 400, "not CMAF"},
		{"progressive mp4", "POST", "k/v", progressive[:1<<16], 400, ""},
		{"fragment without header", "PUT", "k/nohdr.cmfv", video.segs[0], 412, "no CMAF header"},
		{"mdat over the limit", "POST", "k2/big", bigMdat, 413, "more than the limit"},
		{"truncated box", "POST", "k/trunc", video.header[:len(video.header)-10], 400, "body ends inside the box"},
		{"unknown key", "PUT", "nokey/v", video.header, 403, "unknown stream key"},
		{"get", "GET", "k/v", nil, 405, ""},
		{"bad mpd", "PUT", "k/m.mpd", []byte("<MPD><Period><AdaptationSet><Representation id='1'><SegmentTemplate initialization='i.mp4' media='$Number$.m4s'/></Representation></AdaptationSet></Period></MPD>"), 400, "$RepresentationID$"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := Options{}
			if tc.name == "mdat over the limit" {
				opts.MaxFragmentSize = 1000
			}
			r := newRig(t, opts)
			r.allowed = map[string]bool{"k": true, "k2": true}
			code, msg := r.send(tc.method, tc.path, bytes.NewReader(tc.body))
			if code != tc.code || !strings.Contains(msg, tc.msg) {
				t.Errorf("%d %q, want %d with %q", code, msg, tc.code, tc.msg)
			}
			if st := r.ch.Stats(); st.Samples != 0 {
				t.Errorf("%d samples published", st.Samples)
			}
		})
	}
}

// TestBadPaths: paths that are not /KEY/PATH with clean elements are
// refused before the key is looked at.
func TestBadPaths(t *testing.T) {
	t.Parallel()
	h := &Handler{Publish: func(ctx context.Context, key string) (live.Publisher, error) {
		t.Errorf("Publish(%q) called", key)
		return nil, live.ErrUnknownKey
	}}
	for _, p := range []string{"", "/", "//x", "/k/../x", "/k/./x", "/k//x", "/../x", "/k/a\\b", "/k/a\x01", "/k/" + strings.Repeat("a", 2000)} {
		w := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPut, "/", strings.NewReader("x"))
		req.URL.Path = p
		h.ServeHTTP(w, req)
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "bad ingest path") {
			t.Errorf("%q: %d %q, want 400", p, w.Code, w.Body.String())
		}
	}
}

// TestProgressiveMP4Refused: a whole MP4 with its moov (no mvex) is
// refused as not a CMAF header.
func TestProgressiveMP4Refused(t *testing.T) {
	t.Parallel()
	tracks := ladderTracks(t)
	h := tracks[0].header
	// The writer's header has an mvex; drop it from the moov.
	boxes, err := children(h)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	for _, bx := range boxes {
		if bx.typ != "moov" {
			writeBox(&b, bx.typ, bx.payload)
			continue
		}
		kids, _ := children(bx.payload)
		var moov bytes.Buffer
		for _, k := range kids {
			if k.typ != "mvex" {
				writeBox(&moov, k.typ, k.payload)
			}
		}
		writeBox(&b, "moov", moov.Bytes())
	}
	r := newRig(t, Options{})
	code, msg := r.put("k/v", b.Bytes())
	if code != 400 || !strings.Contains(msg, "no mvex") {
		t.Errorf("%d %q, want 400 saying no mvex", code, msg)
	}
}

func writeBox(w *bytes.Buffer, typ string, payload []byte) {
	n := uint32(8 + len(payload))
	w.Write([]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
	w.WriteString(typ)
	w.Write(payload)
}

// TestSecondPublisher: while a track receives a long POST, a second
// encoder's header for it is refused with 409, and so is a second encoder
// re-posting the header of a track that is publishing by segments; the
// first goes on undisturbed.
func TestSecondPublisher(t *testing.T) {
	t.Parallel()
	tracks := ladderTracks(t)
	video := tracks[0]
	r := newRig(t, Options{})
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		code, _ := r.send(http.MethodPost, "k/Streams(video)", pr)
		done <- code
	}()
	pw.Write(video.header)
	pw.Write(video.segs[0])
	r.waitSession("k", func(s *session) bool { t := s.tracks["Streams(video)"]; return t != nil && t.fragments > 0 })
	code, msg := r.put("k/Streams(video)", video.header)
	if code != http.StatusConflict || !strings.Contains(msg, "receiving another request") {
		t.Errorf("second header during a long POST: %d %q, want 409", code, msg)
	}
	for _, seg := range video.segs[1:] {
		pw.Write(seg)
	}
	pw.Close()
	if code := <-done; code != http.StatusOK {
		t.Errorf("first publisher: %d", code)
	}
	// The track published and its request ended normally: a header
	// posted again now is a second encoder.
	code, msg = r.put("k/Streams(video)", video.header)
	if code != http.StatusConflict || !strings.Contains(msg, "second encoder") {
		t.Errorf("second header after fragments: %d %q, want 409", code, msg)
	}
	if st := r.ch.Stats(); st.Samples != int64(video.samples) {
		t.Errorf("%d samples, want %d", st.Samples, video.samples)
	}
}

// TestRestartAfterBrokenRequest: an encoder whose long POST broke (killed)
// posts its header again to the same path and starts its timestamps from
// zero: the session goes on and the channel starts a new period; the MPD
// validates.
func TestRestartAfterBrokenRequest(t *testing.T) {
	t.Parallel()
	tracks := ladderTracks(t)
	video := tracks[0]
	r := newRig(t, Options{})
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		code, _ := r.send(http.MethodPost, "k/Streams(video)", pr)
		done <- code
	}()
	pw.Write(video.header)
	for _, seg := range video.segs[:2] {
		pw.Write(seg)
	}
	pw.Write(video.segs[2][:100]) // killed inside a fragment
	pw.CloseWithError(errors.New("killed"))
	<-done
	r.waitSession("k", func(s *session) bool { return s.busy["Streams(video)"] == 0 })
	// The same encoder, restarted: same header, times from zero again.
	var body bytes.Buffer
	body.Write(video.header)
	for _, seg := range video.segs[:len(video.segs)-1] {
		body.Write(seg)
	}
	body.Write(lastSegment(t, video.segs[len(video.segs)-1]))
	if code, msg := r.send(http.MethodPost, "k/Streams(video)", &body); code != http.StatusOK {
		t.Fatalf("restarted encoder: %d %s", code, msg)
	}
	r.waitEvent(live.PublisherGone, 1, 5*time.Second)
	if st := r.ch.Stats(); st.Discontinuities != 1 || st.Publishers != 1 {
		t.Errorf("stats %+v, want one session with one discontinuity", st)
	}
	r.checkOutput("video0")
}

// TestRestartBeforeStart: an encoder killed while its first fragment was
// still held back (the start waits for two per track) and restarted with
// its times from zero: what it sent first is published, then the restart
// after a discontinuity, not the two runs' samples mixed.
func TestRestartBeforeStart(t *testing.T) {
	t.Parallel()
	video := ladderTracks(t)[0]
	r := newRig(t, Options{})
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		code, _ := r.send(http.MethodPost, "k/v", pr)
		done <- code
	}()
	pw.Write(video.header)
	pw.Write(video.segs[0])
	r.waitSession("k", func(s *session) bool { t := s.tracks["v"]; return t != nil && t.fragments == 1 })
	pw.CloseWithError(errors.New("killed"))
	<-done
	r.waitSession("k", func(s *session) bool { return s.busy["v"] == 0 })
	var body bytes.Buffer
	body.Write(video.header)
	for _, seg := range video.segs[:len(video.segs)-1] {
		body.Write(seg)
	}
	body.Write(lastSegment(t, video.segs[len(video.segs)-1]))
	if code, msg := r.send(http.MethodPost, "k/v", &body); code != http.StatusOK {
		t.Fatalf("restarted encoder: %d %s", code, msg)
	}
	r.waitEvent(live.PublisherGone, 1, 5*time.Second)
	if st := r.ch.Stats(); st.Discontinuities != 1 || st.Samples != int64(video.samples+len(firstSamples(t, video))) {
		t.Errorf("stats %+v, want one discontinuity and %d samples", st, video.samples+len(firstSamples(t, video)))
	}
	r.checkOutput("video0")
}

// firstSamples returns the samples of a track's first segment.
func firstSamples(t *testing.T, tr cmafTrack) []segment.Sample {
	t.Helper()
	all := append(append([]byte{}, tr.header...), tr.segs[0]...)
	src, err := isobmff.Open(context.Background(), bytes.NewReader(all), int64(len(all)), "first", nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := src.Tracks[0].AppendSamples(nil, 0, src.Tracks[0].SampleCount())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestIdleSession: an encoder that stops sending (killed between
// requests) is gone after IdleTimeout, with ErrGone; the key is free for
// the next session, which the channel publishes after a discontinuity.
func TestIdleSession(t *testing.T) {
	t.Parallel()
	tracks := ladderTracks(t)
	video := tracks[0]
	r := newRig(t, Options{IdleTimeout: 200 * time.Millisecond})
	r.put("k/v", video.header)
	for _, seg := range video.segs[:3] {
		if code, msg := r.put("k/v", seg); code != 200 {
			t.Fatalf("%d %s", code, msg)
		}
	}
	gone := r.waitEvent(live.PublisherGone, 1, 5*time.Second)
	if !errors.Is(gone[0].Err, ErrGone) {
		t.Errorf("session ended with %v, want ErrGone", gone[0].Err)
	}
	r.put("k/v", video.header)
	for _, seg := range video.segs[:3] {
		if code, msg := r.put("k/v", seg); code != 200 {
			t.Fatalf("%d %s", code, msg)
		}
	}
	r.waitEvent(live.PublisherGone, 2, 5*time.Second)
	if st := r.ch.Stats(); st.Publishers != 2 || st.Discontinuities != 1 {
		t.Errorf("stats %+v, want two sessions and one discontinuity", st)
	}
	r.checkOutput("video0")
}

// TestStalledRequest: a request whose body stops sending is cut after
// ReadTimeout, and meanwhile another key's requests go through.
func TestStalledRequest(t *testing.T) {
	t.Parallel()
	tracks := ladderTracks(t)
	video := tracks[0]
	r := newRig(t, Options{ReadTimeout: 300 * time.Millisecond})
	// A second channel for key "b".
	other := &live.Channel{Storage: storage.Dir(t.TempDir()), SegmentDuration: time.Second}
	pub := r.h.Publish
	r.h.Publish = func(ctx context.Context, key string) (live.Publisher, error) {
		if key == "b" {
			return other.Publish(ctx, key)
		}
		return pub(ctx, key)
	}
	pr, pw := io.Pipe()
	defer pw.Close()
	done := make(chan int, 1)
	start := time.Now()
	go func() {
		code, _ := r.send(http.MethodPost, "a/v", pr)
		done <- code
	}()
	pw.Write(video.header)
	pw.Write(video.segs[0][:50]) // and nothing more
	var body bytes.Buffer
	body.Write(video.header)
	for _, seg := range video.segs {
		body.Write(seg)
	}
	if code, msg := r.put("b/v", body.Bytes()); code != 200 {
		t.Fatalf("other key: %d %s", code, msg)
	}
	select {
	case <-done:
		if d := time.Since(start); d < 250*time.Millisecond {
			t.Errorf("stalled request ended after %v, before the read timeout", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("stalled request not cut")
	}
	if st := other.Stats(); st.Samples != int64(video.samples) {
		t.Errorf("other channel: %d samples, want %d", st.Samples, video.samples)
	}
}

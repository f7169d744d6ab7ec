package tsin

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/internal/testutil"
	"github.com/cmafkit/cmafkit/live"
	"github.com/cmafkit/cmafkit/manifest"
	"github.com/cmafkit/cmafkit/segment"
	"github.com/cmafkit/cmafkit/storage"
)

// syncBuffer is a bytes.Buffer safe for a logger and a test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestGarbageDropped puts 1 MB of random bytes in the middle of a stream:
// it is skipped with a warning, the publisher stays open, and the samples
// after it are published as the VOD demuxer reads them.
func TestGarbageDropped(t *testing.T) {
	path := makeTS(t, 4)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := vodSamples(t, path)
	cut := len(data) / 188 / 2 * 188
	junk := make([]byte, 1<<20)
	rnd := rand.New(rand.NewPCG(3, 4))
	for i := range junk {
		junk[i] = byte(rnd.Uint32())
	}
	in := append(append(append([]byte{}, data[:cut]...), junk...), data[cut:]...)
	var logs syncBuffer
	r := &recorder{}
	s := NewSession(context.Background(), r, &Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	for b := in; len(b) > 0; {
		n := min(len(b), 1316)
		if _, err := s.Write(b[:n]); err != nil {
			t.Fatal(err)
		}
		b = b[n:]
		if r.closed {
			t.Fatal("publisher closed by garbage")
		}
	}
	if err := s.Close(nil); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	if st.Resyncs == 0 || st.SkippedBytes < 1<<20-188 || st.SkippedBytes > 1<<20+8*188 {
		t.Errorf("stats %+v: want the 1 MiB skipped", st)
	}
	if !strings.Contains(logs.String(), "lost TS sync") {
		t.Errorf("no warning logged:\n%s", logs.String())
	}
	// Samples after the garbage: the last ones match the VOD demuxer's.
	for _, kind := range []segment.Kind{segment.KindVideo, segment.KindAudio} {
		got, w := r.samples[r.trackOf(kind)], want[kind]
		if len(got) < len(w)*9/10 {
			t.Errorf("%s: %d samples, VOD %d", kind, len(got), len(w))
		}
		tail := min(len(got), len(w)) / 3
		compare(t, kind, got[len(got)-tail:], w[len(w)-tail:], r.tracks[r.trackOf(kind)].Timescale)
	}
}

// TestTimestampReset joins two streams whose timestamps start over: one
// Discontinuity, then samples on the new time base, starting with a keyframe.
func TestTimestampReset(t *testing.T) {
	a, err := os.ReadFile(makeTS(t, 3, "-output_ts_offset", "100"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(makeTS(t, 3))
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{}
	if err := Read(context.Background(), io.MultiReader(bytes.NewReader(a), bytes.NewReader(b)), r, nil); err != nil {
		t.Fatal(err)
	}
	if n := r.discs(); n != 1 {
		t.Fatalf("%d discontinuities, want 1: %v", n, r.events)
	}
	for _, kind := range []segment.Kind{segment.KindVideo, segment.KindAudio} {
		k := r.trackOf(kind)
		ss := r.samples[k]
		ts := float64(r.tracks[k].Timescale)
		var before, after []rec
		for _, s := range ss {
			if s.epoch == 0 {
				before = append(before, s)
			} else {
				after = append(after, s)
			}
		}
		if len(before) == 0 || len(after) == 0 {
			t.Fatalf("%s: %d samples before the reset, %d after", kind, len(before), len(after))
		}
		jump := (float64(after[0].s.DecodeTime) - float64(before[len(before)-1].s.DecodeTime)) / ts
		if jump > -95 || jump < -105 {
			t.Errorf("%s: timestamps jump by %.1f s at the reset, want about -100", kind, jump)
		}
		if kind == segment.KindVideo && !after[0].s.Sync {
			t.Errorf("first video sample after the reset is not a keyframe")
		}
		if len(after) < 2*len(before)/3 {
			t.Errorf("%s: %d samples after the reset, %d before", kind, len(after), len(before))
		}
	}
}

// TestUDPLoss sends a stream over UDP on 127.0.0.1, seven packets per
// datagram, dropping 1 % of the datagrams: the stream goes on, with the
// damage counted.
func TestUDPLoss(t *testing.T) {
	path := makeTS(t, 8)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := vodSamples(t, path)
	conn, err := ListenUDP("udp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := &recorder{}
	done := make(chan error, 1)
	go func() { done <- ReadUDP(ctx, conn, r, nil) }()
	out, err := net.DialUDP("udp", nil, conn.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	rnd := rand.New(rand.NewPCG(5, 6))
	dropped := 0
	for i := 0; i < len(data); i += 7 * 188 {
		if rnd.IntN(100) == 0 {
			dropped++
			continue
		}
		if _, err := out.Write(data[i:min(i+7*188, len(data))]); err != nil {
			t.Fatal(err)
		}
		if i%(50*7*188) == 0 {
			time.Sleep(time.Millisecond) // stay within the socket buffer
		}
	}
	if dropped == 0 {
		t.Fatal("the sender dropped nothing")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		r.mu.Lock()
		n := 0
		if a := r.trackOf(segment.KindAudio); a >= 0 {
			n = len(r.samples[a])
		}
		r.mu.Unlock()
		if n >= len(want[segment.KindAudio])*9/10 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r.closed {
		t.Fatal("publisher closed before the end")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !r.closed || r.err != nil {
		t.Fatalf("publisher closed %v, err %v", r.closed, r.err)
	}
	// A lost datagram drops the access unit it damaged, and for video the
	// ones up to the next keyframe; the stream goes on to its end.
	for kind, frac := range map[segment.Kind]int{segment.KindVideo: 33, segment.KindAudio: 90} {
		k := r.trackOf(kind)
		if k < 0 {
			t.Fatalf("no %s track", kind)
		}
		got, w := r.samples[k], want[kind]
		if n := len(got); n*100 < len(w)*frac || n > len(w) {
			t.Errorf("%s: %d samples of %d with %d datagrams dropped", kind, n, len(w), dropped)
		}
		last, wlast := got[len(got)-1].s.DecodeTime-got[0].s.DecodeTime, w[len(w)-1].s.DecodeTime-w[0].s.DecodeTime
		if ts := uint64(r.tracks[k].Timescale); last+ts < wlast {
			t.Errorf("%s: the stream stops %d ticks before its end", kind, wlast-last)
		}
	}
}

// TestHTTPPush pushes a stream with chunked PUT and checks the refusals.
func TestHTTPPush(t *testing.T) {
	path := makeTS(t, 2)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := vodSamples(t, path)
	var mu sync.Mutex
	pubs := map[string]*recorder{}
	h := &Handler{Publish: func(ctx context.Context, key string) (live.Publisher, error) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case key == "busy":
			return nil, live.ErrKeyInUse
		case !strings.HasPrefix(key, "good"):
			return nil, live.ErrUnknownKey
		}
		r := &recorder{}
		pubs[key] = r
		return r, nil
	}}
	mux := http.NewServeMux()
	mux.Handle("/ingest/ts/", http.StripPrefix("/ingest/ts", h))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	put := func(method, key string, body io.Reader) int {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+"/ingest/ts/"+key, body)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	// A pipe has no length: the client sends it chunked.
	pr, pw := io.Pipe()
	go func() {
		for b := data; len(b) > 0; {
			n := min(len(b), 4000)
			pw.Write(b[:n])
			b = b[n:]
		}
		pw.Close()
	}()
	if code := put(http.MethodPut, "good1", pr); code != http.StatusNoContent {
		t.Errorf("PUT: %d", code)
	}
	r := pubs["good1"]
	if r == nil || !r.closed || r.err != nil {
		t.Fatalf("publisher %+v", r)
	}
	for _, kind := range []segment.Kind{segment.KindVideo, segment.KindAudio} {
		k := r.trackOf(kind)
		compare(t, kind, r.samples[k], want[kind], r.tracks[k].Timescale)
	}
	if code := put(http.MethodPost, "good2", bytes.NewReader(data)); code != http.StatusNoContent {
		t.Errorf("POST: %d", code)
	}
	for key, code := range map[string]int{"nope": http.StatusForbidden, "busy": http.StatusConflict, "": http.StatusNotFound, "a/b": http.StatusNotFound} {
		if got := put(http.MethodPut, key, bytes.NewReader(data[:188*10])); got != code {
			t.Errorf("PUT %q: %d, want %d", key, got, code)
		}
	}
	if got := put(http.MethodGet, "good3", nil); got != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", got)
	}
}

// TestChannelDecodes publishes a stream through a real live.Channel into a
// directory: ffprobe decodes every frame of the segments it writes.
func TestChannelDecodes(t *testing.T) {
	ffprobe := testutil.NeedTool(t, "ffprobe")
	path := makeTS(t, 5)
	want := vodSamples(t, path)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx := context.Background()
	dir := t.TempDir()
	ch := &live.Channel{Storage: storage.Dir(dir), Window: -1, SegmentDuration: time.Second}
	pub, err := ch.Publish(ctx, "ts")
	if err != nil {
		t.Fatal(err)
	}
	if err := Read(ctx, f, pub, nil); err != nil {
		t.Fatal(err)
	}
	cerr := ch.Close(ctx)
	p := ch.Presentation()
	if p == nil {
		t.Fatalf("nothing packaged (close: %v)", cerr)
	}
	t.Logf("channel stats %+v", ch.Stats())
	if st := ch.Stats(); st.Rejected != 0 || st.Discontinuities != 0 {
		t.Errorf("channel stats %+v", st)
	}
	for _, set := range p.Periods[0].Sets {
		for _, rep := range set.Representations {
			var b []byte
			for _, uri := range append([]string{rep.Init.URI}, segURIs(rep.Segments)...) {
				d, err := os.ReadFile(filepath.Join(dir, uri))
				if err != nil {
					t.Fatal(err)
				}
				b = append(b, d...)
			}
			cat := filepath.Join(dir, rep.ID+".mp4")
			if err := os.WriteFile(cat, b, 0o644); err != nil {
				t.Fatal(err)
			}
			kind := segment.KindVideo
			if rep.Width == 0 {
				kind = segment.KindAudio
			}
			t.Logf("%s: %d segments", rep.ID, len(rep.Segments))
			if n := countFrames(t, ffprobe, cat); n != len(want[kind]) {
				t.Errorf("%s: ffprobe decodes %d frames, the TS has %d", rep.ID, n, len(want[kind]))
			}
		}
	}
}

func segURIs(ss []manifest.SegmentRef) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.URI)
	}
	return out
}

// countFrames returns the frames ffprobe decodes in the first stream of
// name, failing on any decoding error.
func countFrames(t *testing.T, ffprobe, name string) int {
	t.Helper()
	cmd := exec.Command(ffprobe, "-v", "error", "-count_frames", "-select_streams", "0",
		"-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", name)
	out, err := cmd.CombinedOutput()
	lines := strings.Fields(string(out))
	if err != nil || len(lines) != 1 {
		t.Fatalf("ffprobe %s: %v\n%s", name, err, out)
	}
	n, err := strconv.Atoi(strings.TrimSuffix(lines[0], ","))
	if err != nil {
		t.Fatalf("ffprobe %s: %q", name, out)
	}
	return n
}

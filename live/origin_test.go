package live

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/segment"
)

// recorded is one sample of a recorded publish.
type recorded struct {
	track   int
	s       segment.Sample
	payload []byte
}

// recorder is a Publisher that keeps what it is given, to feed a channel
// sample by sample later.
type recorder struct {
	tracks  []*segment.Track
	samples []recorded
}

func (r *recorder) AddTrack(ctx context.Context, t *segment.Track) (int, error) {
	r.tracks = append(r.tracks, t)
	return len(r.tracks) - 1, nil
}
func (r *recorder) WriteSample(ctx context.Context, track int, s segment.Sample, payload []byte) error {
	r.samples = append(r.samples, recorded{track, s, append([]byte(nil), payload...)})
	return nil
}
func (r *recorder) Discontinuity(ctx context.Context) {}
func (r *recorder) Close(err error)                   {}

// feeder pushes recorded samples into a low-latency channel on demand,
// moving the channel's fake clock along with them.
type feeder struct {
	t   *testing.T
	ch  *Channel
	clk *fakeClock
	pub Publisher
	rec *recorder
	i   int
}

func newFeeder(t *testing.T, loops int) *feeder {
	t.Helper()
	rec := &recorder{}
	if err := Replay(context.Background(), openTracks(t, "ladder_720p.mp4"), rec, ReplayOptions{Loops: loops}); err != nil {
		t.Fatal(err)
	}
	clk := &fakeClock{t: epoch}
	ch := &Channel{Storage: newMem(), Clock: clk.Now, PartDuration: 500 * time.Millisecond, Window: time.Minute, SkipUntil: time.Second}
	pub, err := ch.Publish(context.Background(), "test")
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range rec.tracks {
		if _, err := pub.AddTrack(context.Background(), tr); err != nil {
			t.Fatal(err)
		}
	}
	return &feeder{t: t, ch: ch, clk: clk, pub: pub, rec: rec}
}

// step feeds one sample; false when none is left.
func (f *feeder) step() bool {
	if f.i >= len(f.rec.samples) {
		return false
	}
	r := f.rec.samples[f.i]
	f.i++
	at := epoch.Add(ticksToDur(int64(r.s.DecodeTime), f.rec.tracks[r.track].Timescale))
	if at.After(f.clk.Now()) {
		f.clk.Set(at)
	}
	if err := f.pub.WriteSample(context.Background(), r.track, r.s, r.payload); err != nil {
		f.t.Fatal(err)
	}
	return true
}

// until feeds samples until cond holds.
func (f *feeder) until(what string, cond func() bool) {
	f.t.Helper()
	for !cond() {
		if !f.step() {
			f.t.Fatalf("input ended before %s", what)
		}
	}
}

// edge returns rep's edge now.
func (f *feeder) edge(rep string) edge {
	l := f.ch.ll
	l.mu.Lock()
	defer l.mu.Unlock()
	e, _ := l.edgeOf(rep)
	return e
}

func (f *feeder) started() bool {
	l := f.ch.ll
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.pres != nil
}

// hasPart reports whether part k of segment n of rep exists.
func (f *feeder) hasPart(rep string, n, k int) bool {
	l := f.ch.ll
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.seg(rep, 0, n, false)
	return s != nil && len(s.parts) > k
}

func (f *feeder) partData(rep string, n, k int) []byte {
	l := f.ch.ll
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seg(rep, 0, n, false).parts[k].data
}

func newOriginServer(t *testing.T, f *feeder, maxHold time.Duration) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(NewOrigin(f.ch, OriginOptions{MaxHold: maxHold}))
	t.Cleanup(srv.Close)
	return srv
}

type answer struct {
	code int
	body string
	at   time.Time
	err  error
}

// get requests url in the background.
func get(url string) <-chan answer {
	out := make(chan answer, 1)
	go func() {
		resp, err := http.Get(url)
		if err != nil {
			out <- answer{err: err, at: time.Now()}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		out <- answer{code: resp.StatusCode, body: string(b), at: time.Now(), err: err}
	}()
	return out
}

// TestOriginBlockingReload holds a playlist request for the next part
// until the channel makes it, answers it within 50 ms of that, answers
// requests for parts already made at once, refuses requests too far ahead
// or malformed with 400, and gives up with 503 after MaxHold.
func TestOriginBlockingReload(t *testing.T) {
	f := newFeeder(t, 1)
	srv := newOriginServer(t, f, 700*time.Millisecond)
	f.until("the first segment", f.started)
	f.until("a part of the second segment", func() bool { e := f.edge("video0"); return e.part >= 0 && e.msn > e.lastDone })
	e := f.edge("video0")
	base := srv.URL + "/video0.m3u8"

	// Already there: at once.
	a := <-get(fmt.Sprintf("%s?_HLS_msn=%d&_HLS_part=%d", base, e.msn, e.part))
	if a.code != 200 || !strings.Contains(a.body, fmt.Sprintf("video0/part-%d.%d.m4s", e.msn, e.part)) {
		t.Fatalf("existing part: %d\n%s", a.code, a.body)
	}
	if !strings.Contains(a.body, "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"video0/part-") || !strings.Contains(a.body, "#EXT-X-RENDITION-REPORT:URI=\"audio0.m3u8\"") {
		t.Errorf("no preload hint or rendition report:\n%s", a.body)
	}

	// The next three parts, requested at once, are answered in order as
	// each is made.
	type held struct {
		n, k int
		c    <-chan answer
	}
	var hs []held
	n, k := e.msn, e.part
	for i := 0; i < 3; i++ {
		k++
		hs = append(hs, held{n, k, get(fmt.Sprintf("%s?_HLS_msn=%d&_HLS_part=%d", base, n, k))})
	}
	time.Sleep(100 * time.Millisecond)
	for _, h := range hs {
		select {
		case a := <-h.c:
			t.Fatalf("request for part %d.%d answered before it was made: %d %s", h.n, h.k, a.code, a.body)
		default:
		}
		var madeAt time.Time
		f.until("the next part", func() bool {
			e := f.edge("video0")
			if e.reached(h.n, h.k) {
				madeAt = time.Now()
				return true
			}
			return false
		})
		a := <-h.c
		if a.code != 200 {
			t.Fatalf("part %d.%d: %d %s", h.n, h.k, a.code, a.body)
		}
		e := f.edge("video0")
		want := fmt.Sprintf("video0/part-%d.%d.m4s", h.n, h.k)
		if e.done[h.n] && h.k >= e.parts[h.n] {
			want = fmt.Sprintf("video0/part-%d.0.m4s", h.n+1)
		}
		if !strings.Contains(a.body, want) {
			t.Errorf("answer for %d.%d lacks %s:\n%s", h.n, h.k, want, a.body)
		}
		if d := a.at.Sub(madeAt); d > 50*time.Millisecond {
			t.Errorf("part %d.%d answered %v after it was made", h.n, h.k, d)
		} else {
			t.Logf("part %d.%d answered %v after it was made", h.n, h.k, d)
		}
	}

	e = f.edge("video0")
	for _, q := range []string{
		fmt.Sprintf("_HLS_msn=%d", e.msn+3),
		fmt.Sprintf("_HLS_msn=%d&_HLS_part=%d", e.msn, e.part+7),
		"_HLS_part=1", "_HLS_msn=-1", "_HLS_msn=x", "_HLS_msn=01", "_HLS_skip=NO",
	} {
		if a := <-get(base + "?" + q); a.code != 400 {
			t.Errorf("%s: %d, want 400", q, a.code)
		}
	}
	start := time.Now()
	a = <-get(fmt.Sprintf("%s?_HLS_msn=%d", base, e.msn+1))
	if d := time.Since(start); a.code != 503 || d < 700*time.Millisecond || d > 2*time.Second {
		t.Errorf("unanswerable request: %d after %v, want 503 after 0.7 s", a.code, d)
	}
}

// TestOriginPreloadHintAndChunkedSegment requests the part the preload
// hint names and the segment being written before they are complete: the
// part arrives once made, with the bytes the channel made; the segment
// arrives part by part, its first part readable while the rest is not
// made yet, and whole it equals the stored segment.
func TestOriginPreloadHintAndChunkedSegment(t *testing.T) {
	f := newFeeder(t, 1)
	srv := newOriginServer(t, f, 3*time.Second)
	f.until("the first segment", f.started)
	e := f.edge("video0")
	n := e.lastDone + 1
	pc := get(fmt.Sprintf("%s/video0/part-%d.0.m4s", srv.URL, n))

	type reply struct {
		resp *http.Response
		err  error
	}
	rc := make(chan reply, 1)
	go func() {
		resp, err := http.Get(fmt.Sprintf("%s/video0/seg-%d.m4s", srv.URL, n))
		rc <- reply{resp, err}
	}()
	time.Sleep(100 * time.Millisecond)
	// The headers come with the first part: make it.
	f.until("the first part", func() bool { return f.hasPart("video0", n, 0) })
	a := <-pc
	rep := <-rc
	if rep.err != nil {
		t.Fatal(rep.err)
	}
	resp := rep.resp
	defer resp.Body.Close()
	if a.code != 200 || a.body != string(f.partData("video0", n, 0)) {
		t.Fatalf("hinted part: %d, %d bytes", a.code, len(a.body))
	}
	if resp.StatusCode != 200 || len(resp.TransferEncoding) == 0 || resp.TransferEncoding[0] != "chunked" {
		t.Fatalf("segment being written: %d, transfer encoding %v", resp.StatusCode, resp.TransferEncoding)
	}
	br := bufio.NewReader(resp.Body)
	first := make([]byte, len(f.partData("video0", n, 0)))
	got := make(chan error, 1)
	go func() { _, err := io.ReadFull(br, first); got <- err }()
	select {
	case err := <-got:
		if err != nil || string(first) != string(f.partData("video0", n, 0)) {
			t.Fatalf("first part of the growing segment: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("first part of the segment being written not received while the segment grows")
	}
	if f.edge("video0").done[n] {
		t.Fatal("segment complete already: the test did not read it while it grew")
	}
	f.until("the segment's end", func() bool { return f.edge("video0").done[n] })
	rest, err := io.ReadAll(br)
	if err != nil {
		t.Fatal(err)
	}
	whole, _ := f.ch.ll.segmentBytes("video0", n)
	if string(first)+string(rest) != string(whole) {
		t.Errorf("growing segment: %d bytes, the segment has %d", len(first)+len(rest), len(whole))
	}
}

// TestOriginDeltaUpdate asks for a delta update of a playlist longer than
// CAN-SKIP-UNTIL: it skips the old segments with EXT-X-SKIP and ends as
// the whole playlist does.
func TestOriginDeltaUpdate(t *testing.T) {
	f := newFeeder(t, 4)
	srv := newOriginServer(t, f, time.Second)
	f.until("30 s of segments", func() bool { return f.started() && f.edge("video0").lastDone >= 15 })
	full := <-get(srv.URL + "/video0.m3u8")
	delta := <-get(srv.URL + "/video0.m3u8?_HLS_skip=YES")
	if full.code != 200 || delta.code != 200 {
		t.Fatalf("%d %d", full.code, delta.code)
	}
	if !strings.Contains(full.body, "CAN-SKIP-UNTIL=18.000") || strings.Contains(full.body, "EXT-X-SKIP:") {
		t.Errorf("full playlist:\n%s", full.body)
	}
	if !strings.Contains(delta.body, "#EXT-X-SKIP:SKIPPED-SEGMENTS=") || len(delta.body) >= len(full.body) {
		t.Errorf("delta update:\n%s", delta.body)
	}
	tail := full.body[strings.LastIndex(full.body, "#EXTINF"):]
	if !strings.HasSuffix(delta.body, tail) {
		t.Errorf("delta update does not end as the playlist does")
	}
}

// TestOriginRequests checks what the origin refuses and its headers: bad
// names go to the fallback (404 here), other methods get 405, and the time
// endpoint answers the channel's clock with CORS and no caching.
func TestOriginRequests(t *testing.T) {
	f := newFeeder(t, 1)
	srv := newOriginServer(t, f, 200*time.Millisecond)
	f.until("the first segment", f.started)
	for _, p := range []string{"/video0/part-01.0.m4s", "/video0/part-1.-1.m4s", "/vid..eo0/seg-1.m4s", "/video0/seg-1.mp4", "/nope.m3u8x", "/video0/part-1.0.m4s/x"} {
		if a := <-get(srv.URL + p); a.code != 404 {
			t.Errorf("%s: %d, want 404", p, a.code)
		}
	}
	if a := <-get(srv.URL + "/nosuch.m3u8"); a.code != 404 {
		t.Errorf("unknown playlist: %d", a.code)
	}
	resp, err := http.Post(srv.URL+"/video0.m3u8", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 {
		t.Errorf("POST: %d", resp.StatusCode)
	}
	resp, err = http.Get(srv.URL + "/" + TimePath)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if got, err := time.Parse(time.RFC3339, string(b)); err != nil || !got.Equal(f.clk.Now().Truncate(time.Millisecond)) ||
		resp.Header.Get("Access-Control-Allow-Origin") != "*" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("time: %q (%v), headers %v", b, err, resp.Header)
	}
	a := <-get(srv.URL + "/video0.m3u8")
	if a.code != 200 || !strings.Contains(a.body, "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES") {
		t.Errorf("playlist: %d\n%s", a.code, a.body)
	}
}

// TestOriginSlowClient keeps a client that never reads its growing
// segment while the channel makes eight more: the channel never waits for
// it, and another client's blocking request is answered as usual.
func TestOriginSlowClient(t *testing.T) {
	f := newFeeder(t, 3)
	srv := newOriginServer(t, f, 3*time.Second)
	f.until("the first segment", f.started)
	n := f.edge("video0").lastDone + 1
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /video0/seg-%d.m4s HTTP/1.1\r\nHost: x\r\n\r\n", n)
	var wg sync.WaitGroup
	done := make(chan bool, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for f.edge("video0").lastDone < n+8 {
			if !f.step() {
				done <- false
				return
			}
		}
		done <- true
	}()
	select {
	case ok := <-done:
		if !ok {
			t.Fatal("input ended before eight more segments")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the channel is held up by a client that does not read")
	}
	wg.Wait()
	e := f.edge("video0")
	a := <-get(fmt.Sprintf("%s/video0.m3u8?_HLS_msn=%d&_HLS_part=%d", srv.URL, e.msn, e.part))
	if a.code != 200 {
		t.Errorf("other client: %d", a.code)
	}
}

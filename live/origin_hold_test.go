package live

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/manifest/dash"
)

// heldRequests starts, on a stalled channel with a part of segment n made
// and the segment open, the three kinds of request the origin holds: a
// blocking reload for the next part, the hinted part, and the growing
// segment (read to its end). Each answer reports its status and whether
// its body ended cleanly.
func heldRequests(t *testing.T, base string, e edge) map[string]<-chan answer {
	t.Helper()
	n := e.msn
	out := map[string]<-chan answer{
		"playlist": get(fmt.Sprintf("%s/video0.m3u8?_HLS_msn=%d&_HLS_part=%d", base, n, e.part+1)),
		"part":     get(fmt.Sprintf("%s/video0/part-%d.%d.m4s", base, n, e.part+1)),
	}
	seg := make(chan answer, 1)
	go func() {
		resp, err := http.Get(fmt.Sprintf("%s/video0/seg-%d.m4s", base, n))
		if err != nil {
			seg <- answer{err: err, at: time.Now()}
			return
		}
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		seg <- answer{code: resp.StatusCode, err: err, at: time.Now()}
	}()
	out["segment"] = seg
	return out
}

// stall feeds f until a part of an open segment exists and returns the edge.
func stall(f *feeder) edge {
	f.until("the first segment", f.started)
	f.until("a part of an open segment", func() bool { e := f.edge("video0"); return e.part >= 0 && e.msn > e.lastDone })
	return f.edge("video0")
}

// TestOriginHoldEndsWhenStalled checks that no held request outlives its
// bound when the stream stops mid-segment (an encoder that stalls under
// load): the blocking reload and the hinted part get 503 after MaxHold,
// and the segment being written is cut short by MaxHold plus two segment
// durations, so that a player's connections are never taken for longer.
func TestOriginHoldEndsWhenStalled(t *testing.T) {
	f := newFeeder(t, 1)
	const maxHold = 500 * time.Millisecond
	srv := newOriginServer(t, f, maxHold)
	e := stall(f)
	start := time.Now()
	bound := maxHold + 2*f.ch.MaxSegmentDuration
	for what, c := range heldRequests(t, srv.URL, e) {
		select {
		case a := <-c:
			d := a.at.Sub(start)
			switch what {
			case "segment":
				// Headers were sent with the first part; the body is cut.
				if a.code != 200 || a.err == nil {
					t.Errorf("segment: %d, body error %v; want 200 and a cut body", a.code, a.err)
				}
				if d > bound+time.Second {
					t.Errorf("segment held %v, bound %v", d, bound)
				}
			default:
				if a.code != http.StatusServiceUnavailable || d < maxHold || d > maxHold+time.Second {
					t.Errorf("%s: %d after %v, want 503 after %v", what, a.code, d, maxHold)
				}
			}
		case <-time.After(bound + 5*time.Second):
			t.Fatalf("%s: still held after %v", what, time.Since(start))
		}
	}
}

// TestOriginHoldEndsAtClose checks that closing the channel wakes every
// held request at once, long before MaxHold.
func TestOriginHoldEndsAtClose(t *testing.T) {
	f := newFeeder(t, 1)
	const maxHold = 20 * time.Second
	srv := newOriginServer(t, f, maxHold)
	e := stall(f)
	held := heldRequests(t, srv.URL, e)
	time.Sleep(200 * time.Millisecond)
	for what, c := range held {
		select {
		case a := <-c:
			t.Fatalf("%s answered %d before the stream changed", what, a.code)
		default:
		}
	}
	closed := time.Now()
	if err := f.ch.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	for what, c := range held {
		select {
		case a := <-c:
			if a.code == 0 {
				t.Errorf("%s: %v", what, a.err)
			}
			t.Logf("%s: %d %v after the close", what, a.code, a.at.Sub(closed))
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: still held %v after the channel closed (MaxHold %v)", what, time.Since(closed), maxHold)
		}
	}
}

// TestLowLatencyMPDDelay checks that a low-latency MPD gives its delay
// only as the ServiceDescription target: Shaka in low-latency mode adds
// Latency@target to suggestedPresentationDelay, so an MPD with both puts
// it seconds further back than the target.
func TestLowLatencyMPDDelay(t *testing.T) {
	f := newFeeder(t, 1)
	f.until("the first segment", f.started)
	var b bytes.Buffer
	if err := dash.Render(&b, f.ch.Presentation()); err != nil {
		t.Fatal(err)
	}
	mpd := b.String()
	if strings.Contains(mpd, "suggestedPresentationDelay") {
		t.Errorf("low-latency MPD has a suggestedPresentationDelay:\n%s", mpd)
	}
	if !strings.Contains(mpd, `<Latency target="2000"`) {
		t.Errorf("low-latency MPD without Latency@target 2000:\n%s", mpd)
	}
}

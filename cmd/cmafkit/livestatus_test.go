package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/live"
	"github.com/cmafkit/cmafkit/manifest"
)

// TestLiveStatus draws the status line twice (the bit rate is measured
// between draws), clears it before a log line, and counts publishers and
// viewers.
func TestLiveStatus(t *testing.T) {
	var b bytes.Buffer
	s := &liveStatus{w: &b}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s.draw(t0, live.Stats{}, nil)
	if got := b.String(); got != clearLine+"live: waiting for a publisher | in 0 b/s | 0 segments | no viewer yet" {
		t.Errorf("first status %q", got)
	}
	s.event(live.Event{Kind: live.PublisherConnected})
	s.viewers(http.NotFoundHandler()).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/master.m3u8", nil))
	view := time.Unix(0, s.lastView.Load())
	if time.Since(view) > time.Minute {
		t.Fatalf("manifest request not recorded")
	}
	// A presentation whose newest segment ends 1.5 s before the draw.
	p := &manifest.Presentation{Periods: []manifest.Period{{Sets: []manifest.SwitchingSet{{Representations: []manifest.Representation{{
		Timescale: 1000, Segments: []manifest.SegmentRef{{Duration: 2000, ProgramDateTime: t0.Add(500 * time.Millisecond)}},
	}}}}}}}
	b.Reset()
	t1 := t0.Add(4 * time.Second)
	s.draw(t1, live.Stats{Bytes: 1_000_000, Segments: 6, Discontinuities: 1}, p)
	want := "live: publishing | in 2.00 Mb/s | 6 segments | 1 discontinuities | edge 1.5s behind | viewer "
	if got := b.String(); !strings.HasPrefix(got, clearLine+want) {
		t.Errorf("second status %q, want prefix %q", got, want)
	}
	b.Reset()
	g := s.Guard(&b)
	g.Write([]byte("warning\n"))
	g.Write([]byte("again\n"))
	if got := b.String(); got != clearLine+"warning\nagain\n" {
		t.Errorf("guarded writes %q: want the status cleared once, before the first", got)
	}
	if edgeDelay(t1, nil) != -1 || statusText(t1, 0, 0, live.Stats{Rejected: 2}, -1, time.Time{}) !=
		"live: waiting for a publisher | in 0 b/s | 0 segments | no viewer yet | 2 errors" {
		t.Error("status without segments or viewers")
	}
}

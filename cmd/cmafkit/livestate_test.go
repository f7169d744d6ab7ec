package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/cmafkit/cmafkit/internal/serve"
	"github.com/cmafkit/cmafkit/live"
	"github.com/cmafkit/cmafkit/segment"
	"github.com/cmafkit/cmafkit/storage"
)

// TestLiveStateJSON: the preview page's state file describes each
// rendition's segments across periods (two publisher sessions here), is
// served through the directory server's mount, and is refused to a host
// the server does not answer for.
func TestLiveStateJSON(t *testing.T) {
	ctx := context.Background()
	src, err := segment.OpenFile(ctx, "../../testdata/ladder_360p.mp4", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dir := t.TempDir()
	status := &liveStatus{}
	ch := &live.Channel{Storage: storage.Dir(dir), Window: -1, OnEvent: status.event}
	for range 2 {
		pub, err := ch.Publish(ctx, "k")
		if err != nil {
			t.Fatal(err)
		}
		if err := live.Replay(ctx, src.Tracks, pub, live.ReplayOptions{}); err != nil {
			t.Fatal(err)
		}
		pub.Close(nil)
	}
	pub, err := ch.Publish(ctx, "k") // publishing, no sample yet
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close(nil)
	root, err := serve.Dir(dir)
	if err != nil {
		t.Fatal(err)
	}
	h := serve.NewHandler(root, serve.Config{Mounts: status.mounts(ch)})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "http://127.0.0.1"+statusMount+statusName, nil))
	var st channelState
	if err := json.Unmarshal(rec.Body.Bytes(), &st); rec.Code != http.StatusOK || err != nil {
		t.Fatalf("status %d, %v: %s", rec.Code, err, rec.Body)
	}
	if st.Publishing != 1 || st.Stats.Discontinuities != 1 || st.TargetDuration != 3 || len(st.Renditions) != 2 {
		t.Fatalf("state %+v", st)
	}
	for _, r := range st.Renditions {
		periods := map[string]bool{}
		for i, s := range r.Segments {
			periods[s.Period] = true
			if s.Duration <= 0 || s.Bitrate <= 0 || i > 0 && s.Start < r.Segments[i-1].Start+r.Segments[i-1].Duration-0.05 {
				t.Errorf("%s segment %d: %+v", r.ID, i, s)
			}
		}
		if len(r.Segments) != 8 || len(periods) != 2 {
			t.Errorf("%s (%s): %d segments in %d periods, want 8 in 2", r.ID, r.Kind, len(r.Segments), len(periods))
		}
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "http://evil.example"+statusMount+statusName, nil))
	if rec.Code != http.StatusForbidden {
		t.Errorf("state served to another host: %d", rec.Code)
	}
}

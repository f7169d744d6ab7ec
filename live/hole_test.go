package live_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/cmafkit/cmafkit/internal/testutil"
	"github.com/cmafkit/cmafkit/live"
	"github.com/cmafkit/cmafkit/segment"
	"github.com/cmafkit/cmafkit/storage"
)

// failOnce fails the first Create of one name.
type failOnce struct {
	storage.Storage
	name string
	once sync.Once
}

var errFull = errors.New("disk full")

func (f *failOnce) Create(ctx context.Context, name string) (storage.Object, error) {
	fail := false
	if name == f.name {
		f.once.Do(func() { fail = true })
	}
	if fail {
		return nil, errFull
	}
	return f.Storage.Create(ctx, name)
}

// TestSegmentNotStored: a segment that cannot be stored takes the
// segments before it out of the window, so the manifests stay valid
// (contiguous from the next segment on) instead of failing until the hole
// leaves the window; the channel goes on and ends cleanly.
func TestSegmentNotStored(t *testing.T) {
	ctx := context.Background()
	src, err := segment.OpenFile(ctx, "../testdata/ladder_360p.mp4", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dir := t.TempDir()
	ch := &live.Channel{Storage: &failOnce{Storage: storage.Dir(dir), name: "audio0/seg-2.m4s"}, Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))}
	pub, err := ch.Publish(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if err := live.Replay(ctx, src.Tracks, pub, live.ReplayOptions{Loops: 2}); err != nil {
		t.Fatal(err)
	}
	pub.Close(nil)
	if err := ch.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s := ch.Stats()
	if s.Errors != 1 {
		t.Errorf("%d errors, want 1 (the segment)", s.Errors)
	}
	for _, name := range []string{"video0.m3u8", "audio0.m3u8"} {
		pl, _ := os.ReadFile(filepath.Join(dir, name))
		if !strings.Contains(string(pl), "#EXT-X-MEDIA-SEQUENCE:3\n") || strings.Count(string(pl), "#EXTINF") != 6 {
			t.Errorf("%s: want segments 3 to 8:\n%s", name, pl)
		}
	}
	testutil.ValidateMPD(t, filepath.Join(dir, live.DASHName))
}

// testWriter logs to t.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

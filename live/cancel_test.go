package live_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cmafkit/cmafkit/live"
	"github.com/cmafkit/cmafkit/segment"
	"github.com/cmafkit/cmafkit/storage"
)

// cancelAfter passes its samples on with a cancelled context after n, as
// an HTTP push whose request context ends when the client goes away while
// the ingest still delivers what it had buffered.
type cancelAfter struct {
	live.Publisher
	n   int
	ctx context.Context
}

func (c *cancelAfter) WriteSample(ctx context.Context, track int, s segment.Sample, payload []byte) error {
	if c.n--; c.n < 0 {
		ctx = c.ctx
	}
	return c.Publisher.WriteSample(ctx, track, s, payload)
}

// TestPublisherContextCancelled: a publisher's cancelled context does not
// abort the channel's storage writes: every segment is stored and the
// manifests stay valid (a segment missing from the middle of the window
// made every later manifest invalid until it left the window).
func TestPublisherContextCancelled(t *testing.T) {
	ctx := context.Background()
	src, err := segment.OpenFile(ctx, "../testdata/ladder_360p.mp4", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dir := t.TempDir()
	ch := &live.Channel{Storage: storage.Dir(dir)}
	pub, err := ch.Publish(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := live.Replay(ctx, src.Tracks, &cancelAfter{Publisher: pub, n: 200, ctx: cancelled}, live.ReplayOptions{}); err != nil {
		t.Fatal(err)
	}
	pub.Close(nil)
	if err := ch.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
	if s := ch.Stats(); s.Errors != 0 {
		t.Errorf("%d errors", s.Errors)
	}
	pl, _ := os.ReadFile(filepath.Join(dir, "video0.m3u8"))
	if n := strings.Count(string(pl), "#EXTINF"); n != 4 || !strings.Contains(string(pl), "#EXT-X-ENDLIST") {
		t.Errorf("playlist with %d segments, want 4 and the end:\n%s", n, pl)
	}
}

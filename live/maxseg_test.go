package live_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/live"
	"github.com/cmafkit/cmafkit/segment"
	"github.com/cmafkit/cmafkit/storage"
)

// TestMaxSegmentDurationInMPD: the live MPD's maxSegmentDuration is the
// channel's MaxSegmentDuration, as the HLS target duration is.
func TestMaxSegmentDurationInMPD(t *testing.T) {
	ctx := context.Background()
	src, err := segment.OpenFile(ctx, "../testdata/ladder_360p.mp4", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dir := t.TempDir()
	ch := &live.Channel{Storage: storage.Dir(dir), SegmentDuration: 2 * time.Second, MaxSegmentDuration: 5 * time.Second}
	pub, err := ch.Publish(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if err := live.Replay(ctx, src.Tracks, pub, live.ReplayOptions{}); err != nil {
		t.Fatal(err)
	}
	mpd, _ := os.ReadFile(filepath.Join(dir, live.DASHName))
	pl, _ := os.ReadFile(filepath.Join(dir, "video0.m3u8"))
	if !strings.Contains(string(mpd), `type="dynamic"`) || !strings.Contains(string(mpd), `maxSegmentDuration="PT5S"`) {
		t.Errorf("live MPD without maxSegmentDuration PT5S:\n%s", mpd)
	}
	if !strings.Contains(string(pl), "#EXT-X-TARGETDURATION:5\n") {
		t.Errorf("HLS target duration is not 5:\n%s", pl)
	}
	pub.Close(nil)
	ch.Close(ctx)
}

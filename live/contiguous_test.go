package live

import (
	"context"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/manifest"
)

// TestQuickReconnectContiguous: a publisher back within a segment
// duration (here 300 ms after its last sample, timestamps reset) starts a
// period where the last one ended, not at the wall clock: a hole of the
// reconnect's length in the timeline made Shaka stall at each
// discontinuity (TestLivePlayers).
func TestQuickReconnectContiguous(t *testing.T) {
	clk := &fakeClock{t: epoch}
	ch, _ := newTestChannel(clk, newMem())
	ctx := context.Background()
	tracks := openTracks(t, "ladder_720p.mp4")
	for i := range 2 {
		pub, err := ch.Publish(ctx, "a")
		if err != nil {
			t.Fatal(err)
		}
		pp := &pacedPub{Publisher: pub, clk: clk, base: clk.Now()}
		if err := Replay(ctx, tracks, pp, ReplayOptions{}); err != nil {
			t.Fatalf("session %d: %v", i, err)
		}
		pub.Close(nil)
		clk.Set(clk.Now().Add(300 * time.Millisecond))
	}
	closeChannel(t, ch)
	p := ch.Presentation()
	if len(p.Periods) != 2 {
		t.Fatalf("%d periods, want 2", len(p.Periods))
	}
	var end time.Duration
	for _, set := range p.Periods[0].Sets {
		r := set.Representations[0]
		last := r.Segments[len(r.Segments)-1]
		end = max(end, manifest.TicksToDuration(last.Start+last.Duration, r.Timescale))
	}
	if p.Periods[1].Start != end {
		t.Errorf("second period starts at %v, the first ends at %v", p.Periods[1].Start, end)
	}
}

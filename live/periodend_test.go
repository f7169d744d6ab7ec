package live

import (
	"context"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/internal/testutil"
	"github.com/cmafkit/cmafkit/manifest"
)

// TestPeriodEndsAligned replays testdata/ladder_360p.mp4 (video 8.008 s,
// audio 8.021 s) three times, each a new publisher with timestamps reset,
// on a fake clock: each period's tracks all end where the next period
// starts. The video used to end 13 ms early, a hole in the buffer at every
// DASH period boundary; its last frame now lasts to the period's end.
func TestPeriodEndsAligned(t *testing.T) {
	clk := &fakeClock{t: epoch}
	st := newMem()
	ch, _ := newTestChannel(clk, st)
	ctx := context.Background()
	tracks := openTracks(t, "ladder_360p.mp4")
	for range 3 {
		pub, err := ch.Publish(ctx, "a")
		if err != nil {
			t.Fatal(err)
		}
		pp := &pacedPub{Publisher: pub, clk: clk, base: clk.Now()}
		if err := Replay(ctx, tracks, pp, ReplayOptions{}); err != nil {
			t.Fatal(err)
		}
		pub.Close(nil)
		clk.Set(clk.Now().Add(100 * time.Millisecond))
	}
	closeChannel(t, ch)
	p := ch.Presentation()
	if len(p.Periods) != 3 {
		t.Fatalf("%d periods, want 3", len(p.Periods))
	}
	validateLive(t, p)
	testutil.ValidateMPDBytes(t, DASHName, st.get(DASHName))
	for i, pd := range p.Periods {
		var end time.Duration
		ends := map[string]time.Duration{}
		for _, set := range pd.Sets {
			for _, r := range set.Representations {
				last := r.Segments[len(r.Segments)-1]
				ends[r.ID] = manifest.TicksToDuration(last.Start+last.Duration-r.PresentationTimeOffset, r.Timescale) + pd.Start
				end = max(end, ends[r.ID])
			}
		}
		if i+1 < len(p.Periods) {
			next := p.Periods[i+1].Start
			if d := next - end; d < -time.Millisecond || d > time.Millisecond {
				t.Errorf("period %s ends at %v, the next starts at %v", pd.ID, end, next)
			}
		}
		for id, e := range ends {
			// Within a tick of the coarser timescale.
			if end-e > 50*time.Microsecond {
				t.Errorf("period %s: %s ends at %v, %v before the period's end %v", pd.ID, id, e, end-e, end)
			}
		}
	}
}

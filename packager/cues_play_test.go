package packager_test

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/internal/playertest"
	"github.com/cmafkit/cmafkit/manifest"
	"github.com/cmafkit/cmafkit/packager"
)

// TestCuesInPlayers packages the 360p ladder rung with a break at 2.002 s
// and plays it: hls.js exposes the break's date range, Shaka raises
// timelineregionadded for the MPD's SCTE-35 events (and for the HLS date
// range) and dash.js raises the scheme's event, each at the break's time.
func TestCuesInPlayers(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	dir := runJob(t, packager.Job{
		Inputs: []packager.Input{{Path: "../testdata/ladder_360p.mp4"}},
		Cues:   []packager.Cue{{Time: 2002 * time.Millisecond, Duration: 4004 * time.Millisecond, Kind: manifest.CueOut}},
	})
	for _, m := range []string{"master.m3u8", "manifest.mpd"} {
		for _, p := range playertest.Players(m) {
			t.Run(fmt.Sprintf("%s/%s", m, p), func(t *testing.T) {
				t.Parallel()
				res := playertest.Play(t, context.Background(), playertest.Options{Dir: dir, Manifest: m, Player: p,
					MinPlay: 3 * time.Second, NoSeek: true, Timeout: 60 * time.Second, Log: t.Logf})
				t.Logf("markers %+v", res.AdMarkers)
				found := false
				for _, a := range res.AdMarkers {
					if a.Source == string(p) && math.Abs(a.Start-2.002) < 0.04 &&
						(m == "master.m3u8" && a.ID == "cue-1" || m == "manifest.mpd" && a.Scheme == "urn:scte:scte35:2014:xml+bin") {
						found = true
					}
				}
				if !found {
					t.Errorf("%s exposed no marker of the break at 2.002 s: %+v", p, res.AdMarkers)
				}
			})
		}
	}
}

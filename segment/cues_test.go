package segment_test

import (
	"errors"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/segment"
)

// gopTrack is a 30 fps video track (90 kHz) of secs seconds with a sync
// sample every second, and an AAC-like audio track of the same length.
func gopTrack(secs int) []*segment.Track {
	var v, a segment.SampleList
	for i := 0; i < secs*30; i++ {
		v = append(v, segment.Sample{DecodeTime: uint64(i) * 3000, Duration: 3000, Size: 100, Sync: i%30 == 0})
	}
	for i := 0; i < secs*48000/1024; i++ {
		a = append(a, segment.Sample{DecodeTime: uint64(i) * 1024, Duration: 1024, Size: 10, Sync: true})
	}
	return []*segment.Track{
		{ID: 1, Source: "gop.ts", Kind: segment.KindVideo, Timescale: 90000, Index: v},
		{ID: 2, Source: "gop.ts", Kind: segment.KindAudio, Timescale: 48000, Index: a},
	}
}

func startsOf(p *segment.Plan) []time.Duration {
	var out []time.Duration
	for _, s := range p.Starts {
		out = append(out, time.Duration(s)*time.Second/time.Duration(p.Timescale))
	}
	return out
}

func TestPlanForcedCuts(t *testing.T) {
	tracks := gopTrack(20)
	p, err := segment.PlanSegmentsWith(tracks, 4*time.Second, segment.PlanOptions{Cuts: []time.Duration{5 * time.Second, 11 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	// The cadence restarts at each cut: 0 4 | 5 9 | 11 15 19.
	want := []time.Duration{0, 4 * time.Second, 5 * time.Second, 9 * time.Second, 11 * time.Second, 15 * time.Second, 19 * time.Second}
	if got := startsOf(p); !equalDurations(got, want) {
		t.Errorf("starts %v, want %v", got, want)
	}
	// The audio track is cut where the video is.
	cuts, err := p.Cuts(tracks[1])
	if err != nil {
		t.Fatal(err)
	}
	if len(cuts) != len(want)+1 {
		t.Errorf("audio cuts %v", cuts)
	}
}

func TestPlanCutWithoutSyncSample(t *testing.T) {
	tracks := gopTrack(20)
	at := 6400 * time.Millisecond
	_, err := segment.PlanSegmentsWith(tracks, 4*time.Second, segment.PlanOptions{Cuts: []time.Duration{at}})
	var ce *segment.CueCutError
	if !errors.Is(err, segment.ErrCueNotOnSyncSample) || !errors.As(err, &ce) {
		t.Fatalf("got %v, want a CueCutError", err)
	}
	if ce.At != at || ce.Nearest != 6*time.Second {
		t.Errorf("error says cue %v nearest %v, want %v and 6s: %v", ce.At, ce.Nearest, at, err)
	}
	p, err := segment.PlanSegmentsWith(tracks, 4*time.Second, segment.PlanOptions{Cuts: []time.Duration{at}, Nearest: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{0, 4 * time.Second, 6 * time.Second, 10 * time.Second, 14 * time.Second, 18 * time.Second}
	if got := startsOf(p); !equalDurations(got, want) {
		t.Errorf("starts %v, want %v", got, want)
	}
	// Within half a frame is on the sync sample.
	if _, err := segment.PlanSegmentsWith(tracks, 4*time.Second, segment.PlanOptions{Cuts: []time.Duration{6*time.Second + 10*time.Millisecond}}); err != nil {
		t.Errorf("cut 10 ms after a sync sample: %v", err)
	}
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

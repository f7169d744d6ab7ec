package isobmff

import (
	"context"
	"maps"
	"path/filepath"
	"testing"

	"github.com/cmafkit/cmafkit/segment"
)

// TestDurationCounts: the histogram of durations read from the stts runs
// is the one a pass over the samples finds (leading samples before the
// first sync sample excluded), so frameRateOf answers as before.
func TestDurationCounts(t *testing.T) {
	checked := 0
	for _, name := range []string{"ladder_720p.mp4", "ladder_360p.mp4", "hevc_ac3.mp4", "av1.mp4", "avc3.mp4", "eac3.mp4", "moov_end.mp4"} {
		src, err := segment.OpenFile(context.Background(), filepath.Join("..", "..", "testdata", name), nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, tr := range src.Tracks {
			x, ok := tr.Index.(*stblIndex)
			if !ok {
				continue
			}
			got, err := x.durationCounts()
			if err != nil {
				t.Fatal(err)
			}
			want := map[uint32]int{}
			ss, err := tr.AppendSamples(nil, 0, tr.SampleCount())
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range ss {
				want[s.Duration]++
			}
			if !maps.Equal(got, want) {
				t.Errorf("%s track %d: %v from stts, %v from the samples", name, tr.ID, got, want)
			}
			checked++
		}
		src.Close()
	}
	if checked == 0 {
		t.Fatal("no progressive track checked")
	}
}

package main

import (
	"testing"
)

// TestSmoke runs two channels once through, as fast as possible, clear and
// encrypted, so that the benchmark cannot rot: segments are written and
// their delays measured, with no error.
func TestSmoke(t *testing.T) {
	for _, enc := range []string{"", "cenc"} {
		r, err := run(t.Context(), config{Channels: 2, Input: "../../testdata/ladder_360p.mp4", Dir: t.TempDir(),
			Encryption: enc, Segment: 2e9, Window: 30e9})
		if err != nil {
			t.Fatal(err)
		}
		if r.Segments != 16 || r.Errors != 0 || r.P50 <= 0 || r.MediaSeconds < 7 {
			t.Errorf("%q: %+v", enc, r)
		}
	}
}

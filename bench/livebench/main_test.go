package main

import (
	"bytes"
	"testing"
	"time"
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

// TestSoakSmoke feeds two minutes of media as fast as possible on the
// media clock (the soak's mode): the window trims and deletes as in real
// time, so what is stored at the end is bounded by the window and grace,
// not by the media fed.
func TestSoakSmoke(t *testing.T) {
	var log bytes.Buffer
	r, err := run(t.Context(), config{Channels: 1, Input: "../../testdata/ladder_360p.mp4", Dir: t.TempDir(),
		Segment: 2 * time.Second, Window: 10 * time.Second, Media: 2 * time.Minute, Log: &log, Every: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", log.String())
	// 2 tracks × (10 s window + 10 s grace) / 2 s, plus the segments
	// being cut, 2 init segments and 4 manifests.
	const bound = 2*(10+2) + 2 + 4
	if r.MediaSeconds < 119 || r.Segments < 118 || r.Errors != 0 {
		t.Errorf("fed %.1f s, %d segments, %d errors: %+v", r.MediaSeconds, r.Segments, r.Errors, r)
	}
	if s := r.Soak; s.MaxObjects == 0 || s.MaxObjects > bound || s.Samples == 0 {
		t.Errorf("soak %+v: want 1..%d objects stored", s, bound)
	}
}

// TestSmokeRTMP is TestSmoke through the RTMP ingest: a Go RTMP client per
// channel, every segment written.
func TestSmokeRTMP(t *testing.T) {
	r, err := run(t.Context(), config{Channels: 2, Input: "../../testdata/ladder_360p.mp4", Dir: t.TempDir(),
		Ingest: "rtmp", Segment: 2e9, Window: 30e9})
	if err != nil {
		t.Fatal(err)
	}
	if r.Segments != 16 || r.Errors != 0 || r.P50 <= 0 || r.MediaSeconds < 7 || r.BitrateMbps <= 0 {
		t.Errorf("%+v", r)
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/cmafkit/cmafkit/segment"
)

// track returns a video track (timescale 1000) with one sample per
// (size, duration) pair, back to back.
func track(samples ...[2]uint32) *segment.Track {
	var list segment.SampleList
	var dts uint64
	for _, s := range samples {
		list = append(list, segment.Sample{DecodeTime: dts, Size: s[0], Duration: s[1], Sync: true})
		dts += uint64(s[1])
	}
	return &segment.Track{ID: 1, Kind: segment.KindVideo, Timescale: 1000, Duration: dts, Index: list}
}

// TestInspectPeakRate: the peak bit rate is measured over a window of one
// second, or of the whole track when it is shorter, so it is never below
// the average (issue 15: a 0.5 s clip showed its bytes per second as the
// peak, half the average).
func TestInspectPeakRate(t *testing.T) {
	uniform := func(n int, size, dur uint32) []([2]uint32) {
		var out [][2]uint32
		for i := 0; i < n; i++ {
			out = append(out, [2]uint32{size, dur})
		}
		return out
	}
	cases := []struct {
		name      string
		tr        *segment.Track
		avg, peak int64
	}{
		// 10 × 1000 bytes in 0.5 s: 160 kb/s on average and at the peak.
		{"half a second", track(uniform(10, 1000, 50)...), 160000, 160000},
		// 2 s: 3000 bytes in the first second, 1000 in the second.
		{"two seconds, heavy start", track(append(uniform(10, 300, 100), uniform(10, 100, 100)...)...), 16000, 24000},
		// 1.5 s with most bytes at the end: a window from 0.5 s holds 500 + 6000 bytes.
		{"1.5 s, heavy end", track(append(uniform(10, 100, 100), uniform(5, 1200, 100)...)...), 37333, 52000},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := describeTrack(c.tr)
			if err != nil {
				t.Fatal(err)
			}
			if r.Bitrate != c.avg || r.PeakRate != c.peak {
				t.Errorf("average %d peak %d, want %d and %d", r.Bitrate, r.PeakRate, c.avg, c.peak)
			}
		})
	}
	// Random tracks, some shorter than a second: the peak is never below the average.
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 200; i++ {
		var ss [][2]uint32
		for n := 1 + rng.Intn(60); n > 0; n-- {
			ss = append(ss, [2]uint32{uint32(rng.Intn(5000)), uint32(1 + rng.Intn(100))})
		}
		r, err := describeTrack(track(ss...))
		if err != nil {
			t.Fatal(err)
		}
		if r.PeakRate < r.Bitrate {
			t.Fatalf("track %v: peak %d below average %d", ss, r.PeakRate, r.Bitrate)
		}
	}
}

// TestInspectWebVTT: a WebVTT side file is reported as such, not as a
// progressive MP4.
func TestInspectWebVTT(t *testing.T) {
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"inspect", "--json", "../../testdata/subtitles_en.vtt"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	var reps []fileReport
	if err := json.Unmarshal(out.Bytes(), &reps); err != nil {
		t.Fatal(err)
	}
	if len(reps) != 1 || reps[0].Format != "WebVTT" || reps[0].Fragmented || len(reps[0].Tracks) != 1 || reps[0].Tracks[0].Codec != "wvtt" {
		t.Fatalf("%+v", reps)
	}
	out.Reset()
	if err := run(context.Background(), []string{"inspect", "../../testdata/subtitles_en.vtt"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out.Bytes(), []byte("subtitles_en.vtt: WebVTT,")) {
		t.Errorf("text report:\n%s", out.String())
	}
}

// TestInspectRotation: a rotated video's display matrix is reported.
func TestInspectRotation(t *testing.T) {
	b, err := os.ReadFile("../../testdata/ladder_360p.mp4")
	if err != nil {
		t.Fatal(err)
	}
	o := bytes.Index(b, []byte("tkhd")) - 4
	if o < 0 || b[o+8] != 0 {
		t.Fatal("no version 0 tkhd")
	}
	// A 90° clockwise matrix {0, 1, 0, -1, 0, 0, 360, 0, 1} in the video's tkhd.
	for i, v := range []int32{0, 0x10000, 0, -0x10000, 0, 0, 360 << 16, 0, 0x40000000} {
		binary.BigEndian.PutUint32(b[o+8+4+20+16+4*i:], uint32(v))
	}
	file := filepath.Join(t.TempDir(), "rotated.mp4")
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"inspect", "--json", file}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	var reps []fileReport
	if err := json.Unmarshal(out.Bytes(), &reps); err != nil {
		t.Fatal(err)
	}
	if v := reps[0].Tracks[0]; v.Rotation != 90 || v.Mirrored {
		t.Errorf("video track %+v", v)
	}
	out.Reset()
	if err := run(context.Background(), []string{"inspect", file}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out.Bytes(), []byte("rotated 90° clockwise")) {
		t.Errorf("text report:\n%s", out.String())
	}
}

package tsmux_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/internal/playertest"
	"github.com/cmafkit/cmafkit/internal/testutil"
	"github.com/cmafkit/cmafkit/segment"
	"github.com/cmafkit/cmafkit/segment/cmaf"
	"github.com/cmafkit/cmafkit/segment/tsmux"
)

// muxTrack writes every segment of t as planned by p with one Muxer and
// returns the segments.
func muxTrack(t *testing.T, tr *segment.Track, p *segment.Plan) [][]byte {
	t.Helper()
	m, err := tsmux.New(tr)
	if err != nil {
		t.Fatal(err)
	}
	sw, err := cmaf.NewWriter(tr, p, cmaf.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var segs [][]byte
	for i := 0; i < sw.Len(); i++ {
		info, ss, err := sw.Samples(i)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := m.WriteSegment(context.Background(), &b, ss); err != nil {
			t.Fatal(err)
		}
		if b.Len()%188 != 0 {
			t.Fatalf("%s segment %d: %d bytes, not whole packets", tr, i+1, b.Len())
		}
		// The segment's earliest PTS is its start on the output timeline.
		// (Audio priming makes the first one negative; halves round away
		// from zero.)
		ts, v := int64(tr.Timescale), info.PresentationTime*90000
		want := tsmux.TimestampOffset + (v+ts/2)/ts
		if v < 0 {
			want = tsmux.TimestampOffset - (-v+ts/2)/ts
		}
		if got := minPTS(t, b.Bytes()); got != want {
			t.Errorf("%s segment %d: earliest PTS %d, want %d", tr, i+1, got, want)
		}
		segs = append(segs, b.Bytes())
	}
	return segs
}

// TestDecode muxes every track of the test inputs and decodes the
// segments, joined as a client joins them, with ffmpeg: as many frames as
// the source, no error.
func TestDecode(t *testing.T) {
	testutil.NeedTool(t, "ffmpeg")
	for _, name := range []string{"ladder_720p.mp4", "hev1.mp4", "hevc_ac3.mp4", "avc3.mp4", "avc3_change.mp4", "eac3.mp4"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("../../testdata", name)
			src, err := segment.OpenFile(context.Background(), path, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			p, err := segment.PlanSegments(src.Tracks, 2*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			want := playertest.FFmpegDecode(t, path)
			for _, tr := range src.Tracks {
				segs := muxTrack(t, tr, p)
				if len(segs) < 2 {
					t.Fatalf("%s: %d segments; the test needs boundaries", tr, len(segs))
				}
				joined := bytes.Join(segs, nil)
				checkContinuity(t, joined)
				out := filepath.Join(t.TempDir(), "track.ts")
				if err := os.WriteFile(out, joined, 0o644); err != nil {
					t.Fatal(err)
				}
				if msg, err := exec.Command("ffmpeg", "-v", "error", "-i", out, "-f", "null", "-").CombinedOutput(); err != nil || len(msg) > 0 {
					t.Errorf("%s: ffmpeg: %v: %s", tr, err, msg)
				}
				got := playertest.FFmpegDecode(t, out)
				t.Logf("%s: %d segments, %+v", tr, len(segs), got)
				if len(got) != 1 {
					t.Fatalf("%s: %d streams in the TS, want 1", tr, len(got))
				}
				for _, w := range want {
					if w.Type != got[0].Type {
						continue
					}
					if w.Type == "video" && w.Frames != got[0].Frames {
						t.Errorf("%s: %d frames decoded, source has %d", tr, got[0].Frames, w.Frames)
					}
					if w.Type == "audio" && w.Codec == got[0].Codec && w.Packets != got[0].Packets {
						t.Errorf("%s: %d audio frames, source has %d", tr, got[0].Packets, w.Packets)
					}
				}
			}
		})
	}
}

// checkContinuity checks that the continuity counter of every PID goes up
// by one with each packet that carries payload, across segment boundaries.
func checkContinuity(t *testing.T, ts []byte) {
	t.Helper()
	last := map[int]int{}
	for off := 0; off+188 <= len(ts); off += 188 {
		p := ts[off : off+188]
		if p[0] != 0x47 {
			t.Fatalf("no sync byte at %d", off)
		}
		pid := int(p[1]&0x1F)<<8 | int(p[2])
		if p[3]&0x10 == 0 {
			continue // no payload: the counter does not advance
		}
		cc := int(p[3] & 0xF)
		if prev, ok := last[pid]; ok && cc != (prev+1)&0xF {
			t.Fatalf("PID %#x: continuity counter %d after %d at byte %d", pid, cc, prev, off)
		}
		last[pid] = cc
	}
	if len(last) < 3 {
		t.Errorf("%d PIDs, want PAT, PMT and the stream", len(last))
	}
}

// minPTS returns the smallest PTS of the PES packets in ts.
func minPTS(t *testing.T, ts []byte) int64 {
	t.Helper()
	m := int64(-1)
	for off := 0; off+188 <= len(ts); off += 188 {
		p := ts[off : off+188]
		pid := int(p[1]&0x1F)<<8 | int(p[2])
		if p[1]&0x40 == 0 || pid < 0x100 || pid == 0x1000 {
			continue
		}
		k := 4
		if p[3]&0x20 != 0 {
			k += 1 + int(p[4])
		}
		h := p[k:]
		if h[0] != 0 || h[1] != 0 || h[2] != 1 || h[7]&0x80 == 0 {
			t.Fatalf("PES at %d without start code or PTS", off)
		}
		pts := int64(h[9]>>1&7)<<30 | int64(h[10])<<22 | int64(h[11]>>1)<<15 | int64(h[12])<<7 | int64(h[13]>>1)
		if m < 0 || pts < m {
			m = pts
		}
	}
	return m
}

// TestRefusesAV1 checks that AV1 is refused with an error that names it.
func TestRefusesAV1(t *testing.T) {
	src, err := segment.OpenFile(context.Background(), "../../testdata/av1.mp4", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	_, err = tsmux.New(src.Tracks[0])
	if !errors.Is(err, tsmux.ErrUnsupported) || !strings.Contains(err.Error(), "av01") {
		t.Fatalf("got %v, want ErrUnsupported naming av01", err)
	}
}

package ts

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/internal/tscue"
	"github.com/cmafkit/cmafkit/scte35"
)

// cueTS returns a 6 s ffmpeg-made TS (H.264 30 fps with a keyframe every
// second, AAC) and its smallest PTS.
func cueTS(t *testing.T) ([]byte, int64) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "cue.ts")
	ffmpeg(t, "-f", "lavfi", "-i", "testsrc=size=160x120:rate=30", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", "6", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "30", "-keyint_min", "30", "-sc_threshold", "0", "-c:a", "aac", "-f", "mpegts", p)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	p0, ok := tscue.MinPTS(b, -1)
	if !ok {
		t.Fatal("no PTS")
	}
	return b, p0
}

func spliceInsert(t *testing.T, out bool, event uint32, pts, adj uint64, brk uint64) []byte {
	t.Helper()
	si := &scte35.SpliceInsert{EventID: event, OutOfNetwork: out, ProgramSplice: true, SpliceTime: &pts}
	if brk > 0 {
		si.BreakDuration = &scte35.BreakDuration{AutoReturn: true, Duration: brk}
	}
	b, err := (&scte35.Section{SAPType: 3, Tier: 0xFFF, PTSAdjustment: adj, Command: si}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSCTE35Cues: sections of a stream type 0x86 PID reach Source.Cues
// timed on the output timeline (splice_time + pts_adjustment − the
// presentation zero); splice_null is dropped, a bad CRC counted, and the
// media is read as without them.
func TestSCTE35Cues(t *testing.T) {
	clean, p0 := cueTS(t)
	adj := uint64(1000)
	out := spliceInsert(t, true, 7, uint64(p0)+2*clock-adj, adj, 2*clock)
	in := spliceInsert(t, false, 7, uint64(p0)+4*clock, 0, 0)
	null, err := (&scte35.Section{SAPType: 3, Tier: 0xFFF, Command: &scte35.SpliceNull{}}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	bad := append([]byte(nil), in...)
	bad[len(bad)-1] ^= 1
	b, err := tscue.AddSCTE35(clean, 0x1F0, []tscue.Insert{{After: 20, Section: out}, {After: 25, Section: out}, {After: 30, Section: null}, {After: 40, Section: bad}, {After: 200, Section: in}})
	if err != nil {
		t.Fatal(err)
	}
	want := mustOpen(t, clean, "clean.ts")
	got := mustOpen(t, b, "cues.ts")
	sameSamples(t, want, got, true)
	if len(want.Cues) != 0 {
		t.Errorf("clean input has cues: %v", want.Cues)
	}
	if len(got.Cues) != 3 {
		t.Fatalf("cues %+v, want the out twice and the in", got.Cues)
	}
	for i, w := range []time.Duration{2 * time.Second, 2 * time.Second, 4 * time.Second} {
		if got.Cues[i].Time != w {
			t.Errorf("cue %d at %v, want %v", i, got.Cues[i].Time, w)
		}
	}
	if string(got.Cues[2].Section) != string(in) {
		t.Errorf("section not kept as is")
	}
	if got.Stats.BadCues != 1 {
		t.Errorf("BadCues = %d, want 1", got.Stats.BadCues)
	}
}

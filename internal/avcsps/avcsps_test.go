package avcsps

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"testing"

	"github.com/Eyevinn/mp4ff/avc"
	"github.com/Eyevinn/mp4ff/mp4"
)

// Baseline SPSs (320x240, VUI with NAL HRD parameters only) whose
// cpb_cnt_minus1 is 1<<20, 1<<40 and 31: the first two are what an input
// can send; mp4ff loops a million times (20 MB) for the first and runs out
// of memory for the second.
var (
	spsCpb1M  = []byte{0x67, 0x42, 0xc0, 0x1e, 0xda, 0x05, 0x07, 0xe8, 0x20, 0x00, 0x01, 0x00, 0x00, 0x10, 0x08}
	spsCpb1T  = []byte{0x67, 0x42, 0xc0, 0x1e, 0xda, 0x05, 0x07, 0xe8, 0x20, 0x00, 0x00, 0x03, 0x00, 0x00, 0x10, 0x00, 0x00, 0x03, 0x00, 0x00, 0x10, 0x08}
	spsCpb32  = []byte{0x67, 0x42, 0xc0, 0x1e, 0xda, 0x05, 0x07, 0xe8, 0x20, 0x80, 0x03, 0x6d, 0xb6, 0xdb, 0x6d, 0xb6, 0xdb, 0x6d, 0xb6, 0xdb, 0x6d, 0xb6, 0xd8, 0x00, 0x00, 0x03, 0x02}
	spsNoVUI  = []byte{0x67, 0x42, 0xc0, 0x1e, 0xda, 0x05, 0x07, 0xe4}
	testMedia = []string{"ladder_360p.mp4", "ladder_720p.mp4", "fragmented.mp4", "avc3.mp4", "avc3_change.mp4"}
)

// mediaSPSs returns the SPSs of the avcC boxes of the H.264 test media.
func mediaSPSs(t testing.TB) [][]byte {
	var out [][]byte
	for _, name := range testMedia {
		raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		f, err := mp4.DecodeFile(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		moov := f.Moov
		if moov == nil && f.Init != nil {
			moov = f.Init.Moov
		}
		for _, trak := range moov.Traks {
			if v, ok := trak.Mdia.Minf.Stbl.Stsd.Children[0].(*mp4.VisualSampleEntryBox); ok && v.AvcC != nil {
				out = append(out, v.AvcC.SPSnalus...)
			}
		}
	}
	if len(out) < len(testMedia) {
		t.Fatalf("%d SPSs in %d files", len(out), len(testMedia))
	}
	return out
}

// TestParseIsMP4ffWithinRange: for the SPSs of the test media and one with
// the largest HRD the standard allows, Parse is avc.ParseSPSNALUnit with
// the whole VUI.
func TestParseIsMP4ffWithinRange(t *testing.T) {
	for _, n := range append(mediaSPSs(t), spsCpb32, spsNoVUI) {
		if !HRDInRange(n) {
			t.Fatalf("% x: HRD out of range", n)
		}
		got, err := Parse(n)
		want, werr := avc.ParseSPSNALUnit(n, true)
		if err != nil || werr != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("% x: %+v, %v; mp4ff %+v, %v", n, got, err, want, werr)
		}
	}
	sps, _ := Parse(spsCpb32)
	if v := sps.VUI; v == nil || v.NalHrdParameters == nil || len(v.NalHrdParameters.CpbEntries) != MaxCpbCount {
		t.Fatalf("SPS with 32 CPBs: VUI %+v", sps.VUI)
	}
}

// TestParseBoundsHRD parses SPSs whose cpb_cnt_minus1 is a million and a
// trillion: the HRD parameters are left out, the rest is read, and the
// parse allocates next to nothing.
func TestParseBoundsHRD(t *testing.T) {
	for _, n := range [][]byte{spsCpb1M, spsCpb1T} {
		if HRDInRange(n) {
			t.Fatalf("% x: HRD in range", n)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		sps, err := Parse(n)
		runtime.ReadMemStats(&after)
		if err != nil || sps.Width != 320 || sps.Height != 240 || sps.VUI == nil || sps.VUI.NalHrdParameters != nil {
			t.Fatalf("% x: %+v, %v", n, sps, err)
		}
		if a := after.TotalAlloc - before.TotalAlloc; a > 64<<10 {
			t.Errorf("% x: parsing allocates %d KiB", n, a>>10)
		}
	}
}

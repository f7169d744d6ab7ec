package ts

import (
	"bytes"
	"context"
	"runtime"
	"testing"

	"github.com/Eyevinn/mp4ff/mp4"

	"github.com/cmafkit/cmafkit/segment"
)

// TestOpenSPSWithHugeHRDCount opens h264_aac.ts with every in-band SPS
// replaced by one whose VUI has cpb_cnt_minus1 = 1<<20: mp4ff's SPS parser
// loops and allocates that many HRD entries (131 MiB per SPS; a 22-byte
// SPS can ask for 1<<40 and exhaust memory). Opening it must cost about
// what opening the original costs.
func TestOpenSPSWithHugeHRDCount(t *testing.T) {
	// Baseline 320x240, VUI with NAL HRD parameters only (see internal/avcsps).
	hugeHRD := []byte{0x67, 0x42, 0xc0, 0x1e, 0xda, 0x05, 0x07, 0xe8, 0x20, 0x00, 0x01, 0x00, 0x00, 0x10, 0x08}
	b := readFile(t, "h264_aac.ts")
	allocs := func(b []byte) (uint64, error) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := Open(context.Background(), bytes.NewReader(b), int64(len(b)), "hrd.ts", &Options{Logger: quiet()})
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc, err
	}
	clean, err := allocs(b)
	if err != nil {
		t.Fatal(err)
	}
	entry := trackOf(t, mustOpen(t, b, "h264_aac.ts"), segment.KindVideo).SampleEntry.(*mp4.VisualSampleEntryBox)
	sps := entry.AvcC.SPSnalus[0]
	if len(sps) < len(hugeHRD) {
		t.Fatalf("SPS of %d bytes", len(sps))
	}
	// Same length, so that no packet changes size; the zeros end the NAL
	// unit as trailing_zero_8bits.
	bad := bytes.ReplaceAll(b, sps, append(hugeHRD, make([]byte, len(sps)-len(hugeHRD))...))
	if bytes.Equal(bad, b) {
		t.Fatal("no SPS replaced")
	}
	a, err := allocs(bad)
	if a > clean+8<<20 {
		t.Errorf("opening allocates %d MiB, the original %d MiB (err %v)", a>>20, clean>>20, err)
	}
}

package avcsps

import (
	"testing"

	"github.com/Eyevinn/mp4ff/avc"
)

// FuzzParse parses arbitrary SPS NAL units: Parse must not panic or run
// long, never returns more HRD entries than MaxCpbCount (so HRDInRange
// reads the cpb_cnt_minus1 mp4ff reads: a disagreement either breaks this
// or makes mp4ff loop, which the fuzzer reports as a hang), leaves the HRD
// parameters out exactly when HRDInRange says so, and agrees with mp4ff's
// parse without the VUI on every field before it.
func FuzzParse(f *testing.F) {
	for _, n := range append(mediaSPSs(f), spsCpb1M, spsCpb1T, spsCpb32, spsNoVUI) {
		f.Add(n)
	}
	f.Fuzz(func(t *testing.T, nalu []byte) {
		inRange := HRDInRange(nalu)
		sps, err := Parse(nalu)
		if err != nil || sps == nil {
			return
		}
		if v := sps.VUI; v != nil {
			for _, h := range []*avc.HrdParameters{v.NalHrdParameters, v.VclHrdParameters} {
				if h != nil && (!inRange || len(h.CpbEntries) > MaxCpbCount) {
					t.Fatalf("% x: %d CPB entries (in range: %v)", nalu, len(h.CpbEntries), inRange)
				}
			}
		}
		ref, rerr := avc.ParseSPSNALUnit(nalu, false)
		if rerr != nil && ref == nil {
			t.Fatalf("% x: mp4ff refuses without the VUI (%v) what it parses with it", nalu, rerr)
		}
		if ref.Width != sps.Width || ref.Height != sps.Height || ref.Profile != sps.Profile || ref.NrBytesBeforeVUI != sps.NrBytesBeforeVUI {
			t.Fatalf("% x: %+v, without the VUI %+v", nalu, sps, ref)
		}
	})
}

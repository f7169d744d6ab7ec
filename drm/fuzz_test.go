package drm

import (
	"testing"

	"github.com/Eyevinn/mp4ff/mp4"
)

// FuzzSubsamples feeds arbitrary sample payloads to the subsample
// computations (which run mp4ff's slice-header and AV1 parsers on untrusted
// bytes): they must not panic, and on success the subsamples must cover the
// sample exactly, with cenc protected ranges in whole blocks for NAL video.
func FuzzSubsamples(f *testing.F) {
	type src struct{ file, handler string }
	var entries []*mp4.VisualSampleEntryBox
	for _, s := range []src{{"ladder_720p.mp4", "vide"}, {"hevc_ac3.mp4", "vide"}, {"av1.mp4", "vide"}} {
		ct := loadTrack(f, s.file, s.handler)
		entries = append(entries, ct.entry.(*mp4.VisualSampleEntryBox))
		for i := 0; i < 3; i++ {
			f.Add(uint8(len(entries)-1), ct.samples[i].Data)
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, sample []byte) {
		e := entries[int(which)%len(entries)]
		for _, scheme := range []Scheme{SchemeCENC, SchemeCBCS} {
			var rf rangeFunc
			switch e.Type() {
			case "avc1":
				rf = newAVCRanges(scheme, e.AvcC).ranges
			case "hvc1":
				rf = newHEVCRanges(scheme, e.HvcC).ranges
			default:
				var err error
				if rf, err = newAV1Ranges(scheme, e.Av1C); err != nil {
					t.Fatal(err)
				}
			}
			subs, err := rf(nil, sample)
			if err != nil {
				continue
			}
			total := 0
			for _, s := range subs {
				total += int(s.BytesOfClearData) + int(s.BytesOfProtectedData)
				if scheme == SchemeCENC && e.Type() != "av01" && s.BytesOfProtectedData%16 != 0 {
					t.Fatalf("cenc protected %d", s.BytesOfProtectedData)
				}
			}
			if total != len(sample) {
				t.Fatalf("%s %s: subsamples cover %d of %d bytes", e.Type(), scheme, total, len(sample))
			}
		}
	})
}

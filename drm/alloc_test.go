package drm

import (
	"context"
	"fmt"
	"testing"

	"github.com/Eyevinn/mp4ff/mp4"
)

// TestProtectFragmentAllocations pins the cost model of the encryption
// path: a fragment's allocations do not grow with its sample count (IVs,
// subsamples, senc and saiz each take one allocation per fragment; the
// slice-header parser and the CBC chains none). cenc samples may take one
// crypto/cipher stream each, on CPUs where fastaes has no VAES path.
func TestProtectFragmentAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not stable under the race detector (sync.Pool drops items)")
	}
	ctx := context.Background()
	for _, tc := range []struct {
		file, handler string
		scheme        Scheme
		iv            IV
		perSample     bool // one stream per sample allowed (8-byte IVs)
	}{
		{"ladder_720p.mp4", "soun", SchemeCENC, nil, false},
		{"ladder_720p.mp4", "soun", SchemeCBCS, nil, false},
		{"ladder_720p.mp4", "vide", SchemeCBCS, nil, false},
		{"hevc_ac3.mp4", "vide", SchemeCBCS, nil, false},
		{"ladder_720p.mp4", "vide", SchemeCENC, nil, true},
		{"ladder_720p.mp4", "vide", SchemeCENC, make(IV, 16), false}, // one stream per fragment
	} {
		t.Run(fmt.Sprintf("%s/%s/%s/iv%d", tc.file, tc.handler, tc.scheme, len(tc.iv)), func(t *testing.T) {
			ct := loadTrack(t, tc.file, tc.handler)
			samples := ct.samples[:min(len(ct.samples), 200)]
			tp, err := NewTrackProtector(ctx, Config{Scheme: tc.scheme, IV: tc.iv, Keys: &StaticKeys{Default: []ContentKey{videoKey}}}, newInit(ct, ct.entry))
			if err != nil {
				t.Fatal(err)
			}
			var buf []byte
			build := func() *mp4.Fragment {
				f, err := mp4.CreateFragment(1, 1)
				if err != nil {
					t.Fatal(err)
				}
				buf = buf[:0]
				for _, s := range samples {
					f.AddSample(s.Sample, s.DecodeTime)
					buf = append(buf, s.Data...)
				}
				f.Mdat.Data = buf
				return f
			}
			base := testing.AllocsPerRun(20, func() { build() })
			total := testing.AllocsPerRun(20, func() {
				f := build()
				if err := tp.ProtectFragment(ctx, f, 0, 0); err != nil {
					t.Fatal(err)
				}
				if &f.Mdat.Data[0] != &buf[0] {
					t.Fatal("mdat payload was replaced instead of encrypted in place")
				}
			})
			limit := 16.0
			if tc.perSample {
				limit += float64(len(samples))
			}
			if got := total - base; got > limit {
				t.Fatalf("%.0f allocations to protect %d samples, want <= %.0f", got, len(samples), limit)
			} else {
				t.Logf("%.0f allocations to protect %d samples", got, len(samples))
			}
		})
	}
}

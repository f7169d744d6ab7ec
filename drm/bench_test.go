package drm

import (
	"context"
	"io"
	"testing"

	"github.com/Eyevinn/mp4ff/mp4"
)

// BenchmarkPackage measures building and writing all fragments of a track
// clear and with each scheme, so the ratio to "clear" is the cost of
// protection (bytes/s are sample bytes).
func BenchmarkPackage(b *testing.B) {
	ctx := context.Background()
	for _, tc := range []struct{ file, handler, name string }{
		{"ladder_720p.mp4", "vide", "h264-720p"},
		{"hevc_ac3.mp4", "vide", "hevc-360p"},
		{"ladder_720p.mp4", "soun", "aac"},
	} {
		ct := loadTrack(b, tc.file, tc.handler)
		segs := ct.segments()
		total := 0
		for _, s := range ct.samples {
			total += len(s.Data)
		}
		for _, scheme := range []Scheme{"clear", SchemeCENC, SchemeCBCS} {
			b.Run(tc.name+"/"+string(scheme), func(b *testing.B) {
				b.SetBytes(int64(total))
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					var tp *TrackProtector
					if scheme != "clear" {
						var err error
						tp, err = NewTrackProtector(ctx, Config{Scheme: scheme, Keys: &StaticKeys{Default: []ContentKey{videoKey}}}, newInit(ct, ct.entry))
						if err != nil {
							b.Fatal(err)
						}
					}
					var seq uint32
					for si, seg := range segs {
						for _, f := range buildFragments(b, &seq, seg, 1) {
							if tp != nil {
								if err := tp.ProtectFragment(ctx, f, si); err != nil {
									b.Fatal(err)
								}
							}
							if err := f.Encode(io.Discard); err != nil {
								b.Fatal(err)
							}
						}
					}
				}
			})
		}
	}
}

// BenchmarkCipher measures the raw sample ciphers per MB.
func BenchmarkCipher(b *testing.B) {
	data := make([]byte, 1<<20)
	subs := []mp4.SubSamplePattern{{BytesOfClearData: 100, BytesOfProtectedData: uint32(len(data) - 100)}}
	iv := make([]byte, 16)
	for _, tc := range []struct {
		name        string
		crypt, skip int
		cbc         bool
	}{{"ctr", 0, 0, false}, {"cbcs-1:9", 1, 9, true}, {"cbc-full", 0, 0, true}} {
		b.Run(tc.name, func(b *testing.B) {
			c, _ := newSampleCipher(videoKey.Key, tc.crypt, tc.skip)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if tc.cbc {
					c.cbcs(data, iv, subs)
				} else {
					c.ctr(data, iv[:8], subs)
				}
			}
		})
	}
}

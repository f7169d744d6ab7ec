package drm

import (
	"context"
	"io"
	"testing"

	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/cmafkit/cmafkit/drm/internal/fastaes"
	"github.com/cmafkit/cmafkit/internal/testutil"
)

// BenchmarkPackage measures writing all fragments of a track the way
// cmaf.Writer does (one reused payload buffer per fragment, moof
// built with AddSample, Encode to io.Discard), clear and with each scheme,
// so the ratio to "clear" is the cost of protection. Bytes/s are sample
// bytes; ns/sample is the wall time per sample and cpu-ns/sample the
// process CPU time per sample (GC included; steadier on a busy machine).
func BenchmarkPackage(b *testing.B) {
	ctx := context.Background()
	for _, tc := range []struct{ file, handler, name string }{
		{"ladder_720p.mp4", "vide", "h264-720p"},
		{"hevc_ac3.mp4", "vide", "hevc-360p"},
		{"av1.mp4", "vide", "av1"},
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
				var buf []byte
				var tp *TrackProtector
				if scheme != "clear" {
					var err error
					tp, err = NewTrackProtector(ctx, Config{Scheme: scheme, Keys: &StaticKeys{Default: []ContentKey{videoKey}}}, newInit(ct, ct.entry))
					if err != nil {
						b.Fatal(err)
					}
				}
				cpu := int64(testutil.CPUTime())
				for b.Loop() {
					var seq uint32
					first := 0
					for si, seg := range segs {
						seq++
						f, err := mp4.CreateFragment(seq, 1)
						if err != nil {
							b.Fatal(err)
						}
						buf = buf[:0]
						for _, s := range seg {
							f.AddSample(s.Sample, s.DecodeTime)
							buf = append(buf, s.Data...)
						}
						f.Mdat.Data = buf
						if tp != nil {
							if err := tp.ProtectFragment(ctx, f, si, first); err != nil {
								b.Fatal(err)
							}
						}
						first += len(seg)
						if err := f.Encode(io.Discard); err != nil {
							b.Fatal(err)
						}
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(ct.samples)), "ns/sample")
				if cpu > 0 {
					b.ReportMetric(float64(int64(testutil.CPUTime())-cpu)/float64(b.N)/float64(len(ct.samples)), "cpu-ns/sample")
				}
			})
		}
	}
}

// BenchmarkCipher measures the raw sample ciphers on a 1 MiB sample and on
// a 256-byte one (an AAC frame: per-sample set-up dominates). One sample is
// one CBC chain, which runs at AES latency; BenchmarkCipherFragment has the
// many chains of a fragment, which fastaes runs eight at a time.
func BenchmarkCipher(b *testing.B) {
	iv := make([]byte, 16)
	for _, tc := range []struct {
		name        string
		size        int
		crypt, skip int
		cbc         bool
	}{
		{"ctr/1MiB", 1 << 20, 0, 0, false}, {"ctr/256B", 256, 0, 0, false},
		{"cbcs-1:9/1MiB", 1 << 20, 1, 9, true}, {"cbc-full/1MiB", 1 << 20, 0, 0, true}, {"cbc-full/256B", 256, 0, 0, true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			data := make([]byte, tc.size)
			var subs []mp4.SubSamplePattern
			if tc.size > 100 {
				subs = []mp4.SubSamplePattern{{BytesOfClearData: 100, BytesOfProtectedData: uint32(len(data) - 100)}}
			}
			c, _ := newSampleCipher(videoKey.Key, tc.crypt, tc.skip)
			var sc cipherScratch
			var chains []fastaes.Chain
			var civ [16]byte
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if tc.cbc {
					chains = c.cbcsChains(chains[:0], data, subs)
					if err := c.key.EncryptChains(&civ, chains); err != nil {
						b.Fatal(err)
					}
				} else {
					c.ctr(&sc, data, iv[:8], subs)
				}
			}
		})
	}
}

// BenchmarkCipherFragment encrypts a 1080p video fragment's worth of
// samples (120 × 26 KB, one protected range each after a 100-byte clear
// header) the way ProtectFragment does: cenc one keystream per sample,
// cbcs all chains of the fragment together.
func BenchmarkCipherFragment(b *testing.B) {
	const samples, size = 120, 26000
	data := make([]byte, samples*size)
	subs := []mp4.SubSamplePattern{{BytesOfClearData: 100, BytesOfProtectedData: size - 100}}
	iv := make([]byte, 16)
	for _, tc := range []struct {
		name string
		cbc  bool
	}{{"cenc", false}, {"cbcs-1:9", true}} {
		b.Run(tc.name, func(b *testing.B) {
			c, err := newSampleCipher(videoKey.Key, 1, 9)
			if err != nil {
				b.Fatal(err)
			}
			var sc cipherScratch
			var chains []fastaes.Chain
			var civ [16]byte
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				chains = chains[:0]
				for i := 0; i < samples; i++ {
					s := data[i*size : (i+1)*size]
					if tc.cbc {
						chains = c.cbcsChains(chains, s, subs)
					} else {
						c.ctr(&sc, s, iv[:8], subs)
					}
				}
				if tc.cbc {
					if err := c.key.EncryptChains(&civ, chains); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

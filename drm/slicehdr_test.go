package drm

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/Eyevinn/mp4ff/avc"
	"github.com/Eyevinn/mp4ff/hevc"
	"github.com/Eyevinn/mp4ff/mp4"
)

// mp4ffSliceHeaderSize is the reference: mp4ff's full slice-header parsers,
// which nalRanges used before it sized headers itself. ok is false when
// mp4ff fails or panics.
func mp4ffSliceHeaderSize(r *nalRanges, nalu []byte) (size int, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	if r.hevc {
		sh, err := hevc.ParseSliceHeader(nalu, r.hevcSPS, r.hevcPPS)
		if err != nil {
			return 0, false
		}
		return int(sh.Size), true
	}
	sh, err := avc.ParseSliceHeader(nalu, r.avcSPS, r.avcPPS)
	if err != nil {
		return 0, false
	}
	return int(sh.Size), true
}

// vclNALUs returns the slice NAL units of a track's samples.
func vclNALUs(t testing.TB, ct *clearTrack, hevcNALs bool) [][]byte {
	var out [][]byte
	for _, s := range ct.samples {
		b := s.Data
		for len(b) >= 4 {
			n := int(binary.BigEndian.Uint32(b))
			if n > len(b)-4 {
				t.Fatalf("bad NAL length %d", n)
			}
			nalu := b[4 : 4+n]
			b = b[4+n:]
			if hevcNALs && hevc.GetNaluType(nalu[0]) < 32 || !hevcNALs && avc.GetNaluType(nalu[0]) >= 1 && avc.GetNaluType(nalu[0]) <= 5 {
				out = append(out, nalu)
			}
		}
	}
	return out
}

func rangesFor(t testing.TB, ct *clearTrack) *nalRanges {
	e := ct.entry.(*mp4.VisualSampleEntryBox)
	if e.HvcC != nil {
		return newHEVCRanges(SchemeCENC, e.HvcC)
	}
	return newAVCRanges(SchemeCENC, e.AvcC)
}

// TestSliceHeaderSizeMatchesMP4ff sizes every slice header of the H.264
// (x264, CABAC, B-frames, weighted prediction) and HEVC (x265) test media
// with the allocation-free parsers and with mp4ff's: the sizes must agree.
func TestSliceHeaderSizeMatchesMP4ff(t *testing.T) {
	for _, file := range []string{"ladder_720p.mp4", "ladder_360p.mp4", "hevc_ac3.mp4"} {
		ct := loadTrack(t, file, "vide")
		r := rangesFor(t, ct)
		nalus := vclNALUs(t, ct, r.hevc)
		if len(nalus) < len(ct.samples) {
			t.Fatalf("%s: %d slices in %d samples", file, len(nalus), len(ct.samples))
		}
		for i, nalu := range nalus {
			want, ok := mp4ffSliceHeaderSize(r, nalu)
			if !ok {
				t.Fatalf("%s slice %d: mp4ff cannot parse it", file, i)
			}
			got, err := r.parseSliceHeader(nalu)
			if err != nil || got != want {
				t.Fatalf("%s slice %d: size %d (%v), mp4ff %d", file, i, got, err, want)
			}
			// Cut short, the NAL unit must not make the parser read past it.
			for _, cut := range []int{1, want / 2, want - 1} {
				if cut > 0 {
					_, _ = r.parseSliceHeader(nalu[:cut:cut])
				}
			}
		}
		t.Logf("%s: %d slice headers agree", file, len(nalus))
	}
}

// TestSliceHeaderEmulationPrevention checks that 0x000003 in a header is
// skipped and counted, as mp4ff's EBSP reader does.
func TestSliceHeaderEmulationPrevention(t *testing.T) {
	br := bitReader{b: []byte{0x00, 0x00, 0x03, 0x01, 0xff}}
	if v := br.u(24); v != 1 || br.pos != 4 {
		t.Fatalf("read %#x after %d raw bytes, want 0x1 after 4", v, br.pos)
	}
	br = bitReader{b: []byte{0x00, 0x00, 0x03}}
	if br.u(24); !br.end {
		t.Fatal("a trailing emulation prevention byte must end the data")
	}
	br = bitReader{b: []byte{0x00, 0x00, 0x00, 0x00, 0x00}} // 40 zero bits
	if v := br.ue(); v != 0 || !br.bad {
		t.Fatalf("overlong Exp-Golomb code: %d, bad=%v", v, br.bad)
	}
}

// longZeroRun reports whether the RBSP of nalu has 24 zero bits in a row:
// an Exp-Golomb code that long can make mp4ff loop for seconds (the
// reference, not the code under test).
func longZeroRun(nalu []byte) bool {
	zeros := 0
	for _, c := range nalu {
		if c == 0 {
			if zeros += 8; zeros >= 24 {
				return true
			}
			continue
		}
		zeros = 0
	}
	return false
}

// FuzzSliceHeaderSize compares the allocation-free slice-header sizing
// with mp4ff's parsers on arbitrary NAL units (with the test media's
// parameter sets): it must never panic, and where mp4ff parses a header
// the size must be the same, except where mp4ff accepts an Exp-Golomb
// code over 32 bits, which is refused here.
func FuzzSliceHeaderSize(f *testing.F) {
	var rs []*nalRanges
	for _, file := range []string{"ladder_720p.mp4", "hevc_ac3.mp4"} {
		ct := loadTrack(f, file, "vide")
		r := rangesFor(f, ct)
		rs = append(rs, r)
		for i, nalu := range vclNALUs(f, ct, r.hevc) {
			if i%7 == 0 {
				f.Add(uint8(len(rs)-1), append([]byte(nil), nalu[:min(len(nalu), 64)]...))
			}
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, nalu []byte) {
		r := rs[int(which)%len(rs)]
		var got int
		var err error
		if r.hevc {
			got, err = r.hevcSliceHeaderSize(nalu)
		} else {
			got, err = r.avcSliceHeaderSize(nalu)
		}
		if err == nil && (got < 0 || got > len(nalu)) {
			t.Fatalf("size %d of %d bytes", got, len(nalu))
		}
		if longZeroRun(nalu) {
			return
		}
		want, ok := mp4ffSliceHeaderSize(r, nalu)
		switch {
		case ok && err == nil && got != want:
			t.Fatalf("size %d, mp4ff %d", got, want)
		case ok && err != nil && !errors.Is(err, errBitstream):
			t.Fatalf("mp4ff parses it (%d bytes), here: %v", want, err)
		case !ok && err == nil && r.hevc:
			t.Fatalf("mp4ff refuses it, here %d bytes", got)
		}
	})
}

package drm

import (
	"encoding/binary"
	"errors"
	"math/bits"
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

// mp4ffSafeZeroRun is the longest run of zero bits that mp4ffSliceHeaderSize
// may meet in a NAL unit's RBSP. An Exp-Golomb code can only be as large
// as its run of leading zeros allows, and mp4ff loops as many times as some
// codes say: avc.ParseSliceHeader's pred_weight_table loop runs
// num_ref_idx_l0_active_minus1+1 times on a uint32 counter, forever when a
// 32-zero code wraps that value to 0xFFFFFFFF (mp4ffLoopsForever), and over
// four billion times for a 31-zero code; hevc.ParseSliceHeader allocates
// num_entry_point_offsets words. Below 16 zero bits every code is under
// 1<<17, which keeps the reference under a millisecond.
const mp4ffSafeZeroRun = 15

// mp4ffLoopsForever is an H.264 P slice for ladder_720p.mp4's parameter sets
// (weighted prediction on) whose num_ref_idx_l0_active_minus1 is a 32-zero
// Exp-Golomb code: mp4ff v0.56.0 reads it as 0xFFFFFFFF and never leaves its
// pred_weight_table loop. The emulation prevention bytes (00 00 03) keep
// every raw run of zero bytes at two, so a guard that counts zero bytes in
// the raw NAL unit lets it through.
var mp4ffLoopsForever = []byte{0x41, 0xe0, 0x04, 0x00, 0x00, 0x03, 0x00, 0x02, 0x00, 0x00, 0x03, 0x00, 0x00, 0xff, 0xff, 0xfe}

// rbspZeroRun returns the longest run of zero bits in the RBSP of nalu,
// with emulation prevention bytes dropped as mp4ff's bits.EBSPReader drops
// them (a 0x03 after two zero bytes).
func rbspZeroRun(nalu []byte) int {
	run, longest, zeros := 0, 0, 0
	for _, c := range nalu {
		if zeros == 2 && c == 3 {
			zeros = 0
			continue
		}
		if c == 0 {
			zeros++
			run += 8
		} else {
			zeros = 0
			run += bits.LeadingZeros8(c)
		}
		longest = max(longest, run)
		if c != 0 {
			run = bits.TrailingZeros8(c)
		}
	}
	return longest
}

// TestRBSPZeroRun checks the guard that keeps the differential fuzz target
// away from mp4ff's endless loops: zero runs are counted in bits, across
// byte boundaries and across emulation prevention bytes.
func TestRBSPZeroRun(t *testing.T) {
	for _, c := range []struct {
		nalu []byte
		want int
	}{
		{nil, 0},
		{[]byte{0xff}, 0},
		{[]byte{0x80, 0x01}, 14},
		{[]byte{0x80, 0x00, 0x7f}, 16},
		{[]byte{0x00, 0x00, 0x03, 0x00}, 24},
		{[]byte{0x00, 0x00, 0x03, 0x01}, 23},
		{[]byte{0x00, 0x00, 0x04, 0x00}, 21},
		{mp4ffLoopsForever, 33},
	} {
		if got := rbspZeroRun(c.nalu); got != c.want {
			t.Errorf("% x: %d zero bits, want %d", c.nalu, got, c.want)
		}
	}
}

// FuzzSliceHeaderSize compares the allocation-free slice-header sizing
// with mp4ff's parsers on arbitrary NAL units (with the test media's
// parameter sets): it must never panic, and where mp4ff parses a header
// the size must be the same, except where mp4ff accepts an Exp-Golomb
// code over 32 bits, which is refused here. NAL units whose codes could
// send mp4ff into one of its unbounded loops (see mp4ffSafeZeroRun) are
// only checked for the size bound.
func FuzzSliceHeaderSize(f *testing.F) {
	var rs []*nalRanges
	for _, file := range []string{"ladder_720p.mp4", "hevc_ac3.mp4"} {
		ct := loadTrack(f, file, "vide")
		r := rangesFor(f, ct)
		for _, pps := range r.hevcPPS {
			// With any of these, hevc.ParseSliceHeader loops forever on
			// num_ref_idx_active_minus1 255, an 8-zero code the guard allows.
			if pps.ListsModificationPresentFlag || pps.WeightedPredFlag || pps.WeightedBipredFlag {
				f.Fatalf("%s: the HEVC PPS lets mp4ff loop forever; the fuzz guard does not cover it", file)
			}
		}
		rs = append(rs, r)
		for i, nalu := range vclNALUs(f, ct, r.hevc) {
			if i%7 != 0 {
				continue
			}
			// The header and a few bytes of slice data: enough for every
			// mutation of the header, small enough to mutate quickly.
			n, err := r.parseSliceHeader(nalu)
			if err != nil {
				f.Fatalf("%s slice %d: %v", file, i, err)
			}
			f.Add(uint8(len(rs)-1), append([]byte(nil), nalu[:min(len(nalu), n+4)]...))
		}
	}
	f.Add(uint8(0), mp4ffLoopsForever)
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
		if rbspZeroRun(nalu) > mp4ffSafeZeroRun {
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

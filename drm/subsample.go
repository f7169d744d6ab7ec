package drm

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/Eyevinn/mp4ff/av1"
	"github.com/Eyevinn/mp4ff/avc"
	"github.com/Eyevinn/mp4ff/hevc"
	"github.com/Eyevinn/mp4ff/mp4"
)

// rangeFunc computes the subsamples of one sample; nil means whole-sample
// encryption. It is fed samples in decode order (AV1 keeps state).
type rangeFunc func(sample []byte) ([]mp4.SubSamplePattern, error)

// cencFallbackClear is the clear prefix of a NAL unit whose slice header
// cannot be parsed under cenc (the spec minimum is the NAL header; 96 bytes,
// like Bento4/mp4ff, keeps ordinary slice headers clear too).
const cencFallbackClear = 96

// nalRanges computes subsamples for AVC and HEVC samples with 4-byte NAL
// lengths (the only size mp4ff accepts). Per ISO/IEC 23001-7 §10.2 the NAL
// length field, the NAL header and (required for cbcs, kept for cenc too)
// the slice header stay clear; non-VCL NAL units are entirely clear. For cenc
// the protected part is a multiple of 16 bytes ending at the NAL end (the
// remainder joins the clear part), as shaka-packager does. SPS/PPS found
// in-band (avc3/hev1) update the parameter sets used for later slices.
type nalRanges struct {
	hevc    bool
	scheme  Scheme
	avcSPS  map[uint32]*avc.SPS
	avcPPS  map[uint32]*avc.PPS
	hevcSPS map[uint32]*hevc.SPS
	hevcPPS map[uint32]*hevc.PPS
}

func newAVCRanges(scheme Scheme, avcC *mp4.AvcCBox) *nalRanges {
	r := &nalRanges{scheme: scheme, avcSPS: map[uint32]*avc.SPS{}, avcPPS: map[uint32]*avc.PPS{}}
	if avcC != nil {
		for _, n := range avcC.SPSnalus {
			r.addAVCParam(n)
		}
		for _, n := range avcC.PPSnalus {
			r.addAVCParam(n)
		}
	}
	return r
}

func newHEVCRanges(scheme Scheme, hvcC *mp4.HvcCBox) *nalRanges {
	r := &nalRanges{hevc: true, scheme: scheme, hevcSPS: map[uint32]*hevc.SPS{}, hevcPPS: map[uint32]*hevc.PPS{}}
	if hvcC != nil {
		for _, typ := range []hevc.NaluType{hevc.NALU_SPS, hevc.NALU_PPS} {
			for _, a := range hvcC.NaluArrays {
				if a.NaluType() == typ {
					for _, n := range a.Nalus {
						r.addHEVCParam(n)
					}
				}
			}
		}
	}
	return r
}

// addAVCParam records an SPS or PPS; unparsable ones are ignored here and
// surface later as ErrNoParameterSets when a slice needs them.
func (r *nalRanges) addAVCParam(n []byte) {
	defer func() { _ = recover() }() // an unparsable parameter set is ignored
	if len(n) == 0 {
		return
	}
	switch avc.GetNaluType(n[0]) {
	case avc.NALU_SPS:
		if sps, err := avc.ParseSPSNALUnit(n, false); err == nil {
			r.avcSPS[sps.ParameterID] = sps
		}
	case avc.NALU_PPS:
		if pps, err := avc.ParsePPSNALUnit(n, r.avcSPS); err == nil {
			r.avcPPS[pps.PicParameterSetID] = pps
		}
	}
}

func (r *nalRanges) addHEVCParam(n []byte) {
	defer func() { _ = recover() }() // an unparsable parameter set is ignored
	if len(n) < 2 {
		return
	}
	switch hevc.GetNaluType(n[0]) {
	case hevc.NALU_SPS:
		if sps, err := hevc.ParseSPSNALUnit(n); err == nil {
			r.hevcSPS[uint32(sps.SpsID)] = sps
		}
	case hevc.NALU_PPS:
		if pps, err := hevc.ParsePPSNALUnit(n, r.hevcSPS); err == nil {
			r.hevcPPS[pps.PicParameterSetID] = pps
		}
	}
}

// sliceHeaderSize returns the bytes of the NAL unit (header included) up to
// the end of the slice header.
func (r *nalRanges) sliceHeaderSize(nalu []byte) (size int, err error) {
	defer recoverParser(&err)
	return r.parseSliceHeader(nalu)
}

// recoverParser turns a panic inside an mp4ff parser (fed untrusted sample
// bytes) into ErrMalformed.
func recoverParser(err *error) {
	if p := recover(); p != nil {
		*err = fmt.Errorf("parser panic: %v: %w", p, ErrMalformed)
	}
}

func (r *nalRanges) parseSliceHeader(nalu []byte) (int, error) {
	var size uint32
	if r.hevc {
		if len(r.hevcPPS) == 0 {
			return 0, ErrNoParameterSets
		}
		sh, err := hevc.ParseSliceHeader(nalu, r.hevcSPS, r.hevcPPS)
		if err != nil {
			return 0, fmt.Errorf("%v: %w", err, ErrNoParameterSets)
		}
		size = sh.Size
	} else {
		if len(r.avcPPS) == 0 {
			return 0, ErrNoParameterSets
		}
		sh, err := avc.ParseSliceHeader(nalu, r.avcSPS, r.avcPPS)
		if err != nil {
			return 0, fmt.Errorf("%v: %w", err, ErrNoParameterSets)
		}
		size = sh.Size
	}
	if size == 0 || int(size) > len(nalu) {
		return 0, fmt.Errorf("slice header size %d of %d-byte NAL unit: %w", size, len(nalu), ErrMalformed)
	}
	return int(size), nil
}

func (r *nalRanges) ranges(sample []byte) ([]mp4.SubSamplePattern, error) {
	var subs []mp4.SubSamplePattern
	clear := 0 // clear bytes not yet emitted
	pos := 0
	for pos < len(sample) {
		if len(sample)-pos < 4 {
			return nil, fmt.Errorf("%d trailing bytes after NAL units: %w", len(sample)-pos, ErrMalformed)
		}
		n := int(binary.BigEndian.Uint32(sample[pos:]))
		pos += 4
		if n == 0 || n > len(sample)-pos {
			return nil, fmt.Errorf("NAL unit length %d at byte %d exceeds sample: %w", n, pos-4, ErrMalformed)
		}
		nalu := sample[pos : pos+n]
		pos += n
		clear += 4
		var vcl bool
		if r.hevc {
			if n < 2 {
				return nil, fmt.Errorf("1-byte HEVC NAL unit: %w", ErrMalformed)
			}
			t := hevc.GetNaluType(nalu[0])
			vcl = t < 32
			if t == hevc.NALU_SPS || t == hevc.NALU_PPS {
				r.addHEVCParam(nalu)
			}
		} else {
			t := avc.GetNaluType(nalu[0])
			vcl = t >= 1 && t <= 5
			if t == avc.NALU_SPS || t == avc.NALU_PPS {
				r.addAVCParam(nalu)
			}
		}
		if !vcl {
			clear += n
			continue
		}
		hdr, err := r.sliceHeaderSize(nalu)
		if err != nil {
			if r.scheme == SchemeCBCS || !errors.Is(err, ErrNoParameterSets) && !errors.Is(err, ErrMalformed) {
				return nil, fmt.Errorf("slice header: %w", err)
			}
			hdr = min(n, cencFallbackClear)
		}
		prot := n - hdr
		if r.scheme == SchemeCENC {
			prot &^= 15
		}
		if prot < 16 {
			clear += n
			continue
		}
		clear += n - prot
		subs = appendRange(subs, clear, prot)
		clear = 0
	}
	if clear > 0 || len(subs) == 0 {
		// Every video sample carries subsamples so senc/saiz stay uniform.
		subs = appendRange(subs, clear, 0)
	}
	return subs, nil
}

// appendRange appends a (clear, protected) pair, splitting clear runs that
// do not fit BytesOfClearData's 16 bits.
func appendRange(subs []mp4.SubSamplePattern, clear, prot int) []mp4.SubSamplePattern {
	for clear > 0xffff {
		subs = append(subs, mp4.SubSamplePattern{BytesOfClearData: 0xffff})
		clear -= 0xffff
	}
	return append(subs, mp4.SubSamplePattern{BytesOfClearData: uint16(clear), BytesOfProtectedData: uint32(prot)})
}

// newAV1Ranges uses mp4ff's AV1 binding implementation: OBU headers, frame
// and tile-group headers and tile-size fields clear, tile data protected (for
// cenc whole 16-byte blocks only). The frame-header decoder keeps
// reference-frame state, so samples must arrive in decode order.
func newAV1Ranges(scheme Scheme, av1C *mp4.Av1CBox) (rangeFunc, error) {
	if av1C == nil {
		return nil, fmt.Errorf("av01 without av1C: %w", ErrMalformed)
	}
	seq, err := av1C.SequenceHeader()
	if err != nil {
		return nil, fmt.Errorf("av1C sequence header: %v: %w", err, ErrMalformed)
	}
	dec, err := av1.NewFrameHeaderDecoder(seq)
	if err != nil {
		return nil, fmt.Errorf("av1 frame header decoder: %v: %w", err, ErrMalformed)
	}
	return func(sample []byte) (subs []mp4.SubSamplePattern, err error) {
		defer recoverParser(&err)
		subs, err = mp4.GetAV1ProtectRanges(dec, sample, string(scheme))
		if err != nil {
			return nil, fmt.Errorf("%v: %w", err, ErrMalformed)
		}
		return subs, nil
	}, nil
}

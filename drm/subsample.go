package drm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"sync"

	"github.com/Eyevinn/mp4ff/av1"
	"github.com/Eyevinn/mp4ff/avc"
	"github.com/Eyevinn/mp4ff/hevc"
	"github.com/Eyevinn/mp4ff/mp4"
)

// rangeFunc appends the subsamples of one sample to dst (appending none
// means whole-sample encryption). It is fed samples in decode order (AV1
// keeps state). Appending to a caller's slice lets a fragment's subsamples
// share one allocation.
type rangeFunc func(dst []mp4.SubSamplePattern, sample []byte) ([]mp4.SubSamplePattern, error)

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
	// mu guards the parameter-set maps: fragments of avc1/hvc1 tracks are
	// protected concurrently, and such a stream may still repeat its
	// parameter sets in-band.
	mu      sync.RWMutex
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
	r.mu.Lock()
	defer r.mu.Unlock()
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
	r.mu.Lock()
	defer r.mu.Unlock()
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
	r.mu.RLock()
	defer r.mu.RUnlock()
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
	var size int
	var err error
	if r.hevc {
		if len(r.hevcPPS) == 0 {
			return 0, ErrNoParameterSets
		}
		size, err = r.hevcSliceHeaderSize(nalu)
	} else {
		if len(r.avcPPS) == 0 {
			return 0, ErrNoParameterSets
		}
		size, err = r.avcSliceHeaderSize(nalu)
	}
	if err != nil {
		return 0, err
	}
	if size == 0 || size > len(nalu) {
		return 0, fmt.Errorf("slice header size %d of %d-byte NAL unit: %w", size, len(nalu), ErrMalformed)
	}
	return size, nil
}

// Errors for slice headers that cannot be sized: no slice header in the NAL
// unit type, an unknown parameter set, or a bitstream that ends or
// overflows early.
var (
	errUnknownPPS = fmt.Errorf("slice header refers to an unknown parameter set: %w", ErrNoParameterSets)
	errNoSlice    = fmt.Errorf("NAL unit type has no slice header: %w", ErrNoParameterSets)
	errBitstream  = fmt.Errorf("slice header bitstream ends early or has an oversized code: %w", ErrMalformed)
)

// bitReader reads the bits of a NAL unit, dropping emulation prevention
// bytes exactly as mp4ff's bits.EBSPReader does (a 0x03 after two zero
// bytes is skipped), without allocating: the slice-header size it yields
// is the number of raw bytes consumed. After the end of data, or an
// Exp-Golomb code longer than 32 bits, every read returns 0 and end is set.
type bitReader struct {
	b     []byte
	pos   int    // raw bytes consumed
	zeros int    // consecutive zero bytes before pos
	v     uint64 // unread bits of the current bytes (low n bits)
	n     int
	end   bool // data exhausted (or code overflow)
	bad   bool // Exp-Golomb code over 32 bits
}

func (r *bitReader) fill() bool {
	if r.pos >= len(r.b) {
		r.end = true
		return false
	}
	c := r.b[r.pos]
	r.pos++
	if r.zeros == 2 && c == 3 {
		if r.pos >= len(r.b) {
			r.end = true
			return false
		}
		c = r.b[r.pos]
		r.pos++
		r.zeros = 0
	}
	if c != 0 {
		r.zeros = 0
	} else {
		r.zeros++
	}
	r.v = r.v<<8 | uint64(c)
	r.n += 8
	return true
}

// u reads n <= 32 bits.
func (r *bitReader) u(n int) uint32 {
	if r.end {
		return 0
	}
	for r.n < n {
		if !r.fill() {
			return 0
		}
	}
	r.n -= n
	v := r.v >> r.n
	r.v &= 1<<r.n - 1
	return uint32(v)
}

func (r *bitReader) flag() bool { return r.u(1) == 1 }

// skip reads n bits of any length.
func (r *bitReader) skip(n int) {
	for n > 0 && !r.end {
		k := min(n, 32)
		r.u(k)
		n -= k
	}
}

// ue reads an unsigned Exp-Golomb code (at most 32 bits of value). The
// leading zeros are counted a byte at a time, fetching bytes as lazily as
// reading bit by bit would, so pos stays exact.
func (r *bitReader) ue() uint32 {
	lz := 0
	for {
		if r.end || r.n == 0 && !r.fill() {
			return 0
		}
		z := bits.LeadingZeros64(r.v << (64 - r.n)) // v holds n < 64 bits
		if z < r.n {
			lz += z
			r.n -= z + 1 // the zeros and the terminating 1
			r.v &= 1<<r.n - 1
			break
		}
		lz += r.n
		r.n, r.v = 0, 0
		if lz > 31 {
			r.end, r.bad = true, true
			return 0
		}
	}
	if lz > 31 {
		r.end, r.bad = true, true
		return 0
	}
	if lz == 0 {
		return 0
	}
	v := 1<<lz - 1 + r.u(lz)
	if r.end {
		return 0 // as mp4ff: a code cut short reads as 0
	}
	return v
}

// se reads a signed Exp-Golomb code; only its length matters here.
func (r *bitReader) se() { r.ue() }

// ceilLog2 is mp4ff's bits.CeilLog2: the smallest i <= 32 with 1<<i >= n.
func ceilLog2(n uint64) int {
	for i := 0; i < 32; i++ {
		if uint64(1)<<i >= n {
			return i
		}
	}
	return 32
}

// avcSliceHeaderSize sizes an H.264 slice header (ISO/IEC 14496-10
// §7.3.3) with the stored SPS/PPS. It follows mp4ff's avc.ParseSliceHeader
// (which the tests check it against) without allocating, which matters at
// one call per slice: a header that runs past the NAL unit counts as the
// whole NAL unit (so it stays clear), as there.
func (r *nalRanges) avcSliceHeaderSize(nalu []byte) (int, error) {
	br := bitReader{b: nalu}
	hdr := br.u(8)
	naluType := hdr & 0x1f
	switch naluType {
	case 1, 2, 5, 19:
	default:
		return 0, errNoSlice
	}
	refIDC := (hdr >> 5) & 3
	br.ue() // first_mb_in_slice
	sliceType := br.ue() % 5
	pps, ok := r.avcPPS[br.ue()]
	if !ok {
		return 0, errUnknownPPS
	}
	sps, ok := r.avcSPS[pps.SeqParameterSetID]
	if !ok {
		return 0, errUnknownPPS
	}
	const sliceP, sliceB, sliceI, sliceSP, sliceSI = 0, 1, 2, 3, 4
	if sps.SeparateColourPlaneFlag {
		br.u(2)
	}
	br.skip(int(sps.Log2MaxFrameNumMinus4 + 4)) // frame_num
	field := false
	if !sps.FrameMbsOnlyFlag {
		if field = br.flag(); field {
			br.u(1) // bottom_field_flag
		}
	}
	if naluType == 5 {
		br.ue() // idr_pic_id
	}
	if sps.PicOrderCntType == 0 {
		br.skip(int(sps.Log2MaxPicOrderCntLsbMinus4 + 4))
		if pps.BottomFieldPicOrderInFramePresentFlag && !field {
			br.se()
		}
	} else if sps.PicOrderCntType == 1 && !sps.DeltaPicOrderAlwaysZeroFlag {
		br.se()
		if pps.BottomFieldPicOrderInFramePresentFlag && !field {
			br.se()
		}
	}
	if pps.RedundantPicCntPresentFlag {
		br.ue()
	}
	if sliceType == sliceB {
		br.u(1) // direct_spatial_mv_pred_flag
	}
	var numL0, numL1 uint64 // num_ref_idx_lX_active_minus1
	switch sliceType {
	case sliceP, sliceSP, sliceB:
		numL0, numL1 = uint64(pps.NumRefIdxI0DefaultActiveMinus1), uint64(pps.NumRefIdxI1DefaultActiveMinus1)
		if br.flag() { // num_ref_idx_active_override_flag
			numL0 = uint64(br.ue())
			if sliceType == sliceB {
				numL1 = uint64(br.ue())
			}
		}
	}
	// ref_pic_list_modification (§7.3.3.1, with the MVC idc values 4 and 5)
	lists := 0
	if sliceType != sliceI && sliceType != sliceSI {
		lists = 1
		if sliceType == sliceB {
			lists = 2
		}
	}
	for l := 0; l < lists; l++ {
		if !br.flag() {
			continue
		}
		for !br.end {
			idc := br.ue()
			if idc == 3 {
				break
			}
			if idc <= 2 || idc == 4 || idc == 5 {
				br.ue()
			}
		}
	}
	if pps.WeightedPredFlag && (sliceType == sliceP || sliceType == sliceSP) ||
		pps.WeightedBipredIDC == 1 && sliceType == sliceB {
		// pred_weight_table (§7.3.3.2)
		br.ue()
		chroma := sps.ChromaArrayType() != 0
		if chroma {
			br.ue()
		}
		for l, num := range [2]uint64{numL0, numL1} {
			if l == 1 && sliceType != sliceB {
				break
			}
			for i := uint64(0); i <= num && !br.end; i++ {
				if br.flag() {
					br.se()
					br.se()
				}
				if chroma && br.flag() {
					br.se()
					br.se()
					br.se()
					br.se()
				}
			}
		}
	}
	if refIDC != 0 {
		// dec_ref_pic_marking (§7.3.3.3)
		if naluType == 5 {
			br.u(2)
		} else if br.flag() {
			for !br.end {
				op := br.ue()
				if op == 0 {
					break
				}
				switch op {
				case 1, 3:
					br.ue()
				case 2:
					br.ue()
				}
				switch op {
				case 3, 6, 4:
					br.ue()
				}
			}
		}
	}
	if pps.EntropyCodingModeFlag && sliceType != sliceI && sliceType != sliceSI {
		br.ue() // cabac_init_idc
	}
	br.se() // slice_qp_delta
	if sliceType == sliceSP || sliceType == sliceSI {
		if sliceType == sliceSP {
			br.u(1)
		}
		br.se()
	}
	if pps.DeblockingFilterControlPresentFlag {
		if br.ue() != 1 {
			br.se()
			br.se()
		}
	}
	if pps.NumSliceGroupsMinus1 > 0 && pps.SliceGroupMapType >= 3 && pps.SliceGroupMapType <= 5 {
		rate := uint64(pps.SliceGroupChangeRateMinus1) + 1
		units := uint64(pps.PicSizeInMapUnitsMinus1) + 1
		br.skip(ceilLog2(units/rate + 1))
	}
	if br.bad {
		return 0, errBitstream
	}
	return br.pos, nil
}

// hevcSliceHeaderSize sizes an H.265 slice segment header (ISO/IEC 23008-2
// §7.3.6) up to and including byte_alignment(), following mp4ff's
// hevc.ParseSliceHeader without allocating. Unlike mp4ff it bounds the
// reference-index loops (mp4ff loops forever on num_ref_idx_active_minus1
// 255 with lists_modification_present_flag), never allocates from coded
// counts, and counts NumPicTotalCurr from inter-predicted short-term
// reference picture sets coded in the slice header too.
func (r *nalRanges) hevcSliceHeaderSize(nalu []byte) (int, error) {
	br := bitReader{b: nalu}
	naluType := hevc.NaluType((br.u(16) >> 9) & 0x3f)
	first := br.flag() // first_slice_segment_in_pic_flag
	if naluType >= hevc.NALU_BLA_W_LP && naluType <= hevc.NALU_IRAP_VCL23 {
		br.u(1) // no_output_of_prior_pics_flag
	}
	pps, ok := r.hevcPPS[br.ue()]
	if !ok {
		return 0, errUnknownPPS
	}
	sps, ok := r.hevcSPS[pps.SeqParameterSetID]
	if !ok {
		return 0, errUnknownPPS
	}
	dependent := false
	if !first {
		if pps.DependentSliceSegmentsEnabledFlag {
			dependent = br.flag()
		}
		shift := int(sps.Log2MinLumaCodingBlockSizeMinus3) + 3 + int(sps.Log2DiffMaxMinLumaCodingBlockSize)
		if shift > 16 {
			return 0, errBitstream
		}
		ctb := uint64(1) << shift
		w := (uint64(sps.PicWidthInLumaSamples) + ctb - 1) / ctb
		h := (uint64(sps.PicHeightInLumaSamples) + ctb - 1) / ctb
		br.skip(ceilLog2(w * h)) // slice_segment_address
	}
	if !dependent {
		const sliceB, sliceP = 0, 1
		numPicTotalCurr := 0
		chromaArrayType := sps.ChromaFormatIDC
		if sps.SeparateColourPlaneFlag && sps.ChromaFormatIDC == 3 {
			chromaArrayType = 0
		}
		br.skip(int(pps.NumExtraSliceHeaderBits))
		sliceType := br.ue()
		if pps.OutputFlagPresentFlag {
			br.u(1)
		}
		if sps.SeparateColourPlaneFlag {
			br.u(2)
		}
		temporalMvp := false
		if naluType != hevc.NALU_IDR_W_RADL && naluType != hevc.NALU_IDR_N_LP {
			br.skip(int(sps.Log2MaxPicOrderCntLsbMinus4) + 4) // slice_pic_order_cnt_lsb
			if !br.flag() {                                   // short_term_ref_pic_set_sps_flag
				n, err := shortTermRPSInUse(&br, sps)
				if err != nil {
					return 0, err
				}
				numPicTotalCurr += n
			} else {
				idx := 0
				if sps.NumShortTermRefPicSets > 1 {
					idx = int(br.u(ceilLog2(uint64(sps.NumShortTermRefPicSets))))
					if idx >= len(sps.ShortTermRefPicSets) {
						return 0, errBitstream
					}
				}
				if idx < len(sps.ShortTermRefPicSets) {
					numPicTotalCurr += usedPics(&sps.ShortTermRefPicSets[idx])
				}
			}
			if sps.LongTermRefPicsPresentFlag {
				var numSps uint64
				if sps.NumLongTermRefPics > 0 {
					numSps = uint64(uint8(br.ue()))
				}
				numPics := uint64(br.ue())
				for i := uint64(0); i < numSps+numPics && !br.end; i++ {
					used := false
					if i < numSps {
						lt := 0
						if sps.NumLongTermRefPics > 1 {
							lt = int(br.u(ceilLog2(uint64(sps.NumLongTermRefPics))))
							if lt >= len(sps.LongTermRefPicSets) {
								return 0, errBitstream
							}
						}
						used = lt < len(sps.LongTermRefPicSets) && sps.LongTermRefPicSets[lt].UsedByCurrPicLtFlag
					} else {
						br.skip(int(sps.Log2MaxPicOrderCntLsbMinus4) + 4)
						used = br.flag()
					}
					if used {
						numPicTotalCurr++
					}
					if br.flag() { // delta_poc_msb_present_flag
						br.ue()
					}
				}
			}
			if sps.SpsTemporalMvpEnabledFlag {
				temporalMvp = br.flag()
			}
		}
		saoLuma, saoChroma := false, false
		if sps.SampleAdaptiveOffsetEnabledFlag {
			saoLuma = br.flag()
			if chromaArrayType != 0 {
				saoChroma = br.flag()
			}
		}
		if sliceType == sliceP || sliceType == sliceB {
			numL0, numL1 := int(pps.NumRefIdxL0DefaultActiveMinus1), int(pps.NumRefIdxL1DefaultActiveMinus1)
			if br.flag() { // num_ref_idx_active_override_flag
				numL0 = int(uint8(br.ue()))
				if sliceType == sliceB {
					numL1 = int(uint8(br.ue()))
				}
			}
			if pps.ListsModificationPresentFlag {
				if pps.SccExtension != nil && pps.SccExtension.CurrPicRefEnabledFlag {
					numPicTotalCurr++
				}
				if numPicTotalCurr > 1 {
					// ref_pic_lists_modification (§7.3.6.2)
					w := ceilLog2(uint64(uint8(numPicTotalCurr)))
					if br.flag() {
						br.skip(w * (numL0 + 1))
					}
					if sliceType == sliceB && br.flag() {
						br.skip(w * (numL1 + 1))
					}
				}
			}
			if sliceType == sliceB {
				br.u(1) // mvd_l1_zero_flag
			}
			if pps.CabacInitPresentFlag {
				br.u(1)
			}
			if temporalMvp {
				fromL0 := true
				if sliceType == sliceB {
					fromL0 = br.flag()
				}
				if fromL0 && numL0 > 0 || !fromL0 && numL1 > 0 {
					br.ue() // collocated_ref_idx
				}
			}
			if pps.WeightedPredFlag && sliceType == sliceP || pps.WeightedBipredFlag && sliceType == sliceB {
				// pred_weight_table (§7.3.6.3)
				br.ue()
				if chromaArrayType != 0 {
					br.se()
				}
				for l, num := range [2]int{numL0, numL1} {
					if l == 1 && sliceType != sliceB {
						break
					}
					var luma, chroma [256]bool // num <= 255
					for i := 0; i <= num; i++ {
						luma[i] = br.flag()
					}
					if chromaArrayType != 0 {
						for i := 0; i <= num; i++ {
							chroma[i] = br.flag()
						}
					}
					for i := 0; i <= num; i++ {
						if luma[i] {
							br.se()
							br.se()
						}
						if chroma[i] {
							br.se()
							br.se()
							br.se()
							br.se()
						}
					}
				}
			}
			br.ue() // five_minus_max_num_merge_cand
			if sps.SccExtension != nil && sps.SccExtension.MotionVectorResolutionControlIdc == 2 {
				br.u(1)
			}
		}
		br.se() // slice_qp_delta
		if pps.SliceChromaQpOffsetsPresentFlag {
			br.se()
			br.se()
		}
		if pps.SccExtension != nil && pps.SccExtension.SliceActQpOffsetsPresentFlag {
			br.se()
			br.se()
			br.se()
		}
		if pps.RangeExtension != nil && pps.RangeExtension.ChromaQpOffsetListEnabledFlag {
			br.u(1)
		}
		deblockOff := pps.DeblockingFilterDisabledFlag
		if pps.DeblockingFilterOverrideEnabledFlag && br.flag() {
			if deblockOff = br.flag(); !deblockOff {
				br.se()
				br.se()
			}
		}
		if pps.LoopFilterAcrossSlicesEnabledFlag && (saoLuma || saoChroma || !deblockOff) {
			br.u(1)
		}
	}
	if pps.TilesEnabledFlag || pps.EntropyCodingSyncEnabledFlag {
		if n := uint64(br.ue()); n > 0 {
			bitsEach := int(uint8(br.ue()) + 1) // offset_len_minus1 + 1, in 8 bits as mp4ff
			for i := uint64(0); i < n && !br.end; i++ {
				br.skip(bitsEach)
			}
		}
	}
	if pps.SliceSegmentHeaderExtensionPresentFlag {
		br.skip(8 * int(uint16(br.ue())))
	}
	if !br.flag() { // alignment_bit_equal_to_one
		return 0, errBitstream
	}
	for br.n > 0 {
		if br.flag() {
			return 0, errBitstream
		}
	}
	if br.end {
		return 0, errBitstream
	}
	return br.pos, nil
}

// shortTermRPSInUse reads the st_ref_pic_set(num_short_term_ref_pic_sets)
// of a slice header (§7.3.7) and returns how many of its pictures the
// current picture uses (its share of NumPicTotalCurr).
func shortTermRPSInUse(br *bitReader, sps *hevc.SPS) (int, error) {
	idx := int(sps.NumShortTermRefPicSets)
	if idx > 0 && br.flag() { // inter_ref_pic_set_prediction_flag
		delta := int(uint8(br.ue() + 1))
		if delta > idx || idx-delta >= len(sps.ShortTermRefPicSets) {
			return 0, errBitstream
		}
		br.u(1) // delta_rps_sign
		br.ue() // abs_delta_rps_minus1
		used := 0
		for j := 0; j <= int(sps.ShortTermRefPicSets[idx-delta].NumDeltaPocs) && !br.end; j++ {
			if br.flag() { // used_by_curr_pic_flag
				used++
			} else {
				br.u(1) // use_delta_flag
			}
		}
		return used, nil
	}
	neg, pos := uint8(br.ue()), uint8(br.ue())
	if neg > 16 || pos > 16 {
		return 0, errBitstream
	}
	used := 0
	for i := 0; i < int(neg)+int(pos) && !br.end; i++ {
		br.ue() // delta_poc_sX_minus1
		if br.flag() {
			used++
		}
	}
	return used, nil
}

// usedPics counts the pictures of an SPS short-term set used by the current
// picture (mp4ff records the flags of explicitly coded sets only).
func usedPics(st *hevc.ShortTermRPS) int {
	n := 0
	for _, u := range st.UsedByCurrPicS0 {
		if u {
			n++
		}
	}
	for _, u := range st.UsedByCurrPicS1 {
		if u {
			n++
		}
	}
	return n
}

func (r *nalRanges) ranges(subs []mp4.SubSamplePattern, sample []byte) ([]mp4.SubSamplePattern, error) {
	first := len(subs)
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
		if r.scheme != SchemeCBCS {
			// Whole blocks (ISO/IEC 23001-7 §10.1-10.3): cenc and cens keep
			// partial blocks out of the CTR pattern, cbc1 out of CBC.
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
	if clear > 0 || len(subs) == first {
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
	return func(dst []mp4.SubSamplePattern, sample []byte) (_ []mp4.SubSamplePattern, err error) {
		defer recoverParser(&err)
		subs, err := mp4.GetAV1ProtectRanges(dec, sample, string(scheme))
		if err != nil {
			return nil, fmt.Errorf("%v: %w", err, ErrMalformed)
		}
		return append(dst, subs...), nil
	}, nil
}

// Package avcsps parses H.264 sequence parameter sets with mp4ff, keeping
// the work bounded by the size of the NAL unit.
//
// mp4ff's avc.ParseSPSNALUnit (v0.56.0) reads the VUI's HRD parameters
// with a loop of cpb_cnt_minus1+1 iterations, each appending an entry,
// whatever the length of the NAL unit: a 22-byte SPS can ask for 2^40
// entries, which ends in an out-of-memory crash. The standard allows at
// most 32 (ISO/IEC 14496-10 E.2.2).
package avcsps

import (
	"bytes"
	"fmt"

	"github.com/Eyevinn/mp4ff/avc"
	"github.com/Eyevinn/mp4ff/bits"
)

// MaxCpbCount is the largest cpb_cnt_minus1+1 of ISO/IEC 14496-10 E.2.2.
const MaxCpbCount = 32

// Parse parses an H.264 SPS NAL unit, NAL header included, with
// avc.ParseSPSNALUnit and the whole VUI, unless an HRD parameter set of
// the VUI counts more than MaxCpbCount coded picture buffers: then only the
// part of the VUI up to the sample aspect ratio is parsed, which keeps
// mp4ff away from its unbounded loop. A panic in mp4ff becomes an error.
func Parse(nalu []byte) (sps *avc.SPS, err error) {
	defer func() {
		if p := recover(); p != nil {
			sps, err = nil, fmt.Errorf("avcsps: SPS parser panic: %v", p)
		}
	}()
	return avc.ParseSPSNALUnit(nalu, HRDInRange(nalu))
}

// HRDInRange reports whether mp4ff can parse the VUI of the SPS nalu
// without looping more than MaxCpbCount times for its HRD parameters. It
// reads the SPS exactly as avc.ParseSPSNALUnit does, with the same bit
// reader (emulation prevention, overlong codes and reads past the end
// alike), up to each cpb_cnt_minus1. An SPS that mp4ff refuses before its
// VUI is in range: mp4ff does not reach the loop.
func HRDInRange(nalu []byte) bool {
	r := bits.NewEBSPReader(bytes.NewReader(nalu))
	if avc.GetNaluType(byte(r.Read(8))) != avc.NALU_SPS {
		return true
	}
	profile := r.Read(8)
	r.Read(8) // constraint flags
	r.Read(8) // level_idc
	r.ReadExpGolomb()
	chroma := byte(1)
	switch profile {
	case 100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135:
		chroma = byte(r.ReadExpGolomb())
		if chroma == 3 {
			r.ReadFlag() // separate_colour_plane_flag
		}
		r.ReadExpGolomb() // bit_depth_luma_minus8
		r.ReadExpGolomb() // bit_depth_chroma_minus8
		r.ReadFlag()      // qpprime_y_zero_transform_bypass_flag
		if r.ReadFlag() { // seq_scaling_matrix_present_flag
			lists := 12
			if chroma != 3 {
				lists = 8
			}
			for i := 0; i < lists; i++ {
				if !r.ReadFlag() {
					continue
				}
				size := 16
				if i >= 6 {
					size = 64
				}
				last, next := 8, 8
				for j := 0; j < size; j++ {
					if next != 0 {
						next = (last + r.ReadSignedGolomb() + 256) % 256
					}
					if next != 0 {
						last = next
					}
				}
			}
		}
	}
	r.ReadExpGolomb() // log2_max_frame_num_minus4
	switch r.ReadExpGolomb() {
	case 0:
		r.ReadExpGolomb()
	case 1:
		r.ReadFlag()
		r.ReadExpGolomb()
		r.ReadExpGolomb()
		n := r.ReadExpGolomb()
		if n > 255 {
			return true // mp4ff refuses it here
		}
		for i := uint(0); i < n; i++ {
			r.ReadExpGolomb()
		}
	}
	r.ReadExpGolomb()  // max_num_ref_frames
	r.ReadFlag()       // gaps_in_frame_num_value_allowed_flag
	r.ReadExpGolomb()  // pic_width_in_mbs_minus1
	r.ReadExpGolomb()  // pic_height_in_map_units_minus1
	if !r.ReadFlag() { // frame_mbs_only_flag
		r.ReadFlag()
	}
	r.ReadFlag()      // direct_8x8_inference_flag
	if r.ReadFlag() { // frame_cropping_flag
		if chroma > 3 {
			return true // mp4ff refuses it here
		}
		for i := 0; i < 4; i++ {
			r.ReadExpGolomb()
		}
	}
	if !r.ReadFlag() { // vui_parameters_present_flag
		return true
	}
	if r.ReadFlag() { // aspect_ratio_info_present_flag
		if r.Read(8) == 255 {
			r.Read(16)
			r.Read(16)
		}
	}
	if r.ReadFlag() { // overscan_info_present_flag
		r.ReadFlag()
	}
	if r.ReadFlag() { // video_signal_type_present_flag
		r.Read(3)
		r.ReadFlag()
		if r.ReadFlag() {
			r.Read(8)
			r.Read(8)
			r.Read(8)
		}
	}
	if r.ReadFlag() { // chroma_loc_info_present_flag
		r.ReadExpGolomb()
		r.ReadExpGolomb()
	}
	if r.ReadFlag() { // timing_info_present_flag
		r.Read(32)
		r.Read(32)
		r.ReadFlag()
	}
	for range 2 { // nal_hrd_parameters_present_flag, vcl_hrd_parameters_present_flag
		if !r.ReadFlag() {
			continue
		}
		n := r.ReadExpGolomb() // cpb_cnt_minus1
		if n >= MaxCpbCount {
			return false
		}
		r.Read(4) // bit_rate_scale
		r.Read(4) // cpb_size_scale
		for i := uint(0); i <= n; i++ {
			r.ReadExpGolomb()
			r.ReadExpGolomb()
			r.ReadFlag()
		}
		r.Read(5)
		r.Read(5)
		r.Read(5)
		r.Read(5)
	}
	return true
}

package segment

import (
	"bytes"
	"testing"
)

// TestParamSetID reads parameter set IDs from hand-made NAL units.
func TestParamSetID(t *testing.T) {
	avc := nalSyntax{lengthSize: 4}
	hevcS := nalSyntax{hevc: true, lengthSize: 4}
	for _, tc := range []struct {
		c    nalSyntax
		nal  []byte
		want uint32
	}{
		{avc, []byte{0x67, 0x64, 0x00, 0x1f, 0b1000_0000}, 0},                // SPS id ue=0
		{avc, []byte{0x67, 0x64, 0x00, 0x1f, 0b0011_1000}, 6},                // SPS id ue=6 (00111)
		{avc, []byte{0x68, 0b0101_0000}, 1},                                  // PPS id ue=1 (010)
		{hevcS, []byte{0x40, 0x01, 0b0011_0000}, 3},                          // VPS id 3
		{hevcS, []byte{0x44, 0x01, 0b0001_0000}, 7},                          // PPS id ue=7 (0001000)
		{hevcS, append([]byte{0x42, 0x01, 0x01}, make12(0b0100_0000)...), 1}, // SPS, no sub-layers, id ue=1
	} {
		got, ok := tc.c.paramSetID(tc.nal)
		if !ok || got != tc.want {
			t.Errorf("% x: id %d ok %v, want %d", tc.nal, got, ok, tc.want)
		}
	}
	if _, ok := avc.paramSetID([]byte{0x67, 0x64}); ok {
		t.Error("truncated SPS: want !ok")
	}
}

// make12 returns the 12 bytes of a general profile_tier_level followed by b.
func make12(b byte) []byte {
	return append(bytes.Repeat([]byte{0x11}, 12), b)
}

package cmaf

// Flags of tfhd and trun (ISO/IEC 14496-12 8.8.7, 8.8.8).
const (
	tfhdDefaultFlags        = 0x000020
	trunSampleFlags         = 0x000400
	trunSampleCompOffset    = 0x000800
	sampleFlagNonSync       = 0x00010000
	sampleFlagDependsOnNone = 0x02000000
	sampleFlagDependsOnMore = 0x01000000
)

// growBy extends b by n bytes, reallocating when its capacity is short.
func growBy(b []byte, n int) []byte {
	if cap(b)-len(b) < n {
		nb := make([]byte, len(b), 2*cap(b)+n)
		copy(nb, b)
		b = nb
	}
	return b[:len(b)+n]
}

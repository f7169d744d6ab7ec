package cmaf

import (
	"bytes"
	"fmt"
	"time"

	"github.com/Eyevinn/mp4ff/bits"
	"github.com/Eyevinn/mp4ff/mp4"
)

// Flags of tfhd and trun (ISO/IEC 14496-12 8.8.7, 8.8.8).
const (
	tfhdDefaultFlags        = 0x000020
	trunSampleFlags         = 0x000400
	trunSampleCompOffset    = 0x000800
	sampleFlagNonSync       = 0x00010000
	sampleFlagDependsOnNone = 0x02000000
	sampleFlagDependsOnMore = 0x01000000
)

// ticksToDuration converts v ticks of timescale ts to a time.Duration.
func ticksToDuration(v int64, ts uint32) time.Duration {
	return time.Duration(v) * time.Second / time.Duration(ts)
}

// growBy extends b by n bytes, reallocating when its capacity is short.
func growBy(b []byte, n int) []byte {
	if cap(b)-len(b) < n {
		nb := make([]byte, len(b), 2*cap(b)+n)
		copy(nb, b)
		b = nb
	}
	return b[:len(b)+n]
}

// cloneBox deep-copies an mp4ff box by encoding and decoding it,
// converting a panic of mp4ff's decoder into an error.
func cloneBox(b mp4.Box) (box mp4.Box, err error) {
	var buf bytes.Buffer
	if err := b.Encode(&buf); err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			box, err = nil, fmt.Errorf("undecodable box: %v", r)
		}
	}()
	return mp4.DecodeBoxSR(0, bits.NewFixedSliceReader(buf.Bytes()))
}

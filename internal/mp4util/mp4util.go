// Package mp4util holds helpers around mp4ff that the CMAF writer and the
// protector share.
package mp4util

import (
	"bytes"
	"fmt"

	"github.com/Eyevinn/mp4ff/bits"
	"github.com/Eyevinn/mp4ff/mp4"
)

// CloneBox deep-copies an mp4ff box by encoding and decoding it, so the copy
// can be changed (a sample entry made encv, say) without touching the
// original. A panic of mp4ff's decoder on a box it cannot read back is
// returned as an error.
func CloneBox(b mp4.Box) (box mp4.Box, err error) {
	var buf bytes.Buffer
	buf.Grow(int(b.Size()))
	if err := b.Encode(&buf); err != nil {
		return nil, fmt.Errorf("clone %s: %w", b.Type(), err)
	}
	defer func() {
		if r := recover(); r != nil {
			box, err = nil, fmt.Errorf("clone %s: undecodable box: %v", b.Type(), r)
		}
	}()
	c, err := mp4.DecodeBoxSR(0, bits.NewFixedSliceReader(buf.Bytes()))
	if err != nil {
		return nil, fmt.Errorf("clone %s: %w", b.Type(), err)
	}
	return c, nil
}

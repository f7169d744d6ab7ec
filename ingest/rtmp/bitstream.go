package rtmp

import (
	"errors"
	"fmt"
)

// Errors of malformed access units (the unit is dropped).
var (
	errNALLength = errors.New("NAL unit length beyond the access unit")
	errOBU       = errors.New("malformed OBU")
)

// lengthPrefixed appends to dst the NAL units of an FLV access unit with
// lengthSize-byte lengths, rewritten with 4-byte lengths as CMAF samples
// carry them, and reports whether the unit is a sync sample: it holds an
// IDR picture (H.264) or an IRAP picture (HEVC).
func lengthPrefixed(dst, au []byte, lengthSize int, hevcNALs bool) ([]byte, bool, error) {
	if lengthSize != 1 && lengthSize != 2 && lengthSize != 4 {
		return dst, false, fmt.Errorf("NAL unit length size %d", lengthSize)
	}
	sync := false
	for p := au; len(p) > 0; {
		if len(p) < lengthSize {
			return dst, false, errNALLength
		}
		var n uint64
		for _, b := range p[:lengthSize] {
			n = n<<8 | uint64(b)
		}
		p = p[lengthSize:]
		if n > uint64(len(p)) {
			return dst, false, errNALLength
		}
		if n == 0 {
			continue // zero-length NAL units carry nothing
		}
		nal := p[:n]
		p = p[n:]
		if hevcNALs {
			if t := (nal[0] >> 1) & 0x3f; t >= 16 && t <= 23 {
				sync = true
			}
		} else if nal[0]&0x1f == 5 {
			sync = true
		}
		dst = append(dst, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
		dst = append(dst, nal...)
	}
	return dst, sync, nil
}

// AV1 OBU types (AV1 specification 6.2.2).
const (
	obuSequenceHeader     = 1
	obuTemporalDelimiter  = 2
	obuFrameHeader        = 3
	obuFrame              = 6
	obuPadding            = 15
	obuHasSizeField       = 0x02
	obuExtensionFlag      = 0x04
	obuForbiddenBit       = 0x80
	maxLEB128Bytes        = 8
	frameTypeKey          = 0
	showExistingFrameFlag = 0x80
)

// forOBUs calls fn with the type, the whole OBU and the payload of each
// OBU of a low-overhead bitstream (every OBU but the last must have a
// size field; the last without one runs to the end).
func forOBUs(b []byte, fn func(typ byte, obu, payload []byte) error) error {
	for len(b) > 0 {
		h := b[0]
		if h&obuForbiddenBit != 0 {
			return errOBU
		}
		typ := (h >> 3) & 0x0f
		hl := 1
		if h&obuExtensionFlag != 0 {
			hl = 2
		}
		if len(b) < hl {
			return errOBU
		}
		var size uint64
		if h&obuHasSizeField != 0 {
			var n int
			for n = 0; ; n++ {
				if n == maxLEB128Bytes || hl+n >= len(b) {
					return errOBU
				}
				c := b[hl+n]
				size |= uint64(c&0x7f) << (7 * n)
				if c&0x80 == 0 {
					break
				}
			}
			hl += n + 1
			if size > uint64(len(b)-hl) {
				return errOBU
			}
		} else {
			size = uint64(len(b) - hl)
		}
		end := hl + int(size)
		if err := fn(typ, b[:end], b[hl:end]); err != nil {
			return err
		}
		b = b[end:]
	}
	return nil
}

// av1Sample appends to dst the OBUs of an AV1 temporal unit as an av01
// sample carries them (AV1-ISOBMFF 2.4: without temporal delimiters and
// padding, every OBU with a size field), and reports whether it is a sync
// sample: its frame is a key frame shown at once (the sequence header is
// in the av1C, so the sample need not repeat it).
func av1Sample(dst, tu []byte) ([]byte, bool, error) {
	key := false
	err := forOBUs(tu, func(typ byte, obu, payload []byte) error {
		switch typ {
		case obuTemporalDelimiter, obuPadding:
			return nil
		case obuFrameHeader, obuFrame:
			// uncompressed_header: show_existing_frame(1) frame_type(2)
			// show_frame(1), unless the sequence header reduces it
			// (still pictures, whose every frame is a key frame).
			if len(payload) > 0 && payload[0]&showExistingFrameFlag == 0 && (payload[0]>>5)&3 == frameTypeKey && payload[0]&0x10 != 0 {
				key = true
			}
		}
		if obu[0]&obuHasSizeField != 0 {
			dst = append(dst, obu...)
			return nil
		}
		// Give the last OBU the size field MP4 requires.
		hl := len(obu) - len(payload)
		dst = append(dst, obu[0]|obuHasSizeField)
		dst = append(dst, obu[1:hl]...)
		for n := uint64(len(payload)); ; n >>= 7 {
			if n < 0x80 {
				dst = append(dst, byte(n))
				break
			}
			dst = append(dst, byte(n)|0x80)
		}
		dst = append(dst, payload...)
		return nil
	})
	if err != nil {
		return dst, false, err
	}
	return dst, key, nil
}

package testutil

import "slices"

// Edit is one four-byte edit of the fuzz targets that fuzz a short edit
// list applied to a fixed input rather than the input itself (Go's fuzzer
// minimizes each new input in time quadratic in its length, so the fuzzed
// value must stay small): an operation, a 16-bit position and a value.
type Edit struct {
	Op     byte // the operation, taken modulo 8 by ApplyEdits
	Hi, Lo byte // the position, scaled to the input by At
	Value  byte
}

// At is the edit's position in an input of n bytes (n > 0): its 16-bit
// position scaled to [0, n).
func (e Edit) At(n int) int { return (int(e.Hi)<<8 | int(e.Lo)) * n >> 16 }

// ApplyEdits returns a copy of b with each four-byte edit of edits applied
// in turn, until the input is empty. Operations 0 to 4 (modulo 8) are
// common to every target: overwrite the byte at the position with the
// value, flip one of its bits, insert the value there, delete a run of up
// to 256 bytes there, and cut the input there. The others (5 to 7) are the
// target's own: other is called with the input and the edit and returns
// the new input.
func ApplyEdits(b, edits []byte, other func(b []byte, e Edit) []byte) []byte {
	b = slices.Clone(b)
	for ; len(edits) >= 4 && len(b) > 0; edits = edits[4:] {
		e := Edit{Op: edits[0], Hi: edits[1], Lo: edits[2], Value: edits[3]}
		i, v := e.At(len(b)), e.Value
		switch e.Op % 8 {
		case 0:
			b[i] = v
		case 1:
			b[i] ^= 1 << (v % 8)
		case 2:
			b = slices.Insert(b, i, v)
		case 3:
			b = slices.Delete(b, i, min(i+1+int(v), len(b)))
		case 4:
			b = b[:i]
		default:
			b = other(b, e)
		}
	}
	return b
}

package scte35

// bitReader reads big-endian bit fields from a byte slice. Reading past the
// end sets err (once) and returns zeros, so a parser checks err at the end
// of a structure rather than after every field.
type bitReader struct {
	b     []byte
	pos   int // bit position
	err   error
	field string // the field being read when err was set
}

func (r *bitReader) read(n int, field string) uint64 {
	if r.err != nil {
		return 0
	}
	if r.pos+n > len(r.b)*8 {
		r.err, r.field = ErrTruncated, field
		r.pos = len(r.b) * 8
		return 0
	}
	var v uint64
	for i := 0; i < n; i++ {
		bit := r.b[r.pos>>3] >> (7 - uint(r.pos&7)) & 1
		v = v<<1 | uint64(bit)
		r.pos++
	}
	return v
}

func (r *bitReader) flag(field string) bool { return r.read(1, field) == 1 }

func (r *bitReader) skip(n int) { r.read(n, "reserved") }

// bytes returns the next n whole bytes (the reader must be byte aligned).
func (r *bitReader) bytes(n int, field string) []byte {
	if r.err != nil {
		return nil
	}
	start := r.pos >> 3
	if n < 0 || start+n > len(r.b) {
		r.err, r.field = ErrTruncated, field
		r.pos = len(r.b) * 8
		return nil
	}
	r.pos += n * 8
	return append([]byte(nil), r.b[start:start+n]...)
}

// offset is the byte offset of the next field.
func (r *bitReader) offset() int { return r.pos >> 3 }

// bitWriter appends big-endian bit fields.
type bitWriter struct {
	b   []byte
	pos int
}

func (w *bitWriter) write(n int, v uint64) {
	for i := n - 1; i >= 0; i-- {
		if w.pos&7 == 0 {
			w.b = append(w.b, 0)
		}
		if v>>uint(i)&1 == 1 {
			w.b[len(w.b)-1] |= 1 << (7 - uint(w.pos&7))
		}
		w.pos++
	}
}

func (w *bitWriter) flag(v bool) {
	if v {
		w.write(1, 1)
	} else {
		w.write(1, 0)
	}
}

// reserved writes n reserved bits, which SCTE 35 sets to 1.
func (w *bitWriter) reserved(n int) { w.write(n, 1<<uint(n)-1) }

func (w *bitWriter) bytes(b []byte) {
	for _, x := range b {
		w.write(8, uint64(x))
	}
}

// crc32MPEG is the CRC-32 of ISO/IEC 13818-1 Annex A (polynomial
// 0x04C11DB7, initial value 0xFFFFFFFF, no reflection, no final XOR) that
// ends every splice_info_section.
func crc32MPEG(b []byte) uint32 {
	crc := uint32(0xFFFFFFFF)
	for _, x := range b {
		crc = crcTable[byte(crc>>24)^x] ^ crc<<8
	}
	return crc
}

var crcTable = func() (t [256]uint32) {
	for i := range t {
		c := uint32(i) << 24
		for range 8 {
			if c&0x80000000 != 0 {
				c = c<<1 ^ 0x04C11DB7
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

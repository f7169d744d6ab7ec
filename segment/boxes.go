package segment

import (
	"encoding/binary"
	"fmt"
	"io"
)

// rawBox is one box parsed from memory: its type, absolute position in the
// source and payload (after the header). Parsing never allocates by a size
// field: payload slices alias the parent buffer.
type rawBox struct {
	typ     string
	offset  int64 // absolute offset of the box header in the source
	hdrLen  int
	payload []byte
}

// boxReader parses boxes from an in-memory buffer, checking every size field
// against the bytes actually there.
type boxReader struct {
	src  string
	path string // box path of the buffer, for errors
}

func (br boxReader) errf(sentinel error, off int64, format string, args ...any) error {
	return &FormatError{Source: br.src, Box: br.path, Offset: off, Err: sentinel, Detail: fmt.Sprintf(format, args...)}
}

// children splits buf (located at absolute offset base) into boxes.
func (br boxReader) children(buf []byte, base int64) ([]rawBox, error) {
	var out []rawBox
	for pos := 0; pos < len(buf); {
		rest := buf[pos:]
		if len(rest) < 8 {
			// Some writers pad containers with up to 4 zero bytes (e.g. udta); tolerate trailing zeros.
			if allZero(rest) {
				break
			}
			return nil, br.errf(ErrTruncated, base+int64(pos), "box header needs 8 bytes, %d left", len(rest))
		}
		size := uint64(binary.BigEndian.Uint32(rest))
		typ := string(rest[4:8])
		hdr := 8
		switch size {
		case 1:
			if len(rest) < 16 {
				return nil, br.errf(ErrTruncated, base+int64(pos), "%q large size header", typ)
			}
			size = binary.BigEndian.Uint64(rest[8:])
			hdr = 16
		case 0:
			size = uint64(len(rest))
		}
		if size < uint64(hdr) {
			return nil, br.errf(ErrMalformed, base+int64(pos), "%q box size %d smaller than its header", typ, size)
		}
		if size > uint64(len(rest)) {
			return nil, br.errf(ErrTruncated, base+int64(pos), "%q box size %d exceeds the %d bytes of its parent", typ, size, len(rest))
		}
		if typ == "uuid" {
			hdr += 16
			if size < uint64(hdr) {
				return nil, br.errf(ErrMalformed, base+int64(pos), "uuid box too small")
			}
		}
		out = append(out, rawBox{typ: typ, offset: base + int64(pos), hdrLen: hdr, payload: rest[hdr:size]})
		pos += int(size)
	}
	return out, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// child returns the first child box of the given type, or nil.
func findBox(boxes []rawBox, typ string) *rawBox {
	for i := range boxes {
		if boxes[i].typ == typ {
			return &boxes[i]
		}
	}
	return nil
}

// fullBox is a cursor over a box payload with bounds-checked reads. The first
// read past the end records an error; later reads return zero. Callers check
// err once per table rather than after every field.
type cursor struct {
	b   []byte
	pos int
	err bool
}

func (c *cursor) need(n int) bool {
	if c.err || n < 0 || c.pos+n > len(c.b) {
		c.err = true
		return false
	}
	return true
}

func (c *cursor) u8() uint8 {
	if !c.need(1) {
		return 0
	}
	v := c.b[c.pos]
	c.pos++
	return v
}

func (c *cursor) u16() uint16 {
	if !c.need(2) {
		return 0
	}
	v := binary.BigEndian.Uint16(c.b[c.pos:])
	c.pos += 2
	return v
}

func (c *cursor) u32() uint32 {
	if !c.need(4) {
		return 0
	}
	v := binary.BigEndian.Uint32(c.b[c.pos:])
	c.pos += 4
	return v
}

func (c *cursor) u64() uint64 {
	if !c.need(8) {
		return 0
	}
	v := binary.BigEndian.Uint64(c.b[c.pos:])
	c.pos += 8
	return v
}

func (c *cursor) skip(n int) {
	if c.need(n) {
		c.pos += n
	}
}

func (c *cursor) remaining() int { return len(c.b) - c.pos }

// table reads the entry count of a full-box table and checks that count
// entries of entrySize bytes fit in what is left, so a lying count can
// neither cause a huge allocation nor a read past the box.
func (c *cursor) table(entrySize int) (int, bool) {
	n := c.u32()
	if c.err {
		return 0, false
	}
	if uint64(n)*uint64(entrySize) > uint64(c.remaining()) {
		c.err = true
		return 0, false
	}
	return int(n), true
}

// readBoxHeader reads a top-level box header at off from r. size is the total
// box size (resolving size 0 to "until end of file").
func readBoxHeader(r io.ReaderAt, off, fileSize int64) (typ string, size int64, hdrLen int, err error) {
	var hdr [16]byte
	n, err := r.ReadAt(hdr[:8], off)
	if n < 8 {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return "", 0, 0, err
	}
	typ = string(hdr[4:8])
	size = int64(binary.BigEndian.Uint32(hdr[:4]))
	hdrLen = 8
	switch size {
	case 1:
		if n, err := r.ReadAt(hdr[8:16], off+8); n < 8 {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return "", 0, 0, err
		}
		u := binary.BigEndian.Uint64(hdr[8:16])
		if u > 1<<62 {
			u = 1 << 62
		}
		size = int64(u)
		hdrLen = 16
	case 0:
		size = fileSize - off
	}
	return typ, size, hdrLen, nil
}

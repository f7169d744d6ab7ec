package isobmff

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/cmafkit/cmafkit/segment"
)

// rawBox is one parsed box: its type, absolute position in the source and
// payload (after the header). Parsing never allocates by a size field:
// payload slices alias the parent buffer, or were read after the size was
// checked against the input.
type rawBox struct {
	typ     string
	offset  int64 // absolute offset of the box header in the source
	hdrLen  int
	size    int64    // total size, header included
	payload []byte   // nil for a box left in the input (see readTree)
	kids    []rawBox // children, for containers read by readTree
}

// payloadOffset is where the box payload starts in the source.
func (b *rawBox) payloadOffset() int64 { return b.offset + int64(b.hdrLen) }

// payloadLen is the payload size, whether or not the payload was read.
func (b *rawBox) payloadLen() int64 { return b.size - int64(b.hdrLen) }

// boxReader parses boxes from an in-memory buffer, checking every size field
// against the bytes actually there.
type boxReader struct {
	src  string
	path string // box path of the buffer, for errors
}

func (br boxReader) errf(sentinel error, off int64, format string, args ...any) error {
	return &segment.FormatError{Source: br.src, Box: br.path, Offset: off, Err: sentinel, Detail: fmt.Sprintf(format, args...)}
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
			return nil, br.errf(segment.ErrTruncated, base+int64(pos), "box header needs 8 bytes, %d left", len(rest))
		}
		size := uint64(binary.BigEndian.Uint32(rest))
		typ := string(rest[4:8])
		hdr := 8
		switch size {
		case 1:
			if len(rest) < 16 {
				return nil, br.errf(segment.ErrTruncated, base+int64(pos), "%q large size header", typ)
			}
			size = binary.BigEndian.Uint64(rest[8:])
			hdr = 16
		case 0:
			size = uint64(len(rest))
		}
		if size < uint64(hdr) {
			return nil, br.errf(segment.ErrMalformed, base+int64(pos), "%q box size %d smaller than its header", typ, size)
		}
		if size > uint64(len(rest)) {
			return nil, br.errf(segment.ErrTruncated, base+int64(pos), "%q box size %d exceeds the %d bytes of its parent", typ, size, len(rest))
		}
		if typ == "uuid" {
			hdr += 16
			if size < uint64(hdr) {
				return nil, br.errf(segment.ErrMalformed, base+int64(pos), "uuid box too small")
			}
		}
		out = append(out, rawBox{typ: typ, offset: base + int64(pos), hdrLen: hdr, size: int64(size), payload: rest[hdr:size]})
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

// The moov is read as a tree of box headers: containers are descended, the
// few small boxes the parser interprets are read into memory, and everything
// else — above all the sample tables, which grow with the duration — stays in
// the input, located by offset and size. So opening a three-hour file reads a
// few kilobytes of its moov, not tens of megabytes.

// isContainer reports whether readTree descends into boxes of type typ.
func isContainer(typ string) bool {
	switch typ {
	case "moov", "trak", "mdia", "minf", "stbl", "edts", "mvex":
		return true
	}
	return false
}

// isLoaded reports whether readTree reads the payload of boxes of type typ.
func isLoaded(typ string) bool {
	switch typ {
	case "mvhd", "trex", "tkhd", "mdhd", "hdlr", "elst", "stsd":
		return true
	}
	return false
}

// maxTreeDepth bounds the nesting of containers (moov/trak/mdia/minf/stbl is 5).
const maxTreeDepth = 8

// treeReader reads box trees through a window cache, so that walking many
// small headers costs few reads.
type treeReader struct {
	r      io.ReaderAt
	src    string
	size   int64 // input size
	win    []byte
	winOff int64
	winLen int
}

// readAt fills b from off, through the window when b is small.
func (tr *treeReader) readAt(b []byte, off int64) error {
	if len(b) > len(tr.win)/2 {
		_, err := tr.r.ReadAt(b, off)
		if errors.Is(err, io.EOF) && off+int64(len(b)) <= tr.size {
			err = nil
		}
		return err
	}
	if off < tr.winOff || off+int64(len(b)) > tr.winOff+int64(tr.winLen) {
		n := min(int64(len(tr.win)), tr.size-off)
		if n < int64(len(b)) {
			return io.ErrUnexpectedEOF
		}
		if _, err := tr.r.ReadAt(tr.win[:n], off); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		tr.winOff, tr.winLen = off, int(n)
	}
	copy(b, tr.win[off-tr.winOff:])
	return nil
}

// readTree reads the box at off (of the given size and header length, already
// checked to lie within its parent) and, for containers, its descendants.
func (tr *treeReader) readTree(typ string, off, size int64, hdrLen int, path string, depth int) (rawBox, error) {
	b := rawBox{typ: typ, offset: off, hdrLen: hdrLen, size: size}
	errf := func(sentinel error, at int64, format string, args ...any) error {
		return &segment.FormatError{Source: tr.src, Box: path, Offset: at, Err: sentinel, Detail: fmt.Sprintf(format, args...)}
	}
	switch {
	case isContainer(typ):
		if depth >= maxTreeDepth {
			return b, errf(segment.ErrMalformed, off, "boxes nested more than %d deep", maxTreeDepth)
		}
		end := off + size
		for pos := b.payloadOffset(); pos < end; {
			var hdr [24]byte
			left := end - pos
			if left < 8 {
				// Some writers pad containers with up to 4 zero bytes; tolerate them.
				tail := hdr[:left]
				if err := tr.readAt(tail, pos); err == nil && allZero(tail) {
					break
				}
				return b, errf(segment.ErrTruncated, pos, "box header needs 8 bytes, %d left", left)
			}
			if err := tr.readAt(hdr[:8], pos); err != nil {
				return b, errf(segment.ErrTruncated, pos, "box header: %v", err)
			}
			ksize := int64(binary.BigEndian.Uint32(hdr[:]))
			ktyp := string(hdr[4:8])
			khdr := 8
			switch ksize {
			case 1:
				if left < 16 {
					return b, errf(segment.ErrTruncated, pos, "%q large size header", ktyp)
				}
				if err := tr.readAt(hdr[8:16], pos+8); err != nil {
					return b, errf(segment.ErrTruncated, pos, "%q large size header: %v", ktyp, err)
				}
				u := binary.BigEndian.Uint64(hdr[8:16])
				if u > uint64(left) {
					return b, errf(segment.ErrTruncated, pos, "%q box size %d exceeds the %d bytes of its parent", ktyp, u, left)
				}
				ksize, khdr = int64(u), 16
			case 0:
				ksize = left
			}
			if ksize < int64(khdr) {
				return b, errf(segment.ErrMalformed, pos, "%q box size %d smaller than its header", ktyp, ksize)
			}
			if ksize > left {
				return b, errf(segment.ErrTruncated, pos, "%q box size %d exceeds the %d bytes of its parent", ktyp, ksize, left)
			}
			if ktyp == "uuid" {
				khdr += 16
				if ksize < int64(khdr) {
					return b, errf(segment.ErrMalformed, pos, "uuid box too small")
				}
			}
			kid, err := tr.readTree(ktyp, pos, ksize, khdr, path+"/"+ktyp, depth+1)
			if err != nil {
				return b, err
			}
			b.kids = append(b.kids, kid)
			pos += ksize
		}
	case isLoaded(typ):
		n := b.payloadLen()
		if n > maxHeaderBoxSize {
			return b, errf(segment.ErrMalformed, off, "%q box of %d bytes exceeds the %d byte limit", typ, size, maxHeaderBoxSize)
		}
		b.payload = make([]byte, n)
		if err := tr.readAt(b.payload, b.payloadOffset()); err != nil {
			return b, errf(segment.ErrTruncated, off, "%q payload: %v", typ, err)
		}
	}
	return b, nil
}

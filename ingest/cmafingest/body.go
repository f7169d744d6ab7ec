package cmafingest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// unitKind is what a run of boxes in a request body is.
type unitKind int

const (
	unitHeader   unitKind = iota + 1 // a CMAF header: ftyp (optional) … moov
	unitFragment                     // one moof and the mdat after it (a CMAF fragment or chunk)
	unitEnd                          // an mfra box: the track is over (deprecated end signal)
)

// unit is one header or fragment read from a body.
type unit struct {
	kind unitKind
	// data is the header's boxes (ftyp … moov), or the moof box for a
	// fragment.
	data []byte
	// mdat is the fragment's whole mdat box.
	mdat []byte
	// last is set on a fragment that a styp with the lmsg brand
	// announced: the track's last.
	last bool
	// styp is set on a fragment that a styp announced: a segment's first.
	styp bool
	// emsgs are the payloads of the emsg boxes before the fragment (up to
	// maxEmsgs of at most maxEmsgSize bytes; larger ones are skipped).
	emsgs [][]byte
}

// Bounds of the emsg boxes kept for a fragment (SCTE-35 cues).
const (
	maxEmsgSize = 64 << 10
	maxEmsgs    = 16
)

// Errors of a body that is not a CMAF track (what a 400 or 413 answer says).
var (
	// ErrNotCMAF refuses a body that is not a sequence of ISOBMFF boxes
	// forming CMAF headers and fragments.
	ErrNotCMAF = errors.New("cmafingest: not CMAF")
	// ErrTooLarge refuses a box larger than the limits (Options).
	ErrTooLarge = errors.New("cmafingest: box too large")
)

// BoxError says which box of a body was refused, where and why. It wraps
// ErrNotCMAF or ErrTooLarge.
type BoxError struct {
	Box    string // box type, empty when the header itself was unreadable
	Offset int64  // byte offset of the box in the request body
	Err    error
	Detail string
}

func (e *BoxError) Error() string {
	if e.Box == "" {
		return fmt.Sprintf("%v: at byte %d: %s", e.Err, e.Offset, e.Detail)
	}
	return fmt.Sprintf("%v: box %q at byte %d: %s", e.Err, e.Box, e.Offset, e.Detail)
}

func (e *BoxError) Unwrap() error { return e.Err }

// limits bound what a body reader keeps in memory.
type limits struct {
	header  int64 // ftyp … moov
	moof    int64
	mdat    int64
	skipped int64 // boxes read and dropped (emsg, prft, free, sidx …)
}

// bodyReader splits a request body into CMAF headers and fragments, one
// box at a time, holding at most one header or one fragment.
type bodyReader struct {
	r   io.Reader
	lim limits
	off int64 // bytes consumed

	hdr      []byte // header boxes gathered so far (after an ftyp)
	inHeader bool
	moof     []byte   // a moof waiting for its mdat
	lmsg     bool     // the last styp had the lmsg brand
	styp     bool     // a styp came since the last fragment
	first    bool     // no box read yet
	emsgs    [][]byte // emsg payloads for the next fragment
}

func newBodyReader(r io.Reader, lim limits) *bodyReader {
	return &bodyReader{r: r, lim: lim, first: true}
}

// knownFirst are the boxes a CMAF ingest body may start with.
var knownFirst = map[string]bool{"ftyp": true, "moov": true, "styp": true, "moof": true, "prft": true, "emsg": true,
	"sidx": true, "free": true, "skip": true, "mfra": true}

// next returns the next unit, io.EOF at a clean end of the body (between
// boxes), or an error: a *BoxError for input that is not CMAF, else the
// body's read error (io.ErrUnexpectedEOF for a body cut inside a box).
func (b *bodyReader) next() (unit, error) {
	for {
		boxOff := b.off
		typ, size, hdrLen, err := b.readBoxHeader()
		if err != nil {
			if err == io.EOF {
				if b.inHeader || b.moof != nil {
					return unit{}, b.fail("", boxOff, "body ends before the moov or mdat that completes it")
				}
				return unit{}, io.EOF
			}
			return unit{}, err
		}
		first := b.first
		b.first = false
		if first && !knownFirst[typ] {
			return unit{}, b.fail(typ, boxOff, "a CMAF ingest body starts with ftyp, moov, styp or moof")
		}
		if b.moof != nil && typ != "mdat" {
			return unit{}, b.fail(typ, boxOff, "a moof must be followed by its mdat")
		}
		switch typ {
		case "ftyp":
			if b.inHeader {
				return unit{}, b.fail(typ, boxOff, "second ftyp before the moov")
			}
			buf, err := b.readBox(typ, boxOff, size, hdrLen, b.lim.header)
			if err != nil {
				return unit{}, err
			}
			b.hdr, b.inHeader = buf, true
		case "moov":
			if int64(len(b.hdr))+size > b.lim.header {
				return unit{}, b.tooLarge(typ, boxOff, size, b.lim.header)
			}
			buf, err := b.readBox(typ, boxOff, size, hdrLen, b.lim.header)
			if err != nil {
				return unit{}, err
			}
			h := append(b.hdr, buf...)
			b.hdr, b.inHeader = nil, false
			return unit{kind: unitHeader, data: h}, nil
		case "moof":
			if b.inHeader {
				return unit{}, b.fail(typ, boxOff, "fragment before the moov of the header it follows")
			}
			buf, err := b.readBox(typ, boxOff, size, hdrLen, b.lim.moof)
			if err != nil {
				return unit{}, err
			}
			b.moof = buf
		case "mdat":
			if b.moof == nil {
				return unit{}, b.fail(typ, boxOff, "mdat without a moof before it")
			}
			buf, err := b.readBox(typ, boxOff, size, hdrLen, b.lim.mdat)
			if err != nil {
				return unit{}, err
			}
			u := unit{kind: unitFragment, data: b.moof, mdat: buf, last: b.lmsg, styp: b.styp, emsgs: b.emsgs}
			b.moof, b.lmsg, b.styp, b.emsgs = nil, false, false, nil
			return u, nil
		case "styp":
			buf, err := b.readBox(typ, boxOff, size, hdrLen, 4096)
			if err != nil {
				return unit{}, err
			}
			b.lmsg = hasBrand(buf[hdrLen:], "lmsg")
			b.styp = true
		case "mfra":
			if err := b.skipBox(typ, boxOff, size, hdrLen); err != nil {
				return unit{}, err
			}
			return unit{kind: unitEnd}, nil
		default:
			if !isBoxType(typ) {
				return unit{}, b.fail(typ, boxOff, "box type is not four printable characters: the stream is not MP4 boxes (or lost its framing)")
			}
			if b.inHeader {
				// Boxes between ftyp and moov belong to the header.
				if int64(len(b.hdr))+size > b.lim.header {
					return unit{}, b.tooLarge(typ, boxOff, size, b.lim.header)
				}
				buf, err := b.readBox(typ, boxOff, size, hdrLen, b.lim.header)
				if err != nil {
					return unit{}, err
				}
				b.hdr = append(b.hdr, buf...)
				continue
			}
			if typ == "emsg" && size <= maxEmsgSize && len(b.emsgs) < maxEmsgs {
				buf, err := b.readBox(typ, boxOff, size, hdrLen, maxEmsgSize)
				if err != nil {
					return unit{}, err
				}
				b.emsgs = append(b.emsgs, buf[hdrLen:])
				continue
			}
			// prft, sidx, free, udta …: not needed to repackage.
			if err := b.skipBox(typ, boxOff, size, hdrLen); err != nil {
				return unit{}, err
			}
		}
	}
}

func (b *bodyReader) fail(typ string, off int64, detail string) error {
	return &BoxError{Box: typ, Offset: off, Err: ErrNotCMAF, Detail: detail}
}

func (b *bodyReader) tooLarge(typ string, off, size, limit int64) error {
	return &BoxError{Box: typ, Offset: off, Err: ErrTooLarge, Detail: fmt.Sprintf("%d bytes, more than the limit of %d", size, limit)}
}

// readBoxHeader reads a box header: its type, its whole size and the
// header's length. io.EOF means the body ended cleanly before a box.
func (b *bodyReader) readBoxHeader() (typ string, size int64, hdrLen int, err error) {
	var h [16]byte
	n, err := io.ReadFull(b.r, h[:8])
	b.off += int64(n)
	if err == io.EOF {
		return "", 0, 0, io.EOF
	}
	if err != nil {
		if err == io.ErrUnexpectedEOF {
			return "", 0, 0, b.fail("", b.off-int64(n), "body ends inside a box header")
		}
		return "", 0, 0, err
	}
	size = int64(binary.BigEndian.Uint32(h[:4]))
	typ = string(h[4:8])
	hdrLen = 8
	switch {
	case size == 1:
		n, err := io.ReadFull(b.r, h[8:16])
		b.off += int64(n)
		if err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return "", 0, 0, b.fail(typ, b.off-int64(n)-8, "body ends inside a box header")
			}
			return "", 0, 0, err
		}
		large := binary.BigEndian.Uint64(h[8:16])
		if large > 1<<62 {
			return "", 0, 0, b.fail(typ, b.off-16, fmt.Sprintf("64-bit size %d", large))
		}
		size, hdrLen = int64(large), 16
	case size == 0:
		return "", 0, 0, b.fail(typ, b.off-8, "size 0 (box to the end of the body) cannot be streamed")
	}
	if size < int64(hdrLen) {
		return "", 0, 0, b.fail(typ, b.off-int64(hdrLen), fmt.Sprintf("size %d smaller than its header", size))
	}
	return typ, size, hdrLen, nil
}

// readBox reads the rest of a box whose header was read and returns the
// whole box, header included.
func (b *bodyReader) readBox(typ string, off, size int64, hdrLen int, limit int64) ([]byte, error) {
	if size > limit {
		return nil, b.tooLarge(typ, off, size, limit)
	}
	buf := make([]byte, size)
	// Rebuild the header as it was (the 64-bit form included).
	if hdrLen == 16 {
		binary.BigEndian.PutUint32(buf[:4], 1)
		copy(buf[4:8], typ)
		binary.BigEndian.PutUint64(buf[8:16], uint64(size))
	} else {
		binary.BigEndian.PutUint32(buf[:4], uint32(size))
		copy(buf[4:8], typ)
	}
	n, err := io.ReadFull(b.r, buf[hdrLen:])
	b.off += int64(n)
	if err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, b.fail(typ, off, fmt.Sprintf("body ends inside the box (%d of %d bytes)", n+hdrLen, size))
		}
		return nil, err
	}
	return buf, nil
}

// skipBox reads and drops the rest of a box.
func (b *bodyReader) skipBox(typ string, off, size int64, hdrLen int) error {
	if size > b.lim.skipped {
		return b.tooLarge(typ, off, size, b.lim.skipped)
	}
	want := size - int64(hdrLen)
	n, err := io.CopyN(io.Discard, b.r, want)
	b.off += n
	if err != nil {
		if err == io.EOF {
			return b.fail(typ, off, fmt.Sprintf("body ends inside the box (%d of %d bytes)", n+int64(hdrLen), size))
		}
		return err
	}
	return nil
}

// hasBrand reports whether an ftyp or styp payload lists brand (as major
// or compatible brand).
func hasBrand(p []byte, brand string) bool {
	if len(p) >= 4 && string(p[:4]) == brand {
		return true
	}
	for i := 8; i+4 <= len(p); i += 4 {
		if string(p[i:i+4]) == brand {
			return true
		}
	}
	return false
}

// isBoxType reports whether typ is four printable ASCII characters (©
// types of iTunes metadata included, as 0xa9).
func isBoxType(typ string) bool {
	for i := 0; i < len(typ); i++ {
		c := typ[i]
		if (c < 0x20 || c > 0x7e) && c != 0xa9 {
			return false
		}
	}
	return true
}

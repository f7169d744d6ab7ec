package cmafingest

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"

	"github.com/cmafkit/cmafkit/segment"
	"github.com/cmafkit/cmafkit/segment/isobmff"
)

// checkHeader looks at a CMAF header's box structure: a moov with an mvex
// (samples come in fragments) and exactly one trak (a CMAF header describes
// one track). The codec is checked when the first fragment arrives, with
// the packager's MP4 reader.
func checkHeader(h []byte) error {
	boxes, err := children(h)
	if err != nil {
		return err
	}
	var moov []byte
	for _, b := range boxes {
		if b.typ == "moov" {
			moov = b.payload
		}
	}
	if moov == nil {
		return &BoxError{Box: "moov", Err: ErrNotCMAF, Detail: "the header has no moov"}
	}
	kids, err := children(moov)
	if err != nil {
		return err
	}
	traks, mvex := 0, false
	for _, b := range kids {
		switch b.typ {
		case "trak":
			traks++
		case "mvex":
			mvex = true
		}
	}
	switch {
	case !mvex:
		return &BoxError{Box: "moov", Err: ErrNotCMAF, Detail: "no mvex: a progressive MP4, not a CMAF header (fragmented MP4)"}
	case traks != 1:
		return &BoxError{Box: "moov", Err: ErrNotCMAF, Detail: fmt.Sprintf("%d traks: a CMAF header has one track; post each track to its own path", traks)}
	}
	return nil
}

type box struct {
	typ     string
	payload []byte
}

// children splits buf into boxes (32-bit and 64-bit sizes).
func children(buf []byte) ([]box, error) {
	var out []box
	for off := 0; off < len(buf); {
		if len(buf)-off < 8 {
			return nil, &BoxError{Offset: int64(off), Err: ErrNotCMAF, Detail: "truncated box header"}
		}
		size := uint64(binary.BigEndian.Uint32(buf[off:]))
		typ := string(buf[off+4 : off+8])
		hdr := uint64(8)
		if size == 1 {
			if len(buf)-off < 16 {
				return nil, &BoxError{Box: typ, Offset: int64(off), Err: ErrNotCMAF, Detail: "truncated box header"}
			}
			size, hdr = binary.BigEndian.Uint64(buf[off+8:]), 16
		}
		if size < hdr || size > uint64(len(buf)-off) {
			return nil, &BoxError{Box: typ, Offset: int64(off), Err: ErrNotCMAF, Detail: fmt.Sprintf("size %d does not fit its parent", size)}
		}
		out = append(out, box{typ: typ, payload: buf[off+int(hdr) : off+int(size)]})
		off += int(size)
	}
	return out, nil
}

// parts is an io.ReaderAt over byte slices laid end to end: a header and a
// fragment read as one fragmented MP4 file without copying the mdat.
type parts [][]byte

func (p parts) size() int64 {
	var n int64
	for _, b := range p {
		n += int64(len(b))
	}
	return n
}

func (p parts) ReadAt(dst []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("cmafingest: negative offset %d", off)
	}
	n := 0
	for _, b := range p {
		if off >= int64(len(b)) {
			off -= int64(len(b))
			continue
		}
		c := copy(dst[n:], b[off:])
		n += c
		off = 0
		if n == len(dst) {
			return n, nil
		}
	}
	return n, io.EOF
}

// openFragment reads the fragments (moof and mdat pairs: the CMAF chunks
// of one segment, or one fragment) of the track whose CMAF header is hdr
// with the packager's MP4 reader: its one track, with the samples (decode
// times from tfdt) readable through Data.
func openFragment(ctx context.Context, name string, hdr []byte, frags []unit, log *slog.Logger) (*segment.Track, error) {
	p := parts{hdr}
	for _, u := range frags {
		p = append(p, u.data, u.mdat)
	}
	src, err := isobmff.Open(ctx, p, p.size(), name, &segment.OpenOptions{Logger: log})
	if err != nil {
		return nil, err
	}
	if len(src.Tracks) != 1 {
		return nil, fmt.Errorf("%w: %s: %d usable tracks in the header and fragment, want 1", ErrNotCMAF, name, len(src.Tracks))
	}
	return src.Tracks[0], nil
}

package isobmff

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/cmafkit/cmafkit/segment"
)

// indexStbl sets up the sample index of a progressive track over its sample
// tables, which stay in the input (see stblIndex). One pass checks every
// table against the sample count from stsz and every sample against the file
// size. A fragmented file's empty tables yield no samples here; its samples
// come from moof boxes.
func (p *mp4Parser) indexStbl(t *mp4Track, boxes []rawBox) error {
	const path = "moov/trak/mdia/minf/stbl/"
	x := &stblIndex{r: p.r, src: p.name, track: t.ID, size: p.size}
	fe := func(sentinel error, b *rawBox, box string, sample int, format string, args ...any) error {
		off := int64(-1)
		if b != nil {
			off = b.offset
		}
		return &segment.FormatError{Source: p.name, Box: path + box, Track: t.ID, Sample: sample, Offset: off, Err: sentinel, Detail: fmt.Sprintf(format, args...)}
	}
	// header reads the first n payload bytes of a table box.
	header := func(b *rawBox, n int) ([]byte, error) {
		if b.payloadLen() < int64(n) {
			return nil, fe(segment.ErrTruncated, b, b.typ, 0, "header needs %d bytes, box has %d", n, b.payloadLen())
		}
		h := make([]byte, n)
		if _, err := p.r.ReadAt(h, b.payloadOffset()); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: read %s at %d: %w", p.name, b.typ, b.offset, err)
		}
		return h, nil
	}
	// table locates a table whose entry count ends a header of hdr bytes and
	// checks that the entries fit in the box, so a lying count can neither
	// cause a huge allocation nor a read past the box.
	table := func(b *rawBox, hdr, esize int) (fileTable, error) {
		h, err := header(b, hdr)
		if err != nil {
			return fileTable{}, err
		}
		n := binary.BigEndian.Uint32(h[hdr-4:])
		if int64(n)*int64(esize) > b.payloadLen()-int64(hdr) {
			return fileTable{}, fe(segment.ErrTruncated, b, b.typ, 0, "entry count %d exceeds box size", n)
		}
		return fileTable{box: b.typ, boxAt: b.offset, off: b.payloadOffset() + int64(hdr), n: int(n), esize: esize}, nil
	}

	// Sample sizes (stsz or compact stz2).
	if b := findBox(boxes, "stsz"); b != nil {
		h, err := header(b, 12)
		if err != nil {
			return err
		}
		x.uniformSize = binary.BigEndian.Uint32(h[4:])
		if x.uniformSize == 0 {
			if x.stsz, err = table(b, 12, 4); err != nil {
				return err
			}
			x.count = x.stsz.n
		} else {
			x.count = int(binary.BigEndian.Uint32(h[8:]))
		}
	} else if b := findBox(boxes, "stz2"); b != nil {
		h, err := header(b, 12)
		if err != nil {
			return err
		}
		field := int(h[7])
		n := int64(binary.BigEndian.Uint32(h[8:]))
		if field != 4 && field != 8 && field != 16 {
			return fe(segment.ErrMalformed, b, "stz2", 0, "field size %d", field)
		}
		if n*int64(field) > (b.payloadLen()-12)*8 {
			return fe(segment.ErrTruncated, b, "stz2", 0, "sample count exceeds box size")
		}
		if err := p.countSamples(n, b, path+"stz2"); err != nil {
			return err
		}
		// stz2 is rare and already compact: expand it in memory.
		raw := make([]byte, (n*int64(field)+7)/8)
		if _, err := p.r.ReadAt(raw, b.payloadOffset()+12); err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("%s: read stz2 at %d: %w", p.name, b.offset, err)
		}
		x.sizes = make([]uint32, n)
		for i := range x.sizes {
			switch field {
			case 4:
				if v := raw[i/2]; i%2 == 0 {
					x.sizes[i] = uint32(v >> 4)
				} else {
					x.sizes[i] = uint32(v & 0xf)
				}
			case 8:
				x.sizes[i] = uint32(raw[i])
			case 16:
				x.sizes[i] = uint32(binary.BigEndian.Uint16(raw[2*i:]))
			}
		}
		x.count = int(n)
	} else {
		return fe(segment.ErrMalformed, nil, "stsz", 0, "no sample size table")
	}
	if x.count == 0 {
		return nil // fragmented input, or an empty track
	}
	if x.sizes == nil {
		if err := p.countSamples(int64(x.count), findBox(boxes, "stsz"), path+"stsz"); err != nil {
			return err
		}
	}

	var err error
	b := findBox(boxes, "stts")
	if b == nil {
		return fe(segment.ErrMalformed, nil, "stts", 0, "missing")
	}
	if x.stts, err = table(b, 8, 8); err != nil {
		return err
	}
	if b := findBox(boxes, "ctts"); b != nil {
		if x.ctts, err = table(b, 8, 8); err != nil {
			return err
		}
	}
	if b := findBox(boxes, "stss"); b != nil {
		x.hasStss = true
		if x.stss, err = table(b, 8, 4); err != nil {
			return err
		}
	}
	if b := findBox(boxes, "stco"); b != nil {
		x.stco, err = table(b, 8, 4)
	} else if b := findBox(boxes, "co64"); b != nil {
		x.stco, err = table(b, 8, 8)
	} else {
		return fe(segment.ErrMalformed, nil, "stco", 0, "no chunk offset table")
	}
	if err != nil {
		return err
	}
	stsc := findBox(boxes, "stsc")
	if stsc == nil {
		return fe(segment.ErrMalformed, nil, "stsc", 0, "missing")
	}
	if x.stsc, err = table(stsc, 8, 12); err != nil {
		return err
	}
	if x.stsc.n == 0 {
		return fe(segment.ErrMalformed, stsc, "stsc", 0, "empty")
	}
	// stsc entries must name increasing chunks within stco.
	it := x.newIter(64 << 10)
	defer x.iters.Put(it)
	prev := uint32(0)
	for i := 0; i < x.stsc.n; i++ {
		first, err := it.stsc.u32(i)
		if err != nil {
			return err
		}
		if first <= prev {
			return fe(segment.ErrMalformed, stsc, "stsc", 0, "entry %d: first chunk %d out of order", i+1, first)
		}
		if int(first) > x.stco.n {
			return fe(segment.ErrMalformed, stsc, "stsc", 0, "entry %d: first chunk %d beyond the %d chunks of stco", i+1, first, x.stco.n)
		}
		prev = first
	}
	first, err := it.stsc.u32(0)
	if err != nil {
		return err
	}

	var subs []subsEntry
	nextSubs := 0
	if b := findBox(boxes, "subs"); b != nil && carriesSubs(t.Track) {
		if subs, err = p.readSubs(t, b); err != nil {
			return err
		}
	}

	// The validating pass: produce every sample once, saving marks.
	it.st = stblState{stsc: -1, nextFirst: first}
	x.marks = make([]stblState, 0, x.count/markEvery+1)
	for k := 0; k < x.count; k++ {
		if k%markEvery == 0 {
			x.marks = append(x.marks, it.st)
		}
		s, err := it.next()
		if err != nil {
			return err
		}
		t.empty.add(&s, k+1)
		if subs != nil {
			if err := p.addSubs(t, subs, &nextSubs, k+1, &s); err != nil {
				return err
			}
		}
	}
	st := &it.st
	t.Duration = st.dts
	if more, err := it.leftover(&it.stts, st.stts, st.sttsLeft); err != nil {
		return err
	} else if more {
		return fe(segment.ErrMalformed, findBox(boxes, "stts"), "stts", 0, "covers more than the %d samples of stsz", x.count)
	}
	if x.ctts.n > 0 {
		if more, err := it.leftover(&it.ctts, st.ctts, st.cttsLeft); err != nil {
			return err
		} else if more {
			return fe(segment.ErrMalformed, findBox(boxes, "ctts"), "ctts", 0, "covers more than the %d samples of stsz", x.count)
		}
	}
	if st.stss < x.stss.n {
		nr, err := it.stss.u32(st.stss)
		if err != nil {
			return err
		}
		return fe(segment.ErrMalformed, findBox(boxes, "stss"), "stss", 0, "sync sample number %d outside 1..%d", nr, x.count)
	}
	if more, err := it.moreChunkSamples(); err != nil {
		return err
	} else if more {
		return fe(segment.ErrMalformed, stsc, "stsc", 0, "chunks hold more than the %d samples of stsz", x.count)
	}
	t.Index = x
	return nil
}

// countSamples adds n to the samples indexed so far and refuses counts the
// file cannot hold: every sample takes at least one byte (uniform zero-size
// samples are not media).
func (p *mp4Parser) countSamples(n int64, b *rawBox, box string) error {
	p.samples += n
	if p.samples > p.size {
		off := int64(-1)
		if b != nil {
			off = b.offset
		}
		return &segment.FormatError{Source: p.name, Box: box, Offset: off, Err: segment.ErrMalformed, Detail: fmt.Sprintf("%d samples in a %d byte file", n, p.size)}
	}
	return nil
}

// leftover reports whether a run-length table (stts, ctts) has samples left
// after the last one: a partly used entry or later entries with a count.
func (it *stblIter) leftover(c *tableCursor, next int, left uint32) (bool, error) {
	if left > 0 {
		return true, nil
	}
	for i := next; i < c.t.n; i++ {
		cnt, err := c.u32(i)
		if err != nil {
			return false, err
		}
		if cnt > 0 {
			return true, nil
		}
	}
	return false, nil
}

// moreChunkSamples reports whether the chunks after the last sample would
// hold further samples.
func (it *stblIter) moreChunkSamples() (bool, error) {
	st, x := &it.st, it.x
	if st.chunkLeft > 0 {
		return true, nil
	}
	last := uint32(x.stco.n)
	if st.nextFirst != 0 {
		last = st.nextFirst - 1
	}
	if st.perChunk > 0 && st.chunk < last {
		return true, nil
	}
	for e := st.stsc + 1; e < x.stsc.n; e++ {
		b, err := it.stsc.entry(e)
		if err != nil {
			return false, err
		}
		if binary.BigEndian.Uint32(b[4:]) > 0 {
			return true, nil
		}
	}
	return false, nil
}

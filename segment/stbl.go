package segment

import (
	"fmt"
)

// indexStbl builds the sample index of a progressive track from its sample
// table. Every table is checked against the sample count from stsz and every
// sample against the file size; a fragmented file's empty tables yield no
// samples here and are filled from moof boxes.
func (p *mp4Parser) indexStbl(t *mp4Track, boxes []rawBox) error {
	const path = "moov/trak/mdia/minf/stbl/"
	fe := func(sentinel error, box string, off int64, sample int, format string, args ...any) error {
		return &FormatError{Source: p.name, Box: path + box, Track: t.ID, Sample: sample, Offset: off, Err: sentinel, Detail: fmt.Sprintf(format, args...)}
	}

	// Sample sizes (stsz or compact stz2).
	var sizes []uint32
	var uniformSize uint32
	var count int
	if b := findBox(boxes, "stsz"); b != nil {
		c := cursor{b: b.payload}
		c.skip(4)
		uniformSize = c.u32()
		if uniformSize == 0 {
			n, ok := c.table(4)
			if !ok {
				return fe(ErrTruncated, "stsz", b.offset, 0, "sample count exceeds box size")
			}
			count = n
			sizes = make([]uint32, n)
			for i := range sizes {
				sizes[i] = c.u32()
			}
		} else {
			count = int(c.u32())
			if c.err {
				return fe(ErrTruncated, "stsz", b.offset, 0, "")
			}
		}
	} else if b := findBox(boxes, "stz2"); b != nil {
		c := cursor{b: b.payload}
		c.skip(7)
		field := int(c.u8())
		n := c.u32()
		if c.err || (field != 4 && field != 8 && field != 16) {
			return fe(ErrMalformed, "stz2", b.offset, 0, "field size %d", field)
		}
		if uint64(n)*uint64(field) > uint64(c.remaining())*8 {
			return fe(ErrTruncated, "stz2", b.offset, 0, "sample count exceeds box size")
		}
		count = int(n)
		sizes = make([]uint32, n)
		for i := range sizes {
			switch field {
			case 4:
				v := c.b[c.pos+i/2]
				if i%2 == 0 {
					sizes[i] = uint32(v >> 4)
				} else {
					sizes[i] = uint32(v & 0xf)
				}
			case 8:
				sizes[i] = uint32(c.u8())
			case 16:
				sizes[i] = uint32(c.u16())
			}
		}
	} else {
		return fe(ErrMalformed, "stsz", -1, 0, "no sample size table")
	}
	if count == 0 {
		return nil // fragmented input, or an empty track
	}
	// The index holds tens of bytes per sample; refuse counts the file cannot hold
	// (every sample takes at least one byte, except uniform zero-size, which is not media).
	p.samples += int64(count)
	if p.samples > p.size {
		return fe(ErrMalformed, "stsz", -1, 0, "%d samples in a %d byte file", count, p.size)
	}
	samples := make([]Sample, count)
	for i := range samples {
		if sizes != nil {
			samples[i].Size = sizes[i]
		} else {
			samples[i].Size = uniformSize
		}
	}

	// Decode times (stts).
	b := findBox(boxes, "stts")
	if b == nil {
		return fe(ErrMalformed, "stts", -1, 0, "missing")
	}
	{
		c := cursor{b: b.payload}
		c.skip(4)
		n, ok := c.table(8)
		if !ok {
			return fe(ErrTruncated, "stts", b.offset, 0, "entry count exceeds box size")
		}
		var dts uint64
		i := 0
		for e := 0; e < n; e++ {
			cnt, delta := c.u32(), c.u32()
			if uint64(i)+uint64(cnt) > uint64(count) {
				return fe(ErrMalformed, "stts", b.offset, 0, "covers more than the %d samples of stsz", count)
			}
			for k := uint32(0); k < cnt; k++ {
				samples[i].DecodeTime = dts
				samples[i].Duration = delta
				dts += uint64(delta)
				i++
			}
		}
		if i != count {
			return fe(ErrMalformed, "stts", b.offset, i+1, "covers %d of %d samples", i, count)
		}
		t.Duration = dts
	}

	// Composition offsets (ctts), optional.
	if b := findBox(boxes, "ctts"); b != nil {
		c := cursor{b: b.payload}
		c.skip(4)
		n, ok := c.table(8)
		if !ok {
			return fe(ErrTruncated, "ctts", b.offset, 0, "entry count exceeds box size")
		}
		i := 0
		for e := 0; e < n; e++ {
			cnt, off := c.u32(), int32(c.u32()) // version 0 offsets are unsigned but never exceed 2^31 in practice
			if uint64(i)+uint64(cnt) > uint64(count) {
				return fe(ErrMalformed, "ctts", b.offset, 0, "covers more than the %d samples of stsz", count)
			}
			for k := uint32(0); k < cnt; k++ {
				samples[i].CompositionOffset = off
				i++
			}
		}
		if i != count {
			return fe(ErrMalformed, "ctts", b.offset, i+1, "covers %d of %d samples", i, count)
		}
	}

	// Sync samples (stss); absent means every sample is sync.
	if b := findBox(boxes, "stss"); b != nil {
		c := cursor{b: b.payload}
		c.skip(4)
		n, ok := c.table(4)
		if !ok {
			return fe(ErrTruncated, "stss", b.offset, 0, "entry count exceeds box size")
		}
		for e := 0; e < n; e++ {
			nr := c.u32()
			if nr == 0 || int(nr) > count {
				return fe(ErrMalformed, "stss", b.offset, 0, "sync sample number %d outside 1..%d", nr, count)
			}
			samples[nr-1].Sync = true
		}
	} else {
		for i := range samples {
			samples[i].Sync = true
		}
	}

	// Chunk offsets (stco/co64) and samples per chunk (stsc) give each sample's offset.
	var chunkOffsets []uint64
	if b := findBox(boxes, "stco"); b != nil {
		c := cursor{b: b.payload}
		c.skip(4)
		n, ok := c.table(4)
		if !ok {
			return fe(ErrTruncated, "stco", b.offset, 0, "entry count exceeds box size")
		}
		chunkOffsets = make([]uint64, n)
		for i := range chunkOffsets {
			chunkOffsets[i] = uint64(c.u32())
		}
	} else if b := findBox(boxes, "co64"); b != nil {
		c := cursor{b: b.payload}
		c.skip(4)
		n, ok := c.table(8)
		if !ok {
			return fe(ErrTruncated, "co64", b.offset, 0, "entry count exceeds box size")
		}
		chunkOffsets = make([]uint64, n)
		for i := range chunkOffsets {
			chunkOffsets[i] = c.u64()
		}
	} else {
		return fe(ErrMalformed, "stco", -1, 0, "no chunk offset table")
	}
	stsc := findBox(boxes, "stsc")
	if stsc == nil {
		return fe(ErrMalformed, "stsc", -1, 0, "missing")
	}
	c := cursor{b: stsc.payload}
	c.skip(4)
	n, ok := c.table(12)
	if !ok || n == 0 {
		return fe(ErrMalformed, "stsc", stsc.offset, 0, "empty or truncated")
	}
	type run struct{ first, per uint32 }
	runs := make([]run, n)
	for i := range runs {
		runs[i] = run{c.u32(), c.u32()}
		c.skip(4)
		if runs[i].first == 0 || (i > 0 && runs[i].first <= runs[i-1].first) {
			return fe(ErrMalformed, "stsc", stsc.offset, 0, "entry %d: first chunk %d out of order", i+1, runs[i].first)
		}
		if int(runs[i].first) > len(chunkOffsets) {
			return fe(ErrMalformed, "stsc", stsc.offset, 0, "entry %d: first chunk %d beyond the %d chunks of stco", i+1, runs[i].first, len(chunkOffsets))
		}
	}
	si := 0
	for ri, r := range runs {
		last := uint32(len(chunkOffsets))
		if ri+1 < len(runs) {
			last = runs[ri+1].first - 1
		}
		for ch := r.first; ch <= last; ch++ {
			off := chunkOffsets[ch-1]
			for k := uint32(0); k < r.per; k++ {
				if si >= count {
					return fe(ErrMalformed, "stsc", stsc.offset, 0, "chunks hold more than the %d samples of stsz", count)
				}
				s := &samples[si]
				if off+uint64(s.Size) > uint64(p.size) {
					return fe(ErrTruncated, "", int64(off), si+1, "sample of %d bytes extends past the end of the %d byte file", s.Size, p.size)
				}
				s.Offset = int64(off)
				off += uint64(s.Size)
				si++
			}
		}
	}
	if si != count {
		return fe(ErrMalformed, "stsc", stsc.offset, si+1, "chunks hold %d of %d samples", si, count)
	}
	t.Samples = samples
	return nil
}

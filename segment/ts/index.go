package ts

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/cmafkit/cmafkit/segment"
)

// The sample index of a track is kept encoded, because it is the only part of
// a TS Source that grows with the input. Samples are grouped in blocks of
// blockLen. A block has a fixed header (decode time and Offset of its first
// sample, where its encoding starts) and then one variable-length record per
// sample, each field a delta against the previous sample of the block so that
// the usual case costs a byte or two:
//
//	flags      byte: fSync | fRuns | fDelta | fCTO | fRaw | fOffGrid
//	delta      zigzag varint, if fDelta: decode-time delta to the previous
//	           sample (otherwise the previous delta; 0 for a block's first)
//	cto        zigzag varint, if fCTO (otherwise 0)
//	size       uvarint: Sample.Size
//	skip       byte, or skipEsc and a uvarint: loc.skip
//	pkt        not for a block's first sample (header start - skip):
//	           uvarint packets after the previous sample's packet, or, if
//	           fOffGrid, zigzag varint bytes
//	span       uvarint: loc.span
//	raw        zigzag varint raw-size, if fRaw (otherwise raw == size)
//	run        zigzag varint, if fRuns: loc.runs minus the run after the
//	           previous irregular sample's runs (usually 0)
//
// Durations are not stored: a sample lasts until the next one's decode time,
// which the decoder reads ahead (or from the next block's header). The index
// is immutable once built, so concurrent readers need no locking.

// blockLen is the number of samples per block: a lookup decodes at most
// this many records, and the header costs blockHdrSize/blockLen per sample.
const blockLen = 64

// pageSize is the size of the byte slabs blocks are copied into, so the index
// grows in small steps instead of doubling one big slice.
const pageSize = 64 << 10

const (
	fSync = 1 << iota
	fRuns
	fDelta
	fCTO
	fRaw
	fOffGrid
)

// skipEsc in the skip byte means a uvarint with the real value follows.
// (skip is below tsLen+4 in practice, so this never happens.)
const skipEsc = 0xFF

// blockHdr locates one block and holds what its first record leaves out.
type blockHdr struct {
	dt    int64  // decode time of the first sample, before rebasing
	start int64  // Offset of the first sample
	run   int64  // index of the run after the last irregular sample before the block
	page  uint32 // pages[page][off:] holds the encoding
	off   uint32
}

// index is a track's encoded sample index. It implements segment.Index and
// finds a sample's locator from its Offset for the sampleReader.
type index struct {
	n       int
	ps      int64 // packet stride
	blocks  []blockHdr
	pages   [][]byte
	runs    []run
	origin  int64  // subtracted from decode times (the common origin)
	lastDur uint32 // duration of the last sample
	total   uint64 // sum of the durations
}

// errIndex reports an encoding the builder cannot have written; it is here
// so that a bug shows as an error instead of a panic.
var errIndex = fmt.Errorf("%w: corrupt sample index", segment.ErrMalformed)

// Len returns the number of samples.
func (x *index) Len() int { return x.n }

// AppendSamples appends samples [from, to) to dst, decoding only the blocks
// that hold them.
func (x *index) AppendSamples(dst []segment.Sample, from, to int) ([]segment.Sample, error) {
	if from < 0 || to > x.n || from > to {
		return dst, fmt.Errorf("samples [%d, %d) outside the %d of the index", from, to, x.n)
	}
	dst = slices.Grow(dst, to-from)
	var s segment.Sample
	var l loc
	for from < to {
		r := x.block(from / blockLen)
		for r.i < to {
			i := r.i
			if err := r.next(&s, &l); err != nil {
				return dst, err
			}
			if i >= from {
				dst = append(dst, s)
			}
			if r.i == r.end {
				break
			}
		}
		from = r.i
	}
	return dst, nil
}

// find returns the number and locator of the sample whose Offset is off,
// or -1. c, if not nil, is where the last lookup stopped: a lookup just past
// it (the next sample, as segment writers ask) decodes one record instead
// of the block up to it.
func (x *index) find(off int64, c *cursor) (int, loc, error) {
	var r blockReader
	switch {
	case c != nil && c.ok && c.r.x == x && off > c.last && c.r.i < c.r.end &&
		(c.r.b+1 == len(x.blocks) || off < x.blocks[c.r.b+1].start):
		r = c.r
	default:
		b := sort.Search(len(x.blocks), func(i int) bool { return x.blocks[i].start > off }) - 1
		if b < 0 {
			return -1, loc{}, nil
		}
		r = x.block(b)
	}
	if c != nil {
		c.ok = false
	}
	var s segment.Sample
	var l loc
	for r.i < r.end {
		i := r.i
		if err := r.next(&s, &l); err != nil {
			return -1, l, err
		}
		switch st := l.start(); {
		case st == off:
			if c != nil {
				c.r, c.last, c.ok = r, st, true
			}
			return i, l, nil
		case st > off:
			return -1, loc{}, nil
		}
	}
	return -1, loc{}, nil
}

// cursor remembers where a lookup in an index stopped. It is not safe for
// concurrent use; the sampleReader keeps a pool of them.
type cursor struct {
	r    blockReader
	last int64 // Offset of the sample found last
	ok   bool
}

// size returns the bytes the index holds on the heap.
func (x *index) size() int {
	n := cap(x.blocks)*blockHdrSize + cap(x.runs)*runSize + cap(x.pages)*24
	for _, p := range x.pages {
		n += cap(p)
	}
	return n
}

const (
	blockHdrSize = 32 // unsafe.Sizeof(blockHdr{}), checked by a test
	runSize      = 16 // unsafe.Sizeof(run{})
)

// blockReader decodes one block, record by record.
type blockReader struct {
	x        *index
	b        int
	p        []byte // rest of the page
	i, end   int    // next sample number, end of the block
	dt       int64
	delta    int64
	pkt      int64
	run      int64
	hdrStart int64
}

func (x *index) block(b int) blockReader {
	h := &x.blocks[b]
	r := blockReader{x: x, b: b, i: b * blockLen, end: min(x.n, (b+1)*blockLen), dt: h.dt, run: h.run, hdrStart: h.start}
	if int(h.page) < len(x.pages) && int(h.off) <= len(x.pages[h.page]) {
		r.p = x.pages[h.page][h.off:]
	}
	return r
}

func (r *blockReader) uvarint() (uint64, bool) {
	v, n := binary.Uvarint(r.p)
	if n <= 0 {
		return 0, false
	}
	r.p = r.p[n:]
	return v, true
}

func (r *blockReader) varint() (int64, bool) {
	v, n := binary.Varint(r.p)
	if n <= 0 {
		return 0, false
	}
	r.p = r.p[n:]
	return v, true
}

// next decodes sample r.i into s and l.
func (r *blockReader) next(s *segment.Sample, l *loc) error {
	if r.i >= r.end || len(r.p) == 0 {
		return errIndex
	}
	first := r.i%blockLen == 0
	f := r.p[0]
	r.p = r.p[1:]
	ok := true
	if f&fDelta != 0 {
		r.delta, ok = r.varint()
	}
	r.dt += r.delta
	var cto int64
	if f&fCTO != 0 && ok {
		cto, ok = r.varint()
	}
	size, ok2 := r.uvarint()
	if !ok || !ok2 || len(r.p) == 0 || cto != int64(int32(cto)) || size > math.MaxUint32 {
		return errIndex
	}
	skip := uint64(r.p[0])
	r.p = r.p[1:]
	if skip == skipEsc {
		if skip, ok = r.uvarint(); !ok || skip > math.MaxUint16 {
			return errIndex
		}
	}
	switch {
	case first:
		r.pkt = r.hdrStart - int64(skip)
	case f&fOffGrid != 0:
		d, ok := r.varint()
		if !ok {
			return errIndex
		}
		r.pkt += d
	default:
		d, ok := r.uvarint()
		if !ok {
			return errIndex
		}
		r.pkt += int64(d) * r.x.ps
	}
	span, ok := r.uvarint()
	if !ok || span > math.MaxUint32 {
		return errIndex
	}
	raw := int64(size)
	if f&fRaw != 0 {
		d, ok := r.varint()
		if !ok {
			return errIndex
		}
		raw += d
	}
	if raw < 0 || raw > math.MaxUint32 {
		return errIndex
	}
	*l = loc{pkt: r.pkt, span: uint32(span), raw: uint32(raw), runs: -1, skip: uint16(skip)}
	if f&fRuns != 0 {
		d, ok := r.varint()
		if !ok {
			return errIndex
		}
		r.run += d
		if r.run < 0 || r.run+int64(span) > int64(len(r.x.runs)) || r.run > math.MaxInt32 {
			return errIndex
		}
		l.runs = int32(r.run)
		r.run += int64(span)
	}
	// The duration is the next sample's decode-time delta.
	var dur int64
	switch {
	case r.i+1 < r.end:
		dur = r.delta
		if len(r.p) > 0 && r.p[0]&fDelta != 0 {
			d, n := binary.Varint(r.p[1:])
			if n <= 0 {
				return errIndex
			}
			dur = d
		}
	case r.i+1 < r.x.n:
		dur = r.x.blocks[r.b+1].dt - r.dt
	default:
		dur = int64(r.x.lastDur)
	}
	*s = segment.Sample{
		DecodeTime: uint64(r.dt - r.x.origin), Offset: l.start(), Size: uint32(size),
		Duration: uint32(dur), CompositionOffset: int32(cto), Sync: f&fSync != 0,
	}
	r.i++
	return nil
}

// indexBuilder encodes samples as the demuxer finds them.
type indexBuilder struct {
	x       index
	enc     []byte // the open block's records
	lastDT  int64  // decode time of the last sample
	gap     int64  // lastDT minus the one before (0 after one sample)
	delta   int64  // the delta state of the open block
	lastPkt int64
	nextRun int64
	lastOff int64

	// The first decode-time step that is no valid duration, reported by
	// build as the original sample-by-sample check did.
	badSample int
	badOff    int64
	badDur    int64

	counts map[uint32]int // how many samples have each duration, when counting
}

// len returns the number of samples added.
func (b *indexBuilder) len() int { return b.x.n }

// add appends a sample: its absolute decode time, composition offset, size,
// sync flag and locator.
func (b *indexBuilder) add(dt int64, cto int32, size uint32, sync bool, l loc) {
	k := b.x.n % blockLen
	if k == 0 {
		b.flush()
		b.x.blocks = append(b.x.blocks, blockHdr{dt: dt, start: l.start(), run: b.nextRun})
		b.delta = 0
	}
	if b.x.n > 0 {
		b.gap = dt - b.lastDT
		if (b.gap <= 0 || b.gap > math.MaxUint32) && b.badSample == 0 {
			b.badSample, b.badOff, b.badDur = b.x.n, b.lastOff, b.gap
		}
		if b.counts != nil {
			b.counts[uint32(b.gap)]++
		}
	}
	var f byte
	if sync {
		f |= fSync
	}
	var d int64
	if k > 0 {
		d = dt - b.lastDT
	}
	if d != b.delta {
		f |= fDelta
	}
	if cto != 0 {
		f |= fCTO
	}
	rawDiff := int64(l.raw) - int64(size)
	if rawDiff != 0 {
		f |= fRaw
	}
	if l.runs >= 0 {
		f |= fRuns
	}
	pd := l.pkt - b.lastPkt
	if k > 0 && (b.x.ps <= 0 || pd < 0 || pd%b.x.ps != 0) {
		f |= fOffGrid
	}
	e := append(b.enc, f)
	if f&fDelta != 0 {
		e = binary.AppendVarint(e, d)
		b.delta = d
	}
	if cto != 0 {
		e = binary.AppendVarint(e, int64(cto))
	}
	e = binary.AppendUvarint(e, uint64(size))
	if l.skip < skipEsc {
		e = append(e, byte(l.skip))
	} else {
		e = binary.AppendUvarint(append(e, skipEsc), uint64(l.skip))
	}
	switch {
	case k == 0:
	case f&fOffGrid != 0:
		e = binary.AppendVarint(e, pd)
	default:
		e = binary.AppendUvarint(e, uint64(pd/b.x.ps))
	}
	e = binary.AppendUvarint(e, uint64(l.span))
	if rawDiff != 0 {
		e = binary.AppendVarint(e, rawDiff)
	}
	if l.runs >= 0 {
		e = binary.AppendVarint(e, int64(l.runs)-b.nextRun)
		b.nextRun = int64(l.runs) + int64(l.span)
	}
	b.enc = e
	b.lastDT, b.lastPkt, b.lastOff = dt, l.pkt, l.start()
	b.x.n++
}

// flush copies the open block's records into the pages.
func (b *indexBuilder) flush() {
	if len(b.enc) == 0 {
		return
	}
	np := len(b.x.pages)
	if np == 0 || cap(b.x.pages[np-1])-len(b.x.pages[np-1]) < len(b.enc) {
		b.x.pages = append(b.x.pages, make([]byte, 0, max(pageSize, len(b.enc))))
		np++
	}
	p := &b.x.pages[np-1]
	h := &b.x.blocks[len(b.x.blocks)-1]
	h.page, h.off = uint32(np-1), uint32(len(*p))
	*p = append(*p, b.enc...)
	b.enc = b.enc[:0]
}

// build finishes the index: the last sample lasts last ticks (0: as long as
// the one before, or dflt for a single sample), and decode times are rebased
// by origin. It returns the finished index, which no longer shares anything
// with the builder, or the error the sample-by-sample check reports.
func (b *indexBuilder) build(origin int64, repeatLast bool, dflt int64, errf func(sample int, off int64, dur int64) error) (*index, error) {
	b.flush()
	if b.x.n == 0 {
		return &index{ps: b.x.ps}, nil
	}
	if b.badSample > 0 {
		return nil, errf(b.badSample, b.badOff, b.badDur)
	}
	last := dflt
	if repeatLast && b.x.n > 1 {
		last = b.gap
	}
	if last <= 0 || last > math.MaxUint32 {
		return nil, errf(b.x.n, b.lastOff, last)
	}
	if b.counts != nil {
		b.counts[uint32(last)]++
	}
	x := b.x
	x.origin, x.lastDur = origin, uint32(last)
	x.total = uint64(b.lastDT-x.blocks[0].dt) + uint64(last)
	// Copies to the exact length drop the spare capacity growth left.
	x.blocks = slices.Clone(x.blocks)
	x.runs = slices.Clone(x.runs)
	x.pages = slices.Clone(x.pages)
	if n := len(x.pages); n > 0 {
		x.pages[n-1] = slices.Clone(x.pages[n-1])
	}
	b.x, b.enc = index{}, nil
	return &x, nil
}

// refIndex is the index in plain form (absolute decode times, no
// durations), as the demuxer found it. Only tests ask for it (see
// demuxer.keepRef), to check the encoding against it.
type refIndex struct {
	samples []segment.Sample
	locs    []loc
}

func (r *refIndex) add(dt int64, cto int32, size uint32, sync bool, l loc) {
	r.samples = append(r.samples, segment.Sample{DecodeTime: uint64(dt), Offset: l.start(), Size: size, CompositionOffset: cto, Sync: sync})
	r.locs = append(r.locs, l)
}

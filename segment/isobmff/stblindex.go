package isobmff

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/cmafkit/cmafkit/segment"
)

// The sample index of a progressive MP4 track is not copied into memory: the
// sample tables (stsz, stts, ctts, stss, stsc, stco) stay in the input and are
// read a window at a time when samples are asked for. One pass at open time
// validates every table and records the table state every markEvery samples,
// so that any range of samples can be produced by reading only from the
// nearest mark. Memory is a few bytes per thousand samples; a three-hour
// source costs the same as a three-minute one.

// markEvery is the distance in samples between two saved iterator states.
const markEvery = 1024

// tableWindow is the number of bytes a table cursor reads at once.
const tableWindow = 4096

// fileTable locates one sample table's entries in the input.
type fileTable struct {
	box   string // box type, for errors
	boxAt int64  // offset of the box header, for errors
	off   int64  // offset of the first entry
	n     int    // number of entries
	esize int    // bytes per entry
}

// tableCursor reads entries of a fileTable through a small window.
type tableCursor struct {
	r      io.ReaderAt
	t      *fileTable
	buf    []byte
	lo, hi int // entries [lo, hi) are in buf
}

func (c *tableCursor) reset(r io.ReaderAt, t *fileTable, window int) {
	c.r, c.t, c.lo, c.hi = r, t, 0, 0
	window = min(window, t.n*t.esize) // a small table needs no full window
	if cap(c.buf) < window {
		c.buf = make([]byte, window)
	}
	c.buf = c.buf[:window] // a pooled iterator may hold a larger buffer
}

// entry returns the bytes of entry i, which the caller keeps below t.n.
func (c *tableCursor) entry(i int) ([]byte, error) {
	if i < c.lo || i >= c.hi {
		n := min(len(c.buf)/c.t.esize, c.t.n-i)
		b := c.buf[:n*c.t.esize]
		if _, err := c.r.ReadAt(b, c.t.off+int64(i)*int64(c.t.esize)); err != nil && !(errors.Is(err, io.EOF)) {
			return nil, fmt.Errorf("read %s entry %d at %d: %w", c.t.box, i+1, c.t.off+int64(i)*int64(c.t.esize), err)
		}
		c.lo, c.hi = i, i+n
	}
	p := (i - c.lo) * c.t.esize
	return c.buf[p : p+c.t.esize], nil
}

func (c *tableCursor) u32(i int) (uint32, error) {
	e, err := c.entry(i)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint32(e), nil
}

// stblState is the position of an iteration over the sample tables: which
// entry of each table the next sample uses and what is left of it.
type stblState struct {
	sample int // next sample, 0-based
	dts    uint64

	stts      int // next stts entry to load
	sttsLeft  uint32
	sttsDelta uint32

	ctts     int
	cttsLeft uint32
	cttsOff  int32

	stss int // next stss entry (the next sync sample number)

	stsc      int    // current stsc entry, -1 before the first
	perChunk  uint32 // samples per chunk in the current stsc entry
	nextFirst uint32 // first chunk of the next stsc entry, 0 when none
	chunk     uint32 // current chunk, 1-based; 0 before the first
	chunkLeft uint32 // samples left in the current chunk
	off       uint64 // offset of the next sample
}

// stblIndex is an Index over a progressive MP4 track's sample tables.
type stblIndex struct {
	r     io.ReaderAt
	src   string
	track uint32
	size  int64 // input size

	count       int // samples in the tables
	skip        int // leading samples hidden from Len (before the first sync sample)
	uniformSize uint32
	sizes       []uint32 // expanded stz2; nil with stsz
	stsz        fileTable
	stts, ctts  fileTable // ctts.n == 0 when absent
	stss        fileTable // stss.n == 0 with hasStss false: every sample is sync
	hasStss     bool
	stsc, stco  fileTable

	marks []stblState // marks[k] is the state before sample k*markEvery
	iters sync.Pool   // *stblIter

	// recent holds the states where recent reads started and ended.
	// Segments are read in order, each more than once (planned, then
	// written) and by two writers taking turns, so a read usually starts
	// exactly where an earlier one started or ended; without them it would
	// walk on average half of markEvery samples from a mark first.
	recentMu   sync.Mutex
	recent     [8]stblState
	recentNext int
}

// start returns the saved state nearest before sample from: a mark or a
// recent state.
func (x *stblIndex) start(from int) stblState {
	st := x.marks[from/markEvery]
	x.recentMu.Lock()
	for i := range x.recent {
		if r := &x.recent[i]; r.sample <= from && r.sample > st.sample {
			st = *r
		}
	}
	x.recentMu.Unlock()
	return st
}

// remember keeps st among the recent states.
func (x *stblIndex) remember(st *stblState) {
	if st.sample%markEvery == 0 {
		return // a mark already
	}
	x.recentMu.Lock()
	defer x.recentMu.Unlock()
	for i := range x.recent {
		if x.recent[i].sample == st.sample {
			return
		}
	}
	x.recent[x.recentNext] = *st
	x.recentNext = (x.recentNext + 1) % len(x.recent)
}

// stblIter walks the tables from a state.
type stblIter struct {
	x                                *stblIndex
	st                               stblState
	stsz, stts, ctts, stss, stsc, co tableCursor
}

func (x *stblIndex) newIter(window int) *stblIter {
	it, _ := x.iters.Get().(*stblIter)
	if it == nil {
		it = &stblIter{x: x}
	}
	it.stsz.reset(x.r, &x.stsz, window)
	it.stts.reset(x.r, &x.stts, window)
	it.ctts.reset(x.r, &x.ctts, window)
	it.stss.reset(x.r, &x.stss, window)
	it.stsc.reset(x.r, &x.stsc, window)
	it.co.reset(x.r, &x.stco, window)
	return it
}

// Len returns the number of samples.
func (x *stblIndex) Len() int { return x.count - x.skip }

// AppendSamples reads samples [from, to) from the tables.
func (x *stblIndex) AppendSamples(dst []segment.Sample, from, to int) ([]segment.Sample, error) {
	if from >= to {
		return dst, nil
	}
	from += x.skip
	to += x.skip
	it := x.newIter(tableWindow)
	defer x.iters.Put(it)
	it.st = x.start(from)
	for it.st.sample < from {
		if _, err := it.next(); err != nil {
			return dst, err
		}
	}
	x.remember(&it.st)
	for it.st.sample < to {
		s, err := it.next()
		if err != nil {
			return dst, err
		}
		dst = append(dst, s)
	}
	x.remember(&it.st)
	return dst, nil
}

// durationCounts counts the samples of the index (those hidden before the
// first sync sample excluded) by duration, from the stts runs.
func (x *stblIndex) durationCounts() (map[uint32]int, error) {
	var c tableCursor
	c.reset(x.r, &x.stts, tableWindow)
	counts := map[uint32]int{}
	k := 0 // first sample of the entry
	for i := 0; i < x.stts.n && k < x.count; i++ {
		e, err := c.entry(i)
		if err != nil {
			return nil, err
		}
		n, d := int(binary.BigEndian.Uint32(e)), binary.BigEndian.Uint32(e[4:])
		if lo, hi := max(k, x.skip), min(k+n, x.count); hi > lo {
			counts[d] += hi - lo
		}
		k += n
	}
	if k < x.count {
		return nil, x.errf(segment.ErrMalformed, &x.stts, k+1, "covers %d of %d samples", k, x.count)
	}
	return counts, nil
}

func (x *stblIndex) errf(sentinel error, t *fileTable, sample int, format string, args ...any) error {
	box, off := "", int64(-1)
	if t != nil {
		box, off = t.box, t.boxAt
	}
	return &segment.FormatError{Source: x.src, Box: "moov/trak/mdia/minf/stbl/" + box, Track: x.track, Sample: sample, Offset: off, Err: sentinel, Detail: fmt.Sprintf(format, args...)}
}

// next produces the sample at it.st.sample and advances the state. Every
// inconsistency between the tables is an error; after the validating pass
// of build only I/O can fail.
func (it *stblIter) next() (segment.Sample, error) {
	x, st := it.x, &it.st
	k := st.sample
	var s segment.Sample
	switch {
	case x.sizes != nil:
		s.Size = x.sizes[k]
	case x.uniformSize != 0:
		s.Size = x.uniformSize
	default:
		v, err := it.stsz.u32(k)
		if err != nil {
			return s, err
		}
		s.Size = v
	}

	for st.sttsLeft == 0 {
		if st.stts >= x.stts.n {
			return s, x.errf(segment.ErrMalformed, &x.stts, k+1, "covers %d of %d samples", k, x.count)
		}
		e, err := it.stts.entry(st.stts)
		if err != nil {
			return s, err
		}
		st.sttsLeft, st.sttsDelta = binary.BigEndian.Uint32(e), binary.BigEndian.Uint32(e[4:])
		st.stts++
	}
	s.DecodeTime, s.Duration = st.dts, st.sttsDelta
	st.dts += uint64(st.sttsDelta)
	st.sttsLeft--

	if x.ctts.n > 0 {
		for st.cttsLeft == 0 {
			if st.ctts >= x.ctts.n {
				return s, x.errf(segment.ErrMalformed, &x.ctts, k+1, "covers %d of %d samples", k, x.count)
			}
			e, err := it.ctts.entry(st.ctts)
			if err != nil {
				return s, err
			}
			// Version 0 offsets are unsigned but never exceed 2^31 in practice.
			st.cttsLeft, st.cttsOff = binary.BigEndian.Uint32(e), int32(binary.BigEndian.Uint32(e[4:]))
			st.ctts++
		}
		s.CompositionOffset = st.cttsOff
		st.cttsLeft--
	}

	if !x.hasStss {
		s.Sync = true
	} else {
		for st.stss < x.stss.n {
			nr, err := it.stss.u32(st.stss)
			if err != nil {
				return s, err
			}
			if int64(nr) > int64(k+1) {
				break
			}
			st.stss++
			if int64(nr) == int64(k+1) {
				s.Sync = true
				break
			}
			// A number below the current sample: out of order (or a repeat).
			if nr == 0 || int(nr) < k {
				return s, x.errf(segment.ErrMalformed, &x.stss, int(nr), "sync sample numbers not in increasing order at entry %d", st.stss)
			}
		}
	}

	for st.chunkLeft == 0 {
		if int(st.chunk) >= x.stco.n {
			return s, x.errf(segment.ErrMalformed, &x.stsc, k+1, "chunks hold %d of %d samples", k, x.count)
		}
		st.chunk++
		for st.nextFirst != 0 && st.chunk >= st.nextFirst {
			st.stsc++
			e, err := it.stsc.entry(st.stsc)
			if err != nil {
				return s, err
			}
			st.perChunk = binary.BigEndian.Uint32(e[4:])
			st.nextFirst = 0
			if st.stsc+1 < x.stsc.n {
				e, err := it.stsc.entry(st.stsc + 1)
				if err != nil {
					return s, err
				}
				st.nextFirst = binary.BigEndian.Uint32(e)
			}
		}
		if st.stsc < 0 {
			continue // chunks before the first stsc entry hold no samples
		}
		st.chunkLeft = st.perChunk
		if st.chunkLeft == 0 {
			continue
		}
		e, err := it.co.entry(int(st.chunk) - 1)
		if err != nil {
			return s, err
		}
		if x.stco.esize == 8 {
			st.off = binary.BigEndian.Uint64(e)
		} else {
			st.off = uint64(binary.BigEndian.Uint32(e))
		}
	}
	if st.off+uint64(s.Size) > uint64(x.size) {
		return s, &segment.FormatError{Source: x.src, Track: x.track, Sample: k + 1, Offset: int64(min(st.off, uint64(x.size))), Err: segment.ErrTruncated,
			Detail: fmt.Sprintf("sample of %d bytes at %d extends past the end of the %d byte file", s.Size, st.off, x.size)}
	}
	s.Offset = int64(st.off)
	st.off += uint64(s.Size)
	st.chunkLeft--
	st.sample++
	return s, nil
}

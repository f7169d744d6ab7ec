package cmaf

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/cmafkit/cmafkit/segment"
)

// WriteSamples writes one media segment of track t from samples held in
// memory, the way a live source delivers them, rather than through t's
// Index and Data (an index over a file): ss are the segment's samples in
// decode order and payload their bytes, sample k's at
// ss[k].Offset-ss[0].Offset. first is the position of ss[0] in the track,
// counted from its first sample (cenc IVs derive from it: live packaging
// counts from the start of the period), and number the segment's number
// (1-based, as in SegmentInfo.Number). t gives the codec, timing and
// sample entry; its Index and Data are not read. The bytes are those
// NewWriterAt with cuts {first, first+len(ss)} would write.
func WriteSamples(ctx context.Context, w io.Writer, t *segment.Track, number, first int, ss []segment.Sample, payload []byte, opts Options) (SegmentInfo, error) {
	if len(ss) == 0 || first < 0 {
		return SegmentInfo{}, fmt.Errorf("%s: segment %d: %d samples from sample %d", t, number, len(ss), first)
	}
	m := &memSegment{first: first, ss: ss, base: ss[0].Offset, data: payload}
	mt := *t
	mt.Index, mt.Data = m, m
	sw, err := NewWriterAt(&mt, []int{first, first + len(ss)}, number, opts)
	if err != nil {
		return SegmentInfo{}, err
	}
	if opts.Protector != nil {
		// Encryption copies the payload: into a recycled buffer.
		if b, ok := encryptBufs.Get().(*[]byte); ok {
			sw.buf = (*b)[:0]
		}
		defer func() {
			b := sw.buf[:0]
			sw.buf = nil
			encryptBufs.Put(&b)
		}()
	}
	return sw.WriteSegment(ctx, w, 0)
}

// encryptBufs recycles the payload buffers of WriteSamples's encrypted
// segments: a live channel writes a segment of each track every few
// seconds, and a fresh buffer of a segment's size each time is a large
// allocation to clear and collect, which showed as multi-millisecond
// tails in the segment availability delay (bench/livebench).
var encryptBufs sync.Pool // of *[]byte

// memSegment serves the samples of one segment held in memory as a track's
// Index (positions first to first+len(ss)) and SampleReader.
type memSegment struct {
	first int
	ss    []segment.Sample
	base  int64 // Offset of ss[0]: data[0] is its first byte
	data  []byte
}

func (m *memSegment) Len() int { return m.first + len(m.ss) }

func (m *memSegment) AppendSamples(dst []segment.Sample, from, to int) ([]segment.Sample, error) {
	if from < m.first || to > m.Len() || from > to {
		return dst, fmt.Errorf("samples [%d, %d) outside the segment's [%d, %d)", from, to, m.first, m.Len())
	}
	return append(dst, m.ss[from-m.first:to-m.first]...), nil
}

func (m *memSegment) AppendSample(dst []byte, s *segment.Sample) ([]byte, error) {
	off := s.Offset - m.base
	if off < 0 || off+int64(s.Size) > int64(len(m.data)) {
		return dst, fmt.Errorf("%w: payload at %d (%d bytes) outside the segment's %d bytes", segment.ErrMalformed, s.Offset, s.Size, len(m.data))
	}
	return append(dst, m.data[off:off+int64(s.Size)]...), nil
}

// span returns the payloads of ss as one slice of m.data when they lie
// back to back in it, in order.
func (m *memSegment) span(ss []segment.Sample) ([]byte, bool) {
	if len(ss) == 0 {
		return nil, false
	}
	start := ss[0].Offset - m.base
	end := start
	for i := range ss {
		if ss[i].Offset-m.base != end {
			return nil, false
		}
		end += int64(ss[i].Size)
	}
	if start < 0 || end > int64(len(m.data)) {
		return nil, false
	}
	return m.data[start:end], true
}

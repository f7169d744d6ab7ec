package ts

import (
	"errors"
	"io"
	"sync"

	"github.com/cmafkit/cmafkit/segment"
)

// sampleReader reads samples of one PID back from the transport stream. Its
// only mutable state is in a sync.Pool, so it is safe for concurrent use.
type sampleReader struct {
	r       io.ReaderAt
	name    string
	pid     uint16
	ps, hdr int
	idx     *index
	vcfg    *videoConfig // nil for audio
	cursors *sync.Pool   // of *cursor, so reads in order decode one record each
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

const maxPooled = 8 << 20

// AppendSample appends the payload of s (a sample of this track) to dst:
// length-prefixed NAL units for video, raw frames for audio.
func (t *sampleReader) AppendSample(dst []byte, s *segment.Sample) ([]byte, error) {
	var c *cursor
	if t.cursors != nil {
		c, _ = t.cursors.Get().(*cursor)
		if c == nil {
			c = new(cursor)
		}
		defer t.cursors.Put(c)
	}
	i, lc, err := t.idx.find(s.Offset, c)
	if err != nil {
		return dst, t.errf(s, err, "")
	}
	if i < 0 {
		return dst, t.errf(s, segment.ErrMalformed, "no sample of this track at offset %d", s.Offset)
	}
	l := &lc
	if t.vcfg == nil {
		if l.raw != s.Size {
			return dst, t.errf(s, segment.ErrMalformed, "size %d, indexed %d", s.Size, l.raw)
		}
		return t.appendRaw(dst, l, s)
	}
	bp := bufPool.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= maxPooled {
			bufPool.Put(bp)
		}
	}()
	raw, err := t.appendRaw((*bp)[:0], l, s)
	*bp = raw[:0]
	if err != nil {
		return dst, err
	}
	n0 := len(dst)
	dst, err = t.vcfg.appendSample(dst, raw, i)
	if err == nil && len(dst)-n0 != int(s.Size) {
		err = t.errf(s, segment.ErrMalformed, "converted access unit has %d bytes, indexed %d", len(dst)-n0, s.Size)
	}
	return dst, err
}

func (t *sampleReader) errf(s *segment.Sample, err error, format string, args ...any) error {
	return formatErr(t.name, t.pid, 0, s.Offset, err, format, args...)
}

func (t *sampleReader) readAt(b []byte, off int64, s *segment.Sample) error {
	n, err := t.r.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		return t.errf(s, segment.ErrTruncated, "input shorter than indexed")
	}
	return t.errf(s, err, "")
}

// appendRaw appends the elementary-stream bytes of l to dst.
func (t *sampleReader) appendRaw(dst []byte, l *loc, s *segment.Sample) ([]byte, error) {
	if l.runs >= 0 {
		for _, r := range t.idx.runs[l.runs : int(l.runs)+int(l.span)] {
			n := len(dst)
			dst = append(dst, make([]byte, r.n)...)
			if err := t.readAt(dst[n:], r.off, s); err != nil {
				return dst[:n], err
			}
		}
		return dst, nil
	}
	wp := bufPool.Get().(*[]byte)
	defer bufPool.Put(wp)
	need := int(l.raw)
	pkt, left := l.pkt, int(l.span)
	first := true
	for need > 0 && left > 0 {
		k := min(left, 512)
		if cap(*wp) < k*t.ps {
			*wp = make([]byte, 0, 512*t.ps)
		}
		w := (*wp)[:k*t.ps]
		if err := t.readAt(w, pkt, s); err != nil {
			return dst, err
		}
		for j := 0; j < k && need > 0; j++ {
			p := w[j*t.ps : j*t.ps+t.hdr+tsLen]
			b := p[t.hdr:]
			if b[0] != 0x47 {
				return dst, t.errf(s, segment.ErrMalformed, "no TS packet at byte %d", pkt+int64(j*t.ps))
			}
			h := parseHeader(b)
			if h.tei || h.pid != t.pid || h.bad || !h.hasPay {
				continue
			}
			var data []byte
			switch {
			case first:
				data = p[l.skip:]
				first = false
			case h.pusi:
				size, complete, err := pesHeaderSize(b[h.payload:])
				if err != nil || !complete {
					return dst, t.errf(s, segment.ErrMalformed, "PES header at byte %d", pkt+int64(j*t.ps))
				}
				data = b[h.payload+size:]
			default:
				data = b[h.payload:]
			}
			n := min(need, len(data))
			dst = append(dst, data[:n]...)
			need -= n
		}
		pkt += int64(k * t.ps)
		left -= k
	}
	if need > 0 {
		return dst, t.errf(s, segment.ErrMalformed, "sample data ends %d bytes early", need)
	}
	return dst, nil
}

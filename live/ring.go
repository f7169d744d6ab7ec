package live

import (
	"fmt"

	"github.com/cmafkit/cmafkit/segment"
)

// ring holds the samples of one track that are not yet written, with their
// payloads, under absolute sample numbers: it is both the segment.Index and
// the segment.SampleReader of the track the CMAF writer sees. Sample
// numbers and payload offsets count from the start of the period, so the
// writer's sample positions (which cenc IVs derive from) never restart at a
// segment; only what is not yet written stays in memory.
type ring struct {
	base    int // absolute number of samples[0]
	samples []segment.Sample
	// data holds the payloads; byteBase is the absolute offset of data[0].
	// Sample.Offset is a sample's absolute offset.
	data     []byte
	byteBase int64
}

// Len implements segment.Index: the number of samples ever added.
func (r *ring) Len() int { return r.base + len(r.samples) }

// AppendSamples implements segment.Index for the samples still held.
func (r *ring) AppendSamples(dst []segment.Sample, from, to int) ([]segment.Sample, error) {
	if from < r.base || to > r.Len() || from > to {
		return dst, fmt.Errorf("live: samples [%d, %d) not held (holding [%d, %d))", from, to, r.base, r.Len())
	}
	return append(dst, r.samples[from-r.base:to-r.base]...), nil
}

// AppendSample implements segment.SampleReader.
func (r *ring) AppendSample(dst []byte, s *segment.Sample) ([]byte, error) {
	off := s.Offset - r.byteBase
	if off < 0 || off+int64(s.Size) > int64(len(r.data)) {
		return dst, fmt.Errorf("live: payload at %d (%d bytes) not held", s.Offset, s.Size)
	}
	return append(dst, r.data[off:off+int64(s.Size)]...), nil
}

// segment returns samples [first, end) (absolute) and their payloads, as
// cmaf.WriteSamples takes them; both stay owned by the ring.
func (r *ring) segment(first, end int) ([]segment.Sample, []byte, error) {
	if first < r.base || end > r.Len() || first >= end {
		return nil, nil, fmt.Errorf("live: samples [%d, %d) not held (holding [%d, %d))", first, end, r.base, r.Len())
	}
	ss := r.samples[first-r.base : end-r.base]
	last := ss[len(ss)-1]
	return ss, r.data[ss[0].Offset-r.byteBase : last.Offset+int64(last.Size)-r.byteBase], nil
}

// add appends a sample and a copy of its payload; s.Offset is set here.
func (r *ring) add(s segment.Sample, payload []byte) {
	s.Offset = r.byteBase + int64(len(r.data))
	s.Size = uint32(len(payload))
	r.data = append(r.data, payload...)
	r.samples = append(r.samples, s)
}

// last returns the newest sample, or nil.
func (r *ring) last() *segment.Sample {
	if len(r.samples) == 0 {
		return nil
	}
	return &r.samples[len(r.samples)-1]
}

// at returns sample n (absolute), which must be held.
func (r *ring) at(n int) *segment.Sample { return &r.samples[n-r.base] }

// drop forgets the samples before n (absolute) and their payloads, moving
// what remains to the front of the buffers so that they do not grow.
func (r *ring) drop(n int) {
	if n <= r.base {
		return
	}
	if n > r.Len() {
		n = r.Len()
	}
	k := n - r.base
	cut := int64(len(r.data))
	if k < len(r.samples) {
		cut = r.samples[k].Offset - r.byteBase
	}
	r.samples = r.samples[:copy(r.samples, r.samples[k:])]
	r.data = r.data[:copy(r.data, r.data[cut:])]
	r.base = n
	r.byteBase += cut
}

// heldBytes is the memory the ring holds in payloads.
func (r *ring) heldBytes() int { return len(r.data) }

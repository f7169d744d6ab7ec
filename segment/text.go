package segment

import (
	"sort"
	"strings"
)

// Text tracks (wvtt, stpp).
//
// A text sample lasts as long as its cues do, often several seconds, so
// text cannot be cut at the nearest sample like audio. AlignText splits the
// samples that span a segment boundary in two, each with the same payload:
// in wvtt a cue active during several samples is repeated in each
// (ISO/IEC 14496-30 5.3), and TTML time expressions are on the track's
// timeline, so the same document in two samples shows the same cues. The
// gaps before the first and after the last sample are filled with empty
// samples, so that the text track covers the presentation like the video
// (CMAF wants every track of a presentation to span it, and players wait
// for, or stop at, a text track that ends early): a vtte box for wvtt
// (ISO/IEC 14496-30 5.3) and, for stpp, whose samples are whole TTML
// documents (14496-30 6), a TTML document with an empty body, which
// presents nothing.

// vtteSample is the payload of an empty wvtt sample: a vtte box
// (ISO/IEC 14496-30 5.3).
var vtteSample = []byte{0, 0, 0, 8, 'v', 't', 't', 'e'}

// EmptyTTML is the payload of the empty stpp samples AlignText adds: a TTML
// document (IMSC1 text profile compatible) with no content.
const EmptyTTML = `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
	`<tt xmlns="http://www.w3.org/ns/ttml" xml:lang=""><body/></tt>` + "\n"

// gapPayload returns the payload of an empty sample of codec, or nil when
// AlignText does not pad tracks of that codec.
func gapPayload(codec string) []byte {
	switch {
	case codec == "wvtt":
		return vtteSample
	case codec == "stpp" || strings.HasPrefix(codec, "stpp."):
		return []byte(EmptyTTML)
	}
	return nil
}

// AlignText returns a copy of the text track t whose samples start exactly
// at every boundary of plan p that falls inside them (see the comment
// above), and, for wvtt and stpp, that covers [0, p.End) with empty samples
// where t has none. Other tracks are returned unchanged. The copy's index is the
// source index plus a list of splits, one per boundary at most, so memory
// does not grow with the track.
func AlignText(t *Track, p *Plan) (*Track, error) {
	if t.Kind != KindText {
		return t, nil
	}
	bounds := make([]int64, 0, len(p.Starts))
	for _, b := range p.Starts[1:] {
		bounds = append(bounds, rescale(b, p.Timescale, t.Timescale))
	}
	end := rescale(p.End, p.Timescale, t.Timescale)
	gap := gapPayload(t.Codec)
	x := &alignedIndex{inner: t.Index, offset: t.PresentationOffset, gapSize: uint32(len(gap))}
	// Presentation time where the source samples start and end.
	var first, last int64
	n := t.SampleCount()
	if n > 0 {
		ss, err := t.AppendSamples(nil, 0, 1)
		if err != nil {
			return nil, err
		}
		first = relPresentation(t, &ss[0])
	}
	// Walk the source once, noting the samples that span a boundary.
	k := 0
	sc := t.Scan(0, n)
	for sc.Next() {
		s := sc.Sample()
		a := relPresentation(t, s)
		b := a + int64(s.Duration)
		last = b
		for k < len(bounds) && bounds[k] <= a {
			k++
		}
		for j := k; j < len(bounds) && bounds[j] < b; j++ {
			x.splits = append(x.splits, split{sample: sc.Index(), at: bounds[j]})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if gap != nil && first > 0 {
		x.lead = gapPieces(0, first, bounds)
	}
	if gap != nil && end > last {
		x.tail = gapPieces(last, end, bounds)
	}
	x.count = len(x.lead) + n + len(x.splits) + len(x.tail)
	c := *t
	c.Index = x
	if len(x.lead) > 0 || len(x.tail) > 0 {
		c.Data = &gapData{inner: t.Data, payload: gap}
	}
	// Samples are contiguous: the duration runs from the first start to the last end.
	if len(x.lead) > 0 {
		first = 0
	}
	if len(x.tail) > 0 {
		last = end
	}
	c.Duration = uint64(max(last-first, 0))
	return &c, nil
}

// gapPieces covers [a, b) with empty samples cut at the boundaries.
func gapPieces(a, b int64, bounds []int64) [][2]int64 {
	var out [][2]int64
	for _, c := range bounds {
		if c > a && c < b {
			out = append(out, [2]int64{a, c})
			a = c
		}
	}
	return append(out, [2]int64{a, b})
}

type split struct {
	sample int   // source sample index
	at     int64 // presentation time of the split
}

// alignedIndex is a text track's index with samples split at segment
// boundaries and empty samples before (lead) and after (tail) the source's.
type alignedIndex struct {
	inner  Index
	offset int64 // the track's PresentationOffset
	splits []split
	lead   [][2]int64
	tail   [][2]int64
	count  int
	// gapSize is the size of the empty samples of lead and tail.
	gapSize uint32
}

func (x *alignedIndex) Len() int { return x.count }

func (x *alignedIndex) AppendSamples(dst []Sample, from, to int) ([]Sample, error) {
	gap := func(p [2]int64) Sample {
		return Sample{DecodeTime: uint64(p[0] + x.offset), Offset: -1, Size: x.gapSize, Duration: uint32(p[1] - p[0]), Sync: true}
	}
	for i := from; i < to; {
		switch {
		case i < len(x.lead):
			dst = append(dst, gap(x.lead[i]))
			i++
		case i >= x.count-len(x.tail):
			dst = append(dst, gap(x.tail[i-(x.count-len(x.tail))]))
			i++
		default:
			// Output position i within the source part: find the source
			// sample and which piece of it (splits before it shift indexes).
			j := i - len(x.lead)
			// Number of splits among samples before the source sample of j:
			// the source sample is j - (splits at or before it).
			src, piece := x.locate(j)
			// Copy as many pieces as fit from this source sample on.
			ss, err := x.inner.AppendSamples(nil, src, src+1)
			if err != nil {
				return dst, err
			}
			s := ss[0]
			lo := sort.Search(len(x.splits), func(k int) bool { return x.splits[k].sample >= src })
			hi := sort.Search(len(x.splits), func(k int) bool { return x.splits[k].sample > src })
			start := int64(s.DecodeTime)
			ends := make([]int64, 0, hi-lo+1)
			for _, sp := range x.splits[lo:hi] {
				ends = append(ends, sp.at+x.offset-int64(s.CompositionOffset))
			}
			ends = append(ends, int64(s.DecodeTime)+int64(s.Duration))
			for p := 0; p < len(ends); p++ {
				if p >= piece && i < to && i < x.count-len(x.tail) {
					q := s
					q.DecodeTime = uint64(start)
					q.Duration = uint32(ends[p] - start)
					dst = append(dst, q)
					i++
				}
				start = ends[p]
			}
		}
	}
	return dst, nil
}

// locate maps position j of the split source part to a source sample and
// the piece of it.
func (x *alignedIndex) locate(j int) (src, piece int) {
	// The position of source sample s is s + (splits of samples before s).
	// Find the largest s with s + before(s) <= j.
	lo, hi := 0, j+1
	for lo < hi {
		m := (lo + hi) / 2
		if m+x.splitsBefore(m) <= j {
			lo = m + 1
		} else {
			hi = m
		}
	}
	src = lo - 1
	return src, j - (src + x.splitsBefore(src))
}

func (x *alignedIndex) splitsBefore(s int) int {
	return sort.Search(len(x.splits), func(k int) bool { return x.splits[k].sample >= s })
}

// gapData serves the empty samples AlignText adds (Offset -1) and
// delegates the others.
type gapData struct {
	inner   SampleReader
	payload []byte
}

func (d *gapData) AppendSample(dst []byte, s *Sample) ([]byte, error) {
	if s.Offset == -1 {
		return append(dst, d.payload...), nil
	}
	return d.inner.AppendSample(dst, s)
}

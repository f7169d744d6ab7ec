package segment

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/cmafkit/cmafkit/segment/webvtt"
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

// webvttTimescale is the timescale of tracks read from WebVTT documents,
// whose times have millisecond precision.
const webvttTimescale = 1000

// vtteSample is the payload of an empty wvtt sample.
var vtteSample = webvtt.AppendSample(nil, nil)

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

// OpenWebVTT reads a WebVTT document (a .vtt file) as a source with one
// wvtt text track, timescale 1000, language "und". The document and its
// wvtt samples are held in memory (at most webvtt.MaxDocumentSize and
// webvtt.MaxSamplesSize bytes); a document with more than
// webvtt.MaxActiveCues cues active at once is refused with a *FormatError
// wrapping a *webvtt.LimitError. The conversion stops with ctx's error
// when ctx is done.
func OpenWebVTT(ctx context.Context, r io.Reader, name string, opts *OpenOptions) (*Source, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	doc, err := webvtt.ParseContext(ctx, r)
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return nil, err
	}
	if err != nil {
		return nil, &FormatError{Source: name, Offset: -1, Err: ErrMalformed, Detail: err.Error()}
	}
	if len(doc.Cues) == 0 {
		return nil, &FormatError{Source: name, Offset: -1, Err: ErrNoTracks, Detail: "WebVTT document without cues"}
	}
	entry := mp4.NewWvttBox()
	cfg := "WEBVTT"
	if doc.Header != "" {
		cfg += "\n" + doc.Header
	}
	entry.AddChild(&mp4.VttCBox{Config: cfg})
	data := &memSamples{}
	// At most two samples a cue and one more; usually about that many.
	list := make(SampleList, 0, 2*len(doc.Cues)+1)
	err = webvtt.ToSamples(ctx, doc.Cues, 0, func(s webvtt.Sample) error {
		start, end := s.Start.Milliseconds(), s.End.Milliseconds()
		if end <= start {
			return nil
		}
		if end-start > math.MaxUint32 {
			return &FormatError{Source: name, Offset: -1, Err: ErrMalformed,
				Detail: fmt.Sprintf("%s to %s without a cue starting or ending: longer than a sample can last", webvtt.FormatTimestamp(s.Start), webvtt.FormatTimestamp(s.End))}
		}
		off := int64(len(data.b))
		data.b = webvtt.AppendSample(data.b, s.Cues)
		list = append(list, Sample{DecodeTime: uint64(start), Offset: off, Size: uint32(int64(len(data.b)) - off), Duration: uint32(end - start), Sync: true})
		return nil
	})
	if err != nil {
		var fe *FormatError
		if errors.As(err, &fe) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return nil, err
		}
		// A *webvtt.LimitError: cues that overlap too much.
		return nil, &FormatError{Source: name, Offset: -1, Err: err}
	}
	t := &Track{ID: 1, Source: name, Kind: KindText, Codec: "wvtt", Timescale: webvttTimescale, Language: "und",
		SampleEntry: entry, Index: list, Data: data}
	for _, s := range list {
		t.Duration += uint64(s.Duration)
	}
	opts.logger().Debug("read WebVTT document", "source", name, "cues", len(doc.Cues), "samples", len(list))
	return &Source{Name: name, Size: int64(len(data.b)), Tracks: []*Track{t}}, nil
}

// memSamples serves sample payloads from memory; Sample.Offset indexes b.
type memSamples struct{ b []byte }

func (m *memSamples) AppendSample(dst []byte, s *Sample) ([]byte, error) {
	if s.Offset < 0 || s.Offset+int64(s.Size) > int64(len(m.b)) {
		return dst, fmt.Errorf("%w: sample at %d+%d outside the document", ErrMalformed, s.Offset, s.Size)
	}
	return append(dst, m.b[s.Offset:s.Offset+int64(s.Size)]...), nil
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

// WebVTTTimestampMap is the X-TIMESTAMP-MAP header of the WebVTT segments
// WriteWebVTT writes: cue times are on the presentation timeline, which
// starts at zero in every CMAF track the package writes, so MPEG-TS time 0
// maps to local time 0 (RFC 8216 3.5).
const WebVTTTimestampMap = "X-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000"

// maxCueLookaround bounds how many samples before and after a segment
// WriteWebVTT reads to find where the cues that cross its edges begin and
// end. A cue that lasts longer is written with the times found within it.
const maxCueLookaround = 4096

// WriteWebVTT writes media segment i (0-based) of a wvtt track as a WebVTT
// document for HLS (RFC 8216 3.5) instead of CMAF: every cue displayed
// during the segment, on the presentation timeline (see
// WebVTTTimestampMap). As RFC 8216 3.5 requires, a cue carries its whole
// display time even where it extends past the segment, so a cue that spans
// a boundary is repeated, with the same times, in each segment it touches
// (players drop the repeat); its times are recovered from the samples
// before and after the segment that repeat it. The track should be aligned
// with AlignText. The track's WebVTT header (see WebVTTHeader) is left out.
func (sw *SegmentWriter) WriteWebVTT(ctx context.Context, w io.Writer, i int) (SegmentInfo, error) {
	t := sw.track
	if t.Codec != "wvtt" {
		return SegmentInfo{}, fmt.Errorf("%s: %w: WebVTT segments need a wvtt track", t, ErrUnsupportedCodec)
	}
	if i < 0 || i >= sw.Len() {
		return SegmentInfo{}, fmt.Errorf("segment %d out of range [0,%d)", i, sw.Len())
	}
	if err := ctx.Err(); err != nil {
		return SegmentInfo{}, err
	}
	info, ss, err := sw.info(i)
	if err != nil {
		return info, err
	}
	var buf []byte
	// read decodes sample k of the track (s, when given, is its index entry).
	read := func(k int, s *Sample) (webvtt.Sample, error) {
		if s == nil {
			one, err := t.AppendSamples(nil, k, k+1)
			if err != nil {
				return webvtt.Sample{}, err
			}
			s = &one[0]
		}
		buf, err = t.Data.AppendSample(buf[:0], s)
		if err != nil {
			return webvtt.Sample{}, sampleReadError(t, k, s, err)
		}
		cues, err := webvtt.DecodeSample(buf)
		if err != nil {
			return webvtt.Sample{}, &FormatError{Source: t.Source, Track: t.ID, Sample: k + 1, Offset: s.Offset, Err: ErrMalformed, Detail: err.Error()}
		}
		a := relPresentation(t, s)
		return webvtt.Sample{Start: ticksToDuration(a, t.Timescale), End: ticksToDuration(a+int64(s.Duration), t.Timescale), Cues: cues}, nil
	}
	samples := make([]webvtt.Sample, 0, len(ss)+2)
	for k := range ss {
		s, err := read(info.FirstSample+k, &ss[k])
		if err != nil {
			return info, err
		}
		samples = append(samples, s)
	}
	if len(samples) == 0 {
		return info, fmt.Errorf("%s: segment %d has no samples", t, i+1)
	}
	segStart, segEnd := samples[0].Start, samples[len(samples)-1].End
	// Follow the cues of the first sample back and those of the last
	// forward while neighbouring samples repeat them.
	var before, after []webvtt.Sample
	carry := samples[0].Cues
	for k := info.FirstSample - 1; k >= 0 && k >= info.FirstSample-maxCueLookaround && len(carry) > 0; k-- {
		s, err := read(k, nil)
		if err != nil {
			return info, err
		}
		if s.Cues = sameCues(s.Cues, carry); len(s.Cues) == 0 {
			break
		}
		before, carry = append(before, s), s.Cues
	}
	carry = samples[len(samples)-1].Cues
	for k := info.EndSample; k < t.SampleCount() && k < info.EndSample+maxCueLookaround && len(carry) > 0; k++ {
		s, err := read(k, nil)
		if err != nil {
			return info, err
		}
		if s.Cues = sameCues(s.Cues, carry); len(s.Cues) == 0 {
			break
		}
		after, carry = append(after, s), s.Cues
	}
	slices.Reverse(before)
	all := append(append(before, samples...), after...)
	var cues []webvtt.Cue
	for _, c := range webvtt.Merge(all) {
		if c.End > segStart && c.Start < segEnd {
			cues = append(cues, c)
		}
	}
	cw := &countingWriter{w: w}
	// The track's configuration (vttC: header lines, STYLE and REGION
	// blocks) is not repeated: FFmpeg 5.1 reads no cue at all from a
	// document with a STYLE block, and HLS players ignore the styles.
	header := []string{WebVTTTimestampMap}
	if sw.opts.WebVTTMPEGTS != 0 {
		header[0] = fmt.Sprintf("X-TIMESTAMP-MAP=MPEGTS:%d,LOCAL:00:00:00.000", sw.opts.WebVTTMPEGTS)
	}
	if err := webvtt.Write(cw, header, cues); err != nil {
		return info, err
	}
	info.Size = cw.n
	info.Chunks = 1
	return info, nil
}

// sameCues returns the cues of have that are also in want (same
// identifier, settings and text): a cue repeated in consecutive samples.
func sameCues(have, want []webvtt.Cue) []webvtt.Cue {
	var out []webvtt.Cue
	for _, c := range have {
		for _, w := range want {
			if c.ID == w.ID && c.Settings == w.Settings && c.Text == w.Text {
				out = append(out, c)
				break
			}
		}
	}
	return out
}

// WebVTTHeader returns the header lines of a wvtt track's configuration
// (the vttC box after its WEBVTT line), e.g. STYLE blocks, or "".
func WebVTTHeader(t *Track) string {
	e, ok := t.SampleEntry.(*mp4.WvttBox)
	if !ok || e.VttC == nil {
		return ""
	}
	_, rest, _ := strings.Cut(e.VttC.Config, "\n")
	return strings.TrimSpace(rest)
}

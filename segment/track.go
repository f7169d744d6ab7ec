// Package segment is the media model every other package shares: a
// Source of Tracks, each with its codec description, its Index of Samples
// (timing, size, position, sync flag) and a SampleReader for their
// payloads; the Plan of segment boundaries common to a presentation's
// tracks (PlanSegments, PlanSegmentsWith with cue cuts, AlignText for text
// tracks); Cues, Color and Captions; and the errors readers return.
//
// Open and OpenFile read an input through the reader package registered
// for its format (RegisterFormat): segment/isobmff (MP4, fragmented MP4),
// segment/ts (MPEG-TS), segment/webvtt (WebVTT documents). Import the ones
// a program reads, for their side effect if need be; inputs of other
// formats are refused with ErrUnsupportedFormat naming what they are.
// segment/cmaf writes CMAF init and media segments from a Track, and
// segment/tsmux MPEG-TS segments.
//
// The sample index holds only timing, size, position and sync flags;
// payload bytes are read when a segment is written, so memory is bounded by
// the index plus the segment being written, never by the input size.
package segment

import (
	"fmt"
	"math"

	"github.com/Eyevinn/mp4ff/mp4"
)

// Kind is the kind of elementary stream a Track carries.
type Kind int

// Track kinds.
const (
	KindUnknown Kind = iota
	KindVideo
	KindAudio
	KindText
)

// String returns "video", "audio", "text" or "unknown".
func (k Kind) String() string {
	switch k {
	case KindVideo:
		return "video"
	case KindAudio:
		return "audio"
	case KindText:
		return "text"
	}
	return "unknown"
}

// Rational is an exact fraction, used for frame rates (30000/1001) and pixel
// aspect ratios. A zero Den means "unknown".
type Rational struct {
	Num, Den int64
}

// IsZero reports whether r is unknown (a zero Den).
func (r Rational) IsZero() bool { return r.Den == 0 }

// Less reports whether r < o, exactly. Denominators are positive for known
// values, and frame rates and aspect ratios are far too small for the
// products to overflow.
func (r Rational) Less(o Rational) bool { return r.Num*o.Den < o.Num*r.Den }

// Float returns the value as a float64, or 0 when Den is 0.
func (r Rational) Float() float64 {
	if r.Den == 0 {
		return 0
	}
	return float64(r.Num) / float64(r.Den)
}

// String formats r as "num/den", or "num" when den is 1.
func (r Rational) String() string {
	if r.Den == 1 {
		return fmt.Sprint(r.Num)
	}
	return fmt.Sprintf("%d/%d", r.Num, r.Den)
}

// Sample is one entry of a track's sample index. Times are in the track's
// timescale. It holds no payload: see SampleReader.
type Sample struct {
	// DecodeTime is the decode timestamp, relative to the track's media timeline.
	DecodeTime uint64
	// Offset is the byte offset of the payload in the source (for sources that
	// store a sample contiguously) or an opaque locator the track's SampleReader
	// understands.
	Offset int64
	// Size is the payload size in bytes, as it will be written to mdat.
	Size uint32
	// Duration is the sample duration.
	Duration uint32
	// CompositionOffset is presentation time minus decode time; it may be negative.
	CompositionOffset int32
	// Sync marks a sync sample (IDR/IRAP for video; every audio sample is sync).
	Sync bool
}

// PresentationTime is DecodeTime + CompositionOffset, before any edit list.
func (s *Sample) PresentationTime() int64 {
	return int64(s.DecodeTime) + int64(s.CompositionOffset)
}

// Index is a track's sample index in decode order. Implementations must be
// safe for concurrent use: tracks and segments are written in parallel.
type Index interface {
	// Len returns the number of samples.
	Len() int
	// AppendSamples appends samples [from, to) to dst and returns the extended
	// slice. Callers keep 0 <= from <= to <= Len().
	AppendSamples(dst []Sample, from, to int) ([]Sample, error)
}

// SampleList is an Index held in memory, for sources that build their index
// as they read (MPEG-TS) and for tests.
type SampleList []Sample

// Len returns len(l).
func (l SampleList) Len() int { return len(l) }

// AppendSamples appends l[from:to] to dst.
func (l SampleList) AppendSamples(dst []Sample, from, to int) ([]Sample, error) {
	return append(dst, l[from:to]...), nil
}

// SampleScanner reads a range of a track's samples in order, a window at a
// time, so that a pass over a long track needs little memory. Use it like
// bufio.Scanner:
//
//	sc := t.Scan(0, t.SampleCount())
//	for sc.Next() {
//		s := sc.Sample()
//		...
//	}
//	if err := sc.Err(); err != nil { ... }
type SampleScanner struct {
	t         *Track
	next, end int // next sample to load, end of the range
	buf       []Sample
	pos       int
	i         int
	err       error
}

// scanWindow is how many samples a SampleScanner loads at once.
const scanWindow = 1024

// Next advances to the next sample and reports whether there is one.
func (sc *SampleScanner) Next() bool {
	if sc.err != nil {
		return false
	}
	sc.pos++
	if sc.pos >= len(sc.buf) {
		if sc.next >= sc.end {
			return false
		}
		to := min(sc.next+scanWindow, sc.end)
		sc.buf, sc.err = sc.t.AppendSamples(sc.buf[:0], sc.next, to)
		if sc.err != nil {
			return false
		}
		sc.next = to
		sc.pos = 0
	}
	sc.i++
	return true
}

// Sample returns the current sample. It is valid until the next call to Next.
func (sc *SampleScanner) Sample() *Sample { return &sc.buf[sc.pos] }

// Index returns the index of the current sample in the track.
func (sc *SampleScanner) Index() int { return sc.i }

// Err returns the error that stopped the scan, if any.
func (sc *SampleScanner) Err() error { return sc.err }

// SampleReader reads sample payloads of one track. Implementations must be safe
// for concurrent use by several goroutines (tracks are written in parallel).
//
// A SampleReader whose samples lie Size bytes at their Offset in one
// io.ReaderAt (see NewReaderAtSamples) also has a method
//
//	ReaderAt() io.ReaderAt
//
// returning it: writers then read a run of back-to-back samples in one
// call, or copy it from file to file in the kernel.
type SampleReader interface {
	// AppendSample appends the payload of s to dst and returns the extended slice.
	// The appended length must equal s.Size.
	AppendSample(dst []byte, s *Sample) ([]byte, error)
}

// Track is one elementary stream with its codec configuration and sample index.
type Track struct {
	// ID is the track ID in the source (MP4 track_ID or MPEG-TS PID).
	ID uint32
	// Source names the input the track was read from (a file name), for errors.
	Source string
	Kind   Kind
	// Codec is the RFC 6381 codec string, e.g. "avc1.64001f" or "mp4a.40.2".
	Codec string
	// Timescale is the number of time units per second of all times of the track.
	Timescale uint32
	// Language is an ISO 639-2/T or BCP 47 language code ("und" when unknown).
	Language string
	// Duration is the sum of sample durations.
	Duration uint64

	// Video properties.
	Width, Height int
	// PixelAspect is the sample (pixel) aspect ratio, 1/1 when square.
	PixelAspect Rational
	// FrameRate is the exact frame rate, e.g. 30000/1001.
	FrameRate Rational
	// VideoRange is "SDR", "PQ" or "HLG".
	VideoRange string
	// SupplementalCodecs names the Dolby Vision layer of a track whose base
	// layer also plays without it, as HLS SUPPLEMENTAL-CODECS writes it
	// ("dvh1.08.07/db1p"); empty otherwise.
	SupplementalCodecs string
	// Color is the colour description of the source (colr box or SPS VUI);
	// nil when it gives none.
	Color *Color
	// Matrix is the transformation of the source's track header (tkhd,
	// ISO/IEC 14496-12 8.3.2) that players apply when they display the
	// video: {a, b, u, c, d, v, x, y, w}, 16.16 fixed point but u, v and w
	// in 2.30. A phone's portrait video, stored landscape, is rotated by
	// it. The zero value stands for the identity. BuildInit writes it into
	// the init segment's track header.
	Matrix [9]int32

	// Audio properties.
	SampleRate int
	Channels   int

	// PresentationOffset is the media time that maps to presentation time zero,
	// taken from the source's edit list: the B-frame delay of a video track or
	// the priming of an audio track. It is in the track timescale.
	PresentationOffset int64

	// SampleEntry is the codec's sample entry (avc1, hvc1, mp4a, ...) written
	// into init segments. It is owned by the track; writers clone it.
	SampleEntry mp4.Box

	// Subsamples, when not nil, gives the subsample structure of samples
	// (the images of IMSC1 image subtitles in stpp); writers carry it.
	Subsamples SubsampleIndex

	// Index is the sample index in decode order. Sources made by Open read it
	// from the input's sample tables on demand, so it costs almost no memory.
	Index Index
	// Data reads sample payloads.
	Data SampleReader
}

// Rotation returns the clockwise rotation, in whole degrees from 0 to 359,
// by which Matrix turns the video when it is displayed, and whether the
// matrix mirrors it too (then the rotation follows a horizontal flip). A
// zero Matrix is no rotation.
func (t *Track) Rotation() (degrees int, mirrored bool) {
	if t.Matrix == ([9]int32{}) {
		return 0, false
	}
	a, b, c, d := float64(t.Matrix[0]), float64(t.Matrix[1]), float64(t.Matrix[3]), float64(t.Matrix[4])
	// A point (p, q) goes to (a*p + c*q + x, b*p + d*q + y) with q downwards,
	// so the direction (1, 0) turns clockwise by atan2(b, a).
	// A mirroring matrix is read as a horizontal flip (p to -p) first.
	mirrored = a*d-b*c < 0
	if mirrored {
		a, b = -a, -b
	}
	deg := int(math.Round(math.Atan2(b, a) * 180 / math.Pi))
	return (deg%360 + 360) % 360, mirrored
}

// PresentationTime returns the presentation time of s, a sample of t, on
// the track's presentation timeline, which starts at zero: the sample's
// composition time less PresentationOffset, in the track timescale.
func (t *Track) PresentationTime(s *Sample) int64 { return relPresentation(t, s) }

// SampleCount returns the number of samples in the track's index.
func (t *Track) SampleCount() int {
	if t.Index == nil {
		return 0
	}
	return t.Index.Len()
}

// AppendSamples appends samples [from, to) of the track's index to dst.
func (t *Track) AppendSamples(dst []Sample, from, to int) ([]Sample, error) {
	if from < 0 || to > t.SampleCount() || from > to {
		return dst, fmt.Errorf("%s: samples [%d, %d) outside the %d of the index", t, from, to, t.SampleCount())
	}
	return t.Index.AppendSamples(dst, from, to)
}

// Scan returns a scanner over samples [from, to) of the track, reading the
// index a window at a time.
func (t *Track) Scan(from, to int) *SampleScanner {
	return &SampleScanner{t: t, next: from, end: to, i: from - 1}
}

// String describes the track for logs and errors, e.g. "in.mp4 track 1 (video avc1.64001f)".
func (t *Track) String() string {
	return fmt.Sprintf("%s track %d (%s %s)", t.Source, t.ID, t.Kind, t.Codec)
}

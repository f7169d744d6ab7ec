// Package segment turns media sources (progressive MP4, fragmented MP4/CMAF, and
// MPEG-TS through segment/ts) into tracks with a compact sample index, plans
// segment boundaries, and writes CMAF init segments, media segments and chunks.
//
// The sample index holds only timing, size, position and sync flags; payload
// bytes are read through an io.ReaderAt when a segment is written, so memory is
// bounded by the index plus the segment being written, never by the input size.
package segment

import (
	"fmt"

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

// SampleReader reads sample payloads of one track. Implementations must be safe
// for concurrent use by several goroutines (tracks are written in parallel).
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

	// Samples is the sample index in decode order.
	Samples []Sample
	// Data reads sample payloads.
	Data SampleReader
}

// String describes the track for logs and errors, e.g. "in.mp4 track 1 (video avc1.64001f)".
func (t *Track) String() string {
	return fmt.Sprintf("%s track %d (%s %s)", t.Source, t.ID, t.Kind, t.Codec)
}

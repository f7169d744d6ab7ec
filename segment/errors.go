package segment

import (
	"errors"
	"fmt"
	"io"
)

// Sentinel errors. Errors returned by this package wrap one of these (test with
// errors.Is) and, where a position is known, are a *FormatError naming it.
var (
	// ErrTruncated means the input ends before a box, table or sample it declares.
	ErrTruncated = errors.New("truncated input")
	// ErrMalformed means a box or table is internally inconsistent.
	ErrMalformed = errors.New("malformed input")
	// ErrUnsupportedCodec means a track's codec cannot be packaged.
	ErrUnsupportedCodec = errors.New("unsupported codec")
	// ErrNoSyncSample means a video track has no sync sample where one is needed.
	ErrNoSyncSample = errors.New("no sync sample")
	// ErrUnaligned means renditions of a ladder lack sync samples at the same times.
	ErrUnaligned = errors.New("renditions not aligned")
	// ErrNoTracks means a source holds no track that can be packaged.
	ErrNoTracks = errors.New("no usable tracks")
	// ErrUnsupportedFormat means the input is not MP4 but another format
	// (an elementary stream such as raw ADTS AAC or Annex B H.264,
	// Matroska/WebM, ...); the FormatError's Detail names it and how to
	// convert it.
	ErrUnsupportedFormat = errors.New("unsupported input format")
	// ErrEncrypted means a track is encrypted (an encv, enca or other
	// protected sample entry): it has to be decrypted before packaging.
	ErrEncrypted = errors.New("encrypted track")
	// ErrEmptySamples means a track's samples carry no data (size zero):
	// all of them, most of them, or one a decoder must start from (see Open).
	ErrEmptySamples = errors.New("samples without data")
)

// FormatError locates a problem in an input: which source, which box or track,
// which sample and at which byte offset. Fields that are unknown are zero/-1.
type FormatError struct {
	Source string // input name
	Box    string // box path such as "moov/trak/mdia/minf/stbl/stsz", if any
	Track  uint32 // track ID, 0 if not track specific
	Sample int    // 1-based sample number, 0 if not sample specific
	Offset int64  // byte offset in the source, -1 if unknown
	Err    error  // one of the sentinel errors, possibly wrapped
	Detail string
}

func (e *FormatError) Error() string {
	msg := e.Source
	if e.Box != "" {
		msg += ": " + e.Box
	}
	if e.Track != 0 {
		msg += fmt.Sprintf(": track %d", e.Track)
	}
	if e.Sample != 0 {
		msg += fmt.Sprintf(": sample %d", e.Sample)
	}
	if e.Offset >= 0 {
		msg += fmt.Sprintf(" at byte %d", e.Offset)
	}
	msg += ": " + e.Err.Error()
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

func (e *FormatError) Unwrap() error { return e.Err }

// SampleError describes a failed read of sample k (0-based) s of track t:
// a *FormatError wrapping ErrTruncated when the input ended before the
// sample did, else err with the track and sample named. Readers and writers
// return it so that read errors name the same things.
func SampleError(t *Track, k int, s *Sample, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &FormatError{Source: t.Source, Track: t.ID, Sample: k + 1, Offset: s.Offset, Err: ErrTruncated, Detail: err.Error()}
	}
	return fmt.Errorf("%s sample %d: %w", t, k+1, err)
}

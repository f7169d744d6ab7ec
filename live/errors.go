package live

import (
	"errors"
	"fmt"
)

// Errors an ingest reports to a refused publisher.
var (
	// ErrUnknownKey refuses a stream key that is not on the allow-list.
	ErrUnknownKey = errors.New("live: unknown stream key")
	// ErrKeyInUse refuses a second publisher on a key already publishing.
	ErrKeyInUse = errors.New("live: stream key already publishing")
)

// Errors of a Channel.
var (
	// ErrClosed is returned by a Channel that was closed, and by a
	// Publisher whose session ended.
	ErrClosed = errors.New("live: closed")
	// ErrBadSample refuses a sample that cannot be packaged (see
	// SampleError). The session and the channel go on.
	ErrBadSample = errors.New("live: bad sample")
	// ErrBadTrack refuses a track that cannot be packaged.
	ErrBadTrack = errors.New("live: bad track")
)

// SampleError describes a refused sample: which session, which track, which
// sample (counted from 1 per track) and why. It wraps ErrBadSample.
type SampleError struct {
	Key    string // stream key of the session
	Track  int    // track number as AddTrack returned it
	Sample int64  // 1-based number of the sample on its track
	Detail string
}

func (e *SampleError) Error() string {
	return fmt.Sprintf("live: %q track %d sample %d: bad sample: %s", e.Key, e.Track, e.Sample, e.Detail)
}

// Unwrap returns ErrBadSample.
func (e *SampleError) Unwrap() error { return ErrBadSample }

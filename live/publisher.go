// Package live packages streams as they arrive: ingests (RTMP, MPEG-TS,
// CMAF ingest, WHIP) push samples into a channel, which cuts them into CMAF
// segments aligned across its renditions, stores them, and keeps
// sliding-window HLS playlists and a dynamic DASH MPD up to date.
package live

import (
	"context"

	"github.com/cmafkit/cmafkit/segment"
)

// Publisher is the seam between an ingest and the packager: one publishing
// session on one channel (an RTMP publish, a TS stream, a WHIP session).
// An ingest declares every track with AddTrack, then hands over samples in
// decode order per track, and calls Close when the publisher goes away.
// Implementations are safe for concurrent use by the tracks of one session.
type Publisher interface {
	// AddTrack declares a track before its first sample and returns the
	// number to pass to WriteSample. t carries Kind, Timescale and the
	// codec's SampleEntry (avc1/hvc1/av01/mp4a/Opus/ac-3, as in an MP4 init
	// segment), and for video the frame rate when known; Index and Data are
	// unused. Declaring a track with a new codec configuration after
	// samples were written starts a new init segment (a discontinuity).
	AddTrack(ctx context.Context, t *segment.Track) (track int, err error)
	// WriteSample hands over one sample: an access unit of video as
	// length-prefixed NAL units (4-byte lengths, as in MP4) or an OBU
	// temporal unit, or one audio frame. s.DecodeTime is on the track's
	// timescale and the publisher's own clock; s.Size must equal
	// len(payload). The Publisher copies what it keeps: payload may be
	// reused by the caller after WriteSample returns.
	WriteSample(ctx context.Context, track int, s segment.Sample, payload []byte) error
	// Discontinuity reports that the timestamps that follow do not continue
	// the previous ones (a timestamp reset or jump, an input gap).
	Discontinuity(ctx context.Context)
	// Close ends the session: err is nil when the publisher ended the
	// stream normally, else why it went away.
	Close(err error)
}

// PublisherFunc opens a Publisher for a stream key when a publisher
// connects, or refuses it with an error (errors.Is ErrUnknownKey for a key
// not on the allow-list, ErrKeyInUse for a key already publishing).
type PublisherFunc func(ctx context.Context, key string) (Publisher, error)

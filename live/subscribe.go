package live

import (
	"sync"

	"github.com/cmafkit/cmafkit/segment"
)

// TrackSample is one sample a Channel accepted from its publisher, as a
// subscriber sees it (see Channel.Subscribe).
type TrackSample struct {
	// Key is the stream key of the publishing session; Track is the track
	// number AddTrack returned in that session. A new session, or a new
	// Track for the same number in the same session, means a new
	// configuration.
	Key   string
	Track int
	// Info is the track as the channel described it: Kind, Timescale,
	// Codec, SampleEntry and the picture size or sample rate. It is shared
	// and must not be modified.
	Info *segment.Track
	// Sample is as the publisher wrote it, on the publisher's clock and
	// the track's timescale (DecodeTime, CompositionOffset, Sync).
	Sample segment.Sample
	// Payload is valid only during the call: a subscriber copies what it
	// keeps.
	Payload []byte
}

// subscribers are the functions Subscribe registered.
type subscribers struct {
	mu   sync.Mutex
	next int
	fns  map[int]func(TrackSample)
}

// Subscribe registers fn to receive every sample the channel accepts, in
// the order the publisher wrote them, before they are segmented: it is how
// real-time outputs (WHEP) follow the live stream. fn is called from the
// publisher's goroutine while the channel is busy with the sample, so it
// must return quickly and never block (hand the sample to a bounded queue
// and drop when it is full). The returned function unsubscribes; after it
// returns fn is not called again.
func (c *Channel) Subscribe(fn func(TrackSample)) (unsubscribe func()) {
	s := &c.subs
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fns == nil {
		s.fns = map[int]func(TrackSample){}
	}
	id := s.next
	s.next++
	s.fns[id] = fn
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.fns, id)
	}
}

// notify hands an accepted sample to the subscribers.
func (s *subscribers) notify(ts TrackSample) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, fn := range s.fns {
		fn(ts)
	}
}

// Tracks returns the tracks of the session publishing now, as the channel
// described them (see TrackSample.Info; shared, not to be modified), or
// nil when no publisher is connected. A subscriber uses it to learn what
// the stream carries before the next samples arrive.
func (c *Channel) Tracks() []*segment.Track {
	c.lock()
	defer c.unlock()
	if c.sess == nil {
		return nil
	}
	var ts []*segment.Track
	for _, st := range c.sess.tracks {
		if !st.retired {
			ts = append(ts, st.t)
		}
	}
	return ts
}

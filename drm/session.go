package drm

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/Eyevinn/mp4ff/mp4"
)

// Session protects the tracks of a packaging job with one Config. It makes
// each track's TrackProtector and Protection, and it keeps the keys apart:
// with cenc, a fixed IV (Config.IV, or a key's own IV such as a CPIX
// explicitIV) is the IV of a track's first sample and the later IVs follow
// from sample positions, so two tracks encrypted with the same key and the
// same fixed IV would reuse the AES-CTR keystream. Session.Track refuses
// such a track with an *IVReuseError: the session remembers, for as long
// as it is in use, the KIDs each track encrypts with under a fixed IV.
// Random IVs and cbcs, whose constant IV is part of the scheme, are not
// affected. A Session is safe for concurrent use.
type Session struct {
	cfg Config

	mu      sync.Mutex
	users   map[ivUse]trackID
	unnamed int
}

// NewSession validates cfg and returns a session for it. Without
// cfg.Systems, ClearKey (the W3C common system, which any EME browser plays
// given the keys) is signalled: HLS can tell players that segments are
// encrypted only through the key tag of some system.
func NewSession(cfg Config) (*Session, error) {
	if len(cfg.Systems) == 0 {
		cfg.Systems = []System{ClearKey}
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Session{cfg: cfg, users: map[ivUse]trackID{}}, nil
}

// TrackOptions describes a track to Session.Track.
type TrackOptions struct {
	// Name names the track in errors, e.g. "in.mp4 track 1 (video avc1)".
	Name string
	// ID identifies the track for the IV reuse check: tracks with the same
	// ID are the same track encrypted again (a job run twice), which writes
	// the same bytes and reuses nothing. An empty ID makes every call a
	// track of its own.
	ID string
	// Segments is the number of media segments of the track: the crypto
	// periods of key rotation are computed for them.
	Segments int
}

// Track prepares the protection of the single track of init (a clear
// init segment, which it does not modify): its protector and its
// Protection for the manifests, with the keys of every crypto period
// fetched and checked against IV reuse. Both are nil for a track that
// stays clear (text).
func (s *Session) Track(ctx context.Context, init *mp4.InitSegment, o TrackOptions) (*TrackProtector, *Protection, error) {
	tp, err := newTrackProtector(ctx, s.cfg, init, o.Name)
	if err != nil {
		return nil, nil, err
	}
	if !tp.Enabled() {
		return nil, nil, nil
	}
	p, err := tp.Protection(ctx, o.Segments)
	if err != nil {
		return nil, nil, err
	}
	if tp.cfg.Scheme.counterMode() && tp.ivFrom != ivRandom {
		t := s.track(o)
		kids := []KID{p.DefaultKID}
		for _, kp := range p.KeyPeriods {
			kids = append(kids, kp.KID)
		}
		for period, kid := range kids {
			if other := s.claim(ivUse{kid: kid, iv: string(tp.iv)}, t); other != nil {
				return nil, nil, &IVReuseError{Track: t.name, Other: other.name, KID: kid, Period: period, KeyIV: tp.ivFrom == ivKey}
			}
		}
	}
	return tp, p, nil
}

// ErrIVReuse means two tracks would be encrypted with cenc under the same key
// and the same fixed IV, which reuses the AES-CTR keystream (a two-time
// pad). Session.Track returns it wrapped in an *IVReuseError.
var ErrIVReuse = errors.New("drm: cenc key and fixed IV shared by two tracks")

// IVReuseError names the tracks that would share a cenc key and fixed IV.
type IVReuseError struct {
	// Track is the track refused; Other the one already encrypting with
	// the key (TrackOptions.Name).
	Track, Other string
	KID          KID
	// Period is the crypto period of Track that would use the key (0
	// without key rotation).
	Period int
	// KeyIV reports that the fixed IV is the key's own (a CPIX explicitIV)
	// rather than Config.IV.
	KeyIV bool
}

func (e *IVReuseError) Error() string {
	period, fix := "", "leave the fixed IV (--iv, drm.Config.IV) out so each track gets a random IV, or give each track its own key"
	if e.Period > 0 {
		period = fmt.Sprintf(" in crypto period %d", e.Period)
	}
	if e.KeyIV {
		fix = "drop the key's explicit IV so each track gets a random IV, or give each track its own key"
	}
	return fmt.Sprintf("drm: %s would encrypt with KID %s%s and the same fixed cenc IV as %s, reusing its AES-CTR keystream: %s",
		e.Track, e.KID, period, e.Other, fix)
}

// Unwrap returns ErrIVReuse.
func (e *IVReuseError) Unwrap() error { return ErrIVReuse }

// ivUse is a cenc key with the fixed IV of a track's first sample.
type ivUse struct {
	kid KID
	iv  string
}

// trackID identifies a track given to Session.Track.
type trackID struct {
	id   string // TrackOptions.ID; unique per call when that is empty
	name string // for errors
}

func (s *Session) track(o TrackOptions) trackID {
	if o.ID != "" {
		return trackID{id: "=" + o.ID, name: o.Name}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unnamed++
	return trackID{id: fmt.Sprintf("#%d", s.unnamed), name: o.Name}
}

// claim records t as a user of u and returns nil, or returns the other
// track already using u.
func (s *Session) claim(u ivUse, t trackID) *trackID {
	s.mu.Lock()
	defer s.mu.Unlock()
	if other, ok := s.users[u]; ok && other.id != t.id {
		return &other
	}
	s.users[u] = t
	return nil
}

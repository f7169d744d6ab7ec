package live

import (
	"context"
	"fmt"

	"github.com/cmafkit/cmafkit/drm"
	"github.com/cmafkit/cmafkit/manifest"
	"github.com/cmafkit/cmafkit/segment/cmaf"
)

// encTrack is the encryption of one publisher track (Channel.Encryption):
// its protector, made when the track is declared, and the crypto periods
// whose keys were fetched, by period index.
type encTrack struct {
	tp      *drm.TrackProtector
	first   *drm.Protection // the default key's signalling
	periods map[int]drm.KeyPeriod
}

// setupEncryption starts the drm session of c.Encryption; a configuration
// error is kept and returned by Publish.
func (c *Channel) setupEncryption() {
	if c.Encryption == nil {
		return
	}
	if c.EncryptionSession != nil {
		c.drm, c.drmShared = c.EncryptionSession, true
		return
	}
	cfg := *c.Encryption
	if cfg.Logger == nil {
		cfg.Logger = c.Logger
	}
	s, err := drm.NewSession(cfg)
	if err != nil {
		c.drmErr = fmt.Errorf("live: encryption: %w", err)
		return
	}
	c.drm = s
}

// protectTrack prepares the encryption of a declared track, fetching its
// default key. Tracks of one representation (a publisher's track and the
// tracks that replace it later, in this session or the next) are one track
// to the drm session's IV reuse check: their sample numbers, from which
// cenc IVs derive, run on across periods (see Channel.sampleBase). In a
// session shared with other channels (Channel.EncryptionSession), the
// channel tells its tracks apart from theirs.
func (c *Channel) protectTrack(ctx context.Context, st *strack) (*encTrack, error) {
	if c.drm == nil {
		return nil, nil
	}
	clear, err := cmaf.BuildInit(st.t)
	if err != nil {
		return nil, err
	}
	id := st.rep
	if c.drmShared {
		// Another channel's representation of the same name is
		// another track.
		id = fmt.Sprintf("%p %s", c, st.rep)
	}
	tp, prot, err := c.drm.Track(ctx, clear, drm.TrackOptions{Name: st.t.Source, ID: id, Segments: 1})
	if err != nil || tp == nil {
		return nil, err
	}
	return &encTrack{tp: tp, first: prot, periods: map[int]drm.KeyPeriod{}}, nil
}

// cryptoPeriod returns the crypto period of segment number n (1-based;
// numbers run on across periods, and so do crypto periods).
func (e *encTrack) cryptoPeriod(n uint64) int { return e.tp.Period(int(n) - 1) }

// prepare fetches the key of segment number n's crypto period before the
// segment is written, so that the manifests can name it.
func (e *encTrack) prepare(ctx context.Context, n int) error {
	if !e.tp.Rotates() {
		return nil
	}
	p := e.cryptoPeriod(uint64(n))
	if _, ok := e.periods[p]; ok {
		return nil
	}
	kp, err := e.tp.KeyPeriod(ctx, p)
	if err != nil {
		return err
	}
	e.periods[p] = kp
	// Segments are written in order: earlier periods' keys are not
	// needed again (their signalling stays in e.periods for the window).
	e.tp.ForgetBefore(p)
	return nil
}

// protection is the Protection of the window segs (in order, non-empty):
// without key rotation the track's; with it, the key in force at the
// window's first segment and a key period at each later crypto period's
// first segment, counted in the window. Crypto periods before the window
// are forgotten.
func (e *encTrack) protection(segs []manifest.SegmentRef) *drm.Protection {
	if !e.tp.Rotates() {
		return e.first
	}
	p := &drm.Protection{Scheme: e.first.Scheme, KeyRotation: true}
	cur := e.cryptoPeriod(segs[0].Number)
	for k := range e.periods {
		if k < cur {
			delete(e.periods, k)
		}
	}
	kp := e.periods[cur]
	p.DefaultKID, p.Systems = kp.KID, kp.Systems
	for i := 1; i < len(segs); i++ {
		if n := e.cryptoPeriod(segs[i].Number); n != cur {
			cur = n
			kp := e.periods[n]
			kp.FirstSegment = i
			p.KeyPeriods = append(p.KeyPeriods, kp)
		}
	}
	return p
}

// protector returns the track's protector, or nil when it stays clear.
func (pt *ptrack) protector() cmaf.FragmentProtector {
	if pt.st.enc == nil {
		return nil
	}
	return pt.st.enc.tp
}

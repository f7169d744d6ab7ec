package drm

import (
	"context"
	"fmt"
)

// KeyPeriod returns crypto period period of the track (0 is the first,
// whose key is the default key) with its key's KID and DRM system
// signalling, fetching the key if it was not fetched yet. It is for
// streams whose number of segments is not known ahead, such as live ones:
// Protection covers a given number of segments, KeyPeriod one period at a
// time, so a live packager can ask for each period's key before the
// period's first segment is written. FirstSegment is period ×
// Config.CryptoPeriod. A period other than 0 without key rotation is an
// error wrapping ErrMalformed.
func (tp *TrackProtector) KeyPeriod(ctx context.Context, period int) (KeyPeriod, error) {
	if !tp.enabled {
		return KeyPeriod{}, fmt.Errorf("drm: track %d is not encrypted: %w", tp.trackID, ErrUnsupported)
	}
	if period < 0 || (period > 0 && tp.cfg.CryptoPeriod <= 0) {
		return KeyPeriod{}, fmt.Errorf("drm: track %d: crypto period %d without key rotation: %w", tp.trackID, period, ErrMalformed)
	}
	k, err := tp.key(ctx, period)
	if err != nil {
		return KeyPeriod{}, err
	}
	kp := KeyPeriod{FirstSegment: period * tp.cfg.CryptoPeriod, KID: k.KID}
	if kp.Systems, err = tp.signaling(k, period); err != nil {
		return KeyPeriod{}, err
	}
	return kp, nil
}

// Rotates reports whether the track's keys rotate (Config.CryptoPeriod).
func (tp *TrackProtector) Rotates() bool { return tp.cfg.CryptoPeriod > 0 }

// ForgetBefore drops the keys (and their ciphers) of the crypto periods
// before period, which a live packager no longer writes segments of, so
// that a protector's memory does not grow with a stream that rotates keys
// for days. A forgotten period's key is fetched again if it is asked for.
func (tp *TrackProtector) ForgetBefore(period int) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	keep := map[KID]bool{tp.def.KID: true}
	for p, k := range tp.keys {
		if p < period && p != 0 {
			delete(tp.keys, p)
			continue
		}
		keep[k.KID] = true
	}
	for kid := range tp.ciphers {
		if !keep[kid] {
			delete(tp.ciphers, kid)
		}
	}
}

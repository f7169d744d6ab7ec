package drm

import (
	"context"
	"fmt"
)

// Protection describes how one track is encrypted, as manifest writers
// need it: plain data about keys and DRM systems, no manifest syntax
// (manifest/dash and manifest/hls turn it into ContentProtection elements
// and EXT-X-KEY tags). A TrackProtector computes it, with every crypto
// period, before any segment is written.
type Protection struct {
	Scheme Scheme
	// DefaultKID is the tenc default_KID: the KID of the first crypto
	// period's key (the only key without key rotation).
	DefaultKID KID
	// Systems is the signalling of the first crypto period's key, one
	// entry per DRM system.
	Systems []SystemSignaling
	// KeyPeriods lists the crypto periods after the first under key
	// rotation, in segment order: from KeyPeriods[i].FirstSegment on,
	// segments are encrypted with KeyPeriods[i].KID (named in their seig
	// sample groups, and in the pssh boxes of their moofs).
	KeyPeriods []KeyPeriod
	// KeyRotation says that keys rotate even where KeyPeriods lists no
	// period after the first: a live window within one crypto period.
	// Manifests then signal as under key rotation (no key named for the
	// whole presentation), so that players take each period's key from
	// the segments.
	KeyRotation bool `json:",omitempty"`
}

// KeyPeriod is one crypto period of key rotation after the first.
type KeyPeriod struct {
	// FirstSegment is the 0-based index of the period's first segment; it
	// is greater than the previous period's (and than 0).
	FirstSegment int
	KID          KID
	// Systems is the signalling of the period's key.
	Systems []SystemSignaling
}

// SystemSignaling is what one DRM system needs signalled for one key. The
// last three fields are a key server's own signalling (CPIX), which
// manifest writers use verbatim in place of theirs.
type SystemSignaling struct {
	// IV, if 16 bytes, is written as the EXT-X-KEY IV attribute of HLS
	// MPEG-TS encryption (SchemeAES128, SchemeSampleAES); without it
	// players derive the IV from the media sequence number.
	IV []byte `json:",omitempty"`
	// System is the DRM system; empty for the key of SchemeAES128, which
	// no DRM system serves.
	System System
	// PSSH is the complete pssh box of the key for the system, as the init
	// segment carries it: a key server's, or one this package built. Nil
	// for FairPlay.
	PSSH []byte
	// PlayReadyObject is PlayReady's PRO: the data of its pssh box.
	PlayReadyObject []byte
	// LicenseURL is the license server of PlayReady (its LA_URL) or
	// ClearKey.
	LicenseURL string
	// KeyURI is the URI of the system's HLS key when it is not derived from
	// the other fields: FairPlay's skd:// URI, or a key server's URIExtXKey.
	KeyURI string
	// ContentProtectionData is XML for the system's DASH ContentProtection
	// element (CPIX ContentProtectionData).
	ContentProtectionData string
	// HLSMedia and HLSMultivariant are tag lines for the media playlists
	// and the multivariant playlist (CPIX HLSSignalingData); HLSMedia
	// without HLSMultivariant means no session key.
	HLSMedia, HLSMultivariant string
}

// Validate reports a *ProtectionError for data no manifest can signal: an
// unknown scheme or DRM system, a zero KID, key periods out of order.
func (p *Protection) Validate() error {
	bad := func(format string, args ...any) error {
		return &ProtectionError{Detail: fmt.Sprintf(format, args...)}
	}
	switch p.Scheme {
	case SchemeCENC, SchemeCBCS, SchemeCENS, SchemeCBC1:
	case SchemeAES128, SchemeSampleAES:
		// A key URI, no KID and no DRM system.
		if len(p.Systems) != 1 || p.Systems[0].System != "" || p.Systems[0].KeyURI == "" || len(p.KeyPeriods) > 0 {
			return bad("%s needs one key URI of no DRM system and no key periods", p.Scheme)
		}
		return nil
	default:
		return bad("scheme %q", p.Scheme)
	}
	if p.DefaultKID.IsZero() {
		return bad("zero default KID")
	}
	systems := func(prefix string, list []SystemSignaling) error {
		for i := range list {
			if list[i].System.SystemID().IsZero() {
				return bad("%ssystem %d: unknown DRM system %q", prefix, i+1, list[i].System)
			}
		}
		return nil
	}
	if err := systems("", p.Systems); err != nil {
		return err
	}
	last := 0
	for i := range p.KeyPeriods {
		kp := &p.KeyPeriods[i]
		prefix := fmt.Sprintf("key period %d: ", i+1)
		if kp.FirstSegment <= last {
			return bad("%sfirst segment %d not after %d", prefix, kp.FirstSegment, last)
		}
		last = kp.FirstSegment
		if kp.KID.IsZero() {
			return bad("%szero KID", prefix)
		}
		if err := systems(prefix, kp.Systems); err != nil {
			return err
		}
	}
	return nil
}

// ProtectionError reports Protection data that cannot be signalled.
type ProtectionError struct {
	Detail string
}

func (e *ProtectionError) Error() string { return "drm: protection: " + e.Detail }

// Unwrap returns ErrMalformed.
func (e *ProtectionError) Unwrap() error { return ErrMalformed }

// Protection returns the protection of the track for the manifests, for a
// track of segments media segments: the scheme, the default KID and, for
// every crypto period those segments span (one without key rotation), the
// period's key and its DRM system signalling. It fetches the keys of every
// period, so a provider without one fails here, before any segment is
// written. It is nil for a disabled protector.
func (tp *TrackProtector) Protection(ctx context.Context, segments int) (*Protection, error) {
	if !tp.enabled {
		return nil, nil
	}
	p := &Protection{Scheme: tp.cfg.Scheme, DefaultKID: tp.def.KID}
	var err error
	if p.Systems, err = tp.signaling(tp.def, 0); err != nil {
		return nil, err
	}
	for period := 1; tp.cfg.CryptoPeriod > 0 && period*tp.cfg.CryptoPeriod < segments; period++ {
		k, err := tp.key(ctx, period)
		if err != nil {
			return nil, err
		}
		kp := KeyPeriod{FirstSegment: period * tp.cfg.CryptoPeriod, KID: k.KID}
		if kp.Systems, err = tp.signaling(k, period); err != nil {
			return nil, err
		}
		p.KeyPeriods = append(p.KeyPeriods, kp)
	}
	return p, nil
}

// signaling describes the configured DRM systems for one key. FairPlay,
// which DASH does not signal, comes after the others.
func (tp *TrackProtector) signaling(k ContentKey, period int) ([]SystemSignaling, error) {
	o := tp.cfg.SignalingOptions
	var out []SystemSignaling
	for _, sys := range fairPlayLast(o.Systems) {
		sd := k.Systems[sys]
		s := SystemSignaling{System: sys, KeyURI: sd.URIExtXKey, ContentProtectionData: sd.ContentProtectionData,
			HLSMedia: sd.HLSSignalingMedia, HLSMultivariant: sd.HLSSignalingMaster}
		var err error
		if s.PSSH, err = systemPSSH(o, tp.cfg.Scheme, sys, k, tp.periodArg(period)); err != nil {
			return nil, err
		}
		switch sys {
		case PlayReady:
			if s.PlayReadyObject, err = playReadyPRO(o, tp.cfg.Scheme, k); err != nil {
				return nil, err
			}
			s.LicenseURL = o.PlayReadyLAURL
		case ClearKey:
			s.LicenseURL = o.ClearKeyLAURL
		case FairPlay:
			if s.KeyURI == "" {
				if s.KeyURI, err = FairPlayURI(o.FairPlayURI, k.KID); err != nil {
					return nil, err
				}
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// fairPlayLast returns systems with FairPlay moved to the end.
func fairPlayLast(systems []System) []System {
	out := make([]System, 0, len(systems))
	fp := false
	for _, s := range systems {
		if s == FairPlay {
			fp = true
			continue
		}
		out = append(out, s)
	}
	if fp {
		out = append(out, FairPlay)
	}
	return out
}

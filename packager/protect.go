package packager

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/cmafkit/cmafkit/drm"
	"github.com/cmafkit/cmafkit/manifest"
	"github.com/cmafkit/cmafkit/segment"
)

// ProtectWith returns a ProtectFunc that encrypts every audio and video
// track with cfg (package drm) and signals the configured DRM systems in the
// manifests. Text tracks stay clear. With no cfg.Systems, ClearKey (the W3C
// common system, which any EME browser plays given the keys) is signaled.
//
// With key rotation (cfg.CryptoPeriod > 0) every crypto period after the
// first gets a manifest.KeyPeriod: HLS media playlists switch EXT-X-KEY
// before its first segment; the MPD keeps the first key's signalling and
// players learn later keys from the seig sample groups and moof pssh boxes
// (so cfg.OmitPSSH leaves DASH players without them). The key periods are
// added to the returned ProtectionInfo as the fragments are protected, so
// it is complete once the track's last segment is written (the packager
// renders manifests only then).
//
// With cenc, a fixed IV (cfg.IV, or a key's own IV such as a CPIX
// explicitIV) is the IV of every track's first sample, and the later IVs
// follow from sample positions, so two tracks encrypted with the same key and
// the same fixed IV would reuse the AES-CTR keystream. The returned function
// refuses such a track with an *IVReuseError (errors.Is ErrIVReuse): it
// remembers, for as long as it is in use, the KIDs each track encrypts with
// under a fixed IV. A track is known by its input name and track ID, so
// running a job again with the same function (a retry) is accepted, while a
// second job over other inputs with the same key and IV is refused too.
// Random IVs (no fixed IV) and cbcs, whose constant IV is part of the
// scheme, are not affected.
func ProtectWith(cfg drm.Config) (ProtectFunc, error) {
	if len(cfg.Systems) == 0 {
		// HLS can only tell players that segments are encrypted through an
		// EXT-X-KEY of some system; without one the output would not play.
		cfg.Systems = []drm.System{drm.ClearKey}
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	reg := &ivRegistry{users: map[ivUse]ivTrack{}}
	return func(ctx context.Context, t *segment.Track, clearInit *mp4.InitSegment) (segment.FragmentProtector, *manifest.ProtectionInfo, error) {
		tcfg := cfg
		var keys *ivCheckedKeys
		if cfg.Scheme == drm.SchemeCENC {
			keys = &ivCheckedKeys{KeyProvider: cfg.Keys, reg: reg, track: reg.track(t), cfgIV: cfg.IV}
			tcfg.Keys = keys
		}
		tp, err := drm.NewTrackProtector(ctx, tcfg, clearInit)
		if err != nil {
			return nil, nil, err
		}
		if !tp.Enabled() {
			return nil, nil, nil
		}
		if keys != nil {
			if err := keys.claimDefault(tp.DefaultKID()); err != nil {
				return nil, nil, err
			}
		}
		sig, err := tp.Signaling(ctx, 0)
		if err != nil {
			return nil, nil, err
		}
		info, err := protectionInfo(sig)
		if err != nil {
			return nil, nil, err
		}
		if cfg.CryptoPeriod > 0 {
			return &rotatingProtector{TrackProtector: tp, info: info}, info, nil
		}
		return tp, info, nil
	}, nil
}

// ErrIVReuse means two tracks would be encrypted with cenc under the same key
// and the same fixed IV, which reuses the AES-CTR keystream (a two-time
// pad). ProtectWith returns it, wrapped in an *IVReuseError.
var ErrIVReuse = errors.New("packager: cenc key and fixed IV shared by two tracks")

// IVReuseError names the tracks that would share a cenc key and fixed IV.
type IVReuseError struct {
	// Track is the track refused; Other the one already encrypting with
	// the key (segment.Track.String forms).
	Track, Other string
	KID          drm.KID
	// Period is the crypto period of Track that would use the key (0
	// without key rotation).
	Period int
	// KeyIV reports that the fixed IV is the key's own (a CPIX explicitIV)
	// rather than drm.Config.IV.
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
	return fmt.Sprintf("packager: %s would encrypt with KID %s%s and the same fixed cenc IV as %s, reusing its AES-CTR keystream: %s",
		e.Track, e.KID, period, e.Other, fix)
}

// Unwrap returns ErrIVReuse.
func (e *IVReuseError) Unwrap() error { return ErrIVReuse }

// ivUse is a cenc key with the fixed IV of a track's first sample.
type ivUse struct {
	kid drm.KID
	iv  string
}

// ivTrack identifies a track given to a ProtectFunc.
type ivTrack struct {
	id   string // input name and track ID; unique per call for unnamed inputs
	name string // for errors
}

// ivRegistry records which track first encrypted with each key and fixed
// IV. Tracks are protected concurrently, hence the mutex.
type ivRegistry struct {
	mu      sync.Mutex
	users   map[ivUse]ivTrack
	unnamed int
}

// track returns the identity of t: the same track of the same input
// protected again (a job run twice) may use its keys and IV again, since
// it encrypts the same samples at the same positions into the same bytes.
// Inputs without a name cannot be told apart, so each call is another track.
func (r *ivRegistry) track(t *segment.Track) ivTrack {
	if t.Source != "" {
		return ivTrack{id: fmt.Sprintf("%q/%d", t.Source, t.ID), name: t.String()}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.unnamed++
	return ivTrack{id: fmt.Sprintf("#%d", r.unnamed), name: t.String()}
}

// claim records t as a user of u and returns nil, or returns the other
// track already using u.
func (r *ivRegistry) claim(u ivUse, t ivTrack) *ivTrack {
	r.mu.Lock()
	defer r.mu.Unlock()
	if other, ok := r.users[u]; ok && other.id != t.id {
		return &other
	}
	r.users[u] = t
	return nil
}

// ivCheckedKeys is the key provider of one cenc track. It sees the keys the
// track's protector fetches, so it learns the fixed IV the protector uses
// (drm.Config.IV, else the period-0 key's IV if it is 8 or 16 bytes long,
// else a random one: the rule of drm.NewTrackProtector, whose IV is not
// visible from outside) and claims every key the track encrypts with under
// a fixed IV. The period-0 key is claimed once the protector exists
// (claimDefault, with TrackProtector.DefaultKID); the keys of later crypto
// periods, which reuse the track's fixed IV, as they are fetched, so a
// reuse there fails the job when the track reaches that period.
type ivCheckedKeys struct {
	drm.KeyProvider
	reg   *ivRegistry
	track ivTrack
	cfgIV drm.IV

	mu    sync.Mutex
	fixed drm.IV // the track's fixed IV; nil until known, and for a random IV
	keyIV bool   // fixed is the period-0 key's IV
	ready bool   // the period-0 key was claimed: claim later periods' keys
}

// ContentKey implements drm.KeyProvider.
func (k *ivCheckedKeys) ContentKey(ctx context.Context, req drm.KeyRequest) (drm.ContentKey, error) {
	ck, err := k.KeyProvider.ContentKey(ctx, req)
	if err != nil {
		return ck, err
	}
	k.mu.Lock()
	if req.Period == 0 && !k.ready {
		k.fixed, k.keyIV = k.cfgIV, false
		if len(k.fixed) == 0 && (len(ck.IV) == 8 || len(ck.IV) == 16) {
			k.fixed, k.keyIV = ck.IV, true
		}
	}
	ready, fixed, keyIV := k.ready, k.fixed, k.keyIV
	k.mu.Unlock()
	if ready && len(fixed) > 0 {
		if err := k.claim(ck.KID, req.Period, fixed, keyIV); err != nil {
			return drm.ContentKey{}, err
		}
	}
	return ck, nil
}

// claimDefault claims the track's period-0 key (the tenc default_KID) and
// turns on the claims of later periods' keys.
func (k *ivCheckedKeys) claimDefault(kid drm.KID) error {
	k.mu.Lock()
	k.ready = true
	fixed, keyIV := k.fixed, k.keyIV
	k.mu.Unlock()
	if len(fixed) == 0 {
		return nil // a random IV per track
	}
	return k.claim(kid, 0, fixed, keyIV)
}

func (k *ivCheckedKeys) claim(kid drm.KID, period int, fixed drm.IV, keyIV bool) error {
	if other := k.reg.claim(ivUse{kid: kid, iv: string(fixed)}, k.track); other != nil {
		return &IVReuseError{Track: k.track.name, Other: other.name, KID: kid, Period: period, KeyIV: keyIV}
	}
	return nil
}

// rotatingProtector records a manifest.KeyPeriod in info whenever a fragment
// starts a new crypto period.
type rotatingProtector struct {
	*drm.TrackProtector
	info   *manifest.ProtectionInfo
	period int // the last crypto period recorded (0: the first, in info.Systems)
}

// Sequential reports true: periods are recorded as segments arrive, so they
// must arrive in order.
func (rp *rotatingProtector) Sequential() bool { return true }

// ProtectFragment encrypts f and, when segmentIndex opens a crypto period,
// adds that period's signalling to the ProtectionInfo.
func (rp *rotatingProtector) ProtectFragment(ctx context.Context, f *mp4.Fragment, segmentIndex, firstSample int) error {
	if err := rp.TrackProtector.ProtectFragment(ctx, f, segmentIndex, firstSample); err != nil {
		return err
	}
	p := rp.Period(segmentIndex)
	if p <= rp.period {
		return nil
	}
	if p != rp.period+1 || segmentIndex == 0 {
		// Segments arrive in order, one crypto period after the other.
		return fmt.Errorf("packager: segment %d opens crypto period %d after period %d: %w", segmentIndex, p, rp.period, drm.ErrUnsupported)
	}
	sig, err := rp.Signaling(ctx, p)
	if err != nil {
		return err
	}
	pinfo, err := protectionInfo(sig)
	if err != nil {
		return err
	}
	rp.info.KeyPeriods = append(rp.info.KeyPeriods, manifest.KeyPeriod{FirstSegment: segmentIndex, KID: manifest.UUID(sig.KID), Systems: pinfo.Systems})
	rp.period = p
	return nil
}

// protectionInfo maps drm's signalling into the manifest model.
func protectionInfo(sig drm.Signaling) (*manifest.ProtectionInfo, error) {
	info := &manifest.ProtectionInfo{Scheme: manifest.Scheme(sig.Scheme), DefaultKID: manifest.UUID(sig.DefaultKID)}
	dec := base64.StdEncoding.DecodeString
	hlsDone := map[drm.System]bool{}
	for _, cp := range sig.DASH {
		if cp.System == "" {
			continue // mp4protection: written by the renderer from Scheme and DefaultKID
		}
		id, err := drm.ParseKID(strings.TrimPrefix(cp.SchemeIDURI, "urn:uuid:"))
		if err != nil {
			return nil, fmt.Errorf("packager: system %s: %w", cp.System, err)
		}
		sys := manifest.DRMSystem{SystemID: manifest.UUID(id), Name: cp.Value, LicenseURL: cp.LicenseURL, ContentProtectionData: cp.ExtraXML}
		if cp.PSSH != "" {
			if sys.PSSH, err = dec(cp.PSSH); err != nil {
				return nil, err
			}
		}
		if cp.PRO != "" {
			if sys.PlayReadyObject, err = dec(cp.PRO); err != nil {
				return nil, err
			}
		}
		if !hlsDone[cp.System] {
			for _, k := range sig.HLS {
				if k.System == cp.System {
					sys.HLS = &manifest.HLSKey{URI: k.URI, KeyFormat: k.KeyFormat, KeyFormatVersions: k.KeyFormatVersions, Media: k.Media, Multivariant: k.Multivariant}
					hlsDone[cp.System] = true
				}
			}
		}
		info.Systems = append(info.Systems, sys)
	}
	// Systems signalled only in HLS (FairPlay has no DASH element).
	for _, k := range sig.HLS {
		if hlsDone[k.System] {
			continue
		}
		id := k.System.SystemID()
		info.Systems = append(info.Systems, manifest.DRMSystem{SystemID: manifest.UUID(id), Name: string(k.System),
			HLS: &manifest.HLSKey{URI: k.URI, KeyFormat: k.KeyFormat, KeyFormatVersions: k.KeyFormatVersions, Media: k.Media, Multivariant: k.Multivariant}})
	}
	return info, nil
}

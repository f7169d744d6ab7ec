package packager

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"

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
func ProtectWith(cfg drm.Config) (ProtectFunc, error) {
	if len(cfg.Systems) == 0 {
		// HLS can only tell players that segments are encrypted through an
		// EXT-X-KEY of some system; without one the output would not play.
		cfg.Systems = []drm.System{drm.ClearKey}
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return func(ctx context.Context, t *segment.Track, clearInit *mp4.InitSegment) (segment.FragmentProtector, *manifest.ProtectionInfo, error) {
		tp, err := drm.NewTrackProtector(ctx, cfg, clearInit)
		if err != nil {
			return nil, nil, err
		}
		if !tp.Enabled() {
			return nil, nil, nil
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
		sys := manifest.DRMSystem{SystemID: manifest.UUID(id), Name: cp.Value, LicenseURL: cp.LicenseURL}
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
					sys.HLS = &manifest.HLSKey{URI: k.URI, KeyFormat: k.KeyFormat, KeyFormatVersions: k.KeyFormatVersions}
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
			HLS: &manifest.HLSKey{URI: k.URI, KeyFormat: k.KeyFormat, KeyFormatVersions: k.KeyFormatVersions}})
	}
	return info, nil
}

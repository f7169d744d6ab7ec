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
// manifests. Text tracks stay clear. Key rotation (cfg.CryptoPeriod) is not
// signalled in manifests yet and is refused.
func ProtectWith(cfg drm.Config) (ProtectFunc, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.CryptoPeriod > 0 {
		return nil, fmt.Errorf("packager: key rotation is not supported by the packager yet: %w", drm.ErrUnsupported)
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
		return tp, info, nil
	}, nil
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

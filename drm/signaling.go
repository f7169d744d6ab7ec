package drm

import (
	"fmt"
)

// SignalingOptions configures per-system signaling; the zero value is valid.
type SignalingOptions struct {
	Systems []System
	// WidevineProvider and WidevineContentID fill WidevinePsshData fields.
	WidevineProvider  string
	WidevineContentID []byte
	// PlayReadyLAURL is the optional LA_URL of the PlayReady header.
	PlayReadyLAURL string
	// FairPlayURI is an skd:// template, see FairPlayURI.
	FairPlayURI string
	// ClearKeyLAURL is the ClearKey license server URL (dashif:laurl).
	ClearKeyLAURL string
}

// CheckSystems reports a *SchemeError when a DRM system cannot be used
// with the scheme: FairPlay needs cbcs (Apple devices reject SAMPLE-AES-CTR,
// and there is no HLS method for cens or cbc1); PlayReady takes cenc or
// cbcs (its header's AESCTR and AESCBC); Widevine and ClearKey take all four.
func CheckSystems(scheme Scheme, systems []System) error {
	if !scheme.commonEncryption() {
		return &SchemeError{Scheme: scheme, Reason: "want cenc, cbcs, cens or cbc1"}
	}
	for _, s := range systems {
		switch s {
		case Widevine, ClearKey:
		case PlayReady:
			if scheme != SchemeCENC && scheme != SchemeCBCS {
				return &SchemeError{Scheme: scheme, System: PlayReady, Reason: "PlayReady supports cenc and cbcs only"}
			}
		case FairPlay:
			if scheme != SchemeCBCS {
				return &SchemeError{Scheme: scheme, System: FairPlay, Reason: "FairPlay requires cbcs (SAMPLE-AES); Apple devices reject other schemes"}
			}
		default:
			return fmt.Errorf("drm: unknown DRM system %q: %w", string(s), ErrUnsupported)
		}
	}
	return nil
}

// systemPSSH returns the pssh box for one system and key (nil for FairPlay,
// which has no pssh in CMAF/HLS use). A key-server-supplied PSSH in
// key.Systems wins. period >= 0 adds Widevine's crypto_period_index.
func systemPSSH(o SignalingOptions, scheme Scheme, sys System, key ContentKey, period int) ([]byte, error) {
	if sd, ok := key.Systems[sys]; ok && len(sd.PSSH) > 0 {
		return sd.PSSH, nil
	}
	switch sys {
	case Widevine:
		wd := WidevineData{KeyIDs: []KID{key.KID}, Provider: o.WidevineProvider, ContentID: o.WidevineContentID, Scheme: scheme}
		if period >= 0 {
			wd.CryptoPeriodIndex, wd.HasCryptoPeriod = uint32(period), true
		}
		return PSSHBox(0, SystemIDWidevine, nil, WidevinePSSHData(wd))
	case PlayReady:
		pro, err := playReadyPRO(o, scheme, key)
		if err != nil {
			return nil, err
		}
		return PSSHBox(0, SystemIDPlayReady, nil, pro)
	case ClearKey:
		return ClearKeyPSSH([]KID{key.KID}), nil
	case FairPlay:
		return nil, nil
	}
	return nil, fmt.Errorf("drm: unknown DRM system %q: %w", string(sys), ErrUnsupported)
}

// playReadyPRO returns the PlayReady Object of a key: the data of a
// key-server-supplied PlayReady pssh, or one built from the options.
func playReadyPRO(o SignalingOptions, scheme Scheme, key ContentKey) ([]byte, error) {
	if sd, ok := key.Systems[PlayReady]; ok && len(sd.PSSH) > 0 {
		p, err := ParsePSSH(sd.PSSH)
		if err != nil {
			return nil, err
		}
		return p.Data, nil
	}
	x, err := PlayReadyHeader{Keys: []PlayReadyKey{{KID: key.KID, Key: key.Key}}, Scheme: scheme, LAURL: o.PlayReadyLAURL}.XML()
	if err != nil {
		return nil, err
	}
	return PlayReadyObject(x), nil
}

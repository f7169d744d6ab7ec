package drm

import (
	"encoding/base64"
	"fmt"
)

// Scheme URIs and values used in DASH ContentProtection elements.
const (
	// MP4ProtectionSchemeURI is the scheme of the common ContentProtection
	// element that carries value="cenc"|"cbcs" and cenc:default_KID.
	MP4ProtectionSchemeURI = "urn:mpeg:dash:mp4protection:2011"
	// HLS KEYFORMAT values.
	KeyFormatWidevine  = "urn:uuid:edef8ba9-79d6-4ace-a3c8-27dcd51d21ed"
	KeyFormatPlayReady = "com.microsoft.playready"
	KeyFormatFairPlay  = "com.apple.streamingkeydelivery"
	KeyFormatClearKey  = "org.w3.clearkey"
)

// Signaling is what manifest writers need to announce protection of one
// track (and one crypto period). It is plain data; package manifest maps it
// into its own model.
type Signaling struct {
	Scheme Scheme
	// DefaultKID is the tenc default_KID: the value of cenc:default_KID on
	// every protected AdaptationSet (the same for every crypto period).
	DefaultKID KID
	// KID is the key ID of this crypto period (equal to DefaultKID without
	// key rotation).
	KID KID
	// Period is the crypto period index.
	Period int
	// DASH holds the ContentProtection elements, the mp4protection one first.
	DASH []ContentProtection
	// HLS holds one EXT-X-KEY per DRM system (the same attributes serve
	// EXT-X-SESSION-KEY in the multivariant playlist). With key rotation a
	// new set is written before the first segment of each crypto period.
	HLS []HLSKey
}

// ContentProtection is one DASH ContentProtection element.
type ContentProtection struct {
	System      System // empty for the mp4protection element
	SchemeIDURI string
	Value       string
	// DefaultKID is the cenc:default_KID attribute (UUID form); set on the
	// mp4protection element and repeated on system elements.
	DefaultKID string
	// PSSH is the cenc:pssh child: base64 of the complete pssh box.
	PSSH string
	// PRO is the mspr:pro child (PlayReady Object, base64).
	PRO string
	// LicenseURL is the dashif:laurl child (license acquisition URL).
	LicenseURL string
	// ExtraXML is key-server-supplied inner XML (CPIX ContentProtectionData);
	// when set it replaces the children above except DefaultKID.
	ExtraXML string
}

// HLSKey is the attribute set of one EXT-X-KEY / EXT-X-SESSION-KEY tag.
type HLSKey struct {
	System            System
	Method            string // "SAMPLE-AES" (cbcs) or "SAMPLE-AES-CTR" (cenc)
	URI               string
	KeyFormat         string
	KeyFormatVersions string
	// IV is empty: for fMP4 the IV is carried in tenc/senc.
	IV string
	// Media and Multivariant are a key server's own tag lines (CPIX
	// HLSSignalingData) that replace the EXT-X-KEY of media playlists and
	// the EXT-X-SESSION-KEY of the multivariant playlist. Media without
	// Multivariant means no session key for the system.
	Media, Multivariant string
}

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

// hlsMethod returns the EXT-X-KEY METHOD for a scheme.
func hlsMethod(s Scheme) string {
	if s == SchemeCBCS {
		return "SAMPLE-AES"
	}
	return "SAMPLE-AES-CTR"
}

// CheckSystems reports a *SchemeError when a DRM system cannot be used
// with the scheme (FairPlay needs cbcs: Apple devices reject SAMPLE-AES-CTR).
func CheckSystems(scheme Scheme, systems []System) error {
	if scheme != SchemeCENC && scheme != SchemeCBCS {
		return &SchemeError{Scheme: scheme, Reason: "want cenc or cbcs"}
	}
	for _, s := range systems {
		switch s {
		case Widevine, PlayReady, ClearKey:
		case FairPlay:
			if scheme != SchemeCBCS {
				return &SchemeError{Scheme: scheme, System: FairPlay, Reason: "FairPlay requires cbcs (SAMPLE-AES); Apple devices reject SAMPLE-AES-CTR"}
			}
		default:
			return fmt.Errorf("drm: unknown DRM system %q: %w", string(s), ErrUnsupported)
		}
	}
	return nil
}

// SystemPSSH returns the pssh box for one system and key (nil for FairPlay,
// which has no pssh in CMAF/HLS use). A key-server-supplied PSSH in
// key.Systems wins. period >= 0 adds Widevine's crypto_period_index.
func SystemPSSH(o SignalingOptions, scheme Scheme, sys System, key ContentKey, period int) ([]byte, error) {
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

// NewSignaling builds the manifest signaling for one key. defaultKID is the
// tenc default_KID; period is the crypto period (-1 when there is no key
// rotation, which also omits Widevine's crypto_period_index).
func NewSignaling(o SignalingOptions, scheme Scheme, defaultKID KID, key ContentKey, period int) (Signaling, error) {
	if err := CheckSystems(scheme, o.Systems); err != nil {
		return Signaling{}, err
	}
	sig := Signaling{Scheme: scheme, DefaultKID: defaultKID, KID: key.KID, Period: max(period, 0)}
	dk := defaultKID.String()
	sig.DASH = append(sig.DASH, ContentProtection{SchemeIDURI: MP4ProtectionSchemeURI, Value: string(scheme), DefaultKID: dk})
	b64 := base64.StdEncoding.EncodeToString
	for _, sys := range o.Systems {
		pssh, err := SystemPSSH(o, scheme, sys, key, period)
		if err != nil {
			return Signaling{}, err
		}
		sd := key.Systems[sys]
		hk := HLSKey{System: sys, Method: hlsMethod(scheme), KeyFormatVersions: "1"}
		switch sys {
		case Widevine:
			sig.DASH = append(sig.DASH, ContentProtection{System: sys, SchemeIDURI: "urn:uuid:" + SystemIDWidevine.String(),
				Value: "Widevine", DefaultKID: dk, PSSH: b64(pssh), ExtraXML: sd.ContentProtectionData})
			hk.KeyFormat, hk.URI = KeyFormatWidevine, "data:text/plain;base64,"+b64(pssh)
		case PlayReady:
			pro, err := playReadyPRO(o, scheme, key)
			if err != nil {
				return Signaling{}, err
			}
			sig.DASH = append(sig.DASH, ContentProtection{System: sys, SchemeIDURI: "urn:uuid:" + SystemIDPlayReady.String(),
				Value: "MSPR 2.0", DefaultKID: dk, PSSH: b64(pssh), PRO: b64(pro), LicenseURL: o.PlayReadyLAURL, ExtraXML: sd.ContentProtectionData})
			hk.KeyFormat, hk.URI = KeyFormatPlayReady, "data:text/plain;charset=UTF-16;base64,"+b64(pro)
		case FairPlay:
			uri, err := FairPlayURI(o.FairPlayURI, key.KID)
			if err != nil {
				return Signaling{}, err
			}
			hk.KeyFormat, hk.URI = KeyFormatFairPlay, uri
		case ClearKey:
			// DASH: only the DASH-IF ClearKey element (DASH-IF IOP 4.3
			// 7.6.2.4), with dashif:laurl and no cenc:pssh; the W3C common
			// pssh travels in the init segment (and the moofs). Players
			// build "keyids" init data from cenc:default_KID. A second
			// element with the common system ID 1077efec… and cenc:pssh
			// breaks dash.js 5.2.1: it ranks that element first when the
			// app configures a license URL and passes its pssh box to
			// generateRequest as "keyids" JSON, which Chromium rejects with
			// a TypeError ("Error generating key request").
			sig.DASH = append(sig.DASH, ContentProtection{System: sys, SchemeIDURI: "urn:uuid:" + SystemIDClearKeyDASHIF.String(),
				Value: "ClearKey1.0", DefaultKID: dk, LicenseURL: o.ClearKeyLAURL, ExtraXML: sd.ContentProtectionData})
			hk.KeyFormat, hk.URI = KeyFormatClearKey, ClearKeyHLSURI(key.KID)
		}
		if sd.URIExtXKey != "" {
			hk.URI = sd.URIExtXKey
		}
		hk.Media, hk.Multivariant = sd.HLSSignalingMedia, sd.HLSSignalingMaster
		sig.HLS = append(sig.HLS, hk)
	}
	return sig, nil
}

// ClearKeyHLSURI returns the EXT-X-KEY URI for KEYFORMAT "org.w3.clearkey":
// a data URI holding the 16 KID bytes. HLS defines no ClearKey key format;
// hls.js (the player that implements it, src/loader/level-key.ts) reads the
// first 16 bytes of the data URI as the KID and waits for that KID in the
// ClearKey session's key statuses. It takes the init data for the license
// request from the init segment's common pssh (the "encrypted" event), so
// ClearKey HLS needs pssh boxes in the init segment (Config.OmitPSSH off).
// A pssh box in the URI made hls.js look up its first 16 bytes (size, type,
// version and half the system ID) as the KID and fail with key status
// "internal-error" after one successful license call.
func ClearKeyHLSURI(kid KID) string {
	return "data:text/plain;base64," + base64.StdEncoding.EncodeToString(kid[:])
}

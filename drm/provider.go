package drm

import (
	"context"
	"fmt"
	"strings"

	"github.com/cmafkit/cmafkit/segment"
)

// Scheme is a Common Encryption protection scheme (the schm scheme_type).
type Scheme string

// Supported schemes.
const (
	// SchemeCENC is AES-128 CTR; video uses subsample encryption.
	SchemeCENC Scheme = "cenc"
	// SchemeCBCS is AES-128 CBC with a constant IV; video uses the 1:9
	// pattern on subsamples, audio whole blocks of the full sample.
	SchemeCBCS Scheme = "cbcs"
	// SchemeCENS is AES-128 CTR with pattern encryption (ISO/IEC 23001-7
	// §10.3): video encrypts one 16-byte block in ten (1:9) of each
	// subsample's protected range, the counter advancing over encrypted
	// blocks only; audio is whole-sample CTR, as in cenc. Each sample has
	// its own IV. DASH signals it; HLS defines no METHOD for it, and
	// FairPlay, PlayReady and AV1 do not support it.
	SchemeCENS Scheme = "cens"
	// SchemeCBC1 is AES-128 CBC over whole 16-byte blocks without a pattern
	// (ISO/IEC 23001-7 §10.2): one CBC chain per sample, starting from the
	// sample's own 16-byte IV and running on across its subsamples' protected
	// ranges; a trailing partial block stays clear. Support is as for
	// SchemeCENS.
	SchemeCBC1 Scheme = "cbc1"
	// SchemeAES128 is not Common Encryption but HLS whole-segment
	// encryption of MPEG-TS segments (RFC 8216 5.2, METHOD=AES-128:
	// AES-128-CBC with PKCS7 padding, the IV the media sequence number). It
	// appears only in a Protection for HLS, with no KID and one
	// SystemSignaling of no DRM system whose KeyURI is the key's URI;
	// TrackProtector does not use it.
	SchemeAES128 Scheme = "aes-128"
	// SchemeSampleAES is not Common Encryption either but HLS sample
	// encryption of MPEG-TS segments (RFC 8216 4.3.2.4 METHOD=SAMPLE-AES
	// with Apple's MPEG-2 Stream Encryption Format: H.264 slices and AAC
	// frames encrypted with AES-128-CBC inside the TS, the IV the media
	// sequence number). Like SchemeAES128 it appears only in a Protection
	// for HLS, with one SystemSignaling of no DRM system whose KeyURI is the
	// key's URI.
	SchemeSampleAES Scheme = "sample-aes"
)

// ParseScheme accepts "cenc", "cbcs", "cens" or "cbc1" (case-insensitive).
func ParseScheme(s string) (Scheme, error) {
	switch v := Scheme(strings.ToLower(strings.TrimSpace(s))); v {
	case SchemeCENC, SchemeCBCS, SchemeCENS, SchemeCBC1:
		return v, nil
	}
	return "", &SchemeError{Scheme: Scheme(s), Reason: "want cenc, cbcs, cens or cbc1"}
}

// commonEncryption reports whether s is one of the four Common Encryption
// schemes.
func (s Scheme) commonEncryption() bool {
	switch s {
	case SchemeCENC, SchemeCBCS, SchemeCENS, SchemeCBC1:
		return true
	}
	return false
}

// counterMode reports whether s encrypts with AES-CTR (cenc, cens), where a
// key and IV shared by two tracks would reuse keystream.
func (s Scheme) counterMode() bool { return s == SchemeCENC || s == SchemeCENS }

// patterned reports whether s applies pattern encryption to video (cbcs,
// cens), with a version 1 tenc.
func (s Scheme) patterned() bool { return s == SchemeCBCS || s == SchemeCENS }

// TrackClass is the key class of a track: content owners commonly require a
// different key for audio and for each video quality tier.
type TrackClass string

// Track classes.
const (
	ClassAudio    TrackClass = "AUDIO"
	ClassSD       TrackClass = "SD"
	ClassHD       TrackClass = "HD"
	ClassUHD      TrackClass = "UHD"
	ClassText     TrackClass = "TEXT"
	ClassAllTypes TrackClass = "" // no particular class
)

// Thresholds split video into SD, HD and UHD by pixel count (width*height).
// The zero value uses the defaults: HD from 1280x720 (921600 pixels), UHD
// above 1920x1080 (from 2073601 pixels).
type Thresholds struct {
	HDMinPixels  int
	UHDMinPixels int
}

// Classify returns the class of a track.
func (t Thresholds) Classify(kind segment.Kind, width, height int) TrackClass {
	switch kind {
	case segment.KindAudio:
		return ClassAudio
	case segment.KindText:
		return ClassText
	case segment.KindVideo:
		hd, uhd := t.HDMinPixels, t.UHDMinPixels
		if hd <= 0 {
			hd = 1280 * 720
		}
		if uhd <= 0 {
			uhd = 1920*1080 + 1
		}
		switch p := width * height; {
		case p >= uhd:
			return ClassUHD
		case p >= hd:
			return ClassHD
		default:
			return ClassSD
		}
	}
	return ClassAllTypes
}

// KeyRequest describes the track (and crypto period) a key is wanted for.
type KeyRequest struct {
	Kind  segment.Kind
	Class TrackClass
	// Width and Height are the video resolution; Channels the audio channel
	// count; Bitrate in bit/s if known. CPIX usage-rule filters use them.
	Width, Height, Channels, Bitrate int
	// Period is the crypto period index (0 without key rotation).
	Period int
	// Track names the track, for providers that choose keys per track
	// (TrackOptions.Name; empty from NewTrackProtector).
	Track string
}

// KeyProvider supplies content keys. Implementations must be safe for
// concurrent use and return the same key for the same request.
type KeyProvider interface {
	ContentKey(ctx context.Context, req KeyRequest) (ContentKey, error)
}

// StaticKeys is a KeyProvider with fixed keys. Keys are looked up by class,
// falling back to Default. Each entry is a list with one key per crypto
// period; period p uses entry p modulo its length, so a single key serves
// every period.
type StaticKeys struct {
	Default []ContentKey
	ByClass map[TrackClass][]ContentKey
}

// ContentKey implements KeyProvider.
func (s *StaticKeys) ContentKey(ctx context.Context, req KeyRequest) (ContentKey, error) {
	if err := ctx.Err(); err != nil {
		return ContentKey{}, err
	}
	keys := s.ByClass[req.Class]
	if len(keys) == 0 {
		keys = s.Default
	}
	if len(keys) == 0 {
		return ContentKey{}, fmt.Errorf("drm: static keys: class %q period %d: %w", req.Class, req.Period, ErrNoKey)
	}
	if req.Period < 0 {
		return ContentKey{}, fmt.Errorf("drm: static keys: negative period %d: %w", req.Period, ErrNoKey)
	}
	return keys[req.Period%len(keys)], nil
}

// ParseKeyPairs parses the CLI form "KIDHEX:KEYHEX[,KIDHEX:KEYHEX...]" (each
// side in any ParseKID/ParseKey form except that UUIDs contain no colon).
func ParseKeyPairs(s string) ([]ContentKey, error) {
	var out []ContentKey
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		kidS, keyS, ok := strings.Cut(part, ":")
		if !ok {
			return nil, fmt.Errorf("drm: key pair %d: want KID:KEY: %w", len(out)+1, ErrMalformed)
		}
		kid, err := ParseKID(kidS)
		if err != nil {
			return nil, fmt.Errorf("drm: key pair %d: %w", len(out)+1, err)
		}
		key, err := ParseKey(keyS)
		if err != nil {
			return nil, fmt.Errorf("drm: key pair %d: %w", len(out)+1, err)
		}
		out = append(out, ContentKey{KID: kid, Key: key})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("drm: no key pairs: %w", ErrNoKey)
	}
	return out, nil
}

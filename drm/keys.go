package drm

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// KID is a 16-byte key identifier. It is not secret. Its String form is the
// lowercase UUID form used by DASH (cenc:default_KID) and CPIX.
type KID [16]byte

// ParseKID parses a KID given as 32 hex digits, a UUID (with dashes, optionally
// in braces or with a "urn:uuid:" prefix) or standard/URL base64 of 16 bytes.
func ParseKID(s string) (KID, error) {
	var k KID
	b, err := parse16(s, "KID")
	if err != nil {
		return k, err
	}
	copy(k[:], b)
	return k, nil
}

// MustParseKID is like ParseKID but panics on error. It is meant for
// constants in tests and examples only.
func MustParseKID(s string) KID {
	k, err := ParseKID(s)
	if err != nil {
		panic(err)
	}
	return k
}

// NewKID returns a random KID (a version 4 UUID) read from crypto/rand.
func NewKID() (KID, error) {
	var k KID
	if _, err := io.ReadFull(rand.Reader, k[:]); err != nil {
		return k, fmt.Errorf("drm: random KID: %w", err)
	}
	k[6] = k[6]&0x0f | 0x40
	k[8] = k[8]&0x3f | 0x80
	return k, nil
}

// String returns the UUID form, e.g. "10000000-1000-1000-1000-100000000001".
func (k KID) String() string {
	h := hex.EncodeToString(k[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// Hex returns the 32 lowercase hex digits.
func (k KID) Hex() string { return hex.EncodeToString(k[:]) }

// Base64 returns standard base64 of the 16 bytes (big-endian, as in tenc).
func (k KID) Base64() string { return base64.StdEncoding.EncodeToString(k[:]) }

// Base64URL returns unpadded URL-safe base64, as used in ClearKey JSON (JWK "kid").
func (k KID) Base64URL() string { return base64.RawURLEncoding.EncodeToString(k[:]) }

// PlayReadyGUID returns the KID in PlayReady's byte order: a GUID whose first
// three fields (4, 2 and 2 bytes) are little-endian.
func (k KID) PlayReadyGUID() [16]byte {
	g := k
	g[0], g[1], g[2], g[3] = k[3], k[2], k[1], k[0]
	g[4], g[5] = k[5], k[4]
	g[6], g[7] = k[7], k[6]
	return g
}

// IsZero reports whether all bytes are zero.
func (k KID) IsZero() bool { return k == KID{} }

// MarshalText implements encoding.TextMarshaler with the UUID form.
func (k KID) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler accepting every ParseKID form.
func (k *KID) UnmarshalText(b []byte) error {
	v, err := ParseKID(string(b))
	if err != nil {
		return err
	}
	*k = v
	return nil
}

// Key is a 16-byte AES-128 content key. Its secret never appears in String,
// any fmt verb, slog output, text/JSON marshaling or errors; use Secret to
// read it deliberately.
type Key struct {
	b   [16]byte
	set bool
}

// ParseKey parses a key given as 32 hex digits or base64 of 16 bytes.
func ParseKey(s string) (Key, error) {
	b, err := parse16(s, "key")
	if err != nil {
		return Key{}, err
	}
	return KeyFromBytes(b)
}

// KeyFromBytes copies a 16-byte key.
func KeyFromBytes(b []byte) (Key, error) {
	if len(b) != 16 {
		return Key{}, &KeyLengthError{What: "key", Got: len(b), Want: "16"}
	}
	var k Key
	copy(k.b[:], b)
	k.set = true
	return k, nil
}

// NewKey returns a random key read from crypto/rand.
func NewKey() (Key, error) {
	var k Key
	if _, err := io.ReadFull(rand.Reader, k.b[:]); err != nil {
		return Key{}, fmt.Errorf("drm: random key: %w", err)
	}
	k.set = true
	return k, nil
}

// Secret returns a copy of the 16 key bytes.
func (k Key) Secret() []byte {
	b := k.b
	return b[:]
}

// IsZero reports whether the key was never set.
func (k Key) IsZero() bool { return !k.set }

// Equal reports whether two keys hold the same bytes.
func (k Key) Equal(o Key) bool { return k.set == o.set && k.b == o.b }

const redacted = "[REDACTED]"

// String returns "[REDACTED]" (or "[unset]").
func (k Key) String() string {
	if !k.set {
		return "[unset]"
	}
	return redacted
}

// GoString returns a redacted Go-syntax representation.
func (k Key) GoString() string { return "drm.Key{" + k.String() + "}" }

// Format implements fmt.Formatter so that every verb (%v %x %X %s %q %#v ...)
// prints the redacted form.
func (k Key) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = io.WriteString(f, k.GoString())
		return
	}
	_, _ = io.WriteString(f, k.String())
}

// LogValue implements slog.LogValuer.
func (k Key) LogValue() slog.Value { return slog.StringValue(k.String()) }

// MarshalText implements encoding.TextMarshaler with the redacted form, so
// that structs holding keys can be logged as JSON without leaking them.
func (k Key) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// IV is an initialization vector: 8 or 16 bytes for cenc (the per-sample IV
// of the first sample; CMAF prefers 8), 16 bytes for cbcs (the constant IV).
type IV []byte

// ParseIV parses 16 or 32 hex digits, optionally prefixed with "0x".
func ParseIV(s string) (IV, error) {
	t := strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(s), "0x"), "0X")
	b, err := hex.DecodeString(t)
	if err != nil || (len(b) != 8 && len(b) != 16) {
		n := len(b)
		if err != nil {
			return nil, &KeyLengthError{What: "IV", Got: len(s), Want: "8 or 16", Text: true}
		}
		return nil, &KeyLengthError{What: "IV", Got: n, Want: "8 or 16"}
	}
	return IV(b), nil
}

// NewIV returns n (8 or 16) random bytes from crypto/rand.
func NewIV(n int) (IV, error) {
	if n != 8 && n != 16 {
		return nil, &KeyLengthError{What: "IV", Got: n, Want: "8 or 16"}
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(rand.Reader, b); err != nil {
		return nil, fmt.Errorf("drm: random IV: %w", err)
	}
	return IV(b), nil
}

// String returns "0x" followed by lowercase hex, the HLS attribute form.
func (iv IV) String() string { return "0x" + hex.EncodeToString(iv) }

// ContentKey is one content key with its identifier and optional data a key
// server supplied for DRM systems.
type ContentKey struct {
	KID KID
	Key Key
	// IV, if set, is the explicit IV for this key (CPIX explicitIV).
	IV IV
	// Systems holds key-server-supplied signaling per DRM system, e.g. a
	// Widevine PSSH signed by the license service. When present it is used
	// instead of the data this package would build.
	Systems map[System]SystemData
}

// LogValue implements slog.LogValuer; the key is redacted.
func (c ContentKey) LogValue() slog.Value {
	return slog.GroupValue(slog.String("kid", c.KID.String()), slog.String("key", c.Key.String()))
}

// SystemData is DRM-system data from a key server (CPIX DRMSystem element).
type SystemData struct {
	// PSSH is a complete pssh box.
	PSSH []byte
	// ContentProtectionData is XML to place inside a DASH ContentProtection
	// element (CPIX ContentProtectionData, decoded from base64).
	ContentProtectionData string
	// URIExtXKey is the URI attribute for an HLS EXT-X-KEY tag.
	URIExtXKey string
	// HLSSignalingData holds complete EXT-X-KEY (media) and EXT-X-SESSION-KEY
	// (master) lines, if the key server supplied them.
	HLSSignalingMedia, HLSSignalingMaster string
}

// parse16 decodes hex (32 digits), UUID (36 characters with dashes) or base64
// (standard or URL, padded or not) into 16 bytes.
func parse16(s, what string) ([]byte, error) {
	t := strings.TrimSpace(s)
	t = strings.TrimPrefix(strings.TrimPrefix(t, "urn:uuid:"), "0x")
	t = strings.TrimSuffix(strings.TrimPrefix(t, "{"), "}")
	switch {
	case len(t) == 36 && t[8] == '-' && t[13] == '-' && t[18] == '-' && t[23] == '-':
		t = t[:8] + t[9:13] + t[14:18] + t[19:23] + t[24:] // a dash elsewhere fails to decode
		fallthrough
	case len(t) == 32:
		if b, err := hex.DecodeString(t); err == nil {
			return b, nil
		}
	case len(t) == 24 || len(t) == 22:
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
			if b, err := enc.DecodeString(t); err == nil && len(b) == 16 {
				return b, nil
			}
		}
	}
	return nil, &KeyLengthError{What: what, Got: len(s), Want: "16", Text: true}
}

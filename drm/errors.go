package drm

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Errors returned by this package wrap one of these; use
// errors.Is to test for them and errors.As for the typed errors below.
var (
	// ErrKeyLength means a KID, key or IV has the wrong length or encoding.
	ErrKeyLength = errors.New("bad key material length")
	// ErrKIDNotFound means a KID that is referenced (by a CPIX usage rule or
	// DRM system entry, or asked for by the caller) has no content key.
	ErrKIDNotFound = errors.New("KID not found")
	// ErrNoKey means a key provider has no key for a track class or crypto period.
	ErrNoKey = errors.New("no content key")
	// ErrUnsupportedScheme means a protection scheme other than cenc, cbcs,
	// cens or cbc1,
	// or a scheme that cannot be used with a codec or DRM system.
	ErrUnsupportedScheme = errors.New("unsupported protection scheme")
	// ErrUnsupportedCodec means the sample entry cannot be encrypted.
	ErrUnsupportedCodec = errors.New("codec cannot be encrypted")
	// ErrNoParameterSets means a slice header could not be located because the
	// SPS/PPS it references is neither in the sample entry nor in-band before it.
	ErrNoParameterSets = errors.New("parameter sets unavailable")
	// ErrMalformed means input (a sample, a box layout, a CPIX document) is
	// inconsistent.
	ErrMalformed = errors.New("malformed input")
	// ErrUnsupported means a valid but unsupported layout (for example a
	// multi-track init segment or an mdat whose data is not in memory).
	ErrUnsupported = errors.New("unsupported")
)

// KeyLengthError reports key material of the wrong size. It never contains
// the material itself.
type KeyLengthError struct {
	What string // "KID", "key" or "IV"
	Got  int    // length in bytes (or characters when Text is set)
	Want string // e.g. "16" or "8 or 16"
	Text bool   // Got counts characters of an unparsable string
}

func (e *KeyLengthError) Error() string {
	if e.Text {
		return fmt.Sprintf("drm: %s: cannot parse %d characters as hex, UUID or base64 of %s bytes", e.What, e.Got, e.Want)
	}
	return fmt.Sprintf("drm: %s: got %d bytes, want %s", e.What, e.Got, e.Want)
}

// Unwrap returns ErrKeyLength.
func (e *KeyLengthError) Unwrap() error { return ErrKeyLength }

// KIDNotFoundError names a KID that has no content key and where it was asked for.
type KIDNotFoundError struct {
	KID   KID
	Where string // e.g. "ContentKeyUsageRule", "DRMSystem", "StaticKeys"
}

func (e *KIDNotFoundError) Error() string {
	return fmt.Sprintf("drm: %s: KID %s not found in content keys", e.Where, e.KID)
}

// Unwrap returns ErrKIDNotFound.
func (e *KIDNotFoundError) Unwrap() error { return ErrKIDNotFound }

// SchemeError reports a scheme that cannot be used with a codec or a DRM
// system, e.g. cbcs for a codec without subsample support, or FairPlay with cenc.
type SchemeError struct {
	Scheme Scheme
	Codec  string // sample entry type, if the codec is the reason
	System System // DRM system, if the system is the reason
	Reason string
}

func (e *SchemeError) Error() string {
	msg := fmt.Sprintf("drm: scheme %q", string(e.Scheme))
	if e.Codec != "" {
		msg += fmt.Sprintf(" with codec %q", e.Codec)
	}
	if e.System != "" {
		msg += fmt.Sprintf(" with DRM system %s", e.System)
	}
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	return msg
}

// Unwrap returns ErrUnsupportedScheme.
func (e *SchemeError) Unwrap() error { return ErrUnsupportedScheme }

// SampleError locates a problem in one sample of a fragment.
type SampleError struct {
	Track    uint32 // track ID
	Sequence uint32 // mfhd sequence number of the fragment
	Sample   int    // 1-based sample number within the fragment
	Err      error
}

func (e *SampleError) Error() string {
	return fmt.Sprintf("drm: track %d fragment %d sample %d: %v", e.Track, e.Sequence, e.Sample, e.Err)
}

// Unwrap returns the underlying error.
func (e *SampleError) Unwrap() error { return e.Err }

// PlaceholderError reports a URI template (see FairPlayURI) with a
// placeholder this package does not know.
type PlaceholderError struct {
	Template    string
	Placeholder string // e.g. "{kid}"
}

func (e *PlaceholderError) Error() string {
	return fmt.Sprintf("drm: URI template %q: unknown placeholder %q (want one of %s)", e.Template, e.Placeholder, strings.Join(FairPlayURIPlaceholders(), ", "))
}

// Unwrap returns ErrMalformed.
func (e *PlaceholderError) Unwrap() error { return ErrMalformed }

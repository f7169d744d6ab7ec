package hls

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/cmafkit/cmafkit/drm"
	"github.com/cmafkit/cmafkit/manifest"
)

// ErrText means a string from the model cannot be written in a playlist: a
// quoted-string attribute holding '"', or any value holding a line break.
var ErrText = errors.New("hls: value cannot be written in a playlist")

// writer appends playlist text to a buffer. The first problem is kept in
// err; later calls still append so callers check once at the end.
type writer struct {
	b   []byte
	err error
}

func (w *writer) fail(format string, args ...any) {
	if w.err == nil {
		w.err = fmt.Errorf(format, args...)
	}
}

func (w *writer) str(s string) { w.b = append(w.b, s...) }

func (w *writer) line(s string) {
	w.b = append(w.b, s...)
	w.b = append(w.b, '\n')
}

func (w *writer) uint(v uint64) { w.b = strconv.AppendUint(w.b, v, 10) }

// uriLine writes a URI line; line breaks would start a new tag.
func (w *writer) uriLine(uri string) {
	if uri == "" || strings.ContainsAny(uri, "\r\n") {
		w.fail("%w: URI %q", ErrText, uri)
	}
	w.line(uri)
}

// quoted writes ,NAME="value" (no comma when first). RFC 8216 4.2: a
// quoted-string cannot contain '"', CR or LF, and there is no escape.
func (w *writer) quoted(first bool, name, value string) {
	if strings.ContainsAny(value, "\"\r\n") {
		w.fail("%w: %s=%q", ErrText, name, value)
	}
	if !first {
		w.b = append(w.b, ',')
	}
	w.b = append(w.b, name...)
	w.b = append(w.b, '=', '"')
	w.b = append(w.b, value...)
	w.b = append(w.b, '"')
}

// enum writes ,NAME=VALUE for an enumerated string or a number.
func (w *writer) enum(first bool, name, value string) {
	if !first {
		w.b = append(w.b, ',')
	}
	w.b = append(w.b, name...)
	w.b = append(w.b, '=')
	w.b = append(w.b, value...)
}

func (w *writer) num(name string, v uint64) {
	w.b = append(w.b, ',')
	w.b = append(w.b, name...)
	w.b = append(w.b, '=')
	w.b = strconv.AppendUint(w.b, v, 10)
}

func yesNo(b bool) string {
	if b {
		return "YES"
	}
	return "NO"
}

// appendSeconds appends ticks/timescale as a decimal number of seconds with
// up to nine fraction digits (nanoseconds) and at least three, trailing
// zeros trimmed. Durations that are a whole number of nanoseconds (every
// usual timescale's 1001-based video durations, 48 kHz audio frames at
// 2 s) come out exact; others are off by under half a nanosecond, so that
// even 100 000 EXTINF values sum to within 0.05 ms of the true duration.
func appendSeconds(b []byte, ticks uint64, timescale uint32) []byte {
	ts := uint64(timescale)
	whole := ticks / ts
	frac := ticks % ts
	// frac < ts < 2^32, so frac*2e9 fits in 64 bits.
	ns := (frac*2_000_000_000/ts + 1) / 2
	if ns >= 1_000_000_000 {
		whole++
		ns -= 1_000_000_000
	}
	b = strconv.AppendUint(b, whole, 10)
	b = append(b, '.')
	var digits [9]byte
	for i := 8; i >= 0; i-- {
		digits[i] = byte('0' + ns%10)
		ns /= 10
	}
	n := 9
	for n > 3 && digits[n-1] == '0' {
		n--
	}
	return append(b, digits[:n]...)
}

// roundSeconds rounds ticks/timescale to the nearest whole second, halves
// up, as RFC 8216 4.3.3.1 compares EXTINF with EXT-X-TARGETDURATION.
func roundSeconds(ticks uint64, timescale uint32) uint64 {
	ts := uint64(timescale)
	return (2*ticks + ts) / (2 * ts)
}

// method maps a protection scheme to the EXT-X-KEY METHOD (RFC 8216bis
// 4.4.4.4): for fMP4 segments cbcs is SAMPLE-AES, cenc SAMPLE-AES-CTR; for
// MPEG-TS segments aes-128 is AES-128 and sample-aes SAMPLE-AES. cens and
// cbc1 have no METHOD: it returns "" for them.
func method(s drm.Scheme) string {
	switch s {
	case drm.SchemeCENC:
		return "SAMPLE-AES-CTR"
	case drm.SchemeAES128:
		return "AES-128" // whole MPEG-TS segments, IV from the media sequence number
	case drm.SchemeCBCS, drm.SchemeSampleAES:
		return "SAMPLE-AES"
	}
	return ""
}

// ErrScheme is wrapped by the error for a protection scheme HLS cannot
// signal: cens and cbc1 (RFC 8216bis defines SAMPLE-AES for cbcs and
// SAMPLE-AES-CTR for cenc only).
var ErrScheme = fmt.Errorf("hls: no EXT-X-KEY METHOD for the protection scheme: %w", manifest.ErrUnsupported)

// keyAttrs writes the attribute list shared by EXT-X-KEY and
// EXT-X-SESSION-KEY for one DRM system and the key kid: METHOD, URI (the
// system's KeyURI or one made from its data), KEYFORMAT and
// KEYFORMATVERSIONS. For fMP4 the IV is in the segments (tenc, senc).
func (w *writer) keyAttrs(scheme drm.Scheme, kid drm.KID, s *drm.SystemSignaling) {
	uri, format := s.KeyURI, ""
	b64 := base64.StdEncoding.EncodeToString
	switch s.System {
	case drm.Widevine:
		format = "urn:uuid:" + drm.SystemIDWidevine.String()
		if uri == "" && len(s.PSSH) > 0 {
			uri = "data:text/plain;base64," + b64(s.PSSH)
		}
	case drm.PlayReady:
		format = "com.microsoft.playready"
		if uri == "" && len(s.PlayReadyObject) > 0 {
			uri = "data:text/plain;charset=UTF-16;base64," + b64(s.PlayReadyObject)
		}
	case drm.FairPlay:
		format = "com.apple.streamingkeydelivery"
		if uri == "" {
			uri = "skd://" + kid.Hex()
		}
	case drm.ClearKey:
		format = "org.w3.clearkey"
		if uri == "" {
			uri = clearKeyURI(kid)
		}
	}
	if uri == "" {
		w.fail("%w: no key URI for %q", ErrText, s.System)
	}
	m := method(scheme)
	if m == "" {
		w.fail("%w: %q", ErrScheme, scheme)
		return
	}
	w.enum(true, "METHOD", m)
	w.quoted(false, "URI", uri)
	if len(s.IV) == 16 {
		w.str(",IV=0x" + hex.EncodeToString(s.IV))
	}
	if format != "" { // none for a key of no DRM system (AES-128)
		w.quoted(false, "KEYFORMAT", format)
		w.quoted(false, "KEYFORMATVERSIONS", "1")
	}
}

// clearKeyURI returns the EXT-X-KEY URI for KEYFORMAT "org.w3.clearkey":
// a data URI holding the 16 KID bytes. HLS defines no ClearKey key format;
// hls.js (the player that implements it, src/loader/level-key.ts) reads the
// first 16 bytes of the data URI as the KID and waits for that KID in the
// ClearKey session's key statuses. It takes the init data for the license
// request from the init segment's common pssh (the "encrypted" event), so
// ClearKey HLS needs pssh boxes in the init segment (drm.Config.OmitPSSH
// off). A pssh box in the URI made hls.js look up its first 16 bytes (size,
// type, version and half the system ID) as the KID and fail with key
// status "internal-error" after one successful license call.
func clearKeyURI(kid drm.KID) string {
	return "data:text/plain;base64," + base64.StdEncoding.EncodeToString(kid[:])
}

// keys writes one EXT-X-KEY line per DRM system for the key kid, or the
// system's own media playlist lines (HLSMedia).
func (w *writer) keys(scheme drm.Scheme, kid drm.KID, systems []drm.SystemSignaling) {
	for i := range systems {
		s := &systems[i]
		if s.HLSMedia != "" {
			w.tags(s.HLSMedia)
			continue
		}
		w.str("#EXT-X-KEY:")
		w.keyAttrs(scheme, kid, s)
		w.b = append(w.b, '\n')
	}
}

// sessionKey returns the multivariant playlist lines of one system: its
// EXT-X-SESSION-KEY, or its own lines (HLSMultivariant), or none when it
// has media playlist lines of its own only.
func sessionKey(scheme drm.Scheme, kid drm.KID, s *drm.SystemSignaling) (string, error) {
	w := &writer{}
	switch {
	case s.HLSMultivariant != "":
		w.tags(s.HLSMultivariant)
	case s.HLSMedia != "":
	default:
		w.str("#EXT-X-SESSION-KEY:")
		w.keyAttrs(scheme, kid, s)
		w.b = append(w.b, '\n')
	}
	return string(w.b), w.err
}

// tags writes lines given verbatim (a key server's HLSSignalingData), one
// per line of text, CRLF or LF, blank lines left out. Each must be a tag or
// comment: a line without '#' would be read as a segment URI.
func (w *writer) tags(text string) {
	for line := range strings.Lines(text) {
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			continue
		}
		if line[0] != '#' || strings.ContainsRune(line, '\r') {
			w.fail("%w: key tag line %q", ErrText, line)
		}
		w.line(line)
	}
}

// protectionOf returns the protection that applies to r in set.
func protectionOf(set *manifest.SwitchingSet, r *manifest.Representation) *drm.Protection {
	if r.Protection != nil {
		return r.Protection
	}
	return set.Protection
}

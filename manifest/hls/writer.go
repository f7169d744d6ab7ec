package hls

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

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

// method maps a protection scheme to the EXT-X-KEY METHOD for fMP4
// segments (RFC 8216bis 4.4.4.4): cbcs is SAMPLE-AES, cenc SAMPLE-AES-CTR.
func method(s manifest.Scheme) string {
	switch s {
	case manifest.CENC:
		return "SAMPLE-AES-CTR"
	case manifest.AES128:
		return "AES-128" // whole MPEG-TS segments, IV from the media sequence number
	}
	return "SAMPLE-AES"
}

// keyAttrs writes the attribute list shared by EXT-X-KEY and
// EXT-X-SESSION-KEY.
func (w *writer) keyAttrs(scheme manifest.Scheme, k *manifest.HLSKey) {
	w.enum(true, "METHOD", method(scheme))
	w.quoted(false, "URI", k.URI)
	if k.KeyFormat != "" {
		w.quoted(false, "KEYFORMAT", k.KeyFormat)
	}
	if k.KeyFormatVersions != "" {
		w.quoted(false, "KEYFORMATVERSIONS", k.KeyFormatVersions)
	}
}

// keys writes one EXT-X-KEY line per system signalled in HLS, or the
// system's own media playlist lines (HLSKey.Media).
func (w *writer) keys(scheme manifest.Scheme, systems []manifest.DRMSystem) {
	for i := range systems {
		k := systems[i].HLS
		switch {
		case k == nil:
		case k.Media != "":
			w.tags(k.Media)
		default:
			w.str("#EXT-X-KEY:")
			w.keyAttrs(scheme, k)
			w.b = append(w.b, '\n')
		}
	}
}

// sessionKey returns the multivariant playlist lines of one system: its
// EXT-X-SESSION-KEY, or its own lines (HLSKey.Multivariant), or none when
// it has media playlist lines of its own only.
func sessionKey(scheme manifest.Scheme, k *manifest.HLSKey) (string, error) {
	w := &writer{}
	switch {
	case k.Multivariant != "":
		w.tags(k.Multivariant)
	case k.Media != "":
	default:
		w.str("#EXT-X-SESSION-KEY:")
		w.keyAttrs(scheme, k)
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

// hlsKeys returns the systems of pi that are signalled in HLS.
func hlsKeys(pi *manifest.ProtectionInfo) []*manifest.DRMSystem {
	if pi == nil {
		return nil
	}
	var out []*manifest.DRMSystem
	for i := range pi.Systems {
		if pi.Systems[i].HLS != nil {
			out = append(out, &pi.Systems[i])
		}
	}
	return out
}

// protectionOf returns the protection that applies to r in set.
func protectionOf(set *manifest.SwitchingSet, r *manifest.Representation) *manifest.ProtectionInfo {
	if r.Protection != nil {
		return r.Protection
	}
	return set.Protection
}

package drm

import (
	"crypto/aes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"html"
	"strings"
	"unicode/utf16"
)

// System is a DRM system this package can signal.
type System string

// DRM systems.
const (
	Widevine  System = "widevine"
	PlayReady System = "playready"
	FairPlay  System = "fairplay"
	ClearKey  System = "clearkey"
)

// ParseSystems parses a comma-separated list such as "widevine,playready".
func ParseSystems(s string) ([]System, error) {
	var out []System
	seen := map[System]bool{}
	for _, p := range strings.Split(s, ",") {
		p = strings.ToLower(strings.TrimSpace(p))
		if p == "" {
			continue
		}
		sys := System(p)
		switch sys {
		case Widevine, PlayReady, FairPlay, ClearKey:
		default:
			return nil, fmt.Errorf("drm: unknown DRM system %q (want widevine, playready, fairplay or clearkey): %w", p, ErrUnsupported)
		}
		if !seen[sys] {
			seen[sys] = true
			out = append(out, sys)
		}
	}
	return out, nil
}

// System IDs (DASH-IF registry).
var (
	SystemIDWidevine  = MustParseKID("edef8ba9-79d6-4ace-a3c8-27dcd51d21ed")
	SystemIDPlayReady = MustParseKID("9a04f079-9840-4286-ab92-e65be0885f95")
	SystemIDFairPlay  = MustParseKID("94ce86fb-07ff-4f43-adb8-93d2fa968ca2")
	// SystemIDCommon is the W3C "Common PSSH" system used by ClearKey in EME.
	SystemIDCommon = MustParseKID("1077efec-c0b2-4d02-ace3-3c1e52e2fb4b")
	// SystemIDClearKeyDASHIF is the DASH-IF ClearKey system (laurl signaling).
	SystemIDClearKeyDASHIF = MustParseKID("e2719d58-a985-b3c9-781a-b030af78d30e")
)

// SystemID returns the protection system ID written in pssh boxes and
// DASH schemeIdUri for a system (W3C common for ClearKey).
func (s System) SystemID() KID {
	switch s {
	case Widevine:
		return SystemIDWidevine
	case PlayReady:
		return SystemIDPlayReady
	case FairPlay:
		return SystemIDFairPlay
	case ClearKey:
		return SystemIDCommon
	}
	return KID{}
}

// PSSHBox returns a complete pssh box (ISO/IEC 23001-7 §8.1). Version 0 omits
// the KID list; version 1 carries kids.
func PSSHBox(version byte, systemID KID, kids []KID, data []byte) ([]byte, error) {
	if version > 1 {
		return nil, fmt.Errorf("drm: pssh version %d: %w", version, ErrUnsupported)
	}
	size := 8 + 4 + 16 + 4 + len(data)
	if version == 1 {
		size += 4 + 16*len(kids)
	}
	b := make([]byte, 0, size)
	b = binary.BigEndian.AppendUint32(b, uint32(size))
	b = append(b, "pssh"...)
	b = append(b, version, 0, 0, 0)
	b = append(b, systemID[:]...)
	if version == 1 {
		b = binary.BigEndian.AppendUint32(b, uint32(len(kids)))
		for _, k := range kids {
			b = append(b, k[:]...)
		}
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
	b = append(b, data...)
	return b, nil
}

// PSSH is a parsed pssh box.
type PSSH struct {
	Version  byte
	SystemID KID
	KIDs     []KID // version 1 only
	Data     []byte
}

// ParsePSSH parses a complete pssh box (size, type, full box header and
// payload), such as a key server supplies. It refuses a box whose size
// field, KID count or data size does not match len(b) with ErrMalformed.
func ParsePSSH(b []byte) (PSSH, error) {
	var p PSSH
	bad := func(what string) (PSSH, error) {
		return PSSH{}, fmt.Errorf("drm: pssh box: %s: %w", what, ErrMalformed)
	}
	if len(b) < 32 {
		return bad(fmt.Sprintf("%d bytes", len(b)))
	}
	if int64(binary.BigEndian.Uint32(b)) != int64(len(b)) || string(b[4:8]) != "pssh" {
		return bad(fmt.Sprintf("header %x is not that of a %d-byte pssh box", b[:8], len(b)))
	}
	p.Version = b[8]
	if p.Version > 1 {
		return bad(fmt.Sprintf("version %d", p.Version))
	}
	copy(p.SystemID[:], b[12:28])
	rest := b[28:]
	if p.Version == 1 {
		n := uint64(binary.BigEndian.Uint32(rest))
		rest = rest[4:]
		if n*16+4 > uint64(len(rest)) {
			return bad(fmt.Sprintf("%d KIDs in %d bytes", n, len(rest)))
		}
		p.KIDs = make([]KID, n)
		for i := range p.KIDs {
			copy(p.KIDs[i][:], rest[16*i:])
		}
		rest = rest[16*n:]
	}
	if len(rest) < 4 || uint64(binary.BigEndian.Uint32(rest)) != uint64(len(rest)-4) {
		return bad("data size does not fill the box")
	}
	p.Data = rest[4:]
	return p, nil
}

// WidevineData holds the WidevinePsshData fields this package writes.
type WidevineData struct {
	KeyIDs    []KID  // field 2, repeated bytes
	Provider  string // field 3
	ContentID []byte // field 4
	// Scheme, if set, is written as protection_scheme (field 9) as the
	// big-endian fourCC value ('cenc' = 0x63656e63, 'cbcs' = 0x63626373).
	Scheme Scheme
	// CryptoPeriodIndex (field 7) is written when HasCryptoPeriod is set;
	// used with key rotation.
	CryptoPeriodIndex uint32
	HasCryptoPeriod   bool
}

// WidevinePSSHData encodes a WidevinePsshData protobuf message. Proto wire
// format is simple enough to write by hand: each field is a varint key
// (field<<3 | wiretype) followed by a varint or a length-delimited value.
func WidevinePSSHData(d WidevineData) []byte {
	var b []byte
	for _, k := range d.KeyIDs {
		b = appendPBBytes(b, 2, k[:])
	}
	if d.Provider != "" {
		b = appendPBBytes(b, 3, []byte(d.Provider))
	}
	if len(d.ContentID) > 0 {
		b = appendPBBytes(b, 4, d.ContentID)
	}
	if d.HasCryptoPeriod {
		b = appendVarint(b, 7<<3|0)
		b = appendVarint(b, uint64(d.CryptoPeriodIndex))
	}
	if d.Scheme != "" && len(d.Scheme) == 4 {
		b = appendVarint(b, 9<<3|0)
		b = appendVarint(b, uint64(binary.BigEndian.Uint32([]byte(d.Scheme))))
	}
	return b
}

func appendPBBytes(b []byte, field int, v []byte) []byte {
	b = appendVarint(b, uint64(field)<<3|2)
	b = appendVarint(b, uint64(len(v)))
	return append(b, v...)
}

func appendVarint(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }

// PlayReadyKey is one key in a PlayReady header.
type PlayReadyKey struct {
	KID KID
	// Key, if set and the algorithm is AESCTR, is used to compute CHECKSUM.
	Key Key
}

// PlayReadyHeader holds the fields of a WRMHEADER.
type PlayReadyHeader struct {
	Keys   []PlayReadyKey
	Scheme Scheme // cenc → AESCTR, cbcs → AESCBC
	LAURL  string // optional LA_URL (absolute URL)
	// CustomAttributes is inner XML placed in CUSTOMATTRIBUTES, if not empty.
	CustomAttributes string
}

// Version returns the WRMHEADER version used: "4.0.0.0" for a single AESCTR
// key (understood by every PlayReady client), "4.3.0.0" for AESCBC (cbcs) or
// several keys.
func (h PlayReadyHeader) Version() string {
	if h.Scheme == SchemeCENC && len(h.Keys) == 1 {
		return "4.0.0.0"
	}
	return "4.3.0.0"
}

// XML returns the WRMHEADER XML (without an XML declaration), following the
// PlayReady Header Specification's syntax rules (attributes in alphabetical
// order, explicit closing tags, namespace attribute first).
func (h PlayReadyHeader) XML() (string, error) {
	if len(h.Keys) == 0 {
		return "", fmt.Errorf("drm: PlayReady header without KID: %w", ErrNoKey)
	}
	var algID string
	switch h.Scheme {
	case SchemeCENC:
		algID = "AESCTR"
	case SchemeCBCS:
		algID = "AESCBC"
	default:
		return "", &SchemeError{Scheme: h.Scheme, System: PlayReady}
	}
	var sb strings.Builder
	ver := h.Version()
	sb.WriteString(`<WRMHEADER xmlns="http://schemas.microsoft.com/DRM/2007/03/PlayReadyHeader" version="` + ver + `"><DATA><PROTECTINFO>`)
	if ver == "4.0.0.0" {
		k := h.Keys[0]
		g := k.KID.PlayReadyGUID()
		sb.WriteString(`<KEYLEN>16</KEYLEN><ALGID>AESCTR</ALGID></PROTECTINFO>`)
		sb.WriteString(`<KID>` + base64.StdEncoding.EncodeToString(g[:]) + `</KID>`)
		if !k.Key.IsZero() {
			sb.WriteString(`<CHECKSUM>` + PlayReadyChecksum(k.KID, k.Key) + `</CHECKSUM>`)
		}
	} else {
		sb.WriteString(`<KIDS>`)
		for _, k := range h.Keys {
			g := k.KID.PlayReadyGUID()
			sb.WriteString(`<KID ALGID="` + algID + `"`)
			// CHECKSUM is defined for AESCTR only and must be absent with AESCBC.
			if algID == "AESCTR" && !k.Key.IsZero() {
				sb.WriteString(` CHECKSUM="` + PlayReadyChecksum(k.KID, k.Key) + `"`)
			}
			sb.WriteString(` VALUE="` + base64.StdEncoding.EncodeToString(g[:]) + `"></KID>`)
		}
		sb.WriteString(`</KIDS></PROTECTINFO>`)
	}
	if h.LAURL != "" {
		sb.WriteString(`<LA_URL>` + html.EscapeString(h.LAURL) + `</LA_URL>`)
	}
	if h.CustomAttributes != "" {
		sb.WriteString(`<CUSTOMATTRIBUTES>` + h.CustomAttributes + `</CUSTOMATTRIBUTES>`)
	}
	sb.WriteString(`</DATA></WRMHEADER>`)
	return sb.String(), nil
}

// PlayReadyChecksum is the AESCTR key checksum of the PlayReady Header
// Specification §5: the KID in PlayReady (little-endian GUID) byte order
// encrypted with the content key in AES-ECB; the first 8 bytes, base64.
func PlayReadyChecksum(kid KID, key Key) string {
	blk, _ := aes.NewCipher(key.b[:]) // 16-byte key: cannot fail
	g := kid.PlayReadyGUID()
	var out [16]byte
	blk.Encrypt(out[:], g[:])
	return base64.StdEncoding.EncodeToString(out[:8])
}

// PlayReadyObject wraps WRMHEADER XML in a PlayReady Object (PRO): a
// little-endian length and record count, then one record of type 1 holding
// the XML in UTF-16LE. This is the mspr:pro value and the pssh data.
func PlayReadyObject(wrmHeaderXML string) []byte {
	u := utf16.Encode([]rune(wrmHeaderXML))
	rec := 2 * len(u)
	total := 4 + 2 + 2 + 2 + rec
	b := make([]byte, 0, total)
	b = binary.LittleEndian.AppendUint32(b, uint32(total))
	b = binary.LittleEndian.AppendUint16(b, 1) // record count
	b = binary.LittleEndian.AppendUint16(b, 1) // record type: PlayReady Header
	b = binary.LittleEndian.AppendUint16(b, uint16(rec))
	for _, c := range u {
		b = binary.LittleEndian.AppendUint16(b, c)
	}
	return b
}

// FairPlayURI expands the skd:// URI template of FairPlay's EXT-X-KEY for
// a KID. The placeholders are:
//
//	{KID}         the KID as 32 lowercase hex digits
//	{KID_HEX}     the same
//	{KID_UUID}    the KID as a UUID (8-4-4-4-12 hex digits)
//	{KID_BASE64}  standard base64 of the 16 KID bytes
//
// They are case-sensitive. Any other {…} (or a '{' without '}') is refused
// with a *PlaceholderError. An empty template gives "skd://" followed by the
// hex KID.
func FairPlayURI(template string, kid KID) (string, error) {
	if template == "" {
		return "skd://" + kid.Hex(), nil
	}
	var b strings.Builder
	rest := template
	for {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			b.WriteString(rest)
			return b.String(), nil
		}
		b.WriteString(rest[:i])
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return "", &PlaceholderError{Template: template, Placeholder: rest[i:]}
		}
		name := rest[i : i+j+1]
		switch name {
		case "{KID}", "{KID_HEX}":
			b.WriteString(kid.Hex())
		case "{KID_UUID}":
			b.WriteString(kid.String())
		case "{KID_BASE64}":
			b.WriteString(kid.Base64())
		default:
			return "", &PlaceholderError{Template: template, Placeholder: name}
		}
		rest = rest[i+j+1:]
	}
}

// FairPlayURIPlaceholders returns the placeholders FairPlayURI replaces.
func FairPlayURIPlaceholders() []string {
	return []string{"{KID}", "{KID_HEX}", "{KID_UUID}", "{KID_BASE64}"}
}

// ClearKeyPSSH returns the W3C common-format pssh (version 1, system
// 1077efec-c0b2-4d02-ace3-3c1e52e2fb4b) listing kids; EME ClearKey clients
// read the KIDs from it.
func ClearKeyPSSH(kids []KID) []byte {
	b, _ := PSSHBox(1, SystemIDCommon, kids, nil)
	return b
}

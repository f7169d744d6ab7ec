// Package cpix reads and writes DASH-IF CPIX 2.3 (Content Protection
// Information Exchange) documents and serves their keys as a drm.KeyProvider.
//
// Supported: ContentKeyList with clear keys (pskc:PlainValue) and explicitIV,
// DRMSystemList (PSSH, ContentProtectionData, URIExtXKey, HLSSignalingData),
// ContentKeyPeriodList and ContentKeyUsageRuleList with KeyPeriodFilter,
// VideoFilter, AudioFilter, BitrateFilter and LabelFilter. Encrypted content
// keys (document key / pskc:EncryptedValue) and signatures are not supported:
// reading such a document fails with drm.ErrUnsupported.
package cpix

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/cmafkit/cmafkit/drm"
	"github.com/cmafkit/cmafkit/segment"
)

// Namespaces.
const (
	NamespaceCPIX = "urn:dashif:org:cpix"
	NamespacePSKC = "urn:ietf:params:xml:ns:keyprov:pskc"
)

// Document is a parsed CPIX document.
type Document struct {
	ContentID string
	Version   string
	Keys      []drm.ContentKey
	// Schemes holds each key's commonEncryptionScheme attribute, if any.
	Schemes  map[drm.KID]drm.Scheme
	Systems  []DRMSystem
	Periods  []Period
	Rules    []UsageRule
	keyIndex map[drm.KID]int
}

// DRMSystem is one DRMSystem element: signaling for one key and system.
type DRMSystem struct {
	KID      drm.KID
	SystemID drm.KID
	drm.SystemData
}

// Period is a ContentKeyPeriod: a crypto period for key rotation.
type Period struct {
	ID    string
	Index int // -1 when absent
}

// UsageRule is a ContentKeyUsageRule. Filters of the same type are OR-ed,
// filters of different types AND-ed; a rule without filters matches all.
type UsageRule struct {
	KID               drm.KID
	IntendedTrackType string
	PeriodIDs         []string
	Video             []VideoFilter
	Audio             []AudioFilter
	Bitrate           []Range
	Labels            []string
}

// Range is an inclusive [Min, Max] range; a missing bound is 0 / MaxInt.
type Range struct{ Min, Max int }

func (r Range) contains(v int) bool { return v >= r.Min && v <= r.Max }

// VideoFilter selects video tracks by pixel count and frame rate.
type VideoFilter struct {
	Pixels Range
	HDR    *bool
	WCG    *bool
}

// AudioFilter selects audio tracks by channel count.
type AudioFilter struct {
	Channels Range
}

// xml mapping (local names only, so documents with any prefix are read).
type xCPIX struct {
	ContentID string `xml:"contentId,attr"`
	Version   string `xml:"version,attr"`
	Keys      []struct {
		KID            string `xml:"kid,attr"`
		ExplicitIV     string `xml:"explicitIV,attr"`
		Scheme         string `xml:"commonEncryptionScheme,attr"`
		PlainValue     string `xml:"Data>Secret>PlainValue"`
		EncryptedValue *struct {
			Inner string `xml:",innerxml"`
		} `xml:"Data>Secret>EncryptedValue"`
	} `xml:"ContentKeyList>ContentKey"`
	Systems []struct {
		KID      string `xml:"kid,attr"`
		SystemID string `xml:"systemId,attr"`
		PSSH     string `xml:"PSSH"`
		CPD      string `xml:"ContentProtectionData"`
		URI      string `xml:"URIExtXKey"`
		HLS      []struct {
			Playlist string `xml:"playlist,attr"`
			Value    string `xml:",chardata"`
		} `xml:"HLSSignalingData"`
	} `xml:"DRMSystemList>DRMSystem"`
	Periods []struct {
		ID    string `xml:"id,attr"`
		Index string `xml:"index,attr"`
	} `xml:"ContentKeyPeriodList>ContentKeyPeriod"`
	Rules []struct {
		KID     string `xml:"kid,attr"`
		Type    string `xml:"intendedTrackType,attr"`
		Periods []struct {
			ID string `xml:"periodId,attr"`
		} `xml:"KeyPeriodFilter"`
		Video []struct {
			Min string `xml:"minPixels,attr"`
			Max string `xml:"maxPixels,attr"`
			HDR string `xml:"hdr,attr"`
			WCG string `xml:"wcg,attr"`
		} `xml:"VideoFilter"`
		Audio []struct {
			Min string `xml:"minChannels,attr"`
			Max string `xml:"maxChannels,attr"`
		} `xml:"AudioFilter"`
		Bitrate []struct {
			Min string `xml:"minBitrate,attr"`
			Max string `xml:"maxBitrate,attr"`
		} `xml:"BitrateFilter"`
		Labels []struct {
			Label string `xml:"label,attr"`
		} `xml:"LabelFilter"`
	} `xml:"ContentKeyUsageRuleList>ContentKeyUsageRule"`
}

// ParseError reports a problem in a CPIX document and where it is.
type ParseError struct {
	Where string // e.g. "ContentKey 2 kid"
	Err   error
}

func (e *ParseError) Error() string { return "cpix: " + e.Where + ": " + e.Err.Error() }

// Unwrap returns the underlying error (wrapping a drm sentinel).
func (e *ParseError) Unwrap() error { return e.Err }

func perr(where string, err error) error { return &ParseError{Where: where, Err: err} }

// ReadFile reads a CPIX document from a file.
func ReadFile(name string) (*Document, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Read(f)
}

// Read parses a CPIX document. Every KID that a DRMSystem or usage rule
// references must have a content key (else a *drm.KIDNotFoundError). A
// document beyond the limits above is refused with a *LimitError.
func Read(r io.Reader) (*Document, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxDocumentSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxDocumentSize {
		return nil, perr("document", &LimitError{Limit: "size", Max: MaxDocumentSize, Offset: -1})
	}
	if err := checkLimits(data); err != nil {
		return nil, perr("document", err)
	}
	x, err := decode(data)
	if err != nil {
		return nil, err
	}
	if len(x.Keys) > MaxElements || len(x.Systems) > MaxElements || len(x.Periods) > MaxElements || len(x.Rules) > MaxElements {
		return nil, perr("document", &LimitError{Limit: "list", Max: MaxElements, Offset: -1})
	}
	d := &Document{ContentID: x.ContentID, Version: x.Version, Schemes: map[drm.KID]drm.Scheme{}, keyIndex: map[drm.KID]int{}}
	for _, step := range []func(*xCPIX) error{d.readKeys, d.readSystems, d.readPeriods, d.readRules} {
		if err := step(x); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// decode maps the document onto xCPIX, checking that its root is CPIX.
func decode(data []byte) (*xCPIX, error) {
	var x xCPIX
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	var start xml.StartElement
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil, perr("document", fmt.Errorf("no CPIX element: %v: %w", err, drm.ErrMalformed))
		}
		if se, ok := tok.(xml.StartElement); ok {
			start = se
			break
		}
	}
	if start.Name.Local != "CPIX" {
		return nil, perr("document", fmt.Errorf("root element %q, want CPIX: %w", start.Name.Local, drm.ErrMalformed))
	}
	if err := dec.DecodeElement(&x, &start); err != nil {
		return nil, perr("document", fmt.Errorf("%v: %w", err, drm.ErrMalformed))
	}
	return &x, nil
}

func (d *Document) readKeys(x *xCPIX) error {
	for i, k := range x.Keys {
		where := fmt.Sprintf("ContentKey %d", i+1)
		kid, err := drm.ParseKID(k.KID)
		if err != nil {
			return perr(where+" kid", err)
		}
		if _, dup := d.keyIndex[kid]; dup {
			return perr(where, fmt.Errorf("duplicate KID %s: %w", kid, drm.ErrMalformed))
		}
		ck := drm.ContentKey{KID: kid}
		switch {
		case k.EncryptedValue != nil:
			return perr(where, fmt.Errorf("encrypted content keys: %w", drm.ErrUnsupported))
		case strings.TrimSpace(k.PlainValue) != "":
			b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(k.PlainValue))
			if err != nil {
				return perr(where+" PlainValue", fmt.Errorf("base64: %v: %w", err, drm.ErrMalformed))
			}
			if ck.Key, err = drm.KeyFromBytes(b); err != nil {
				return perr(where+" PlainValue", err)
			}
		}
		if k.ExplicitIV != "" {
			b, err := base64.StdEncoding.DecodeString(k.ExplicitIV)
			if err != nil || (len(b) != 8 && len(b) != 16) {
				return perr(where+" explicitIV", &drm.KeyLengthError{What: "IV", Got: len(b), Want: "8 or 16"})
			}
			ck.IV = drm.IV(b)
		}
		if k.Scheme != "" {
			s, err := drm.ParseScheme(k.Scheme)
			if err != nil {
				return perr(where+" commonEncryptionScheme", err)
			}
			d.Schemes[kid] = s
		}
		d.keyIndex[kid] = len(d.Keys)
		d.Keys = append(d.Keys, ck)
	}
	return nil
}

func (d *Document) readSystems(x *xCPIX) error {
	for i, s := range x.Systems {
		where := fmt.Sprintf("DRMSystem %d", i+1)
		kid, err := drm.ParseKID(s.KID)
		if err != nil {
			return perr(where+" kid", err)
		}
		sys, err := drm.ParseKID(s.SystemID)
		if err != nil {
			return perr(where+" systemId", err)
		}
		if _, ok := d.keyIndex[kid]; !ok {
			return perr(where, &drm.KIDNotFoundError{KID: kid, Where: "DRMSystem"})
		}
		ds := DRMSystem{KID: kid, SystemID: sys}
		if ds.PSSH, err = b64field(s.PSSH); err != nil {
			return perr(where+" PSSH", err)
		}
		if len(ds.PSSH) > 0 {
			p, err := drm.ParsePSSH(ds.PSSH)
			if err != nil {
				return perr(where+" PSSH", err)
			}
			if p.SystemID != sys {
				return perr(where+" PSSH", fmt.Errorf("pssh box of system %s: %w", p.SystemID, drm.ErrMalformed))
			}
		}
		b, err := b64field(s.CPD)
		if err != nil {
			return perr(where+" ContentProtectionData", err)
		}
		if err := wellFormed(b); err != nil {
			return perr(where+" ContentProtectionData", err)
		}
		ds.ContentProtectionData = string(b)
		if b, err = b64field(s.URI); err != nil {
			return perr(where+" URIExtXKey", err)
		}
		ds.URIExtXKey = string(b)
		seen := map[string]bool{}
		for _, h := range s.HLS {
			b, err := b64field(h.Value)
			if err != nil {
				return perr(where+" HLSSignalingData", err)
			}
			// CPIX 2.3 calls the multivariant playlist "master", 2.4
			// "multiVariant"; without the attribute the data is for the
			// media playlists.
			switch h.Playlist {
			case "", "media":
				h.Playlist, ds.HLSSignalingMedia = "media", string(b)
			case "master", "multiVariant":
				h.Playlist, ds.HLSSignalingMaster = "master", string(b)
			default:
				return perr(where+" HLSSignalingData", fmt.Errorf("playlist %q, want media, master or multiVariant: %w", h.Playlist, drm.ErrMalformed))
			}
			if seen[h.Playlist] {
				return perr(where+" HLSSignalingData", fmt.Errorf("two for the %s playlist: %w", h.Playlist, drm.ErrMalformed))
			}
			seen[h.Playlist] = true
		}
		d.Systems = append(d.Systems, ds)
	}
	return nil
}

func (d *Document) readPeriods(x *xCPIX) error {
	for i, p := range x.Periods {
		pp := Period{ID: p.ID, Index: -1}
		if p.Index != "" {
			n, err := strconv.Atoi(p.Index)
			if err != nil || n < 0 {
				return perr(fmt.Sprintf("ContentKeyPeriod %d index", i+1), fmt.Errorf("%q: %w", p.Index, drm.ErrMalformed))
			}
			pp.Index = n
		}
		d.Periods = append(d.Periods, pp)
	}
	return nil
}

func (d *Document) readRules(x *xCPIX) error {
	for i, r := range x.Rules {
		where := fmt.Sprintf("ContentKeyUsageRule %d", i+1)
		kid, err := drm.ParseKID(r.KID)
		if err != nil {
			return perr(where+" kid", err)
		}
		if _, ok := d.keyIndex[kid]; !ok {
			return perr(where, &drm.KIDNotFoundError{KID: kid, Where: "ContentKeyUsageRule"})
		}
		ur := UsageRule{KID: kid, IntendedTrackType: r.Type}
		for _, p := range r.Periods {
			ur.PeriodIDs = append(ur.PeriodIDs, p.ID)
		}
		for _, v := range r.Video {
			rg, err := rangeOf(v.Min, v.Max)
			if err != nil {
				return perr(where+" VideoFilter", err)
			}
			vf := VideoFilter{Pixels: rg}
			if vf.HDR, err = boolAttr(v.HDR); err != nil {
				return perr(where+" VideoFilter hdr", err)
			}
			if vf.WCG, err = boolAttr(v.WCG); err != nil {
				return perr(where+" VideoFilter wcg", err)
			}
			ur.Video = append(ur.Video, vf)
		}
		for _, a := range r.Audio {
			rg, err := rangeOf(a.Min, a.Max)
			if err != nil {
				return perr(where+" AudioFilter", err)
			}
			ur.Audio = append(ur.Audio, AudioFilter{Channels: rg})
		}
		for _, b := range r.Bitrate {
			rg, err := rangeOf(b.Min, b.Max)
			if err != nil {
				return perr(where+" BitrateFilter", err)
			}
			ur.Bitrate = append(ur.Bitrate, rg)
		}
		for _, l := range r.Labels {
			ur.Labels = append(ur.Labels, l.Label)
		}
		d.Rules = append(d.Rules, ur)
	}
	return nil
}

// wellFormed checks that b is a well-formed XML fragment: elements that
// close in order, with character data, comments and namespace prefixes
// that need not be declared in the fragment (key servers write cenc:pssh
// and mspr:pro for an MPD that declares cenc and mspr).
func wellFormed(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	dec := xml.NewDecoder(bytes.NewReader(b))
	dec.Strict = true
	var open []xml.Name
	for {
		tok, err := dec.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("not well-formed XML: %v: %w", err, drm.ErrMalformed)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			open = append(open, t.Name)
		case xml.EndElement:
			if len(open) == 0 || open[len(open)-1] != t.Name {
				return fmt.Errorf("not well-formed XML: unexpected </%s>: %w", qname(t.Name), drm.ErrMalformed)
			}
			open = open[:len(open)-1]
		case xml.ProcInst, xml.Directive:
			return fmt.Errorf("not well-formed XML: a processing instruction or directive: %w", drm.ErrMalformed)
		}
	}
	if len(open) > 0 {
		return fmt.Errorf("not well-formed XML: <%s> is not closed: %w", qname(open[len(open)-1]), drm.ErrMalformed)
	}
	return nil
}

func qname(n xml.Name) string {
	if n.Space != "" {
		return n.Space + ":" + n.Local
	}
	return n.Local
}

func b64field(s string) ([]byte, error) {
	s = strings.Join(strings.Fields(s), "")
	if s == "" {
		return nil, nil
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("base64: %v: %w", err, drm.ErrMalformed)
	}
	return b, nil
}

func rangeOf(lo, hi string) (Range, error) {
	r := Range{Min: 0, Max: math.MaxInt}
	for _, f := range []struct {
		s string
		p *int
	}{{lo, &r.Min}, {hi, &r.Max}} {
		if f.s == "" {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(f.s))
		if err != nil || n < 0 {
			return r, fmt.Errorf("bound %q: %w", f.s, drm.ErrMalformed)
		}
		*f.p = n
	}
	if r.Min > r.Max {
		return r, fmt.Errorf("min %d > max %d: %w", r.Min, r.Max, drm.ErrMalformed)
	}
	return r, nil
}

func boolAttr(s string) (*bool, error) {
	switch s {
	case "":
		return nil, nil
	case "true", "1":
		b := true
		return &b, nil
	case "false", "0":
		b := false
		return &b, nil
	}
	return nil, fmt.Errorf("%q: %w", s, drm.ErrMalformed)
}

// Key returns the content key of a KID, with the DRM system data of the
// document attached.
func (d *Document) Key(kid drm.KID) (drm.ContentKey, error) {
	i, ok := d.keyIndex[kid]
	if !ok {
		return drm.ContentKey{}, &drm.KIDNotFoundError{KID: kid, Where: "ContentKeyList"}
	}
	ck := d.Keys[i]
	for _, s := range d.Systems {
		if s.KID != kid {
			continue
		}
		sys, ok := systemOf(s.SystemID)
		if !ok {
			continue
		}
		if ck.Systems == nil {
			ck.Systems = map[drm.System]drm.SystemData{}
		}
		ck.Systems[sys] = merge(ck.Systems[sys], s.SystemData)
	}
	return ck, nil
}

// merge fills the empty fields of a with those of b: ClearKey has two
// system IDs (the W3C common one of its pssh and DASH-IF's), whose
// DRMSystem entries complete each other.
func merge(a, b drm.SystemData) drm.SystemData {
	if len(a.PSSH) == 0 {
		a.PSSH = b.PSSH
	}
	for _, f := range []struct{ a, b *string }{{&a.ContentProtectionData, &b.ContentProtectionData}, {&a.URIExtXKey, &b.URIExtXKey},
		{&a.HLSSignalingMedia, &b.HLSSignalingMedia}, {&a.HLSSignalingMaster, &b.HLSSignalingMaster}} {
		if *f.a == "" {
			*f.a = *f.b
		}
	}
	return a
}

// SystemList returns the DRM systems the document's DRMSystemList signals,
// in order of first appearance, leaving out system IDs this package does
// not know.
func (d *Document) SystemList() []drm.System {
	var out []drm.System
	for _, s := range d.Systems {
		sys, ok := systemOf(s.SystemID)
		if ok && !slices.Contains(out, sys) {
			out = append(out, sys)
		}
	}
	return out
}

func systemOf(id drm.KID) (drm.System, bool) {
	switch id {
	case drm.SystemIDWidevine:
		return drm.Widevine, true
	case drm.SystemIDPlayReady:
		return drm.PlayReady, true
	case drm.SystemIDFairPlay:
		return drm.FairPlay, true
	case drm.SystemIDCommon, drm.SystemIDClearKeyDASHIF:
		return drm.ClearKey, true
	}
	return "", false
}

// matches reports whether a rule applies to a track and period.
func (d *Document) matches(r UsageRule, req drm.KeyRequest) bool {
	if len(r.PeriodIDs) > 0 {
		ok := false
		for _, id := range r.PeriodIDs {
			for i, p := range d.Periods {
				idx := p.Index
				if idx < 0 {
					idx = i
				}
				if p.ID == id && idx == req.Period {
					ok = true
				}
			}
		}
		if !ok {
			return false
		}
	} else if req.Period != 0 && len(d.Periods) > 0 {
		return false
	}
	if len(r.Video) > 0 || len(r.Audio) > 0 {
		ok := false
		if req.Kind == segment.KindVideo {
			for _, v := range r.Video {
				if v.Pixels.contains(req.Width * req.Height) {
					ok = true
				}
			}
		}
		if req.Kind == segment.KindAudio {
			for _, a := range r.Audio {
				if req.Channels == 0 || a.Channels.contains(req.Channels) {
					ok = true
				}
			}
		}
		if !ok {
			return false
		}
	}
	if len(r.Bitrate) > 0 && req.Bitrate > 0 {
		ok := false
		for _, b := range r.Bitrate {
			if b.contains(req.Bitrate) {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// ContentKey implements drm.KeyProvider: the key whose usage rules match the
// track and crypto period. Without usage rules a document with exactly one
// key serves it for every track (period 0 only, unless it lists periods).
func (d *Document) ContentKey(ctx context.Context, req drm.KeyRequest) (drm.ContentKey, error) {
	if err := ctx.Err(); err != nil {
		return drm.ContentKey{}, err
	}
	if len(d.Rules) == 0 {
		if len(d.Keys) == 1 && req.Period == 0 {
			return d.Key(d.Keys[0].KID)
		}
		return drm.ContentKey{}, fmt.Errorf("cpix: %d keys and no usage rules for %s track period %d: %w", len(d.Keys), req.Kind, req.Period, drm.ErrNoKey)
	}
	var found *drm.KID
	for _, r := range d.Rules {
		if !d.matches(r, req) {
			continue
		}
		if found != nil && *found != r.KID {
			return drm.ContentKey{}, fmt.Errorf("cpix: usage rules for %s track (%dx%d, %d ch) period %d match KIDs %s and %s: %w",
				req.Kind, req.Width, req.Height, req.Channels, req.Period, *found, r.KID, drm.ErrMalformed)
		}
		k := r.KID
		found = &k
	}
	if found == nil {
		return drm.ContentKey{}, fmt.Errorf("cpix: no usage rule for %s track (%dx%d, %d ch) period %d: %w",
			req.Kind, req.Width, req.Height, req.Channels, req.Period, drm.ErrNoKey)
	}
	ck, err := d.Key(*found)
	if err != nil {
		return ck, err
	}
	if ck.Key.IsZero() {
		return drm.ContentKey{}, fmt.Errorf("cpix: KID %s has no key value: %w", ck.KID, drm.ErrNoKey)
	}
	return ck, nil
}

var _ drm.KeyProvider = (*Document)(nil)

// errWriter remembers the first write error.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, a ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, a...)
	}
}

func attr(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return strings.ReplaceAll(b.String(), `"`, "&#34;")
}

// Write writes the document as CPIX 2.3, including key values (plain): the
// output is as secret as the keys.
func (d *Document) Write(w io.Writer) error {
	return d.write(w, true)
}

func (d *Document) write(w io.Writer, withKeys bool) error {
	ew := &errWriter{w: w}
	ew.printf(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	ew.printf(`<cpix:CPIX xmlns:cpix="%s" xmlns:pskc="%s" version="2.3"`, NamespaceCPIX, NamespacePSKC)
	if d.ContentID != "" {
		ew.printf(` contentId="%s"`, attr(d.ContentID))
	}
	ew.printf(">\n")
	if len(d.Keys) > 0 {
		ew.printf("  <cpix:ContentKeyList>\n")
		for _, k := range d.Keys {
			ew.printf(`    <cpix:ContentKey kid="%s"`, k.KID)
			if s, ok := d.Schemes[k.KID]; ok {
				ew.printf(` commonEncryptionScheme="%s"`, s)
			}
			if len(k.IV) > 0 {
				ew.printf(` explicitIV="%s"`, base64.StdEncoding.EncodeToString(k.IV))
			}
			if withKeys && !k.Key.IsZero() {
				ew.printf(">\n      <cpix:Data><pskc:Secret><pskc:PlainValue>%s</pskc:PlainValue></pskc:Secret></cpix:Data>\n    </cpix:ContentKey>\n",
					base64.StdEncoding.EncodeToString(k.Key.Secret()))
			} else {
				ew.printf("></cpix:ContentKey>\n")
			}
		}
		ew.printf("  </cpix:ContentKeyList>\n")
	}
	if len(d.Systems) > 0 {
		ew.printf("  <cpix:DRMSystemList>\n")
		for _, s := range d.Systems {
			ew.printf(`    <cpix:DRMSystem kid="%s" systemId="%s">`+"\n", s.KID, s.SystemID)
			b64 := base64.StdEncoding.EncodeToString
			ew.printf("      <cpix:PSSH>%s</cpix:PSSH>\n", b64(s.PSSH))
			ew.printf("      <cpix:ContentProtectionData>%s</cpix:ContentProtectionData>\n", b64([]byte(s.ContentProtectionData)))
			ew.printf("      <cpix:URIExtXKey>%s</cpix:URIExtXKey>\n", b64([]byte(s.URIExtXKey)))
			ew.printf(`      <cpix:HLSSignalingData playlist="media">%s</cpix:HLSSignalingData>`+"\n", b64([]byte(s.HLSSignalingMedia)))
			ew.printf(`      <cpix:HLSSignalingData playlist="master">%s</cpix:HLSSignalingData>`+"\n", b64([]byte(s.HLSSignalingMaster)))
			ew.printf("    </cpix:DRMSystem>\n")
		}
		ew.printf("  </cpix:DRMSystemList>\n")
	}
	if len(d.Periods) > 0 {
		ew.printf("  <cpix:ContentKeyPeriodList>\n")
		for _, p := range d.Periods {
			ew.printf(`    <cpix:ContentKeyPeriod id="%s"`, attr(p.ID))
			if p.Index >= 0 {
				ew.printf(` index="%d"`, p.Index)
			}
			ew.printf("></cpix:ContentKeyPeriod>\n")
		}
		ew.printf("  </cpix:ContentKeyPeriodList>\n")
	}
	if len(d.Rules) > 0 {
		ew.printf("  <cpix:ContentKeyUsageRuleList>\n")
		for _, r := range d.Rules {
			ew.printf(`    <cpix:ContentKeyUsageRule kid="%s"`, r.KID)
			if r.IntendedTrackType != "" {
				ew.printf(` intendedTrackType="%s"`, attr(r.IntendedTrackType))
			}
			ew.printf(">\n")
			for _, p := range r.PeriodIDs {
				ew.printf(`      <cpix:KeyPeriodFilter periodId="%s"></cpix:KeyPeriodFilter>`+"\n", attr(p))
			}
			for _, v := range r.Video {
				ew.printf("      <cpix:VideoFilter%s%s%s></cpix:VideoFilter>\n", rangeAttrs("Pixels", v.Pixels), boolAttrOut("hdr", v.HDR), boolAttrOut("wcg", v.WCG))
			}
			for _, a := range r.Audio {
				ew.printf("      <cpix:AudioFilter%s></cpix:AudioFilter>\n", rangeAttrs("Channels", a.Channels))
			}
			for _, b := range r.Bitrate {
				ew.printf("      <cpix:BitrateFilter%s></cpix:BitrateFilter>\n", rangeAttrs("Bitrate", b))
			}
			for _, l := range r.Labels {
				ew.printf(`      <cpix:LabelFilter label="%s"></cpix:LabelFilter>`+"\n", attr(l))
			}
			ew.printf("    </cpix:ContentKeyUsageRule>\n")
		}
		ew.printf("  </cpix:ContentKeyUsageRuleList>\n")
	}
	ew.printf("</cpix:CPIX>\n")
	return ew.err
}

func rangeAttrs(name string, r Range) string {
	s := ""
	if r.Min > 0 {
		s += fmt.Sprintf(` min%s="%d"`, name, r.Min)
	}
	if r.Max != math.MaxInt && r.Max != 0 {
		s += fmt.Sprintf(` max%s="%d"`, name, r.Max)
	}
	return s
}

func boolAttrOut(name string, b *bool) string {
	if b == nil {
		return ""
	}
	return fmt.Sprintf(` %s="%t"`, name, *b)
}

// Request describes a CPIX request to a key server: which keys (by KID and
// track class), for which DRM systems, and how many crypto periods.
type Request struct {
	ContentID string
	Scheme    drm.Scheme
	// Keys maps a track class to the KID the packager proposes for it.
	Keys map[drm.TrackClass]drm.KID
	// Systems asks for signaling data for these DRM systems.
	Systems []drm.System
	// Periods, if > 1, asks for keys per crypto period 0..Periods-1. KIDs for
	// later periods are then chosen by the server (the rules carry the
	// period filter and the proposed KID for period 0).
	Periods    int
	Thresholds drm.Thresholds
}

// WriteRequest writes a CPIX 2.3 request document: ContentKey elements
// without values, DRMSystem elements with empty signaling elements to fill,
// and usage rules that bind each class to its KID. It contains no secret.
func WriteRequest(w io.Writer, req Request) error {
	if len(req.Keys) == 0 {
		return fmt.Errorf("cpix: request without keys: %w", drm.ErrNoKey)
	}
	if req.Scheme != "" {
		if err := drm.CheckSystems(req.Scheme, req.Systems); err != nil {
			return err
		}
	}
	d := &Document{ContentID: req.ContentID, Schemes: map[drm.KID]drm.Scheme{}}
	hd, uhd := req.Thresholds.HDMinPixels, req.Thresholds.UHDMinPixels
	if hd <= 0 {
		hd = 1280 * 720
	}
	if uhd <= 0 {
		uhd = 1920*1080 + 1
	}
	periodIDs := []string{}
	for p := 0; p < req.Periods && req.Periods > 1; p++ {
		id := "period-" + strconv.Itoa(p)
		d.Periods = append(d.Periods, Period{ID: id, Index: p})
		periodIDs = append(periodIDs, id)
	}
	for _, class := range []drm.TrackClass{drm.ClassAudio, drm.ClassSD, drm.ClassHD, drm.ClassUHD, drm.ClassAllTypes} {
		kid, ok := req.Keys[class]
		if !ok {
			continue
		}
		d.Keys = append(d.Keys, drm.ContentKey{KID: kid})
		if req.Scheme != "" {
			d.Schemes[kid] = req.Scheme
		}
		for _, sys := range req.Systems {
			d.Systems = append(d.Systems, DRMSystem{KID: kid, SystemID: sys.SystemID()})
		}
		r := UsageRule{KID: kid, IntendedTrackType: string(class)}
		if len(periodIDs) > 0 {
			r.PeriodIDs = periodIDs[:1]
		}
		switch class {
		case drm.ClassAudio:
			r.Audio = []AudioFilter{{Channels: Range{Max: math.MaxInt}}}
		case drm.ClassSD:
			r.Video = []VideoFilter{{Pixels: Range{Max: hd - 1}}}
		case drm.ClassHD:
			r.Video = []VideoFilter{{Pixels: Range{Min: hd, Max: uhd - 1}}}
		case drm.ClassUHD:
			r.Video = []VideoFilter{{Pixels: Range{Min: uhd, Max: math.MaxInt}}}
		}
		d.Rules = append(d.Rules, r)
	}
	if len(d.Keys) == 0 {
		return fmt.Errorf("cpix: request keys have no known class: %w", drm.ErrNoKey)
	}
	return d.write(w, false)
}

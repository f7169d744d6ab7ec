package isobmff

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"

	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/cmafkit/cmafkit/segment"
)

// TTML in MP4 (stpp, ISO/IEC 14496-30) and its IMSC1 profiles.
//
// The codec string of an stpp track names the TTML profile its documents
// follow (RFC 6381 with the short names of the W3C TTML Profile Registry):
// stpp.ttml.im1t for IMSC1 text, stpp.ttml.im1i for IMSC1 images, and so
// on. Players choose their renderer by it, so it is read from the source:
// first from the sample entry (a mime box's codecs parameter, or profile
// designators in schema_location), then from the first documents (the
// ttp:profile, ttp:contentProfiles and ttp:processorProfiles attributes
// and ttp:profile elements). A track that names no profile is taken for
// IMSC1 text unless its documents show images and no text; a track that
// names only profiles outside the registry's IMSC1 and EBU-TT-D entries is
// labelled plain "stpp".

// ttmlParameterNS is the namespace of the ttp: attributes and elements.
const ttmlParameterNS = "http://www.w3.org/ns/ttml#parameter"

// ttmlDocInfo is what the start of a TTML document tells about its profile.
type ttmlDocInfo struct {
	designators []string // profile designators the document names
	text, image bool     // whether its body shows text (p, span) or images
}

// maxTTMLSniff bounds the bytes of a sample read to find its profile, and
// maxTTMLTokens the XML tokens looked at.
const (
	maxTTMLSniff  = 64 << 10
	maxTTMLTokens = 4096
)

// inspectTTML reads the profile designators and the kind of content from
// the start of a TTML document. A document cut short by maxTTMLSniff
// reports what its first part shows.
func inspectTTML(doc []byte) ttmlDocInfo {
	var info ttmlDocInfo
	d := xml.NewDecoder(bytes.NewReader(doc))
	d.Strict = false
	for i := 0; i < maxTTMLTokens; i++ {
		tok, err := d.Token()
		if err != nil {
			break
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		for _, a := range se.Attr {
			switch {
			case a.Name.Space == ttmlParameterNS && (a.Name.Local == "profile" || a.Name.Local == "contentProfiles" || a.Name.Local == "processorProfiles"):
				info.designators = append(info.designators, strings.Fields(a.Value)...)
			case se.Name.Space == ttmlParameterNS && se.Name.Local == "profile" && a.Name.Local == "use":
				info.designators = append(info.designators, strings.Fields(a.Value)...)
			case a.Name.Local == "backgroundImage":
				info.image = true
			}
		}
		switch se.Name.Local {
		case "p", "span":
			info.text = true
		case "image":
			info.image = true
		}
	}
	return info
}

// maxStppSamplesRead bounds how many leading samples of an stpp track are
// read to find its profile.
const maxStppSamplesRead = 8

// resolveStppProfile sets the codec string of an stpp track whose sample
// entry declares no profile from its first documents (see above).
func resolveStppProfile(t *segment.Track, logf func(msg string, args ...any)) error {
	if t.Codec != "stpp" {
		return nil
	}
	var designators []string
	text, image := false, false
	n := min(t.SampleCount(), maxStppSamplesRead)
	ss, err := t.AppendSamples(nil, 0, n)
	if err != nil {
		return err
	}
	var buf []byte
	for k := range ss {
		s := ss[k]
		s.Size = min(s.Size, maxTTMLSniff) // the start of the document is enough
		buf, err = t.Data.AppendSample(buf[:0], &s)
		if err != nil && !errors.Is(err, io.EOF) {
			return segment.SampleError(t, k, &ss[k], err)
		}
		info := inspectTTML(buf)
		designators = append(designators, info.designators...)
		text, image = text || info.text, image || info.image
		if len(designators) > 0 {
			break
		}
	}
	switch name := segment.TTMLProfile(designators); {
	case name != "":
		t.Codec = "stpp.ttml." + name
	case len(designators) > 0:
		// Profiles outside IMSC1 and EBU-TT-D: say TTML and no more.
		logf("TTML track names no IMSC1 profile; its codec is given as plain stpp, which HLS players (that expect stpp.ttml.im1t) may not play",
			"track", t.ID, "profiles", strings.Join(designators, " "))
	case image && !text:
		t.Codec = "stpp.ttml.im1i"
	default:
		t.Codec = "stpp.ttml.im1t"
	}
	return nil
}

// subsByOffset is the SubsampleIndex of an MP4 source: the subsamples of
// each sample that has some, by the sample's offset in the source (which
// AlignText keeps in the pieces it splits a sample into).
type subsByOffset map[int64][]mp4.SubsSample

func (m subsByOffset) Subsamples(s *segment.Sample) []mp4.SubsSample { return m[s.Offset] }

// maxSubsamples bounds the subsample entries kept in memory for a source.
const maxSubsamples = 1 << 20

// subsEntry is the subsample list of one sample, numbered from 1 within
// the table (stbl) or traf the subs box belongs to.
type subsEntry struct {
	sample int
	subs   []mp4.SubsSample
}

// parseSubs decodes the payload of a subs box, refusing counts the box
// cannot hold; budget is the number of subsamples still allowed and is
// decreased.
func parseSubs(payload []byte, budget *int) ([]subsEntry, error) {
	c := cursor{b: payload}
	v := c.u8()
	c.skip(3)
	size := 2
	if v == 1 {
		size = 4
	}
	n, ok := c.table(6)
	if !ok {
		return nil, errors.New("entry count exceeds the box")
	}
	out := make([]subsEntry, 0, n)
	sample := 0
	for i := 0; i < n; i++ {
		delta := c.u32()
		cnt := int(c.u16())
		if c.err || cnt*(size+6) > c.remaining() {
			return nil, errors.New("subsample count exceeds the box")
		}
		if *budget -= cnt; *budget < 0 {
			return nil, errors.New("too many subsamples")
		}
		sample += int(delta)
		if delta == 0 || sample > 1<<31 {
			return nil, errors.New("sample numbers do not increase")
		}
		e := subsEntry{sample: sample, subs: make([]mp4.SubsSample, cnt)}
		for j := range e.subs {
			if v == 1 {
				e.subs[j].SubsampleSize = c.u32()
			} else {
				e.subs[j].SubsampleSize = uint32(c.u16())
			}
			e.subs[j].SubsamplePriority = c.u8()
			e.subs[j].Discardable = c.u8()
			e.subs[j].CodecSpecificParameters = c.u32()
		}
		if cnt > 0 {
			out = append(out, e)
		}
	}
	return out, nil
}

// addSubs records, for the sample s numbered number (1-based in the table
// or traf of entries), its subsamples if entries has them; next is the
// position in entries to look at, advanced past the sample.
func (p *mp4Parser) addSubs(t *mp4Track, entries []subsEntry, next *int, number int, s *segment.Sample) error {
	for *next < len(entries) && entries[*next].sample < number {
		*next++
	}
	if *next >= len(entries) || entries[*next].sample != number {
		return nil
	}
	e := entries[*next]
	var sum uint64
	for _, sub := range e.subs {
		sum += uint64(sub.SubsampleSize)
	}
	if sum > uint64(s.Size) {
		return &segment.FormatError{Source: p.name, Box: "subs", Track: t.ID, Offset: s.Offset, Err: segment.ErrMalformed,
			Detail: "subsamples larger than their sample"}
	}
	if t.subs == nil {
		t.subs = subsByOffset{}
		t.Subsamples = t.subs
	}
	t.subs[s.Offset] = e.subs
	return nil
}

// readSubs reads and decodes the subs box b of a progressive stpp track's
// sample table, which stays in the input until here.
func (p *mp4Parser) readSubs(t *mp4Track, b *rawBox) ([]subsEntry, error) {
	fe := func(detail string) error {
		return &segment.FormatError{Source: p.name, Box: "moov/trak/mdia/minf/stbl/subs", Track: t.ID, Offset: b.offset, Err: segment.ErrMalformed, Detail: detail}
	}
	if b.payloadLen() > int64(maxSubsamples)*10 {
		return nil, fe("box too large")
	}
	payload := make([]byte, b.payloadLen())
	if _, err := p.r.ReadAt(payload, b.payloadOffset()); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	entries, err := parseSubs(payload, &p.subsBudget)
	if err != nil {
		return nil, fe(err.Error())
	}
	return entries, nil
}

// carriesSubs reports whether the subsamples of t's samples are kept (and
// written): those of stpp tracks, whose images they locate.
func carriesSubs(t *segment.Track) bool {
	return t.Kind == segment.KindText && strings.HasPrefix(t.Codec, "stpp")
}

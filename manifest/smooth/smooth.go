// Package smooth renders a manifest.Presentation as a Microsoft Smooth
// Streaming client manifest (MS-SSTR 2.2.2: SmoothStreamingMedia), and
// names the fragments the manifest's URL template points at, so that a
// packager can write them as plain files a web server serves.
//
// Each audio or video switching set becomes a StreamIndex whose
// QualityLevels are the set's representations; Smooth addresses a
// fragment by the quality level's Bitrate and the fragment's start time
// (FragmentName), so bit rates must differ within a set and every
// representation of a set must share its timescale and fragment times.
// Text sets are left out (Smooth carries text as TTML fragments, which
// this package does not describe).
package smooth

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cmafkit/cmafkit/drm"
	"github.com/cmafkit/cmafkit/manifest"
	"github.com/cmafkit/cmafkit/segment"
)

// ErrUnsupported means the presentation has something Smooth Streaming
// cannot describe: a codec other than H.264 or AAC, representations of a
// set on different timelines, protection other than PlayReady with cenc.
var ErrUnsupported = errors.New("smooth: not supported by Smooth Streaming")

// Timescale is the manifest-wide timescale (MS-SSTR's default: 100 ns
// units) of the SmoothStreamingMedia Duration and DVRWindowLength; each
// StreamIndex states its own.
const Timescale = 10_000_000

// LookAhead is the LookAheadFragmentCount of live manifests: how many
// following fragments each live fragment announces in its tfrf box
// (segment/piff.LiveFragment). A live packager stores a fragment once the
// next one is cut.
const LookAhead = 1

// URLTemplate is a StreamIndex's Url attribute: where clients fetch the
// fragments of the stream named name (MS-SSTR 2.2.2.3), relative to the
// manifest.
func URLTemplate(name string) string {
	return "QualityLevels({bitrate})/Fragments(" + name + "={start time})"
}

// FragmentName is the path, relative to the manifest, of the fragment of
// stream name at bit rate bitrate starting at time start (StreamIndex
// timescale): URLTemplate with its fields filled in, as a client requests
// it.
func FragmentName(name string, bitrate, start uint64) string {
	return "QualityLevels(" + strconv.FormatUint(bitrate, 10) + ")/Fragments(" + name + "=" + strconv.FormatUint(start, 10) + ")"
}

// StreamName is the Name of the StreamIndex made of set: its ID with
// every character other than letters, digits, '-' and '_' left out (the
// name is part of fragment URLs, which have no extension).
func StreamName(set *manifest.SwitchingSet) string {
	var b strings.Builder
	for _, c := range set.ID {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' {
			b.WriteRune(c)
		}
	}
	if b.Len() == 0 {
		return set.ContentType.String()
	}
	return b.String()
}

// Bitrate is a representation's QualityLevel Bitrate, which names its
// fragments: its average bandwidth, or its peak when the average is unset.
func Bitrate(r *manifest.Representation) uint64 {
	if r.AverageBandwidth > 0 {
		return r.AverageBandwidth
	}
	return r.Bandwidth
}

// FourCC returns the Smooth FourCC of an RFC 6381 codec string: H264 for
// H.264, AACL for AAC-LC, AACH for HE-AAC; "" for anything else.
func FourCC(codecs string) string {
	switch {
	case strings.HasPrefix(codecs, "avc1.") || strings.HasPrefix(codecs, "avc3."):
		return "H264"
	case codecs == "mp4a.40.2":
		return "AACL"
	case codecs == "mp4a.40.5":
		return "AACH"
	}
	return ""
}

// Render writes p's first period as a Smooth Streaming client manifest. A
// VOD presentation lists every fragment; a live one is marked IsLive with
// its DVR window (the time-shift buffer) and the fragments in it.
func Render(w io.Writer, p *manifest.Presentation) error {
	if err := validate(p); err != nil {
		return err
	}
	if len(p.Periods) != 1 {
		return fmt.Errorf("%w: %d periods (Smooth has one timeline)", ErrUnsupported, len(p.Periods))
	}
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	fmt.Fprintf(&b, `<SmoothStreamingMedia MajorVersion="2" MinorVersion="2" TimeScale="%d"`, Timescale)
	if p.Type == manifest.Live {
		fmt.Fprintf(&b, ` Duration="0" IsLive="TRUE" LookAheadFragmentCount="%d" DVRWindowLength="%d"`, LookAhead, hundredNS(p.TimeShiftBufferDepth))
	} else {
		d := p.Duration
		if d == 0 {
			d = p.MediaDuration()
		}
		fmt.Fprintf(&b, ` Duration="%d"`, hundredNS(d))
	}
	b.WriteString(">\n")
	per := &p.Periods[0]
	var body strings.Builder
	var prot *drm.SystemSignaling
	clear := ""
	for si := range per.Sets {
		set := &per.Sets[si]
		if set.ContentType != segment.KindVideo && set.ContentType != segment.KindAudio {
			continue
		}
		sig, err := playReady(set)
		if err != nil {
			return err
		}
		if sig != nil {
			if prot != nil && string(prot.PlayReadyObject) != string(sig.PlayReadyObject) {
				return fmt.Errorf("%w: sets with different PlayReady headers (Smooth carries one; use one key or a header listing every key)", ErrUnsupported)
			}
			prot = sig
		} else {
			clear = set.ID
		}
		if prot != nil && clear != "" {
			return fmt.Errorf("%w: set %s clear while others are protected", ErrUnsupported, clear)
		}
		if err := streamIndex(&body, set); err != nil {
			return err
		}
	}
	if prot != nil {
		fmt.Fprintf(&b, "  <Protection>\n    <ProtectionHeader SystemID=\"%s\">%s</ProtectionHeader>\n  </Protection>\n",
			drm.SystemIDPlayReady, base64.StdEncoding.EncodeToString(prot.PlayReadyObject))
	}
	b.WriteString(body.String())
	b.WriteString("</SmoothStreamingMedia>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// validate validates p as manifest.Presentation.Validate does, but for
// gaps between fragments, which a Smooth chunk list states (a c element
// with its own t, as after a live stream's discontinuity) and the common
// model does not: they are closed up in a copy for validation. Overlaps
// are refused.
func validate(p *manifest.Presentation) error {
	c := *p
	c.Periods = slices.Clone(p.Periods)
	for pi := range c.Periods {
		per := &c.Periods[pi]
		per.Sets = slices.Clone(per.Sets)
		for si := range per.Sets {
			set := &per.Sets[si]
			set.Representations = slices.Clone(set.Representations)
			for ri := range set.Representations {
				r := &set.Representations[ri]
				segs := slices.Clone(r.Segments)
				for k := 1; k < len(segs); k++ {
					end := segs[k-1].Start + segs[k-1].Duration
					if r.Segments[k].Start < r.Segments[k-1].Start+r.Segments[k-1].Duration {
						return fmt.Errorf("%w: %s: fragment %d at %d overlaps the previous one, ending at %d", ErrUnsupported, r.ID, k, r.Segments[k].Start, r.Segments[k-1].Start+r.Segments[k-1].Duration)
					}
					segs[k].Start = end
				}
				r.Segments = segs
			}
		}
	}
	if err := c.Validate(); err != nil {
		return fmt.Errorf("smooth: %w", err)
	}
	return nil
}

// playReady returns the PlayReady signalling of a protected set (nil for
// a clear one), refusing what Smooth cannot carry: one ProtectionHeader
// serves every quality level, so their PlayReady objects must be the same.
func playReady(set *manifest.SwitchingSet) (*drm.SystemSignaling, error) {
	var out *drm.SystemSignaling
	for i := range set.Representations {
		p := set.Representations[i].Protection
		if p == nil {
			p = set.Protection
		}
		sig, err := playReadyOf(set, p)
		if err != nil {
			return nil, err
		}
		switch {
		case i == 0:
			out = sig
		case (sig == nil) != (out == nil) || sig != nil && !bytes.Equal(sig.PlayReadyObject, out.PlayReadyObject):
			return nil, fmt.Errorf("%w: set %s has quality levels with different protection", ErrUnsupported, set.ID)
		}
	}
	return out, nil
}

func playReadyOf(set *manifest.SwitchingSet, p *drm.Protection) (*drm.SystemSignaling, error) {
	if p == nil {
		return nil, nil
	}
	if p.Scheme != drm.SchemeCENC {
		return nil, fmt.Errorf("%w: set %s encrypted with %s (PlayReady in Smooth is cenc, AES-CTR)", ErrUnsupported, set.ID, p.Scheme)
	}
	if len(p.KeyPeriods) > 0 {
		return nil, fmt.Errorf("%w: set %s rotates keys", ErrUnsupported, set.ID)
	}
	for i := range p.Systems {
		if p.Systems[i].System == drm.PlayReady && len(p.Systems[i].PlayReadyObject) > 0 {
			return &p.Systems[i], nil
		}
	}
	return nil, fmt.Errorf("%w: set %s is protected without a PlayReady object", ErrUnsupported, set.ID)
}

func streamIndex(b *strings.Builder, set *manifest.SwitchingSet) error {
	reps := set.Representations
	if len(reps) == 0 {
		return nil
	}
	first := &reps[0]
	name := StreamName(set)
	seen := map[uint64]string{}
	for i := range reps {
		r := &reps[i]
		if FourCC(r.Codecs) == "" {
			return fmt.Errorf("%w: codec %s of %s", ErrUnsupported, r.Codecs, r.ID)
		}
		if set.ContentType == segment.KindVideo && len(r.CodecPrivateData) == 0 {
			return fmt.Errorf("%w: %s has no CodecPrivateData", ErrUnsupported, r.ID)
		}
		if o, dup := seen[Bitrate(r)]; dup {
			return fmt.Errorf("%w: %s and %s share bit rate %d (fragment URLs would collide)", ErrUnsupported, o, r.ID, Bitrate(r))
		}
		seen[Bitrate(r)] = r.ID
		if r.Timescale != first.Timescale || len(r.Segments) != len(first.Segments) {
			return fmt.Errorf("%w: %s and %s are on different timelines", ErrUnsupported, first.ID, r.ID)
		}
		for k := range r.Segments {
			if r.Segments[k].Start != first.Segments[k].Start || r.Segments[k].Duration != first.Segments[k].Duration {
				return fmt.Errorf("%w: %s and %s differ at fragment %d", ErrUnsupported, first.ID, r.ID, k)
			}
		}
	}
	fmt.Fprintf(b, `  <StreamIndex Type="%s" Name="%s"`, set.ContentType, name)
	if set.Lang != "" {
		fmt.Fprintf(b, ` Language="%s"`, attr(set.Lang))
	}
	fmt.Fprintf(b, ` Chunks="%d" QualityLevels="%d" TimeScale="%d" Url="%s"`, len(first.Segments), len(reps), first.Timescale, attr(URLTemplate(name)))
	if set.ContentType == segment.KindVideo {
		mw, mh := 0, 0
		for i := range reps {
			mw, mh = max(mw, reps[i].Width), max(mh, reps[i].Height)
		}
		fmt.Fprintf(b, ` MaxWidth="%d" MaxHeight="%d" DisplayWidth="%d" DisplayHeight="%d"`, mw, mh, mw, mh)
	}
	b.WriteString(">\n")
	for i := range reps {
		r := &reps[i]
		fmt.Fprintf(b, `    <QualityLevel Index="%d" Bitrate="%d" FourCC="%s"`, i, Bitrate(r), FourCC(r.Codecs))
		if set.ContentType == segment.KindVideo {
			fmt.Fprintf(b, ` MaxWidth="%d" MaxHeight="%d"`, r.Width, r.Height)
		} else {
			// WAVEFORMATEX fields for AAC (MS-SSTR 2.2.2.5): AudioTag 255,
			// 16 bits per sample, PacketSize 4.
			fmt.Fprintf(b, ` SamplingRate="%d" Channels="%d" BitsPerSample="16" PacketSize="4" AudioTag="255"`, r.SampleRate, r.Channels)
		}
		fmt.Fprintf(b, ` CodecPrivateData="%s"/>`+"\n", strings.ToUpper(hex.EncodeToString(r.CodecPrivateData)))
	}
	var next uint64
	for k, s := range first.Segments {
		if k == 0 || s.Start != next {
			fmt.Fprintf(b, `    <c t="%d" d="%d"/>`+"\n", s.Start, s.Duration)
		} else {
			fmt.Fprintf(b, `    <c d="%d"/>`+"\n", s.Duration)
		}
		next = s.Start + s.Duration
	}
	b.WriteString("  </StreamIndex>\n")
	return nil
}

// hundredNS converts d to the manifest's 100 ns units.
func hundredNS(d time.Duration) int64 { return int64(d / 100) }

var attrEscaper = strings.NewReplacer(`&`, "&amp;", `<`, "&lt;", `>`, "&gt;", `"`, "&quot;")

func attr(s string) string { return attrEscaper.Replace(s) }

package hls

import (
	"slices"
	"strconv"
	"strings"

	"github.com/cmafkit/cmafkit/manifest"
)

// rendition is one EXT-X-MEDIA entry.
type rendition struct {
	set     *manifest.SwitchingSet
	rep     *manifest.Representation
	name    string
	dflt    bool
	version int
}

// group is an HLS rendition group: renditions that are alternatives to one
// another (languages of one codec and bit rate).
type group struct {
	id    string
	rends []rendition
}

// bandwidth returns the largest peak and average among the group's
// renditions: a variant plays one of them at a time.
func (g *group) bandwidth() (peak, avg uint64) {
	for _, r := range g.rends {
		peak = max(peak, r.rep.Bandwidth)
		avg = max(avg, r.rep.AverageBandwidth)
	}
	return peak, avg
}

// codecs returns the distinct codecs strings of the group in order.
func (g *group) codecs() []string {
	var out []string
	for _, r := range g.rends {
		for _, c := range strings.Split(r.rep.Codecs, ",") {
			if c != "" && !contains(out, c) {
				out = append(out, c)
			}
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// groupID returns the GROUP-ID of the i-th representation of set. A set
// with several representations (bit rates of one language) spreads them
// over groups suffixed -1, -2, ... so that each group holds one bit rate
// per language and variants can pair each video with each audio bit rate.
func groupID(set *manifest.SwitchingSet, i int) string {
	base := set.GroupID
	if base == "" {
		switch {
		case set.ContentType == manifest.Text:
			base = "subs"
		case set.CodecFamily != "":
			base = "audio-" + set.CodecFamily
		default:
			base = "audio"
		}
	}
	if len(set.Representations) > 1 {
		return base + "-" + strconv.Itoa(i+1)
	}
	return base
}

// collect builds the rendition groups of one content type in model order.
func collect(p *manifest.Presentation, ct manifest.ContentType) []*group {
	var groups []*group
	byID := map[string]*group{}
	names := map[string]bool{} // group + "\x00" + name
	for si := range p.Periods[0].Sets {
		set := &p.Periods[0].Sets[si]
		if set.ContentType != ct {
			continue
		}
		for ri := range set.Representations {
			r := sideLoaded(p, &set.Representations[ri])
			id := groupID(set, ri)
			g := byID[id]
			if g == nil {
				g = &group{id: id}
				byID[id] = g
				groups = append(groups, g)
			}
			// NAME must be unique within a group (RFC 8216 4.3.4.1).
			name := set.Label
			if name == "" {
				name = set.Lang
			}
			if names[id+"\x00"+name] {
				name += " (" + r.ID + ")"
			}
			names[id+"\x00"+name] = true
			g.rends = append(g.rends, rendition{set: set, rep: r, name: name, dflt: set.Default, version: mediaVersion(set, r, false)})
		}
	}
	for _, g := range groups {
		// At most one DEFAULT=YES per group (RFC 8216 4.3.4.1.1). An audio
		// group without one gets its first rendition as default, so that a
		// player never starts silent.
		seen := false
		for i := range g.rends {
			if g.rends[i].dflt {
				if seen {
					g.rends[i].dflt = false
				}
				seen = true
			}
		}
		if !seen && ct == manifest.Audio && len(g.rends) > 0 {
			g.rends[0].dflt = true
		}
	}
	return groups
}

// characteristics maps roles to HLS CHARACTERISTICS (RFC 8216 4.3.4.1 and
// Apple's accessibility characteristics).
func characteristics(set *manifest.SwitchingSet) string {
	var cs []string
	if set.HasRole(manifest.RoleDescription) {
		cs = append(cs, "public.accessibility.describes-video")
	}
	if set.HasRole(manifest.RoleCaption) {
		cs = append(cs, "public.accessibility.transcribes-spoken-dialog", "public.accessibility.describes-music-and-sound")
	}
	return strings.Join(cs, ",")
}

// ccGroup is the HLS rendition group of closed captions shared by the video
// sets that carry the same services.
type ccGroup struct {
	id       string
	services []manifest.ClosedCaption
}

// ccGroups returns the closed-caption groups of p in model order ("cc",
// then "cc-2", ... for video sets with other services) and the group of
// each video set that has captions.
func ccGroups(p *manifest.Presentation) ([]*ccGroup, map[*manifest.SwitchingSet]*ccGroup) {
	var groups []*ccGroup
	bySet := map[*manifest.SwitchingSet]*ccGroup{}
	for si := range p.Periods[0].Sets {
		set := &p.Periods[0].Sets[si]
		if set.ContentType != manifest.Video || len(set.ClosedCaptions) == 0 {
			continue
		}
		var g *ccGroup
		for _, o := range groups {
			if slices.Equal(o.services, set.ClosedCaptions) {
				g = o
			}
		}
		if g == nil {
			g = &ccGroup{id: "cc", services: set.ClosedCaptions}
			if len(groups) > 0 {
				g.id += "-" + strconv.Itoa(len(groups)+1)
			}
			groups = append(groups, g)
		}
		bySet[set] = g
	}
	return groups, bySet
}

// ccTags writes the EXT-X-MEDIA tags of a closed-caption group. NAME is the
// service's label or its INSTREAM-ID, unique within the group (RFC 8216
// 4.3.4.1); there is no URI: the captions are in the video. CEA-708
// services come first: hls.js (1.7) takes "SERVICEn" for channel CCn and
// names that channel's track after the last of them in the playlist, so
// CC1 keeps its own NAME and LANGUAGE only when written after SERVICE1.
func ccTags(w *writer, g *ccGroup) {
	ordered := make([]manifest.ClosedCaption, 0, len(g.services))
	for _, typ := range []manifest.CaptionType{manifest.CEA708, manifest.CEA608} {
		for _, c := range g.services {
			if c.Type == typ {
				ordered = append(ordered, c)
			}
		}
	}
	var names []string
	for _, c := range ordered {
		id := c.InstreamID()
		name := c.Label
		if name == "" {
			name = id
		}
		if contains(names, name) {
			name += " (" + id + ")"
		}
		names = append(names, name)
		w.str("#EXT-X-MEDIA:")
		w.enum(true, "TYPE", "CLOSED-CAPTIONS")
		w.quoted(false, "GROUP-ID", g.id)
		w.quoted(false, "NAME", name)
		w.quoted(false, "LANGUAGE", c.Lang)
		w.enum(false, "DEFAULT", "NO")
		w.enum(false, "AUTOSELECT", "YES")
		w.quoted(false, "INSTREAM-ID", id)
		w.b = append(w.b, '\n')
	}
}

// multivariant writes the multivariant playlist: the header, session keys
// and renditions, then the variants (one per video representation and
// audio and subtitle group, or per audio group without video) and the
// I-frame streams.
func multivariant(p *manifest.Presentation) *writer {
	w := &writer{b: make([]byte, 0, 4096)}
	audio := collect(p, manifest.Audio)
	subs := collect(p, manifest.Text)
	ccs, ccOf := ccGroups(p)
	videos, version := videoRenditions(p)
	multivariantHeader(w, version, len(audio)+len(subs) > 0, ccs)
	sessionKeys(w, p)
	for _, g := range audio {
		for _, r := range g.rends {
			mediaTag(w, "AUDIO", g.id, r)
		}
	}
	for _, g := range subs {
		for _, r := range g.rends {
			mediaTag(w, "SUBTITLES", g.id, r)
		}
	}
	for _, g := range ccs {
		ccTags(w, g)
	}
	if len(videos) == 0 {
		audioVariants(w, audio, subs)
		return w
	}
	videoVariants(w, videos, audio, subs, ccs, ccOf)
	iframeStreams(w, videos)
	return w
}

// videoRenditions returns the video representations that have segments,
// and the highest version any media playlist of p needs.
func videoRenditions(p *manifest.Presentation) ([]rendition, int) {
	var videos []rendition
	version := 1
	for si := range p.Periods[0].Sets {
		set := &p.Periods[0].Sets[si]
		for ri := range set.Representations {
			r := &set.Representations[ri]
			if len(r.Segments) == 0 {
				continue
			}
			v := mediaVersion(set, r, false)
			if set.ContentType == manifest.Video {
				videos = append(videos, rendition{set: set, rep: r, version: v})
				if len(r.IFrames) > 0 {
					version = max(version, mediaVersion(set, r, true))
				}
			}
			version = max(version, v)
		}
	}
	return videos, version
}

// multivariantHeader writes EXTM3U, the version and EXT-X-INDEPENDENT-SEGMENTS. The
// version is at least version, what the media playlists need.
func multivariantHeader(w *writer, version int, renditions bool, ccs []*ccGroup) {
	// The version is the highest any media playlist needs, so a client that
	// accepts the multivariant playlist can read every playlist it names;
	// EXT-X-MEDIA and I-frame streams suggest at least 4 (RFC 8216bis 8).
	// PROGRAM-ID, removed in version 6, is never written (grafov/m3u8
	// v0.12.1 always writes it).
	if renditions || len(ccs) > 0 {
		version = max(version, 4)
	}
	for _, g := range ccs {
		// RFC 8216 7: INSTREAM-ID values SERVICEn need version 7.
		if slices.ContainsFunc(g.services, func(c manifest.ClosedCaption) bool { return c.Type == manifest.CEA708 }) {
			version = max(version, 7)
		}
	}
	w.str("#EXTM3U\n#EXT-X-VERSION:")
	w.uint(uint64(version))
	w.b = append(w.b, '\n')
	// Apple HLS Authoring Spec 9.12 (9.11 in earlier revisions): every
	// segment starts with an IDR, so the multivariant playlist says so.
	w.line("#EXT-X-INDEPENDENT-SEGMENTS")
}

// sessionKeys writes an EXT-X-SESSION-KEY per distinct key of p.
func sessionKeys(w *writer, p *manifest.Presentation) {
	// EXT-X-SESSION-KEY lets players start key requests early; one per
	// distinct key (RFC 8216 4.3.4.5 forbids duplicates). grafov/m3u8
	// v0.12.1 has no EXT-X-SESSION-KEY at all.
	var keys []string
	for si := range p.Periods[0].Sets {
		set := &p.Periods[0].Sets[si]
		for ri := range set.Representations {
			pi := protectionOf(set, &set.Representations[ri])
			if pi == nil {
				continue
			}
			for i := range pi.Systems {
				lines, err := sessionKey(pi.Scheme, pi.DefaultKID, &pi.Systems[i])
				if err != nil && w.err == nil {
					w.err = err
				}
				if lines != "" && !contains(keys, lines) {
					keys = append(keys, lines)
				}
			}
		}
	}
	for _, k := range keys {
		w.str(k)
	}
}

// audioVariants writes the variants of an audio-only presentation: one per
// audio group, pointing at the group's default rendition.
func audioVariants(w *writer, audio, subs []*group) {
	for _, g := range audio {
		var dflt rendition
		for _, r := range g.rends {
			if r.dflt {
				dflt = r
			}
		}
		peak, avg := g.bandwidth()
		codecs := g.codecs()
		if len(subs) > 0 {
			sp, sa := subs[0].bandwidth()
			peak, avg = peak+sp, avg+sa
			codecs = append(codecs, subs[0].codecs()...)
		}
		streamInf(w, peak, avg, codecs, nil, g.id, firstID(subs), "")
		w.uriLine(PlaylistURI(dflt.rep))
	}
}

// videoVariants writes a variant per video representation and audio (and
// subtitle) group combination.
func videoVariants(w *writer, videos []rendition, audio, subs []*group, ccs []*ccGroup, ccOf map[*manifest.SwitchingSet]*ccGroup) {
	audioChoices := make([]*group, 0, len(audio))
	audioChoices = append(audioChoices, audio...)
	if len(audioChoices) == 0 {
		audioChoices = append(audioChoices, nil)
	}
	subChoices := make([]*group, 0, len(subs))
	subChoices = append(subChoices, subs...)
	if len(subChoices) == 0 {
		subChoices = append(subChoices, nil)
	}
	// A variant per video representation and audio (and subtitle) group
	// combination.
	for _, v := range videos {
		for _, ag := range audioChoices {
			for _, sg := range subChoices {
				peak, avg := v.rep.Bandwidth, v.rep.AverageBandwidth
				codecs := []string{v.rep.Codecs}
				audioID, subsID := "", ""
				// BANDWIDTH is the peak of the renditions that play
				// together (RFC 8216 4.3.4.2; Apple HLS Authoring Spec
				// 9.13); the sum of peaks bounds it from above.
				if ag != nil {
					ap, aa := ag.bandwidth()
					peak, avg = peak+ap, avg+aa
					codecs = append(codecs, ag.codecs()...)
					audioID = ag.id
				}
				if sg != nil {
					sp, sa := sg.bandwidth()
					peak, avg = peak+sp, avg+sa
					codecs = append(codecs, sg.codecs()...)
					subsID = sg.id
				}
				// CLOSED-CAPTIONS=NONE only when no variant has captions:
				// with NONE on one EXT-X-STREAM-INF, every one must say
				// NONE (RFC 8216 4.3.4.2).
				cc := "NONE"
				if g := ccOf[v.set]; g != nil {
					cc = `"` + g.id + `"`
				} else if len(ccs) > 0 {
					cc = ""
				}
				streamInf(w, peak, avg, codecs, &v, audioID, subsID, cc)
				w.uriLine(PlaylistURI(v.rep))
			}
		}
	}
}

// iframeStreams writes an EXT-X-I-FRAME-STREAM-INF per video representation
// with I-frames.
func iframeStreams(w *writer, videos []rendition) {
	for _, v := range videos {
		if len(v.rep.IFrames) == 0 {
			continue
		}
		peak, avg := manifest.IFrameBandwidth(v.rep.IFrames, v.rep.Timescale)
		// Apple HLS Authoring Spec 6.1: I-frame playlists for scrubbing;
		// 9.3 and 9.4: CODECS and RESOLUTION on EXT-X-I-FRAME-STREAM-INF.
		w.str("#EXT-X-I-FRAME-STREAM-INF:")
		w.enum(true, "BANDWIDTH", strconv.FormatUint(peak, 10))
		w.num("AVERAGE-BANDWIDTH", avg)
		w.quoted(false, "CODECS", v.rep.Codecs)
		if v.rep.SupplementalCodecs != "" {
			w.quoted(false, "SUPPLEMENTAL-CODECS", v.rep.SupplementalCodecs)
		}
		w.enum(false, "RESOLUTION", strconv.Itoa(v.rep.Width)+"x"+strconv.Itoa(v.rep.Height))
		w.enum(false, "VIDEO-RANGE", videoRange(v.rep))
		w.quoted(false, "URI", IFramePlaylistURI(v.rep))
		w.b = append(w.b, '\n')
	}
}

func firstID(groups []*group) string {
	if len(groups) == 0 {
		return ""
	}
	return groups[0].id
}

func videoRange(r *manifest.Representation) string {
	if r.VideoRange == "" {
		return string(manifest.SDR)
	}
	return string(r.VideoRange)
}

// mediaTag writes one EXT-X-MEDIA tag.
func mediaTag(w *writer, typ, groupID string, r rendition) {
	w.str("#EXT-X-MEDIA:")
	w.enum(true, "TYPE", typ)
	w.quoted(false, "GROUP-ID", groupID)
	w.quoted(false, "NAME", r.name)
	// LANGUAGE on every non-video rendition (Validate requires it).
	w.quoted(false, "LANGUAGE", r.set.Lang)
	w.enum(false, "DEFAULT", yesNo(r.dflt))
	// DEFAULT=YES requires AUTOSELECT=YES (RFC 8216 4.3.4.1).
	w.enum(false, "AUTOSELECT", yesNo(r.dflt || r.set.Autoselect))
	if typ == "SUBTITLES" {
		// An enumerated string, unquoted; grafov/m3u8 v0.12.1 quotes it.
		w.enum(false, "FORCED", yesNo(r.set.Forced))
	}
	if c := characteristics(r.set); c != "" {
		w.quoted(false, "CHARACTERISTICS", c)
	}
	if typ == "AUDIO" && r.rep.Channels > 0 {
		// grafov/m3u8 v0.12.1 has no CHANNELS attribute.
		w.quoted(false, "CHANNELS", strconv.Itoa(r.rep.Channels))
	}
	w.quoted(false, "URI", PlaylistURI(r.rep))
	w.b = append(w.b, '\n')
}

// streamInf writes one EXT-X-STREAM-INF tag (without its URI line). cc is
// the CLOSED-CAPTIONS value as written (a quoted group ID or NONE), empty
// for none.
func streamInf(w *writer, peak, avg uint64, codecs []string, v *rendition, audioID, subsID, cc string) {
	w.str("#EXT-X-STREAM-INF:")
	w.enum(true, "BANDWIDTH", strconv.FormatUint(peak, 10))
	// Apple HLS Authoring Spec 9.14: AVERAGE-BANDWIDTH on every variant.
	w.num("AVERAGE-BANDWIDTH", avg)
	// Apple HLS Authoring Spec 9.1: CODECS lists video and audio codecs.
	w.quoted(false, "CODECS", strings.Join(codecs, ","))
	if v != nil {
		r := v.rep
		// RFC 8216bis 4.4.6.2: SUPPLEMENTAL-CODECS, e.g. Dolby Vision over
		// an HDR10 or HLG base layer.
		if r.SupplementalCodecs != "" {
			w.quoted(false, "SUPPLEMENTAL-CODECS", r.SupplementalCodecs)
		}
		// Apple HLS Authoring Spec 9.2: RESOLUTION; 9.15: FRAME-RATE, a
		// decimal rounded to three places; 9.16: VIDEO-RANGE (always
		// written, SDR included).
		w.enum(false, "RESOLUTION", strconv.Itoa(r.Width)+"x"+strconv.Itoa(r.Height))
		if !r.FrameRate.IsZero() && r.FrameRate.Num > 0 {
			w.b = append(w.b, ",FRAME-RATE="...)
			w.b = appendMilli(w.b, r.FrameRate)
		}
		w.enum(false, "VIDEO-RANGE", videoRange(r))
	}
	if audioID != "" {
		w.quoted(false, "AUDIO", audioID)
	}
	if subsID != "" {
		w.quoted(false, "SUBTITLES", subsID)
	}
	if cc != "" {
		w.enum(false, "CLOSED-CAPTIONS", cc)
	}
	w.b = append(w.b, '\n')
}

// appendMilli appends r rounded to three decimals, computed exactly.
func appendMilli(b []byte, r manifest.Rational) []byte {
	m := (r.Num*2000/r.Den + 1) / 2
	b = strconv.AppendInt(b, m/1000, 10)
	b = append(b, '.')
	frac := m % 1000
	b = append(b, byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
	return b
}

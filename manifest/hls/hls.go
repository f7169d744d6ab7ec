package hls

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/cmafkit/cmafkit/manifest"
)

// PlaylistURI returns the URI of r's media playlist: r.PlaylistURI, or
// r.ID+".m3u8".
func PlaylistURI(r *manifest.Representation) string {
	if r.PlaylistURI != "" {
		return r.PlaylistURI
	}
	return r.ID + ".m3u8"
}

// IFramePlaylistURI returns the URI of r's I-frame playlist:
// r.IFramePlaylistURI, or r.ID+"_iframes.m3u8".
func IFramePlaylistURI(r *manifest.Representation) string {
	if r.IFramePlaylistURI != "" {
		return r.IFramePlaylistURI
	}
	return r.ID + "_iframes.m3u8"
}

// Playlist names one media playlist the multivariant playlist refers to.
type Playlist struct {
	URI              string
	RepresentationID string
	// IFrames marks an I-frame playlist (write it with RenderIFrames).
	IFrames bool
}

// Playlists lists the media playlists of p in the order the multivariant
// playlist refers to them, so a caller can create one object per entry.
func Playlists(p *manifest.Presentation) []Playlist {
	var out []Playlist
	for pi := range p.Periods {
		for si := range p.Periods[pi].Sets {
			set := &p.Periods[pi].Sets[si]
			for ri := range set.Representations {
				r := &set.Representations[ri]
				out = append(out, Playlist{URI: PlaylistURI(r), RepresentationID: r.ID})
				if set.ContentType == manifest.Video && len(r.IFrames) > 0 {
					out = append(out, Playlist{URI: IFramePlaylistURI(r), RepresentationID: r.ID, IFrames: true})
				}
			}
		}
	}
	return out
}

// supported refuses what this renderer does not write yet.
func supported(p *manifest.Presentation) error {
	if p.Type != manifest.VOD {
		return fmt.Errorf("hls: %s presentation: %w", p.Type, manifest.ErrUnsupported)
	}
	if len(p.Periods) != 1 {
		return fmt.Errorf("hls: %d periods (HLS renders exactly one): %w", len(p.Periods), manifest.ErrUnsupported)
	}
	return nil
}

// ErrNoVariant means a presentation without audio or video, such as text
// alone: a multivariant playlist needs at least one variant stream
// (EXT-X-STREAM-INF, RFC 8216 4.3.4.2), and a variant stream is video or
// audio with optional renditions, so no valid multivariant playlist
// exists. It wraps manifest.ErrUnsupported. RenderMedia still writes the
// media playlists of such a presentation.
var ErrNoVariant = fmt.Errorf("HLS needs audio or video for a variant stream: %w", manifest.ErrUnsupported)

// hasVariant refuses a presentation whose multivariant playlist would list
// no variant stream.
func hasVariant(p *manifest.Presentation) error {
	var text []string
	for si := range p.Periods[0].Sets {
		set := &p.Periods[0].Sets[si]
		for ri := range set.Representations {
			switch set.ContentType {
			case manifest.Video:
				if len(set.Representations[ri].Segments) > 0 {
					return nil
				}
			case manifest.Audio:
				return nil
			default:
				text = append(text, set.Representations[ri].ID)
			}
		}
	}
	return fmt.Errorf("hls: presentation of text only (%s): %w", strings.Join(text, ", "), ErrNoVariant)
}

// RenderMultivariant validates p and writes its multivariant playlist. A
// presentation without audio or video is refused with ErrNoVariant.
func RenderMultivariant(w io.Writer, p *manifest.Presentation) error {
	if err := supported(p); err != nil {
		return err
	}
	if err := p.Validate(); err != nil {
		return fmt.Errorf("hls: refusing to render: %w", err)
	}
	if err := hasVariant(p); err != nil {
		return err
	}
	return flush(w, multivariant(p))
}

// RenderMedia validates the representation repID and writes its media
// playlist (a WebVTT subtitle playlist for a text/vtt set).
func RenderMedia(w io.Writer, p *manifest.Presentation, repID string) error {
	set, r, err := prepare(p, repID)
	if err != nil {
		return err
	}
	return flush(w, media(p, set, r, targetFor(p, set, r)))
}

// RenderIFrames validates the representation repID and writes its I-frame
// playlist (EXT-X-I-FRAMES-ONLY).
func RenderIFrames(w io.Writer, p *manifest.Presentation, repID string) error {
	set, r, err := prepare(p, repID)
	if err != nil {
		return err
	}
	if len(r.IFrames) == 0 {
		return fmt.Errorf("hls: representation %q has no I-frames: %w", repID, manifest.ErrEmpty)
	}
	return flush(w, iframes(p, set, r))
}

// RenderAll validates p once, then writes the multivariant playlist to
// create(multivariantURI) and every media and I-frame playlist to
// create(uri) with the URIs the multivariant playlist uses. Each writer is
// closed after its playlist; the first error stops the run. A presentation
// without audio or video is refused with ErrNoVariant before anything is
// created.
func RenderAll(p *manifest.Presentation, multivariantURI string, create func(uri string) (io.WriteCloser, error)) error {
	if err := supported(p); err != nil {
		return err
	}
	if err := p.Validate(); err != nil {
		return fmt.Errorf("hls: refusing to render: %w", err)
	}
	if err := hasVariant(p); err != nil {
		return err
	}
	if err := writeTo(create, multivariantURI, multivariant(p)); err != nil {
		return err
	}
	target := avTarget(p)
	for _, pl := range Playlists(p) {
		set, r := p.Find(pl.RepresentationID)
		r = sideLoaded(p, r)
		var out *writer
		if pl.IFrames {
			out = iframes(p, set, r)
		} else {
			t := target
			if set.ContentType == manifest.Text {
				t = textTarget(p, r)
			}
			out = media(p, set, r, t)
		}
		if err := writeTo(create, pl.URI, out); err != nil {
			return err
		}
	}
	return nil
}

func writeTo(create func(string) (io.WriteCloser, error), uri string, out *writer) error {
	wc, err := create(uri)
	if err != nil {
		return fmt.Errorf("hls: %s: %w", uri, err)
	}
	if err := flush(wc, out); err != nil {
		wc.Close()
		return fmt.Errorf("hls: %s: %w", uri, err)
	}
	if err := wc.Close(); err != nil {
		return fmt.Errorf("hls: %s: %w", uri, err)
	}
	return nil
}

func prepare(p *manifest.Presentation, repID string) (*manifest.SwitchingSet, *manifest.Representation, error) {
	if err := supported(p); err != nil {
		return nil, nil, err
	}
	if err := p.ValidateRepresentation(repID); err != nil {
		return nil, nil, fmt.Errorf("hls: refusing to render: %w", err)
	}
	set, r := p.Find(repID)
	return set, sideLoaded(p, r), nil
}

// sideLoaded returns r, or for a side-loaded file without segments (a whole
// WebVTT document) a copy holding one segment that spans the presentation,
// the usual way to offer such a file in HLS.
func sideLoaded(p *manifest.Presentation, r *manifest.Representation) *manifest.Representation {
	if len(r.Segments) > 0 || r.SingleFile == nil {
		return r
	}
	c := *r
	c.Timescale = uint32(time.Second) // nanoseconds
	c.Segments = []manifest.SegmentRef{{URI: r.SingleFile.URI, Duration: uint64(max(p.MediaDuration(), 1))}}
	return &c
}

func flush(w io.Writer, out *writer) error {
	if out.err != nil {
		return out.err
	}
	_, err := w.Write(out.b)
	return err
}

// targetFor returns the EXT-X-TARGETDURATION of r's media playlist.
func targetFor(p *manifest.Presentation, set *manifest.SwitchingSet, r *manifest.Representation) uint64 {
	if set.ContentType == manifest.Text {
		return textTarget(p, r)
	}
	return avTarget(p)
}

// avTarget is the target duration shared by every audio and video media
// playlist: RFC 8216 6.2.4 wants one target duration across the Media
// Playlists of a presentation (Apple HLS Authoring Spec 8.2 likewise).
// With an explicit TargetDuration it is that rounded up to whole seconds;
// otherwise the longest segment rounded to the nearest second (RFC 8216
// 4.3.3.1 compares rounded EXTINF values), and at least 1.
func avTarget(p *manifest.Presentation) uint64 {
	var t uint64
	if p.TargetDuration > 0 {
		t = uint64((p.TargetDuration + time.Second - 1) / time.Second)
	}
	for si := range p.Periods[0].Sets {
		set := &p.Periods[0].Sets[si]
		if set.ContentType == manifest.Text {
			continue
		}
		for ri := range set.Representations {
			t = max(t, maxRounded(&set.Representations[ri]))
		}
	}
	return max(t, 1)
}

// textTarget: subtitle playlists may have their own target duration (RFC
// 8216 6.2.4 exempts SUBTITLES renditions in VOD).
func textTarget(p *manifest.Presentation, r *manifest.Representation) uint64 {
	var t uint64
	if p.TargetDuration > 0 {
		t = uint64((p.TargetDuration + time.Second - 1) / time.Second)
	}
	return max(t, maxRounded(r), 1)
}

func maxRounded(r *manifest.Representation) uint64 {
	var m uint64
	for i := range r.Segments {
		m = max(m, r.Segments[i].Duration)
	}
	if r.Timescale == 0 {
		return 0
	}
	return roundSeconds(m, r.Timescale)
}

// mediaVersion is the EXT-X-VERSION a media playlist of r needs (RFC 8216bis
// section 8): 3 for decimal EXTINF, 4 for EXT-X-BYTERANGE and
// EXT-X-I-FRAMES-ONLY, 5 for KEYFORMAT and SAMPLE-AES methods and for
// EXT-X-MAP in an I-frame playlist, 6 for EXT-X-MAP in other playlists.
// grafov/m3u8 v0.12.1 writes 5 with EXT-X-MAP (see the tests).
func mediaVersion(set *manifest.SwitchingSet, r *manifest.Representation, iframe bool) int {
	v := 3
	if iframe || !r.Init.Range.IsZero() || (len(r.Segments) > 0 && !r.Segments[0].Range.IsZero()) {
		v = 4
	}
	if len(hlsKeys(protectionOf(set, r))) > 0 {
		v = 5
	}
	if r.Init.URI != "" {
		if iframe {
			v = max(v, 5)
		} else {
			v = 6
		}
	}
	return v
}

// media writes a media playlist.
func media(p *manifest.Presentation, set *manifest.SwitchingSet, r *manifest.Representation, target uint64) *writer {
	w := &writer{b: make([]byte, 0, 128+len(r.Segments)*(40+len(r.Segments[0].URI)))}
	header(w, set, r, target, r.Segments[0].Number, false)
	pi := protectionOf(set, r)
	next := 0 // the next key period to start
	marks := cueMarks(p, r)
	for i := range r.Segments {
		s := &r.Segments[i]
		if marks != nil {
			w.str(marks[i])
		}
		if pi != nil && next < len(pi.KeyPeriods) && pi.KeyPeriods[next].FirstSegment == i {
			w.keys(pi.Scheme, pi.KeyPeriods[next].Systems)
			next++
		}
		w.str("#EXTINF:")
		w.b = appendSeconds(w.b, s.Duration, r.Timescale)
		w.str(",\n")
		if !s.Range.IsZero() {
			// RFC 8216 4.3.2.2; the offset is always given, so every
			// segment stands alone.
			w.str("#EXT-X-BYTERANGE:")
			w.uint(s.Range.Length)
			w.b = append(w.b, '@')
			w.uint(s.Range.Offset)
			w.b = append(w.b, '\n')
		}
		w.uriLine(s.URI)
	}
	w.line("#EXT-X-ENDLIST")
	return w
}

// iframes writes an I-frame playlist: each entry is the byte range holding
// the moof and the sync sample, its EXTINF the time to the next I-frame.
func iframes(p *manifest.Presentation, set *manifest.SwitchingSet, r *manifest.Representation) *writer {
	w := &writer{b: make([]byte, 0, 128+len(r.IFrames)*(70+len(r.IFrames[0].URI)))}
	var m uint64
	for i := range r.IFrames {
		m = max(m, r.IFrames[i].Duration)
	}
	target := max(avTarget(p), roundSeconds(m, r.Timescale))
	header(w, set, r, target, r.Segments[0].Number, true)
	pi := protectionOf(set, r)
	next := 0
	for i := range r.IFrames {
		f := &r.IFrames[i]
		// An I-frame belongs to the key period of the segment it lies in.
		for pi != nil && next < len(pi.KeyPeriods) && pi.KeyPeriods[next].FirstSegment < len(r.Segments) &&
			f.Start >= r.Segments[pi.KeyPeriods[next].FirstSegment].Start {
			w.keys(pi.Scheme, pi.KeyPeriods[next].Systems)
			next++
		}
		w.str("#EXTINF:")
		w.b = appendSeconds(w.b, f.Duration, r.Timescale)
		w.str(",\n#EXT-X-BYTERANGE:")
		w.uint(f.Range.Length)
		w.b = append(w.b, '@')
		w.uint(f.Range.Offset)
		w.b = append(w.b, '\n')
		w.uriLine(f.URI)
	}
	w.line("#EXT-X-ENDLIST")
	return w
}

// header writes the tags before the first segment.
func header(w *writer, set *manifest.SwitchingSet, r *manifest.Representation, target, seq uint64, iframe bool) {
	w.str("#EXTM3U\n#EXT-X-VERSION:")
	w.uint(uint64(mediaVersion(set, r, iframe)))
	w.str("\n#EXT-X-TARGETDURATION:")
	w.uint(target)
	w.str("\n#EXT-X-MEDIA-SEQUENCE:")
	w.uint(seq)
	// Apple HLS Authoring Spec 8.6: VOD playlists carry
	// EXT-X-PLAYLIST-TYPE:VOD.
	w.str("\n#EXT-X-PLAYLIST-TYPE:VOD\n")
	if iframe {
		w.line("#EXT-X-I-FRAMES-ONLY")
	} else {
		// Every segment starts with a sync sample (CMAF segments do; WebVTT
		// cues are independent). Apple HLS Authoring Spec 9.12.
		w.line("#EXT-X-INDEPENDENT-SEGMENTS")
	}
	// One EXT-X-KEY per DRM system, before the EXT-X-MAP and every segment
	// (grafov/m3u8 v0.12.1 repeats it per segment, see the tests). The key
	// applies to all segments that follow, up to a key period's new tags.
	if pi := protectionOf(set, r); pi != nil {
		w.keys(pi.Scheme, pi.Systems)
	}
	if r.Init.URI != "" {
		w.str("#EXT-X-MAP:")
		w.quoted(true, "URI", r.Init.URI)
		if !r.Init.Range.IsZero() {
			// BYTERANGE of EXT-X-MAP is a quoted-string (RFC 8216
			// 4.3.2.5); grafov/m3u8 v0.12.1 writes it unquoted.
			w.quoted(false, "BYTERANGE", strconv.FormatUint(r.Init.Range.Length, 10)+"@"+strconv.FormatUint(r.Init.Range.Offset, 10))
		}
		w.b = append(w.b, '\n')
	}
}

// TimestampMap returns the X-TIMESTAMP-MAP header line a WebVTT segment
// carries in HLS (RFC 8216 3.5): cue time local corresponds to the MPEG-2
// 90 kHz timestamp mpegts. For fMP4 media whose timeline starts at zero,
// use TimestampMap(0, 0) or the media's start converted to 90 kHz.
func TimestampMap(mpegts uint64, local time.Duration) string {
	if local < 0 {
		local = 0
	}
	ms := local.Milliseconds()
	return fmt.Sprintf("X-TIMESTAMP-MAP=MPEGTS:%d,LOCAL:%02d:%02d:%02d.%03d",
		mpegts, ms/3_600_000, ms/60_000%60, ms/1000%60, ms%1000)
}

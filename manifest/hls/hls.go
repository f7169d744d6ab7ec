package hls

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/cmafkit/cmafkit/drm"
	"github.com/cmafkit/cmafkit/manifest"
	"github.com/cmafkit/cmafkit/segment"
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
//
// In a live presentation a representation continues from period to period
// under its ID and has one media playlist: only the first period's
// representations are listed.
func Playlists(p *manifest.Presentation) []Playlist {
	var out []Playlist
	for pi := range p.Periods {
		if pi > 0 && p.Type == manifest.Live {
			break
		}
		for si := range p.Periods[pi].Sets {
			set := &p.Periods[pi].Sets[si]
			for ri := range set.Representations {
				r := &set.Representations[ri]
				out = append(out, Playlist{URI: PlaylistURI(r), RepresentationID: r.ID})
				if set.ContentType == segment.KindVideo && hasIFrames(spansOf(p, r.ID)) {
					out = append(out, Playlist{URI: IFramePlaylistURI(r), RepresentationID: r.ID, IFrames: true})
				}
			}
		}
	}
	return out
}

// span is one period's part of a media playlist: the representation with
// the playlist's ID in that period, and its set.
type span struct {
	set *manifest.SwitchingSet
	r   *manifest.Representation
}

// spansOf returns the representation with ID id in each period that has it:
// one span for VOD (the first match), one per period for live.
func spansOf(p *manifest.Presentation, id string) []span {
	var out []span
	for pi := range p.Periods {
		pd := &p.Periods[pi]
	sets:
		for si := range pd.Sets {
			set := &pd.Sets[si]
			for ri := range set.Representations {
				if set.Representations[ri].ID == id {
					out = append(out, span{set, &set.Representations[ri]})
					break sets
				}
			}
		}
		if len(out) > 0 && p.Type != manifest.Live {
			break
		}
	}
	return out
}

func hasIFrames(spans []span) bool {
	for _, sp := range spans {
		if len(sp.r.IFrames) > 0 {
			return true
		}
	}
	return false
}

// supported refuses what this renderer does not write: a VOD presentation
// of several periods, and a live presentation whose periods do not continue
// one another (see continues).
func supported(p *manifest.Presentation) error {
	switch p.Type {
	case manifest.VOD:
		if len(p.Periods) != 1 {
			return fmt.Errorf("hls: %d periods (HLS renders exactly one for VOD): %w", len(p.Periods), manifest.ErrUnsupported)
		}
	case manifest.Live:
		if len(p.Periods) == 0 {
			return fmt.Errorf("hls: live presentation without periods: %w", manifest.ErrEmpty)
		}
		if p.TargetDuration <= 0 {
			// RFC 8216 6.2.1: EXT-X-TARGETDURATION must not change, which
			// a target derived from the segments in the window would.
			return fmt.Errorf("hls: refusing to render: %w", &manifest.ValidationError{Segment: -1, Err: manifest.ErrLive,
				Detail: "no target duration (a live playlist's EXT-X-TARGETDURATION must not change)"})
		}
		return continues(p)
	default:
		return fmt.Errorf("hls: %s presentation: %w", p.Type, manifest.ErrUnsupported)
	}
	return nil
}

// continues checks that every period of a live presentation has the same
// representations (by ID, in sets of the same content type) as the first,
// since a rendition is one media playlist across periods, and that segment
// numbers go on from one period to the next: a media playlist numbers its
// segments from EXT-X-MEDIA-SEQUENCE on, across discontinuities.
func continues(p *manifest.Presentation) error {
	type entry struct {
		ct   segment.Kind
		last uint64 // the number of the representation's last segment
		has  bool   // last is set
	}
	first := map[string]*entry{}
	var errs []error
	fail := func(pid, rid, detail string) {
		if len(errs) < 16 {
			errs = append(errs, &manifest.ValidationError{Period: pid, Representation: rid, Segment: -1, Err: manifest.ErrLive, Detail: detail})
		}
	}
	for pi := range p.Periods {
		pd := &p.Periods[pi]
		pid := manifest.PeriodID(pd, pi)
		seen := 0
		for si := range pd.Sets {
			set := &pd.Sets[si]
			for ri := range set.Representations {
				r := &set.Representations[ri]
				e := first[r.ID]
				switch {
				case pi == 0:
					e = &entry{ct: set.ContentType}
					first[r.ID] = e
				case e == nil:
					fail(pid, r.ID, "not in the first period (HLS renders a rendition across periods as one media playlist)")
					continue
				case e.ct != set.ContentType:
					fail(pid, r.ID, fmt.Sprintf("%s here, %s in the first period", set.ContentType, e.ct))
				}
				seen++
				if n := len(r.Segments); n > 0 {
					if e.has && r.Segments[0].Number != e.last+1 {
						fail(pid, r.ID, fmt.Sprintf("first segment number %d does not follow %d of the previous period", r.Segments[0].Number, e.last))
					}
					e.last, e.has = r.Segments[n-1].Number, true
				}
			}
		}
		if seen != len(first) {
			fail(pid, "", fmt.Sprintf("%d of the first period's %d representations (HLS renders a rendition across periods as one media playlist)", seen, len(first)))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("hls: refusing to render: %w", errors.Join(errs...))
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
			case segment.KindVideo:
				if len(set.Representations[ri].Segments) > 0 {
					return nil
				}
			case segment.KindAudio:
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
	spans, err := prepare(p, repID)
	if err != nil {
		return err
	}
	return flush(w, mediaPlaylist(p, spans, targetFor(p, spans), false))
}

// RenderIFrames validates the representation repID and writes its I-frame
// playlist (EXT-X-I-FRAMES-ONLY).
func RenderIFrames(w io.Writer, p *manifest.Presentation, repID string) error {
	spans, err := prepare(p, repID)
	if err != nil {
		return err
	}
	if !hasIFrames(spans) {
		return fmt.Errorf("hls: representation %q has no I-frames: %w", repID, manifest.ErrEmpty)
	}
	return flush(w, iframes(p, spans))
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
		spans := sideLoadedSpans(p, spansOf(p, pl.RepresentationID))
		var out *writer
		if pl.IFrames {
			out = iframes(p, spans)
		} else {
			t := target
			if spans[0].set.ContentType == segment.KindText {
				t = textTarget(p, spans)
			}
			out = mediaPlaylist(p, spans, t, false)
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

func prepare(p *manifest.Presentation, repID string) ([]span, error) {
	if err := supported(p); err != nil {
		return nil, err
	}
	if err := p.ValidateRepresentation(repID); err != nil {
		return nil, fmt.Errorf("hls: refusing to render: %w", err)
	}
	return sideLoadedSpans(p, spansOf(p, repID)), nil
}

// sideLoadedSpans applies sideLoaded to each span.
func sideLoadedSpans(p *manifest.Presentation, spans []span) []span {
	for i := range spans {
		spans[i].r = sideLoaded(p, spans[i].r)
	}
	return spans
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

// targetFor returns the EXT-X-TARGETDURATION of the media playlist of
// spans.
func targetFor(p *manifest.Presentation, spans []span) uint64 {
	if spans[0].set.ContentType == segment.KindText {
		return textTarget(p, spans)
	}
	return avTarget(p)
}

// avTarget is the target duration shared by every audio and video media
// playlist: RFC 8216 6.2.4 wants one target duration across the Media
// Playlists of a presentation (Apple HLS Authoring Spec 8.2 likewise).
// With an explicit TargetDuration it is that rounded up to whole seconds,
// raised to the longest segment for VOD only (a live target never
// changes); otherwise the longest segment rounded to the nearest second (RFC 8216
// 4.3.3.1 compares rounded EXTINF values), and at least 1.
func avTarget(p *manifest.Presentation) uint64 {
	var t uint64
	if p.TargetDuration > 0 {
		t = uint64((p.TargetDuration + time.Second - 1) / time.Second)
		if p.Type == manifest.Live {
			// Fixed for the playlist's life (RFC 8216 6.2.1), whatever
			// the segments in the window.
			return max(t, 1)
		}
	}
	for pi := range p.Periods {
		for si := range p.Periods[pi].Sets {
			set := &p.Periods[pi].Sets[si]
			if set.ContentType == segment.KindText {
				continue
			}
			for ri := range set.Representations {
				t = max(t, maxRounded(&set.Representations[ri]))
			}
		}
	}
	return max(t, 1)
}

// textTarget: subtitle playlists may have their own target duration (RFC
// 8216 6.2.4 exempts SUBTITLES renditions in VOD).
func textTarget(p *manifest.Presentation, spans []span) uint64 {
	var t uint64
	if p.TargetDuration > 0 {
		t = uint64((p.TargetDuration + time.Second - 1) / time.Second)
	}
	for _, sp := range spans {
		t = max(t, maxRounded(sp.r))
	}
	return max(t, 1)
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
	if pi := protectionOf(set, r); pi != nil && len(pi.Systems) > 0 && pi.Scheme != drm.SchemeAES128 {
		v = 5 // KEYFORMAT, SAMPLE-AES; AES-128 without IV attribute needs 1
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

// mediaPlaylist writes a media playlist: the segments of each span
// (period) in order, with EXT-X-DISCONTINUITY between spans; with skip, a
// delta update (see RenderMediaSkip).
func mediaPlaylist(p *manifest.Presentation, spans []span, target uint64, skip bool) *writer {
	first := spans[0]
	n := 0
	for _, sp := range spans {
		n += len(sp.r.Segments)
	}
	w := &writer{b: make([]byte, 0, 128+n*(40+len(first.r.Segments[0].URI)))}
	skipped := 0
	if skip {
		skipped = skipCount(p, spans)
	}
	k := header(w, p, spans, target, first.r.Segments[0].Number, false, skipped > 0)
	if skipped > 0 {
		w.str("#EXT-X-SKIP:SKIPPED-SEGMENTS=")
		w.uint(uint64(skipped))
		w.b = append(w.b, '\n')
	}
	for si, sp := range spans {
		set, r := sp.set, sp.r
		if si > 0 {
			k.next(w, sp)
		}
		pi := protectionOf(set, r)
		next := 0 // the next key period to start
		marks := cueMarks(p, r)
		for i := range r.Segments {
			s := &r.Segments[i]
			if marks != nil && (si > 0 || i >= skipped) {
				w.str(marks[i])
			}
			if pi != nil && next < len(pi.KeyPeriods) && pi.KeyPeriods[next].FirstSegment == i {
				k.keys(w, pi.Scheme, pi.KeyPeriods[next].KID, pi.KeyPeriods[next].Systems)
				next++
			}
			if si == 0 && i < skipped {
				continue
			}
			w.programDateTime(s.ProgramDateTime)
			w.parts(s.Parts, r.Timescale)
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
	}
	liveEdge(w, p, spans[len(spans)-1].r)
	endList(w, p)
	return w
}

// endList writes EXT-X-ENDLIST when no segment will be added: always for
// VOD, once the stream has ended for live.
func endList(w *writer, p *manifest.Presentation) {
	if p.Type != manifest.Live || p.Ended {
		w.line("#EXT-X-ENDLIST")
	}
}

// iframes writes an I-frame playlist: each entry is the byte range holding
// the moof and the sync sample, its EXTINF the time to the next I-frame.
func iframes(p *manifest.Presentation, spans []span) *writer {
	first := spans[0]
	var m uint64
	n, uriLen := 0, 0
	for _, sp := range spans {
		for i := range sp.r.IFrames {
			m = max(m, roundSeconds(sp.r.IFrames[i].Duration, sp.r.Timescale))
			uriLen = len(sp.r.IFrames[i].URI)
		}
		n += len(sp.r.IFrames)
	}
	w := &writer{b: make([]byte, 0, 128+n*(70+uriLen))}
	target := max(avTarget(p), m)
	k := header(w, p, spans, target, first.r.Segments[0].Number, true, false)
	written := false
	for _, sp := range spans {
		set, r := sp.set, sp.r
		if len(r.IFrames) == 0 {
			continue
		}
		if written {
			k.next(w, sp)
		}
		written = true
		pi := protectionOf(set, r)
		next := 0
		seg := 0 // the segment holding the I-frame, for its program date-time
		for i := range r.IFrames {
			f := &r.IFrames[i]
			// An I-frame belongs to the key period of the segment it lies in.
			for pi != nil && next < len(pi.KeyPeriods) && pi.KeyPeriods[next].FirstSegment < len(r.Segments) &&
				f.Start >= r.Segments[pi.KeyPeriods[next].FirstSegment].Start {
				k.keys(w, pi.Scheme, pi.KeyPeriods[next].KID, pi.KeyPeriods[next].Systems)
				next++
			}
			for seg+1 < len(r.Segments) && r.Segments[seg+1].Start <= f.Start {
				seg++
			}
			if s := &r.Segments[seg]; !s.ProgramDateTime.IsZero() && f.Start >= s.Start {
				w.programDateTime(s.ProgramDateTime.Add(manifest.TicksToDuration(f.Start-s.Start, r.Timescale)))
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
	}
	endList(w, p)
	return w
}

// keyState remembers the EXT-X-KEY and EXT-X-MAP in force, so that a new
// period repeats them only when they change.
type keyState struct {
	inForce string // the EXT-X-KEY lines in force
	init    manifest.Resource
}

// keys writes the EXT-X-KEY lines of systems and remembers them.
func (k *keyState) keys(w *writer, scheme drm.Scheme, kid drm.KID, systems []drm.SystemSignaling) {
	at := len(w.b)
	w.keys(scheme, kid, systems)
	k.inForce = string(w.b[at:])
}

// next starts the span of a new period: EXT-X-DISCONTINUITY, then its keys
// when they differ from those in force (EXT-X-KEY:METHOD=NONE when it is
// clear after encrypted media), then its EXT-X-MAP when the initialization
// segment differs.
func (k *keyState) next(w *writer, sp span) {
	w.line("#EXT-X-DISCONTINUITY")
	var lines []byte
	if pi := protectionOf(sp.set, sp.r); pi != nil {
		tmp := &writer{}
		tmp.keys(pi.Scheme, pi.DefaultKID, pi.Systems)
		if tmp.err != nil {
			w.fail("%w", tmp.err)
		}
		lines = tmp.b
	}
	if string(lines) != k.inForce {
		if len(lines) == 0 {
			w.line("#EXT-X-KEY:METHOD=NONE")
		}
		w.b = append(w.b, lines...)
		k.inForce = string(lines)
	}
	if sp.r.Init != k.init && sp.r.Init.URI != "" {
		w.mapTag(sp.r.Init)
		k.init = sp.r.Init
	}
}

// header writes the tags before the first segment and returns the keys
// and map it wrote.
func header(w *writer, p *manifest.Presentation, spans []span, target, seq uint64, iframe, skip bool) *keyState {
	set, r := spans[0].set, spans[0].r
	version := 0
	for _, sp := range spans {
		version = max(version, mediaVersion(sp.set, sp.r, iframe))
	}
	if skip {
		version = max(version, 9) // EXT-X-SKIP (RFC 8216bis 8)
	}
	w.str("#EXTM3U\n#EXT-X-VERSION:")
	w.uint(uint64(version))
	w.str("\n#EXT-X-TARGETDURATION:")
	w.uint(target)
	w.str("\n#EXT-X-MEDIA-SEQUENCE:")
	w.uint(seq)
	w.b = append(w.b, '\n')
	switch {
	case p.Type != manifest.Live:
		// Apple HLS Authoring Spec 8.6: VOD playlists carry
		// EXT-X-PLAYLIST-TYPE:VOD.
		w.line("#EXT-X-PLAYLIST-TYPE:VOD")
	case p.TimeShiftBufferDepth == 0:
		// An unlimited window: segments are only ever appended (RFC 8216
		// 4.3.3.5).
		w.line("#EXT-X-PLAYLIST-TYPE:EVENT")
	}
	if p.Type == manifest.Live && p.DiscontinuitySequence > 0 {
		w.str("#EXT-X-DISCONTINUITY-SEQUENCE:")
		w.uint(p.DiscontinuitySequence)
		w.b = append(w.b, '\n')
	}
	if iframe {
		w.line("#EXT-X-I-FRAMES-ONLY")
	} else {
		// Every segment starts with a sync sample (CMAF segments do; WebVTT
		// cues are independent). Apple HLS Authoring Spec 9.12.
		w.line("#EXT-X-INDEPENDENT-SEGMENTS")
		if p.LowLatency != nil && p.Type == manifest.Live {
			serverControl(w, p, target)
		}
	}
	k := &keyState{}
	// One EXT-X-KEY per DRM system, before the EXT-X-MAP and every segment
	// (grafov/m3u8 v0.12.1 repeats it per segment, see the tests). The key
	// applies to all segments that follow, up to a key period's new tags.
	if pi := protectionOf(set, r); pi != nil {
		k.keys(w, pi.Scheme, pi.DefaultKID, pi.Systems)
	}
	if r.Init.URI != "" {
		w.mapTag(r.Init)
		k.init = r.Init
	}
	return k
}

// mapTag writes EXT-X-MAP for an initialization segment.
func (w *writer) mapTag(init manifest.Resource) {
	w.str("#EXT-X-MAP:")
	w.quoted(true, "URI", init.URI)
	if !init.Range.IsZero() {
		// BYTERANGE of EXT-X-MAP is a quoted-string (RFC 8216
		// 4.3.2.5); grafov/m3u8 v0.12.1 writes it unquoted.
		w.quoted(false, "BYTERANGE", strconv.FormatUint(init.Range.Length, 10)+"@"+strconv.FormatUint(init.Range.Offset, 10))
	}
	w.b = append(w.b, '\n')
}

// programDateTime writes EXT-X-PROGRAM-DATE-TIME for the next segment when
// t is set: RFC 3339 in UTC with milliseconds (RFC 8216 4.3.2.6).
func (w *writer) programDateTime(t time.Time) {
	if t.IsZero() {
		return
	}
	w.str("#EXT-X-PROGRAM-DATE-TIME:")
	w.b = t.UTC().AppendFormat(w.b, "2006-01-02T15:04:05.000Z07:00")
	w.b = append(w.b, '\n')
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

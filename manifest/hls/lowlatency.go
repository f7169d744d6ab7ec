package hls

import (
	"io"
	"strconv"
	"time"

	"github.com/cmafkit/cmafkit/manifest"
)

// RenderMediaSkip writes the media playlist of repID as a playlist delta
// update (RFC 8216bis 6.2.5.1, a request with _HLS_skip=YES): the segments
// older than the presentation's LowLatency.CanSkipUntil from the end of the
// playlist are replaced by one EXT-X-SKIP tag. Without CanSkipUntil, or
// with nothing old enough, it writes the whole playlist as RenderMedia
// does. Only the first period's segments are skipped, so that no
// discontinuity is left out.
func RenderMediaSkip(w io.Writer, p *manifest.Presentation, repID string) error {
	spans, err := prepare(p, repID)
	if err != nil {
		return err
	}
	return flush(w, mediaPlaylist(p, spans, targetFor(p, spans), true))
}

// skipCount is how many segments of the first span a delta update leaves
// out: those that end CanSkipUntil or more before the playlist's end.
func skipCount(p *manifest.Presentation, spans []span) int {
	ll := p.LowLatency
	if ll == nil || ll.CanSkipUntil <= 0 || p.Type != manifest.Live {
		return 0
	}
	last := spans[len(spans)-1].r
	end := manifest.TicksToDuration(last.End(), last.Timescale)
	first := spans[0].r
	n := 0
	for n < len(first.Segments)-1 { // keep at least one segment
		s := &first.Segments[n]
		if end-manifest.TicksToDuration(s.Start+s.Duration, first.Timescale) < ll.CanSkipUntil {
			break
		}
		n++
	}
	if len(spans) == 1 && n >= len(first.Segments) {
		n = len(first.Segments) - 1
	}
	return n
}

// serverControl writes EXT-X-SERVER-CONTROL and EXT-X-PART-INF of a
// low-latency live playlist.
func serverControl(w *writer, p *manifest.Presentation, target uint64) {
	ll := p.LowLatency
	w.str("#EXT-X-SERVER-CONTROL:")
	first := true
	attr := func(name string) {
		if !first {
			w.b = append(w.b, ',')
		}
		first = false
		w.str(name)
		w.b = append(w.b, '=')
	}
	if ll.CanBlockReload {
		attr("CAN-BLOCK-RELOAD")
		w.str("YES")
	}
	if ll.CanSkipUntil > 0 {
		attr("CAN-SKIP-UNTIL")
		w.seconds(ll.CanSkipUntil)
	}
	hold := ll.HoldBack
	if hold <= 0 {
		hold = 3 * time.Duration(target) * time.Second
	}
	attr("HOLD-BACK")
	w.seconds(hold)
	if ll.PartTarget > 0 {
		phb := ll.PartHoldBack
		if phb < 3*ll.PartTarget {
			phb = 3 * ll.PartTarget
		}
		attr("PART-HOLD-BACK")
		w.seconds(phb)
	}
	w.b = append(w.b, '\n')
	if ll.PartTarget > 0 {
		w.str("#EXT-X-PART-INF:PART-TARGET=")
		w.seconds(ll.PartTarget)
		w.b = append(w.b, '\n')
	}
}

// seconds appends d as decimal seconds.
func (w *writer) seconds(d time.Duration) {
	w.b = appendSeconds(w.b, uint64(d), uint32(time.Second))
}

// parts writes an EXT-X-PART line per part.
func (w *writer) parts(ps []manifest.Part, timescale uint32) {
	for i := range ps {
		pt := &ps[i]
		w.str("#EXT-X-PART:DURATION=")
		w.b = appendSeconds(w.b, pt.Duration, timescale)
		w.b = append(w.b, ',')
		w.quoted(true, "URI", pt.URI)
		if !pt.Range.IsZero() {
			w.quoted(false, "BYTERANGE", strconv.FormatUint(pt.Range.Length, 10)+"@"+strconv.FormatUint(pt.Range.Offset, 10))
		}
		if pt.Independent {
			w.str(",INDEPENDENT=YES")
		}
		w.b = append(w.b, '\n')
	}
}

// liveEdge writes what follows the last segment of a low-latency
// playlist: the parts of the segment being written, the preload hint and
// a rendition report for every other media playlist.
func liveEdge(w *writer, p *manifest.Presentation, r *manifest.Representation) {
	if p.LowLatency == nil || p.Type != manifest.Live || p.Ended {
		return
	}
	w.parts(r.Parts, r.Timescale)
	if r.PreloadHint != "" {
		w.str("#EXT-X-PRELOAD-HINT:TYPE=PART,")
		w.quoted(true, "URI", r.PreloadHint)
		w.b = append(w.b, '\n')
	}
	for _, pl := range Playlists(p) {
		if pl.IFrames || pl.RepresentationID == r.ID {
			continue
		}
		spans := spansOf(p, pl.RepresentationID)
		o := spans[len(spans)-1].r
		if len(o.Segments) == 0 {
			continue
		}
		last := &o.Segments[len(o.Segments)-1]
		msn, part := last.Number, len(last.Parts)-1
		if len(o.Parts) > 0 {
			msn, part = last.Number+1, len(o.Parts)-1
		}
		w.str("#EXT-X-RENDITION-REPORT:")
		w.quoted(true, "URI", pl.URI)
		w.num("LAST-MSN", msn)
		if part >= 0 {
			w.num("LAST-PART", uint64(part))
		}
		w.b = append(w.b, '\n')
	}
}

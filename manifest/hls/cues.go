package hls

import (
	"encoding/hex"
	"net/url"
	"strings"
	"time"

	"github.com/cmafkit/cmafkit/manifest"
)

// cueTolerance is how far before a segment's start a cue may be and still
// be written before that segment rather than the one before: segments of
// audio renditions start up to half an audio frame off the video cut, plus
// the encoder delay their edit list removes (which the segment times in
// the model may include): 2112 samples at 48 kHz are 44 ms.
const cueTolerance = 100 * time.Millisecond

// cueMarks returns the text to write before each segment of r for the cues
// of its period (EXT-X-PROGRAM-DATE-TIME, EXT-X-DATERANGE and, with
// Presentation.HLSCueTags, EXT-X-CUE-OUT/-CONT/-IN), or nil without cues.
//
// A cue goes before the segment it falls in. Its START-DATE is the
// wall-clock time of that segment (SegmentRef.ProgramDateTime, else
// Presentation.ProgramDateTime or manifest.CueEpoch plus the segment's
// presentation time) plus the cue's offset into it, so a playlist with
// cues always carries the EXT-X-PROGRAM-DATE-TIME that RFC 8216bis 4.4.5.1
// requires: the first segment's, written here when the segments have none.
func cueMarks(p *manifest.Presentation, r *manifest.Representation) []string {
	pd := periodOf(p, r)
	if pd == nil || len(pd.Cues) == 0 || len(r.Segments) == 0 || r.Timescale == 0 {
		return nil
	}
	epoch := p.ProgramDateTime
	if epoch.IsZero() {
		epoch = manifest.CueEpoch
	}
	// Presentation time (from the period start) of each segment start.
	starts := make([]time.Duration, len(r.Segments))
	for i, s := range r.Segments {
		starts[i] = manifest.TicksToDuration(s.Start, r.Timescale) - manifest.TicksToDuration(r.PresentationTimeOffset, r.Timescale)
	}
	// segmentAt is the index of the segment cue time t falls in.
	segmentAt := func(t time.Duration) int {
		i := 0
		for i+1 < len(starts) && starts[i+1] <= t+cueTolerance {
			i++
		}
		return i
	}
	dateOf := func(t time.Duration) time.Time {
		i := segmentAt(t)
		base := r.Segments[i].ProgramDateTime
		if base.IsZero() {
			base = epoch.Add(pd.Start + starts[i])
		}
		return base.Add(t - starts[i])
	}
	marks := make([]string, len(r.Segments))
	if r.Segments[0].ProgramDateTime.IsZero() {
		marks[0] = "#EXT-X-PROGRAM-DATE-TIME:" + formatDate(dateOf(starts[0])) + "\n"
	}
	opened := map[string]*manifest.Cue{}
	for ci := range pd.Cues {
		c := &pd.Cues[ci]
		var b strings.Builder
		b.WriteString("#EXT-X-DATERANGE:ID=\"" + c.ID + "\"")
		if c.Class != "" {
			b.WriteString(",CLASS=\"" + c.Class + "\"")
		}
		start := c.Start
		out := opened[c.ID]
		if c.Kind == manifest.CueIn && out != nil {
			// The return closes the range its break opened: same ID and
			// START-DATE, now with the DURATION that happened.
			start = out.Start
		}
		b.WriteString(",START-DATE=\"" + formatDate(dateOf(start)) + "\"")
		switch {
		case c.Kind == manifest.CueIn && out != nil:
			b.WriteString(",DURATION=" + seconds(c.Start-out.Start))
		case c.Duration > 0 && c.Planned:
			b.WriteString(",PLANNED-DURATION=" + seconds(c.Duration))
		case c.Duration > 0:
			b.WriteString(",DURATION=" + seconds(c.Duration))
		}
		if len(c.SCTE35) > 0 {
			attr := "SCTE35-CMD"
			switch c.Kind {
			case manifest.CueOut:
				attr = "SCTE35-OUT"
			case manifest.CueIn:
				attr = "SCTE35-IN"
			}
			b.WriteString("," + attr + "=0x" + strings.ToUpper(hex.EncodeToString(c.SCTE35)))
		}
		b.WriteByte('\n')
		if c.Kind == manifest.CueOut {
			// Even outside this rendition's segments (a live window
			// the break's start has left): its return still closes it.
			opened[c.ID] = c
		}
		i := segmentAt(c.Start)
		if c.Start < starts[0]-cueTolerance || c.Start >= starts[len(starts)-1]+manifest.TicksToDuration(r.Segments[len(starts)-1].Duration, r.Timescale) {
			continue // outside this rendition
		}
		marks[i] += b.String()
		if in := p.HLSInterstitials; in != nil && c.Kind == manifest.CueOut {
			marks[i] += interstitial(in, c, formatDate(dateOf(c.Start)))
		}
		if p.HLSCueTags && c.Kind == manifest.CueOut && c.Duration > 0 {
			cueOutTags(marks, starts, segmentAt, c)
		}
	}
	return marks
}

// cueOutTags adds EXT-X-CUE-OUT before the segment a break starts in,
// EXT-X-CUE-OUT-CONT before each later segment of the break and
// EXT-X-CUE-IN before the segment it ends in.
func cueOutTags(marks []string, starts []time.Duration, segmentAt func(time.Duration) int, c *manifest.Cue) {
	first := segmentAt(c.Start)
	end := c.Start + c.Duration
	marks[first] += "#EXT-X-CUE-OUT:" + seconds(c.Duration) + "\n"
	i := first + 1
	for ; i < len(starts) && starts[i] < end-cueTolerance; i++ {
		marks[i] += "#EXT-X-CUE-OUT-CONT:ElapsedTime=" + seconds(starts[i]-c.Start) + ",Duration=" + seconds(c.Duration) + "\n"
	}
	if i < len(starts) {
		marks[i] += "#EXT-X-CUE-IN\n"
	}
}

// interstitial returns the HLS Interstitial date range of break c, which
// starts at date (see manifest.Interstitials).
func interstitial(in *manifest.Interstitials, c *manifest.Cue, date string) string {
	var b strings.Builder
	b.WriteString("#EXT-X-DATERANGE:ID=\"" + c.ID + "-ad\",CLASS=\"" + manifest.InterstitialClass + "\",START-DATE=\"" + date + "\"")
	if c.Duration > 0 {
		if c.Planned {
			b.WriteString(",PLANNED-DURATION=" + seconds(c.Duration))
		} else {
			b.WriteString(",DURATION=" + seconds(c.Duration))
		}
	}
	id := url.QueryEscape(c.ID)
	if in.AssetURI != "" {
		b.WriteString(",X-ASSET-URI=\"" + strings.ReplaceAll(in.AssetURI, "{id}", id) + "\"")
	} else {
		b.WriteString(",X-ASSET-LIST=\"" + strings.ReplaceAll(in.AssetList, "{id}", id) + "\"")
	}
	if c.Duration > 0 {
		b.WriteString(",X-RESUME-OFFSET=" + seconds(c.Duration))
	}
	if in.Restrict != "" {
		b.WriteString(",X-RESTRICT=\"" + in.Restrict + "\"")
	}
	b.WriteByte('\n')
	return b.String()
}

// periodOf returns the period holding representation r.
func periodOf(p *manifest.Presentation, r *manifest.Representation) *manifest.Period {
	for pi := range p.Periods {
		for si := range p.Periods[pi].Sets {
			reps := p.Periods[pi].Sets[si].Representations
			for ri := range reps {
				if &reps[ri] == r || reps[ri].ID == r.ID {
					return &p.Periods[pi]
				}
			}
		}
	}
	return nil
}

// formatDate writes an ISO 8601 date with milliseconds, as
// EXT-X-PROGRAM-DATE-TIME and START-DATE are usually written.
func formatDate(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// seconds formats d as decimal seconds with up to millisecond precision.
func seconds(d time.Duration) string {
	return string(appendSeconds(nil, uint64(d.Round(time.Millisecond)/time.Millisecond), 1000))
}

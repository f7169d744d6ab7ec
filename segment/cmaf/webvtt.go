package cmaf

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/cmafkit/cmafkit/internal/mediatime"
	"github.com/cmafkit/cmafkit/segment"
	"github.com/cmafkit/cmafkit/segment/webvtt"
)

// WebVTTTimestampMap is the X-TIMESTAMP-MAP header of the WebVTT segments
// WriteWebVTT writes: cue times are on the presentation timeline, which
// starts at zero in every CMAF track the package writes, so MPEG-TS time 0
// maps to local time 0 (RFC 8216 3.5).
const WebVTTTimestampMap = "X-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000"

// maxCueLookaround bounds how many samples before and after a segment
// WriteWebVTT reads to find where the cues that cross its edges begin and
// end. A cue that lasts longer is written with the times found within it.
const maxCueLookaround = 4096

// WriteWebVTT writes media segment i (0-based) of a wvtt track as a WebVTT
// document for HLS (RFC 8216 3.5) instead of CMAF: every cue displayed
// during the segment, on the presentation timeline (see
// WebVTTTimestampMap). As RFC 8216 3.5 requires, a cue carries its whole
// display time even where it extends past the segment, so a cue that spans
// a boundary is repeated, with the same times, in each segment it touches
// (players drop the repeat); its times are recovered from the samples
// before and after the segment that repeat it. The track should be aligned
// with AlignText. The track's WebVTT header (see WebVTTHeader) is left out.
func (sw *Writer) WriteWebVTT(ctx context.Context, w io.Writer, i int) (SegmentInfo, error) {
	t := sw.track
	if t.Codec != "wvtt" {
		return SegmentInfo{}, fmt.Errorf("%s: %w: WebVTT segments need a wvtt track", t, segment.ErrUnsupportedCodec)
	}
	if i < 0 || i >= sw.Len() {
		return SegmentInfo{}, fmt.Errorf("segment %d out of range [0,%d)", i, sw.Len())
	}
	if err := ctx.Err(); err != nil {
		return SegmentInfo{}, err
	}
	info, ss, err := sw.info(i)
	if err != nil {
		return info, err
	}
	var buf []byte
	// read decodes sample k of the track (s, when given, is its index entry).
	read := func(k int, s *segment.Sample) (webvtt.Sample, error) {
		if s == nil {
			one, err := t.AppendSamples(nil, k, k+1)
			if err != nil {
				return webvtt.Sample{}, err
			}
			s = &one[0]
		}
		buf, err = t.Data.AppendSample(buf[:0], s)
		if err != nil {
			return webvtt.Sample{}, segment.SampleError(t, k, s, err)
		}
		cues, err := webvtt.DecodeSample(buf)
		if err != nil {
			return webvtt.Sample{}, &segment.FormatError{Source: t.Source, Track: t.ID, Sample: k + 1, Offset: s.Offset, Err: segment.ErrMalformed, Detail: err.Error()}
		}
		a := t.PresentationTime(s)
		return webvtt.Sample{Start: mediatime.Duration(a, t.Timescale), End: mediatime.Duration(a+int64(s.Duration), t.Timescale), Cues: cues}, nil
	}
	samples := make([]webvtt.Sample, 0, len(ss)+2)
	for k := range ss {
		s, err := read(info.FirstSample+k, &ss[k])
		if err != nil {
			return info, err
		}
		samples = append(samples, s)
	}
	if len(samples) == 0 {
		return info, fmt.Errorf("%s: segment %d has no samples", t, i+1)
	}
	segStart, segEnd := samples[0].Start, samples[len(samples)-1].End
	// Follow the cues of the first sample back and those of the last
	// forward while neighbouring samples repeat them.
	var before, after []webvtt.Sample
	carry := samples[0].Cues
	for k := info.FirstSample - 1; k >= 0 && k >= info.FirstSample-maxCueLookaround && len(carry) > 0; k-- {
		s, err := read(k, nil)
		if err != nil {
			return info, err
		}
		if s.Cues = sameCues(s.Cues, carry); len(s.Cues) == 0 {
			break
		}
		before, carry = append(before, s), s.Cues
	}
	carry = samples[len(samples)-1].Cues
	for k := info.EndSample; k < t.SampleCount() && k < info.EndSample+maxCueLookaround && len(carry) > 0; k++ {
		s, err := read(k, nil)
		if err != nil {
			return info, err
		}
		if s.Cues = sameCues(s.Cues, carry); len(s.Cues) == 0 {
			break
		}
		after, carry = append(after, s), s.Cues
	}
	slices.Reverse(before)
	all := append(append(before, samples...), after...)
	var cues []webvtt.Cue
	for _, c := range webvtt.Merge(all) {
		if c.End > segStart && c.Start < segEnd {
			cues = append(cues, c)
		}
	}
	cw := &countingWriter{w: w}
	// The track's configuration (vttC: header lines, STYLE and REGION
	// blocks) is not repeated: FFmpeg 5.1 reads no cue at all from a
	// document with a STYLE block, and HLS players ignore the styles.
	header := []string{WebVTTTimestampMap}
	if sw.opts.WebVTTMPEGTS != 0 {
		header[0] = fmt.Sprintf("X-TIMESTAMP-MAP=MPEGTS:%d,LOCAL:00:00:00.000", sw.opts.WebVTTMPEGTS)
	}
	if err := webvtt.Write(cw, header, cues); err != nil {
		return info, err
	}
	info.Size = cw.n
	info.Chunks = 1
	return info, nil
}

// sameCues returns the cues of have that are also in want (same
// identifier, settings and text): a cue repeated in consecutive samples.
func sameCues(have, want []webvtt.Cue) []webvtt.Cue {
	var out []webvtt.Cue
	for _, c := range have {
		for _, w := range want {
			if c.ID == w.ID && c.Settings == w.Settings && c.Text == w.Text {
				out = append(out, c)
				break
			}
		}
	}
	return out
}

// WebVTTHeader returns the header lines of a wvtt track's configuration
// (the vttC box after its WEBVTT line), e.g. STYLE blocks, or "".
func WebVTTHeader(t *segment.Track) string {
	e, ok := t.SampleEntry.(*mp4.WvttBox)
	if !ok || e.VttC == nil {
		return ""
	}
	_, rest, _ := strings.Cut(e.VttC.Config, "\n")
	return strings.TrimSpace(rest)
}

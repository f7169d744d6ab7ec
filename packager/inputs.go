package packager

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/cmafkit/cmafkit/manifest"
	"github.com/cmafkit/cmafkit/manifest/hls"
	"github.com/cmafkit/cmafkit/segment"
)

func (r *runner) closeSources() {
	for _, s := range r.sources {
		s.Close()
	}
}

func (r *runner) open(ctx context.Context) error {
	opts := &segment.OpenOptions{Logger: r.log}
	for i := range r.job.Inputs {
		in := &r.job.Inputs[i]
		var src *segment.Source
		var err error
		if in.Reader != nil {
			src, err = segment.Open(ctx, in.Reader, in.Size, in.Name, opts)
		} else {
			src, err = segment.OpenFile(ctx, in.Path, opts)
		}
		if err != nil {
			return err
		}
		r.sources = append(r.sources, src)
		n := 0
		for _, t := range src.Tracks {
			if !selected(in, t) {
				continue
			}
			n++
			if in.Language != "" && t.Kind != segment.KindVideo {
				t.Language = in.Language
			}
			dup, err := r.duplicate(t)
			if err != nil {
				return err
			}
			if dup != nil {
				r.log.Info("track is identical to one already selected; packaging it once", "track", t.String(), "same_as", dup.track.String())
				continue
			}
			r.reps = append(r.reps, &repJob{input: in, track: t})
		}
		if n == 0 {
			return fmt.Errorf("%w: %s: the track selection matches none of its %d tracks", ErrNoInputs, in.name(), len(src.Tracks))
		}
	}
	r.assignIDs()
	return nil
}

// checkHLSVariants refuses, before anything is written, a job that asks
// for HLS but selected no audio or video track: a multivariant playlist of
// text alone has no variant stream and is invalid (see hls.ErrNoVariant).
// DASH alone can describe such a presentation.
func (r *runner) checkHLSVariants() error {
	if r.job.Formats&HLS == 0 {
		return nil
	}
	var names []string
	for _, rep := range r.reps {
		if rep.track.Kind == segment.KindVideo || rep.track.Kind == segment.KindAudio {
			return nil
		}
		if n := rep.input.name(); !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return fmt.Errorf("packager: %s: only text tracks selected: %w; package the text with the video or audio it belongs to, or write DASH only", strings.Join(names, ", "), hls.ErrNoVariant)
}

func selected(in *Input, t *segment.Track) bool {
	if len(in.TrackIDs) > 0 && !containsID(in.TrackIDs, t.ID) {
		return false
	}
	if len(in.Kinds) > 0 {
		for _, k := range in.Kinds {
			if k == t.Kind {
				return true
			}
		}
		return false
	}
	return true
}

func containsID(ids []uint32, id uint32) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// duplicate finds an already selected track with the same encoded content:
// in an ABR ladder every rendition file usually carries the same audio.
func (r *runner) duplicate(t *segment.Track) (*repJob, error) {
	if t.Kind == segment.KindVideo {
		return nil, nil
	}
	for _, rep := range r.reps {
		o := rep.track
		if o.Kind != t.Kind || o.Codec != t.Codec || o.Language != t.Language || o.SampleCount() != t.SampleCount() || o.Timescale != t.Timescale {
			continue
		}
		same, err := sameTiming(t, o)
		if err != nil || same {
			return rep, err
		}
	}
	return nil, nil
}

// sameTiming reports whether two tracks with as many samples have the same
// sample sizes, durations and decode times, reading both indexes in step.
func sameTiming(t, o *segment.Track) (bool, error) {
	a, b := t.Scan(0, t.SampleCount()), o.Scan(0, o.SampleCount())
	for a.Next() && b.Next() {
		x, y := a.Sample(), b.Sample()
		if x.Size != y.Size || x.Duration != y.Duration || x.DecodeTime != y.DecodeTime {
			return false, nil
		}
	}
	if err := errors.Join(a.Err(), b.Err()); err != nil {
		return false, err
	}
	return true, nil
}

func (r *runner) allTracks() []*segment.Track {
	out := make([]*segment.Track, len(r.reps))
	for i, rep := range r.reps {
		out[i] = rep.track
	}
	return out
}

// assignIDs gives every representation a deterministic, readable ID such as
// "video_720p_avc", "audio_en_aac" or "text_fr".
func (r *runner) assignIDs() {
	seen := map[string]int{}
	for _, rep := range r.reps {
		t := rep.track
		var id string
		switch t.Kind {
		case segment.KindVideo:
			id = fmt.Sprintf("video_%dp_%s", t.Height, manifest.CodecFamily(t.Codec))
		case segment.KindAudio:
			id = fmt.Sprintf("audio_%s_%s_%dch", safeID(t.Language), manifest.CodecFamily(t.Codec), t.Channels)
		default:
			id = fmt.Sprintf("text_%s_%s", safeID(t.Language), manifest.CodecFamily(t.Codec))
		}
		seen[id]++
		if n := seen[id]; n > 1 {
			id = fmt.Sprintf("%s_%d", id, n)
		}
		rep.id = id
	}
}

func safeID(s string) string {
	var b strings.Builder
	for _, c := range s {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' {
			b.WriteRune(c)
		}
	}
	if b.Len() == 0 {
		return "und"
	}
	return b.String()
}

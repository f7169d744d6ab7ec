package packager

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/cmafkit/cmafkit/drm"
	"github.com/cmafkit/cmafkit/manifest"
	"github.com/cmafkit/cmafkit/manifest/dash"
	"github.com/cmafkit/cmafkit/manifest/hls"
	"github.com/cmafkit/cmafkit/segment"
)

// presentation builds the common model from what was written: one switching
// set per video codec, per audio language/codec/channel layout and per text
// language.
func (r *runner) presentation() *manifest.Presentation {
	type key struct {
		kind  segment.Kind
		group string
	}
	sets := map[key]*manifest.SwitchingSet{}
	var order []key
	// The caption services of each video representation, by set.
	type repCaptions struct {
		services [][]ccService
		ids      []string
	}
	captions := map[key]*repCaptions{}
	for _, rep := range r.reps {
		t := rep.track
		if len(rep.webvtt) > 0 {
			// The WebVTT rendition of a wvtt track, for HLS (see forFormat).
			k := key{kind: t.Kind, group: t.Language + "/webvtt/" + rep.input.Label}
			set := sets[k]
			if set == nil {
				set = &manifest.SwitchingSet{ID: "text-" + safeID(t.Language) + "-webvtt", ContentType: manifest.Text, MimeType: "text/vtt",
					Lang: t.Language, Label: rep.input.Label, Roles: textRoles(rep.input.Roles), CodecFamily: "webvtt"}
				if set.Label == "" {
					set.Label = defaultLabel(t)
				}
				sets[k] = set
				order = append(order, k)
			}
			set.Representations = append(set.Representations, manifest.Representation{
				ID: webvttID(rep), Timescale: t.Timescale, Segments: rep.webvtt,
				Template: &manifest.Template{Media: r.naming.WebVTT},
			})
		}
		if len(rep.segments) == 0 && rep.single == nil && len(rep.ts) == 0 && rep.smooth == nil {
			continue // a wvtt track written for HLS only
		}
		fam := manifest.CodecFamily(t.Codec)
		k := key{kind: t.Kind, group: fam}
		if t.Kind != segment.KindVideo {
			k.group = t.Language + "/" + fam + "/" + rep.input.Label
		}
		set := sets[k]
		if set == nil {
			set = &manifest.SwitchingSet{ID: setID(rep), CodecFamily: fam, Roles: rep.input.Roles, Label: rep.input.Label}
			switch t.Kind {
			case segment.KindVideo:
				set.ContentType = manifest.Video
			case segment.KindAudio:
				set.ContentType = manifest.Audio
				set.Lang = t.Language
			default:
				set.ContentType = manifest.Text
				set.Lang = t.Language
				set.MimeType = "application/mp4"
				set.Roles = textRoles(set.Roles)
				if fam == "stpp" {
					// IMSC1 needs its own HLS group: the variants that name
					// it list stpp.ttml.im1t in CODECS, which players
					// without IMSC1 support refuse; WebVTT needs no codec.
					set.GroupID = "subs-imsc1"
				}
			}
			if set.Label == "" && t.Kind != segment.KindVideo {
				set.Label = defaultLabel(t)
			}
			sets[k] = set
			order = append(order, k)
		}
		set.Representations = append(set.Representations, r.representation(rep))
		if t.Kind == segment.KindVideo {
			rc := captions[k]
			if rc == nil {
				rc = &repCaptions{}
				captions[k] = rc
			}
			rc.services = append(rc.services, r.captionServices(rep))
			rc.ids = append(rc.ids, rep.id)
		}
	}
	for _, k := range order {
		if rc := captions[k]; rc != nil {
			sets[k].ClosedCaptions = r.setCaptions(sets[k], rc.services, rc.ids)
		}
	}
	// The first audio set is the default one.
	defaultAudio := false
	pres := &manifest.Presentation{Type: manifest.VOD, CMAF: !(r.hlsTS() && r.job.Formats&DASH == 0), Periods: []manifest.Period{{ID: "0", Cues: r.cueList}},
		HLSCueTags: r.job.CueOptions.HLSCueTags, ProgramDateTime: r.job.CueOptions.ProgramDateTime}
	for _, k := range order {
		set := sets[k]
		if set.ContentType == manifest.Audio && !defaultAudio {
			set.Default, set.Autoselect, defaultAudio = true, true, true
		} else if set.ContentType != manifest.Video {
			set.Autoselect = true
		}
		pres.Periods[0].Sets = append(pres.Periods[0].Sets, *set)
	}
	// Bandwidths are measured with the window Validate checks them with
	// (the presentation's target duration, derived from the longest segment).
	pres.FillBandwidth()
	for i := range pres.Periods[0].Sets {
		reps := pres.Periods[0].Sets[i].Representations
		// Representations within a set from highest to lowest bandwidth.
		sort.SliceStable(reps, func(i, j int) bool { return reps[i].Bandwidth > reps[j].Bandwidth })
	}
	return pres
}

// textRoles returns roles, or the subtitle role when there are none (DASH
// Role urn:mpeg:dash:role:2011 "subtitle").
func textRoles(roles []manifest.Role) []manifest.Role {
	if len(roles) == 0 {
		return []manifest.Role{manifest.RoleSubtitle}
	}
	return roles
}

// forFormat returns p without the text sets format f cannot carry: DASH
// has no segmented WebVTT (text/vtt sets are for HLS), and HLS has no
// wvtt in fMP4 (RFC 8216 allows WebVTT as text and IMSC1 in fMP4 only).
func forFormat(p *manifest.Presentation, f Format) *manifest.Presentation {
	c := *p
	c.Periods = append([]manifest.Period(nil), p.Periods...)
	for pi := range c.Periods {
		var sets []manifest.SwitchingSet
		for _, set := range c.Periods[pi].Sets {
			if set.ContentType == manifest.Text {
				vtt := set.MIME() == "text/vtt"
				wvtt := len(set.Representations) > 0 && set.Representations[0].Codecs == "wvtt"
				if (f == DASH && vtt) || (f == HLS && wvtt) {
					continue
				}
			}
			sets = append(sets, set)
		}
		c.Periods[pi].Sets = sets
	}
	return &c
}

func defaultLabel(t *segment.Track) string {
	switch t.Kind {
	case segment.KindAudio:
		return fmt.Sprintf("%s %s %dch", t.Language, manifest.CodecFamily(t.Codec), t.Channels)
	}
	return t.Language
}

func (r *runner) representation(rep *repJob) manifest.Representation {
	t := rep.track
	m := manifest.Representation{
		ID:         rep.id,
		Codecs:     t.Codec,
		Timescale:  t.Timescale,
		Init:       rep.init,
		Segments:   rep.segments,
		SingleFile: rep.single,
		Protection: rep.protection,
	}
	switch t.Kind {
	case segment.KindVideo:
		m.Width, m.Height = t.Width, t.Height
		m.FrameRate = manifest.Rational{Num: t.FrameRate.Num, Den: t.FrameRate.Den}
		m.PixelAspect = manifest.Rational{Num: t.PixelAspect.Num, Den: t.PixelAspect.Den}
		m.VideoRange = manifest.VideoRange(t.VideoRange)
		m.SupplementalCodecs = t.SupplementalCodecs
		if c := t.Color; c != nil {
			m.Color = &manifest.Color{Primaries: c.Primaries, Transfer: c.Transfer, Matrix: c.Matrix}
		}
		m.IFrames = rep.iframes
	case segment.KindAudio:
		m.SampleRate, m.Channels = t.SampleRate, t.Channels
	}
	if rep.single == nil {
		m.Template = &manifest.Template{Init: r.naming.Init, Media: r.naming.Media}
	}
	if len(rep.segments) == 0 && rep.single == nil && len(rep.ts) > 0 {
		// HLS alone, with MPEG-TS segments: no CMAF was written.
		m.Segments, m.Init, m.IFrames = rep.ts, manifest.Resource{}, nil
		m.Template = &manifest.Template{Media: r.naming.TS}
	}
	if len(m.Segments) == 0 && rep.single == nil && rep.smooth != nil {
		// Smooth Streaming alone: its fragments are the only segments.
		m.Segments, m.Init, m.IFrames, m.Template = rep.smooth.frags, manifest.Resource{}, nil, nil
	}
	return m
}

// setID is the ID of the switching set of an audio, video or CMAF text
// representation: its kind and codec family, and for all but video its
// language and label (see presentation).
func setID(rep *repJob) string {
	t := rep.track
	group := manifest.CodecFamily(t.Codec)
	if t.Kind != segment.KindVideo {
		group = t.Language + "/" + group + "/" + rep.input.Label
	}
	return fmt.Sprintf("%s-%s", t.Kind, strings.ReplaceAll(group, "/", "-"))
}

// withTS returns a copy of p whose audio and video representations list
// their MPEG-TS segments instead of CMAF ones, for HLS: no init segment,
// no I-frame playlists (their byte ranges address CMAF fragments), and
// bandwidths measured on the TS segments. p must not be changed.
func (r *runner) withTS(p *manifest.Presentation) *manifest.Presentation {
	ts := map[string][]manifest.SegmentRef{}
	for _, rep := range r.reps {
		if len(rep.ts) > 0 {
			ts[rep.id] = rep.ts
		}
	}
	c := *p
	c.CMAF = false
	c.Periods = append([]manifest.Period(nil), p.Periods...)
	for pi := range c.Periods {
		c.Periods[pi].Sets = append([]manifest.SwitchingSet(nil), c.Periods[pi].Sets...)
		for si := range c.Periods[pi].Sets {
			set := &c.Periods[pi].Sets[si]
			set.Representations = append([]manifest.Representation(nil), set.Representations...)
			for ri := range set.Representations {
				rr := &set.Representations[ri]
				segs, ok := ts[rr.ID]
				if !ok {
					continue
				}
				rr.Segments, rr.Init, rr.IFrames, rr.SingleFile = segs, manifest.Resource{}, nil, nil
				rr.Template = &manifest.Template{Media: r.naming.TS}
				if r.job.HLSAES128 != nil {
					rr.Protection = &drm.Protection{Scheme: drm.SchemeAES128, Systems: []drm.SystemSignaling{{KeyURI: r.aes128URI()}}}
				}
			}
		}
	}
	c.FillBandwidth()
	return &c
}

// writeManifests renders the requested formats into storage, after every
// segment has been committed.
func (r *runner) writeManifests(ctx context.Context, p *manifest.Presentation) error {
	if err := p.Validate(); err != nil {
		return fmt.Errorf("packager: %w", err)
	}
	if r.job.Formats&DASH != 0 {
		dp := forFormat(p, DASH)
		if !r.job.DASHTrickMode {
			dp = withoutIFrames(dp)
		}
		if _, err := r.put(ctx, r.naming.DASH, func(w io.Writer) error { return r.steer(w, dp, dash.Render, r.job.Steering.DASH) }); err != nil {
			return err
		}
		r.manifests = append(r.manifests, r.naming.DASH)
	}
	if err := r.writeSmoothManifest(ctx, p); err != nil {
		return err
	}
	if r.job.Formats&HLS != 0 {
		// Media playlists first, the multivariant playlist that names them last.
		type staged struct {
			uri string
			buf strings.Builder
		}
		var out []*staged
		hp := forFormat(p, HLS)
		if r.hlsTS() {
			hp = r.withTS(hp)
		}
		err := hls.RenderAll(hp, r.naming.HLS, func(uri string) (io.WriteCloser, error) {
			s := &staged{uri: uri}
			out = append(out, s)
			return nopCloser{&s.buf}, nil
		})
		if err != nil {
			return err
		}
		for i := len(out) - 1; i >= 0; i-- {
			s := out[i]
			if s.uri == r.naming.HLS && r.job.Steering != nil {
				b, err := r.job.Steering.HLS([]byte(s.buf.String()), "")
				if err != nil {
					return fmt.Errorf("packager: %w", err)
				}
				s.buf.Reset()
				s.buf.Write(b)
			}
			if _, err := r.put(ctx, s.uri, func(w io.Writer) error { _, err := io.WriteString(w, s.buf.String()); return err }); err != nil {
				return err
			}
		}
		r.manifests = append(r.manifests, r.naming.HLS)
	}
	return nil
}

// steer renders p with render, through the steering rewrite add when the
// job has steering.
func (r *runner) steer(w io.Writer, p *manifest.Presentation, render func(io.Writer, *manifest.Presentation) error, add func([]byte, string) ([]byte, error)) error {
	if r.job.Steering == nil {
		return render(w, p)
	}
	var b bytes.Buffer
	if err := render(&b, p); err != nil {
		return err
	}
	out, err := add(b.Bytes(), "")
	if err != nil {
		return fmt.Errorf("packager: %w", err)
	}
	_, err = w.Write(out)
	return err
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// withoutIFrames returns a copy of p whose representations carry no I-frame
// references, so the DASH renderer writes no trick-mode sets.
func withoutIFrames(p *manifest.Presentation) *manifest.Presentation {
	c := *p
	c.Periods = append([]manifest.Period(nil), p.Periods...)
	for pi := range c.Periods {
		c.Periods[pi].Sets = append([]manifest.SwitchingSet(nil), c.Periods[pi].Sets...)
		for si := range c.Periods[pi].Sets {
			set := &c.Periods[pi].Sets[si]
			set.Representations = append([]manifest.Representation(nil), set.Representations...)
			for ri := range set.Representations {
				set.Representations[ri].IFrames = nil
			}
		}
	}
	return &c
}

package packager

import (
	"fmt"
	"sort"
	"strings"

	"github.com/cmafkit/cmafkit/manifest"
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
				set = &manifest.SwitchingSet{ID: "text-" + safeID(t.Language) + "-webvtt", ContentType: segment.KindText, MimeType: "text/vtt",
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
				set.ContentType = segment.KindVideo
			case segment.KindAudio:
				set.ContentType = segment.KindAudio
				set.Lang = t.Language
			default:
				set.ContentType = segment.KindText
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
		HLSCueTags: r.job.CueOptions.HLSCueTags, HLSInterstitials: r.job.CueOptions.HLSInterstitials, ProgramDateTime: r.job.CueOptions.ProgramDateTime}
	for _, k := range order {
		set := sets[k]
		if set.ContentType == segment.KindAudio && !defaultAudio {
			set.Default, set.Autoselect, defaultAudio = true, true, true
		} else if set.ContentType != segment.KindVideo {
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
		m.FrameRate = t.FrameRate
		m.PixelAspect = t.PixelAspect
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
		m.Template = &manifest.Template{Media: r.tsTemplate(rep)}
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

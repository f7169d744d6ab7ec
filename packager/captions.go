package packager

import (
	"fmt"
	"slices"
	"strings"

	"github.com/cmafkit/cmafkit/manifest"
)

// ccService names one closed-caption service: a CEA-608 channel or a
// CEA-708 service number.
type ccService struct {
	typ     manifest.CaptionType
	channel int
}

func (s ccService) String() string {
	return manifest.ClosedCaption{Type: s.typ, Channel: s.channel}.InstreamID()
}

// parseCaptionLanguages checks Job.Captions.Languages before anything is
// read, so that a mistyped service or language fails at once.
func (r *runner) parseCaptionLanguages() error {
	r.ccLangs = map[ccService]string{}
	for id, lang := range r.job.Captions.Languages {
		typ, ch, err := manifest.ParseInstreamID(id)
		if err != nil {
			return fmt.Errorf("packager: caption languages: %w", err)
		}
		s := ccService{typ, ch}
		if _, dup := r.ccLangs[s]; dup {
			return fmt.Errorf("packager: caption languages: %s given twice: %w", s, manifest.ErrCaptions)
		}
		// The manifest validation would refuse it too, but only after every
		// segment was written.
		if err := (manifest.ClosedCaption{Type: typ, Channel: ch, Lang: lang}).Check(); err != nil {
			return fmt.Errorf("packager: caption languages: %w", err)
		}
		r.ccLangs[s] = lang
	}
	return nil
}

// captionServices returns the services to signal for the video track of
// rep: those found, and those named in Job.Captions.Languages when the
// track carries caption data at all; CEA-608 first, by channel.
func (r *runner) captionServices(rep *repJob) []ccService {
	cc := rep.captions
	var out []ccService
	for _, ch := range cc.CEA608 {
		out = append(out, ccService{manifest.CEA608, ch})
	}
	for _, svc := range cc.CEA708 {
		out = append(out, ccService{manifest.CEA708, svc})
	}
	if cc.Found {
		for s := range r.ccLangs {
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	slices.SortFunc(out, func(a, b ccService) int {
		if a.typ != b.typ {
			return strings.Compare(string(a.typ), string(b.typ)) // cea-608 < cea-708
		}
		return a.channel - b.channel
	})
	return out
}

// setCaptions returns the closed captions of a video set: the services all
// of its representations carry (per representation in perRep). Services
// only some carry are logged and left out.
func (r *runner) setCaptions(set *manifest.SwitchingSet, perRep [][]ccService, ids []string) []manifest.ClosedCaption {
	var all []ccService
	for _, list := range perRep {
		for _, s := range list {
			if !slices.Contains(all, s) {
				all = append(all, s)
			}
		}
	}
	var out []manifest.ClosedCaption
	for _, s := range all {
		var without []string
		for i, list := range perRep {
			if !slices.Contains(list, s) {
				without = append(without, ids[i])
			}
		}
		if len(without) > 0 {
			r.log.Warn("closed-caption service missing from some renditions; not signalled", "set", set.ID, "service", s.String(), "without", without)
			continue
		}
		lang := r.ccLangs[s]
		if lang == "" {
			lang = "und"
		}
		out = append(out, manifest.ClosedCaption{Type: s.typ, Channel: s.channel, Lang: lang})
	}
	return out
}

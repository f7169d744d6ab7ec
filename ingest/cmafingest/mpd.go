package cmafingest

import (
	"encoding/xml"
	"fmt"
	"path"
	"regexp"
	"strings"
)

// mpdNames is what an ingest source's MPD says about object names
// (DASH-IF Live Media Ingest 1.2, interface 1, clause 16): each
// Representation is a CMAF track whose header is posted to the
// SegmentTemplate@initialization name and whose segments to the @media
// names, $RepresentationID$ substituted, relative to the MPD's path.
type mpdNames struct {
	reps []mpdRep
}

type mpdRep struct {
	id    string
	init  string         // header path, relative to the stream key
	media *regexp.Regexp // matches its segment paths
}

// maxReps bounds the Representations taken from one MPD.
const maxReps = 64

type xmlTemplate struct {
	Init  string `xml:"initialization,attr"`
	Media string `xml:"media,attr"`
}

type xmlMPD struct {
	XMLName xml.Name `xml:"MPD"`
	Periods []struct {
		Sets []struct {
			Template *xmlTemplate `xml:"SegmentTemplate"`
			Reps     []struct {
				ID       string       `xml:"id,attr"`
				Template *xmlTemplate `xml:"SegmentTemplate"`
			} `xml:"Representation"`
		} `xml:"AdaptationSet"`
	} `xml:"Period"`
}

// parseMPD reads the names of an MPD posted at mpdPath (relative to the
// stream key).
func parseMPD(body []byte, mpdPath string) (*mpdNames, error) {
	var m xmlMPD
	if err := xml.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("%w: MPD: %v", ErrNotCMAF, err)
	}
	dir := path.Dir(mpdPath)
	if dir == "." {
		dir = ""
	}
	names := &mpdNames{}
	for _, p := range m.Periods {
		for _, as := range p.Sets {
			for _, r := range as.Reps {
				t := r.Template
				if t == nil {
					t = as.Template
				}
				if t == nil || r.ID == "" {
					continue
				}
				if !strings.Contains(t.Init, "$RepresentationID$") || !strings.Contains(t.Media, "$RepresentationID$") {
					return nil, fmt.Errorf("%w: MPD: Representation %q: SegmentTemplate@initialization and @media must contain $RepresentationID$", ErrNotCMAF, r.ID)
				}
				if len(names.reps) == maxReps {
					return nil, fmt.Errorf("%w: MPD: more than %d Representations", ErrNotCMAF, maxReps)
				}
				re, err := templateRegexp(path.Join(dir, t.Media), r.ID)
				if err != nil {
					return nil, fmt.Errorf("%w: MPD: Representation %q: %v", ErrNotCMAF, r.ID, err)
				}
				init := strings.ReplaceAll(strings.ReplaceAll(t.Init, "$RepresentationID$", r.ID), "$$", "$")
				names.reps = append(names.reps, mpdRep{id: r.ID, init: path.Join(dir, init), media: re})
			}
		}
	}
	if len(names.reps) == 0 {
		return nil, fmt.Errorf("%w: MPD: no Representation with a SegmentTemplate", ErrNotCMAF)
	}
	return names, nil
}

var identRE = regexp.MustCompile(`\$(RepresentationID|Number|Time|Bandwidth|SubNumber)(%0[0-9]+d)?\$|\$\$`)

// templateRegexp turns a SegmentTemplate@media into a regular expression
// matching the names of one Representation's segments.
func templateRegexp(tmpl, id string) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString("^")
	last := 0
	for _, m := range identRE.FindAllStringSubmatchIndex(tmpl, -1) {
		b.WriteString(regexp.QuoteMeta(tmpl[last:m[0]]))
		last = m[1]
		switch {
		case tmpl[m[0]:m[1]] == "$$":
			b.WriteString(`\$`)
		case tmpl[m[2]:m[3]] == "RepresentationID":
			b.WriteString(regexp.QuoteMeta(id))
		default:
			b.WriteString(`[0-9]+`)
		}
	}
	rest := tmpl[last:]
	if strings.Contains(rest, "$") {
		return nil, fmt.Errorf("template %q has an unknown $identifier$", tmpl)
	}
	b.WriteString(regexp.QuoteMeta(rest))
	b.WriteString("$")
	return regexp.Compile(b.String())
}

// track returns the header path of the Representation whose segment name
// p is, or "".
func (n *mpdNames) track(p string) string {
	if n == nil {
		return ""
	}
	for _, r := range n.reps {
		if r.media.MatchString(p) {
			return r.init
		}
	}
	return ""
}

// has reports whether header path p is a Representation's.
func (n *mpdNames) has(p string) bool {
	if n == nil {
		return false
	}
	for _, r := range n.reps {
		if r.init == p {
			return true
		}
	}
	return false
}

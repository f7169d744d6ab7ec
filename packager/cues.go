package packager

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"time"

	"github.com/cmafkit/cmafkit/manifest"
	"github.com/cmafkit/cmafkit/scte35"
	"github.com/cmafkit/cmafkit/segment"
)

// Cue is one entry of a job's cue list: a splice point to cut a segment at
// and signal in the manifests (see manifest.Cue), for titles without
// SCTE-35 of their own.
type Cue struct {
	// Time is the presentation time of the splice point from the start of
	// the output (the first presented sample).
	Time time.Duration
	// Duration of a break (Kind manifest.CueOut). A break with a duration
	// also gets its return: a manifest.CueIn at Time+Duration.
	Duration time.Duration
	// Kind is manifest.CueOut, CueIn or CueSignal; empty takes the kind
	// the SCTE35 section says, else CueOut.
	Kind manifest.CueKind
	// SCTE35 is the splice_info_section to signal; it must parse (CRC
	// included). Empty synthesises one: a splice_insert (out with the
	// break duration and auto-return, or in) or, for a signal, a
	// time_signal, timed on the output's 90 kHz timeline.
	SCTE35 []byte
	// ID names the cue in HLS (EXT-X-DATERANGE ID); empty numbers it.
	ID string
}

// CueOptions configures how cues (Job.Cues and the SCTE-35 of the inputs)
// are applied.
type CueOptions struct {
	// NearestKeyframe accepts a cue where the video has no keyframe by
	// cutting at the nearest keyframe instead (the manifests keep the cue's
	// own time). Without it such a cue fails the job with a
	// *segment.CueCutError naming the cue and the nearest keyframe.
	NearestKeyframe bool
	// HLSCueTags also writes EXT-X-CUE-OUT/-CONT/-IN in HLS media
	// playlists (see manifest.Presentation.HLSCueTags).
	HLSCueTags bool
	// HLSInterstitials also writes an HLS Interstitial for each break, for
	// server-guided ad insertion (see manifest.Interstitials).
	HLSInterstitials *manifest.Interstitials
	// ProgramDateTime is the wall-clock time of the output's start for
	// HLS EXT-X-PROGRAM-DATE-TIME and date range START-DATE; zero means
	// manifest.CueEpoch (1970-01-01T00:00:00Z).
	ProgramDateTime time.Time
	// IgnoreInput drops the SCTE-35 cues read from the inputs.
	IgnoreInput bool
}

// ErrCueList is wrapped by the errors of a cue list that cannot be read.
var ErrCueList = errors.New("packager: bad cue list")

// cueJSON is one entry of a JSON cue list.
type cueJSON struct {
	Time     json.Number `json:"time"`
	Duration json.Number `json:"duration"`
	Kind     string      `json:"kind"`
	SCTE35   string      `json:"scte35"` // base64
	ID       string      `json:"id"`
}

// maxCueList bounds a JSON cue list.
const maxCueList = 16 << 20

// ReadCueList reads a JSON cue list: an array of objects with "time" and
// "duration" in seconds, "kind" ("out", "in" or "signal"), an optional
// base64 "scte35" splice_info_section and an optional "id":
//
//	[{"time": 30, "duration": 15, "kind": "out"},
//	 {"time": 95.5, "kind": "signal", "scte35": "/DAWAAAAAAAAAP/wBQb+AA2/JAAAO1qQgA=="}]
func ReadCueList(r io.Reader) ([]Cue, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxCueList+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxCueList {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrCueList, maxCueList)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var list []cueJSON
	if err := dec.Decode(&list); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCueList, err)
	}
	out := make([]Cue, 0, len(list))
	for i, e := range list {
		bad := func(f string, args ...any) error {
			return fmt.Errorf("%w: entry %d: %s", ErrCueList, i, fmt.Sprintf(f, args...))
		}
		secs := func(n json.Number, name string) (time.Duration, error) {
			if n == "" {
				return 0, nil
			}
			v, err := strconv.ParseFloat(string(n), 64)
			if err != nil || v < 0 || v > 1e7 {
				return 0, bad("%s %q is not a number of seconds", name, n)
			}
			return time.Duration(v*1e9 + 0.5), nil
		}
		if e.Time == "" {
			return nil, bad("no time")
		}
		c := Cue{ID: e.ID, Kind: manifest.CueKind(e.Kind)}
		if c.Time, err = secs(e.Time, "time"); err != nil {
			return nil, err
		}
		if c.Duration, err = secs(e.Duration, "duration"); err != nil {
			return nil, err
		}
		switch c.Kind {
		case "", manifest.CueOut, manifest.CueIn, manifest.CueSignal:
		default:
			return nil, bad("kind %q is not out, in or signal", e.Kind)
		}
		if e.SCTE35 != "" {
			if c.SCTE35, err = base64.StdEncoding.DecodeString(e.SCTE35); err != nil {
				return nil, bad("scte35: %v", err)
			}
			if _, err := scte35.Parse(c.SCTE35); err != nil {
				return nil, bad("scte35: %v", err)
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// cueSet gathers the cues of a job into the manifest's cue list.
type cueSet struct {
	cues []manifest.Cue
	// open is the break that is open (an out without its in yet), by ID.
	open *openBreak
	// breakEnd is the latest return: no break may start before it.
	breakEnd time.Duration
	ids      map[string]int
	seen     map[string]bool // sections already taken (inputs repeat them)
	warn     func(msg string, args ...any)
	eventID  uint32
}

// cues builds the job's cue list: Job.Cues and the inputs' SCTE-35 cues
// inside [0, end), in time order. Cues that cannot apply (cancelled
// events, splice_null, a second out inside a break, an in without a
// break, times outside the output) are logged and skipped.
func (r *runner) cues(end time.Duration) ([]manifest.Cue, error) {
	cs := &cueSet{ids: map[string]int{}, seen: map[string]bool{}, warn: r.log.Warn}
	type item struct {
		at     time.Duration
		order  int
		fromJ  *Cue
		fromIn *segment.Cue
	}
	var items []item
	for i := range r.job.Cues {
		items = append(items, item{at: r.job.Cues[i].Time, order: i, fromJ: &r.job.Cues[i]})
	}
	if !r.job.CueOptions.IgnoreInput {
		for _, src := range r.sources {
			for i := range src.Cues {
				items = append(items, item{at: src.Cues[i].Time, order: len(items), fromIn: &src.Cues[i]})
			}
		}
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].at < items[j].at })
	for _, it := range items {
		if it.at < 0 || it.at >= end {
			r.log.Warn("cue outside the output skipped", "time", it.at, "end", end)
			continue
		}
		var err error
		if it.fromJ != nil {
			err = cs.addListed(it.fromJ)
		} else {
			cs.addSection(it.fromIn.Time, it.fromIn.Section, it.fromIn.Offset)
		}
		if err != nil {
			return nil, err
		}
	}
	// The returns that list entries imply may not be in order.
	sort.SliceStable(cs.cues, func(i, j int) bool { return cs.cues[i].Start < cs.cues[j].Start })
	return r.cuesBefore(cs.cues, end), nil
}

// cuesBefore returns the cues that start before end, logging the others.
func (r *runner) cuesBefore(cues []manifest.Cue, end time.Duration) []manifest.Cue {
	var kept []manifest.Cue
	for _, c := range cues {
		if c.Start >= end {
			r.log.Warn("cue outside the output skipped", "id", c.ID, "time", c.Start, "end", end)
			continue
		}
		kept = append(kept, c)
	}
	return kept
}

// id returns a unique ID from base.
func (cs *cueSet) id(base string) string {
	n := cs.ids[base]
	cs.ids[base] = n + 1
	if n == 0 {
		return base
	}
	return base + "-" + strconv.Itoa(n+1)
}

// add appends c, pairing an in with the open break, and reports whether
// it was kept.
func (cs *cueSet) add(c manifest.Cue, idBase string) bool {
	switch c.Kind {
	case manifest.CueOut:
		if c.Start < cs.breakEnd || cs.open != nil && (cs.open.Duration == 0 || cs.open.Start+cs.open.Duration > c.Start) {
			cs.warn("cue skipped: a break starts inside another", "time", c.Start)
			return false
		}
		c.ID = cs.id(idBase)
		cs.open = &openBreak{ID: c.ID, Start: c.Start, Duration: c.Duration}
	case manifest.CueIn:
		if cs.open == nil {
			c.ID = cs.id(idBase)
		} else {
			c.ID = cs.open.ID
			cs.open = nil
		}
		cs.breakEnd = max(cs.breakEnd, c.Start)
	default:
		c.ID = cs.id(idBase)
	}
	cs.cues = append(cs.cues, c)
	return true
}

// openBreak is a break whose return has not come yet.
type openBreak struct {
	ID              string
	Start, Duration time.Duration
}

// addListed adds a cue list entry, synthesising its section if it has none
// and the return of a break with a duration.
func (cs *cueSet) addListed(e *Cue) error {
	kind := e.Kind
	var sec *scte35.Section
	if len(e.SCTE35) > 0 {
		var err error
		if sec, err = scte35.Parse(e.SCTE35); err != nil {
			return fmt.Errorf("%w: cue at %v: %v", ErrCueList, e.Time, err)
		}
		if kind == "" {
			kind, _, _ = classify(sec)
		}
	}
	if kind == "" {
		kind = manifest.CueOut
	}
	cs.eventID++
	ev := cs.eventID
	section := e.SCTE35
	if section == nil {
		section = synthesise(kind, ev, e.Time, e.Duration)
	}
	idBase := e.ID
	if idBase == "" {
		idBase = "cue-" + strconv.FormatUint(uint64(ev), 10)
	}
	c := manifest.Cue{Start: e.Time, Kind: kind, SCTE35: section}
	if kind == manifest.CueOut && e.Duration > 0 {
		c.Duration, c.Planned = e.Duration, true
	}
	if cs.add(c, idBase) && kind == manifest.CueOut && e.Duration > 0 {
		cs.add(manifest.Cue{Start: e.Time + e.Duration, Kind: manifest.CueIn, SCTE35: synthesise(manifest.CueIn, ev, e.Time+e.Duration, 0)}, idBase)
	}
	return nil
}

// addSection adds a cue read from an input.
func (cs *cueSet) addSection(at time.Duration, b []byte, off int64) {
	sec, err := scte35.Parse(b)
	if err != nil {
		cs.warn("SCTE-35 section skipped", "offset", off, "err", err)
		return
	}
	kind, idBase, dur := classify(sec)
	if kind == "" {
		return // splice_null, a cancelled event
	}
	key := string(kind) + "/" + idBase + "/" + strconv.FormatInt(int64(at), 10)
	if cs.seen[key] {
		return // the repetitions senders send ahead of a splice
	}
	cs.seen[key] = true
	c := manifest.Cue{Start: at, Kind: kind, SCTE35: b}
	if kind == manifest.CueOut && dur > 0 {
		c.Duration, c.Planned = dur, true
	}
	cs.add(c, idBase)
}

// classify says what a section marks: its kind, an ID base naming the
// event, and the announced break duration (see scte35.Section.Role). An
// empty kind means it marks nothing (splice_null, a cancelled event).
func classify(sec *scte35.Section) (manifest.CueKind, string, time.Duration) {
	role, id, d := sec.Role()
	return manifest.CueKind(role), id, d
}

// synthesise writes the section of a cue list entry without one.
func synthesise(kind manifest.CueKind, eventID uint32, at, dur time.Duration) []byte {
	pts := uint64(nearest90k(at)) & (1<<33 - 1)
	s := &scte35.Section{SAPType: 3, Tier: 0xFFF}
	switch kind {
	case manifest.CueSignal:
		s.Command = &scte35.TimeSignal{SpliceTime: &pts}
	default:
		si := &scte35.SpliceInsert{EventID: eventID, OutOfNetwork: kind == manifest.CueOut, ProgramSplice: true, SpliceTime: &pts}
		if kind == manifest.CueOut && dur > 0 {
			si.BreakDuration = &scte35.BreakDuration{AutoReturn: true, Duration: uint64(nearest90k(dur))}
		}
		s.Command = si
	}
	b, err := s.Encode()
	if err != nil {
		return nil // cannot happen for these commands; the cue is then signalled without a section
	}
	return b
}

func nearest90k(d time.Duration) int64 {
	s, ns := int64(d/time.Second), int64(d%time.Second)
	return s*scte35.Ticks + (ns*scte35.Ticks+5e8)/1e9
}

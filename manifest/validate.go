package manifest

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/cmafkit/cmafkit/drm"
	"github.com/cmafkit/cmafkit/segment"
)

// Sentinel errors. Validation errors are a *ValidationError wrapping one of
// these; test with errors.Is.
var (
	// ErrUnsupported means the model asks for something a renderer cannot
	// write yet (live presentations, several periods in HLS, ...).
	ErrUnsupported = errors.New("unsupported")
	// ErrEmpty means a presentation, period or set without content.
	ErrEmpty = errors.New("nothing to describe")
	// ErrDuplicateID means two representations share an ID.
	ErrDuplicateID = errors.New("duplicate representation ID")
	// ErrBadID means an ID that is empty or holds white space.
	ErrBadID = errors.New("bad representation ID")
	// ErrNoCodecs means a representation without a codecs string.
	ErrNoCodecs = errors.New("representation without codecs")
	// ErrNoResolution means a video representation without width and height.
	ErrNoResolution = errors.New("video representation without resolution")
	// ErrNoLanguage means an audio or text set without a language.
	ErrNoLanguage = errors.New("audio or text set without language")
	// ErrNoTimescale means segments without a timescale to measure them.
	ErrNoTimescale = errors.New("representation without timescale")
	// ErrTimeline means segments that are empty, overlap or leave a gap.
	ErrTimeline = errors.New("segment timeline not contiguous")
	// ErrNoURI means a segment or I-frame without a URI.
	ErrNoURI = errors.New("missing URI")
	// ErrSegmentTooLong means a segment longer than the target duration.
	ErrSegmentTooLong = errors.New("segment longer than target duration")
	// ErrBandwidthBelowPeak means a declared peak bandwidth below the peak
	// measured from segment sizes.
	ErrBandwidthBelowPeak = errors.New("bandwidth below measured peak")
	// ErrNoBandwidth means a representation with a zero bandwidth.
	ErrNoBandwidth = errors.New("representation without bandwidth")
	// ErrAverageAbovePeak means AverageBandwidth > Bandwidth.
	ErrAverageAbovePeak = errors.New("average bandwidth above peak bandwidth")
	// ErrTemplate means a segment template that is malformed or does not
	// expand to the segment URIs.
	ErrTemplate = errors.New("segment template mismatch")
	// ErrSingleFile means single-file information that does not agree with
	// the segments.
	ErrSingleFile = errors.New("inconsistent single-file representation")
	// ErrIFrame means I-frame references without byte ranges or durations.
	ErrIFrame = errors.New("bad I-frame reference")
	// ErrProtection means protection information that cannot be signalled.
	ErrProtection = errors.New("bad protection information")
	// ErrCaptions means a closed-caption service that cannot be signalled.
	ErrCaptions = errors.New("bad closed-caption service")
	// ErrLive means a live presentation that cannot be signalled: periods
	// out of order, without a stable ID or an availability start time, or
	// (for HLS) renditions that do not continue from period to period.
	ErrLive = errors.New("bad live presentation")
)

// maxReported bounds the errors Validate collects, so a model with a bad
// segment repeated thousands of times gives a readable error.
const maxReported = 16

// ValidationError names where a model breaks a rule. Empty fields and a
// negative Segment mean "not specific to one".
type ValidationError struct {
	Period         string
	Set            string
	Representation string
	Segment        int // 0-based index in Segments or IFrames, -1 if none
	Err            error
	Detail         string
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("manifest:")
	if e.Period != "" {
		fmt.Fprintf(&b, " period %q", e.Period)
	}
	if e.Set != "" {
		fmt.Fprintf(&b, " set %q", e.Set)
	}
	if e.Representation != "" {
		fmt.Fprintf(&b, " representation %q", e.Representation)
	}
	if e.Segment >= 0 {
		fmt.Fprintf(&b, " segment %d", e.Segment)
	}
	if b.Len() > len("manifest:") {
		b.WriteByte(':')
	}
	b.WriteByte(' ')
	b.WriteString(e.Err.Error())
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	return b.String()
}

func (e *ValidationError) Unwrap() error { return e.Err }

// validator collects errors up to maxReported.
type validator struct {
	p       *Presentation
	errs    []error
	dropped int
	buf     []byte // template expansion scratch
}

func (v *validator) add(e *ValidationError) {
	if len(v.errs) >= maxReported {
		v.dropped++
		return
	}
	v.errs = append(v.errs, e)
}

func (v *validator) result() error {
	if v.dropped > 0 {
		v.errs = append(v.errs, fmt.Errorf("manifest: %d more problems not listed", v.dropped))
	}
	return errors.Join(v.errs...)
}

// Validate checks the rules the renderers depend on and returns nil or an
// error joining up to 16 *ValidationError values (errors.As finds the
// first; errors.Is matches any sentinel). Renderers call it and refuse to
// write an invalid model.
func (p *Presentation) Validate() error {
	v := &validator{p: p}
	if len(p.Periods) == 0 {
		v.add(&ValidationError{Segment: -1, Err: ErrEmpty, Detail: "no periods"})
	}
	ids := map[string]bool{}
	for pi := range p.Periods {
		pd := &p.Periods[pi]
		pid := PeriodID(pd, pi)
		// IDs are unique within a period (DASH Representation@id); a live
		// representation continues from period to period under its ID.
		clear(ids)
		if p.Type == Live {
			if pi > 0 && pd.Start <= p.Periods[pi-1].Start {
				v.add(&ValidationError{Period: pid, Segment: -1, Err: ErrLive,
					Detail: fmt.Sprintf("starts at %s, not after the previous period (%s)", pd.Start, p.Periods[pi-1].Start)})
			}
		}
		if len(pd.Sets) == 0 {
			v.add(&ValidationError{Period: pid, Segment: -1, Err: ErrEmpty, Detail: "no switching sets"})
		}
		if err := validateCues(pd); err != nil {
			v.add(&ValidationError{Period: pid, Segment: -1, Err: ErrCue, Detail: err.Error()})
		}
		if in := p.HLSInterstitials; in != nil && pi == 0 {
			if err := in.validate(); err != nil {
				v.add(&ValidationError{Period: pid, Segment: -1, Err: ErrCue, Detail: err.Error()})
			}
		}
		for si := range pd.Sets {
			set := &pd.Sets[si]
			v.set(pid, set)
			for ri := range set.Representations {
				r := &set.Representations[ri]
				if ids[r.ID] {
					v.add(&ValidationError{Period: pid, Set: set.ID, Representation: r.ID, Segment: -1, Err: ErrDuplicateID})
				}
				ids[r.ID] = true
				v.rep(pid, set, r)
			}
		}
	}
	return v.result()
}

// ValidateRepresentation checks one representation and the set holding it,
// for renderers that write a single media playlist; in a live presentation
// it checks the representation in every period that has it. It returns an
// error wrapping ErrEmpty if no representation has that ID.
func (p *Presentation) ValidateRepresentation(id string) error {
	v := &validator{p: p}
	found := false
	for pi := range p.Periods {
		pd := &p.Periods[pi]
	sets:
		for si := range pd.Sets {
			set := &pd.Sets[si]
			for ri := range set.Representations {
				if r := &set.Representations[ri]; r.ID == id {
					pid := PeriodID(pd, pi)
					v.set(pid, set)
					v.rep(pid, set, r)
					found = true
					break sets
				}
			}
		}
		if found && p.Type != Live {
			break
		}
	}
	if !found {
		return &ValidationError{Representation: id, Segment: -1, Err: ErrEmpty, Detail: "no such representation"}
	}
	return v.result()
}

// Find returns the representation with the given ID and its set, or nils.
// In a live presentation, where a representation continues from period to
// period under one ID, it returns the first period's.
func (p *Presentation) Find(id string) (*SwitchingSet, *Representation) {
	for pi := range p.Periods {
		for si := range p.Periods[pi].Sets {
			set := &p.Periods[pi].Sets[si]
			for ri := range set.Representations {
				if set.Representations[ri].ID == id {
					return set, &set.Representations[ri]
				}
			}
		}
	}
	return nil, nil
}

// PeriodID returns pd.ID, or the index as a string when it is empty.
func PeriodID(pd *Period, index int) string {
	if pd.ID != "" {
		return pd.ID
	}
	return fmt.Sprint(index)
}

func (v *validator) set(pid string, set *SwitchingSet) {
	errAt := func(err error, detail string) {
		v.add(&ValidationError{Period: pid, Set: set.ID, Segment: -1, Err: err, Detail: detail})
	}
	if len(set.Representations) == 0 {
		errAt(ErrEmpty, "no representations")
	}
	switch set.ContentType {
	case segment.KindVideo:
	case segment.KindAudio, segment.KindText:
		// Apple requires LANGUAGE on every non-video rendition; DASH players
		// select audio and text by @lang. "und" is acceptable.
		if set.Lang == "" {
			errAt(ErrNoLanguage, "")
		}
	default:
		errAt(ErrUnsupported, fmt.Sprintf("content type %q", set.ContentType))
	}
	if set.Protection != nil {
		v.protection(pid, set.ID, "", set.Protection)
	}
	v.captions(pid, set)
}

func (v *validator) protection(pid, setID, repID string, pi *drm.Protection) {
	if err := pi.Validate(); err != nil {
		detail := err.Error()
		if pe, ok := errors.AsType[*drm.ProtectionError](err); ok {
			detail = pe.Detail
		}
		v.add(&ValidationError{Period: pid, Set: setID, Representation: repID, Segment: -1, Err: ErrProtection, Detail: detail})
	}
}

// keyPeriodsFit reports key periods that start beyond the segments of r.
func (v *validator) keyPeriodsFit(pid string, set *SwitchingSet, r *Representation) {
	pi := r.Protection
	if pi == nil {
		pi = set.Protection
	}
	if pi == nil || len(pi.KeyPeriods) == 0 {
		return
	}
	if kp := pi.KeyPeriods[len(pi.KeyPeriods)-1]; kp.FirstSegment >= len(r.Segments) {
		v.add(&ValidationError{Period: pid, Set: set.ID, Representation: r.ID, Segment: -1, Err: ErrProtection,
			Detail: fmt.Sprintf("key period starts at segment %d of %d", kp.FirstSegment, len(r.Segments))})
	}
}

func (v *validator) rep(pid string, set *SwitchingSet, r *Representation) {
	errAt := func(seg int, err error, detail string) {
		v.add(&ValidationError{Period: pid, Set: set.ID, Representation: r.ID, Segment: seg, Err: err, Detail: detail})
	}
	if r.ID == "" || strings.IndexFunc(r.ID, unicode.IsSpace) >= 0 {
		errAt(-1, ErrBadID, fmt.Sprintf("%q", r.ID))
	}
	// RFC 8216 4.3.4.2 and DASH both require codecs; Apple HLS Authoring
	// Spec 9.1 makes CODECS mandatory on every variant. Plain WebVTT has no
	// codecs string, so text in text/vtt is exempt.
	if r.Codecs == "" && !(set.ContentType == segment.KindText && set.MIME() == "text/vtt") {
		errAt(-1, ErrNoCodecs, "")
	}
	if set.ContentType == segment.KindVideo && (r.Width <= 0 || r.Height <= 0) {
		// Apple HLS Authoring Spec 9.2: RESOLUTION on every video variant.
		errAt(-1, ErrNoResolution, "")
	}
	if r.Protection != nil {
		v.protection(pid, set.ID, r.ID, r.Protection)
	}
	v.keyPeriodsFit(pid, set, r)
	if len(r.Segments) == 0 {
		// Only a whole text document (a side-loaded WebVTT file) may come
		// without segments.
		if set.ContentType != segment.KindText || r.SingleFile == nil || r.SingleFile.URI == "" {
			errAt(-1, ErrEmpty, "no segments")
		}
		if r.Bandwidth == 0 {
			errAt(-1, ErrNoBandwidth, "")
		}
		return
	}
	if r.Timescale == 0 {
		errAt(-1, ErrNoTimescale, "")
		return
	}

	var target, targetTicks uint64 // whole seconds, and the same in ticks
	// A live presentation's target is set before its segments exist and
	// must not change (RFC 8216 section 6.2.1): a segment that outgrows it
	// (no keyframe in time) is the packager's to report, not a reason to
	// stop updating the manifests.
	if v.p.TargetDuration > 0 && set.ContentType != segment.KindText && v.p.Type != Live {
		// EXT-X-TARGETDURATION is the target rounded up to whole seconds.
		target = uint64((v.p.TargetDuration + time.Second - 1) / time.Second)
		targetTicks = target * uint64(r.Timescale)
	}
	ts := uint64(r.Timescale)
	for i := range r.Segments {
		s := &r.Segments[i]
		if s.URI == "" {
			errAt(i, ErrNoURI, "")
		}
		if s.Duration == 0 {
			errAt(i, ErrTimeline, "zero duration")
		}
		if i > 0 {
			prev := &r.Segments[i-1]
			if end := prev.Start + prev.Duration; s.Start != end {
				errAt(i, ErrTimeline, fmt.Sprintf("starts at %d, previous segment ends at %d", s.Start, end))
			}
		}
		// RFC 8216 4.3.3.1: the EXTINF duration rounded to the nearest
		// integer must not exceed the target duration.
		if target > 0 && s.Duration > targetTicks && (2*s.Duration+ts)/(2*ts) > target {
			errAt(i, ErrSegmentTooLong, fmt.Sprintf("%s > %d s",
				TicksToDuration(s.Duration, r.Timescale), target))
		}
	}
	if r.Bandwidth == 0 {
		errAt(-1, ErrNoBandwidth, "")
	} else if hasSizes(r.Segments) {
		if peak := PeakBandwidth(r.Segments, r.Timescale, v.p.TargetDuration); r.Bandwidth < peak {
			errAt(-1, ErrBandwidthBelowPeak, fmt.Sprintf("declared %d bit/s, measured peak %d bit/s", r.Bandwidth, peak))
		}
	}
	if r.AverageBandwidth > r.Bandwidth {
		errAt(-1, ErrAverageAbovePeak, fmt.Sprintf("%d > %d", r.AverageBandwidth, r.Bandwidth))
	}
	if r.Template != nil {
		v.template(r, errAt)
	}
	if r.SingleFile != nil {
		sf := r.SingleFile
		if sf.URI == "" {
			errAt(-1, ErrSingleFile, "no file URI")
		}
		if r.Init.URI != "" && r.Init.URI != sf.URI {
			errAt(-1, ErrSingleFile, fmt.Sprintf("init URI %q is not the file %q", r.Init.URI, sf.URI))
		}
		if r.Init.URI != "" && r.Init.Range.IsZero() {
			errAt(-1, ErrSingleFile, "init segment without byte range")
		}
		for i := range r.Segments {
			s := &r.Segments[i]
			if s.URI != sf.URI || s.Range.IsZero() {
				errAt(i, ErrSingleFile, "segment is not a byte range of the file")
			}
		}
	}
	for i := range r.IFrames {
		f := &r.IFrames[i]
		switch {
		case f.URI == "":
			errAt(i, ErrNoURI, "I-frame")
		case f.Range.IsZero():
			errAt(i, ErrIFrame, "no byte range")
		case f.Duration == 0:
			errAt(i, ErrIFrame, "zero duration")
		}
	}
}

func (v *validator) template(r *Representation, errAt func(int, error, string)) {
	t := r.Template
	if !TemplateUses(t.Media, "Number") && !TemplateUses(t.Media, "Time") {
		errAt(-1, ErrTemplate, fmt.Sprintf("media template %q has neither $Number$ nor $Time$", t.Media))
		return
	}
	if TemplateUses(t.Media, "Number") && TemplateUses(t.Media, "Time") {
		errAt(-1, ErrTemplate, fmt.Sprintf("media template %q has both $Number$ and $Time$", t.Media))
		return
	}
	if t.Init != "" {
		var err error
		v.buf, err = appendTemplate(v.buf[:0], t.Init, r.ID, r.Bandwidth, 0, 0)
		if err != nil || TemplateUses(t.Init, "Number") || TemplateUses(t.Init, "Time") {
			errAt(-1, ErrTemplate, fmt.Sprintf("init template %q", t.Init))
		} else if string(v.buf) != r.Init.URI {
			errAt(-1, ErrTemplate, fmt.Sprintf("init template gives %q, init URI is %q", v.buf, r.Init.URI))
		}
	}
	parts, err := compileTemplate(t.Media)
	if err != nil {
		errAt(-1, ErrTemplate, fmt.Sprintf("media template %q", t.Media))
		return
	}
	for i := range r.Segments {
		s := &r.Segments[i]
		v.buf = appendParts(v.buf[:0], parts, r.ID, r.Bandwidth, s.Number, s.Start)
		if string(v.buf) != s.URI { // the compiler does not allocate for this comparison
			errAt(i, ErrTemplate, fmt.Sprintf("template gives %q, segment URI is %q", v.buf, s.URI))
		}
		if i > 0 && s.Number != r.Segments[i-1].Number+1 && TemplateUses(t.Media, "Number") {
			errAt(i, ErrTemplate, "segment numbers not consecutive")
		}
	}
}

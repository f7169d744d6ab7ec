package dash

import (
	"bufio"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/cmafkit/cmafkit/segment"

	"github.com/zencoder/go-dash/v3/mpd"

	"github.com/cmafkit/cmafkit/drm"
	"github.com/cmafkit/cmafkit/manifest"
)

// Render validates p and writes its MPD to w: a static MPD for VOD, a
// dynamic one for Live (see [manifest.Live]). A live presentation that has
// Ended stays dynamic, with a mediaPresentationDuration and no
// minimumUpdatePeriod; render it as VOD to make it static.
func Render(w io.Writer, p *manifest.Presentation) error {
	switch p.Type {
	case manifest.VOD:
	case manifest.Live:
		if err := validateLive(p); err != nil {
			return fmt.Errorf("dash: refusing to render: %w", err)
		}
	default:
		return fmt.Errorf("dash: %s presentation: %w", p.Type, manifest.ErrUnsupported)
	}
	if err := p.Validate(); err != nil {
		return fmt.Errorf("dash: refusing to render: %w", err)
	}
	m, err := build(p)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 32<<10)
	bw.WriteString(xml.Header)
	enc := xml.NewEncoder(bw)
	enc.Indent("", "  ")
	if err := enc.Encode(m); err != nil {
		return fmt.Errorf("dash: %w", err)
	}
	bw.WriteByte('\n')
	return bw.Flush()
}

// builder carries what the MPD-level attributes are derived from.
type builder struct {
	p        *manifest.Presentation
	profiles [4]bool // live, on-demand, full, used in that order
	ns       struct{ cenc, mspr, dashif, clearkey, scte214, scte35 bool }
}

// validateLive checks what a dynamic MPD needs beyond the model's rules:
// an availabilityStartTime and publishTime (ISO/IEC 23009-1 5.3.1.2 makes
// both mandatory for type="dynamic"), and periods with IDs of their own,
// since an index changes as periods leave the window and players match
// periods across MPD updates by @id.
func validateLive(p *manifest.Presentation) error {
	var errs []error
	fail := func(pid, detail string) {
		errs = append(errs, &manifest.ValidationError{Period: pid, Segment: -1, Err: manifest.ErrLive, Detail: detail})
	}
	if p.AvailabilityStartTime.IsZero() {
		fail("", "no availability start time")
	}
	if p.PublishTime.IsZero() {
		fail("", "no publish time")
	}
	ids := map[string]bool{}
	for pi := range p.Periods {
		pd := &p.Periods[pi]
		switch {
		case pd.ID == "":
			fail(manifest.PeriodID(pd, pi), "period without ID (a live period needs a stable one)")
		case ids[pd.ID]:
			fail(pd.ID, "duplicate period ID")
		}
		ids[pd.ID] = true
		if len(errs) >= 16 {
			break
		}
	}
	return errors.Join(errs...)
}

// dateTime formats t as an xs:dateTime in UTC, with the fraction digits
// needed down to the millisecond.
func dateTime(t time.Time) string {
	return t.UTC().Truncate(time.Millisecond).Format("2006-01-02T15:04:05.999Z07:00")
}

// liveEnd returns the end of the last period's media relative to the
// availability start time: the last period's Start plus the longest time
// its representations' segments run past their presentation time offset.
func liveEnd(p *manifest.Presentation) time.Duration {
	pd := &p.Periods[len(p.Periods)-1]
	var d time.Duration
	for si := range pd.Sets {
		for ri := range pd.Sets[si].Representations {
			r := &pd.Sets[si].Representations[ri]
			if end := r.End(); end > r.PresentationTimeOffset {
				d = max(d, manifest.TicksToDuration(end-r.PresentationTimeOffset, r.Timescale))
			}
		}
	}
	return pd.Start + d
}

func build(p *manifest.Presentation) (*mpdXML, error) {
	b := &builder{p: p}
	m := &mpdXML{Xmlns: nsMPD, Type: "static"}
	live := p.Type == manifest.Live
	if live {
		m.Type = "dynamic"
		m.AvailabilityStartTime = dateTime(p.AvailabilityStartTime)
		m.PublishTime = dateTime(p.PublishTime)
		if p.Ended {
			// The presentation ends here and the MPD no longer changes
			// (ISO/IEC 23009-1 5.4: without minimumUpdatePeriod it does not).
			m.MediaPresentationDuration = Duration(liveEnd(p))
		} else if p.MinimumUpdatePeriod > 0 {
			m.MinimumUpdatePeriod = Duration(p.MinimumUpdatePeriod)
		}
		// Zero means an unlimited window: no attribute (ISO/IEC 23009-1
		// 5.3.1.2: absent means infinite).
		if p.TimeShiftBufferDepth > 0 {
			m.TimeShiftBufferDepth = Duration(p.TimeShiftBufferDepth)
		}
		if p.SuggestedPresentationDelay > 0 {
			m.SuggestedPresentationDelay = Duration(p.SuggestedPresentationDelay)
		}
		for _, d := range p.UTCTiming {
			m.UTCTiming = append(m.UTCTiming, descriptor(d.SchemeIDURI, d.Value))
		}
		if !p.Ended {
			m.ServiceDescription = serviceDescription(p.LowLatency)
		}
	} else {
		m.MediaPresentationDuration = Duration(p.MediaDuration())
	}
	msd := p.MaxSegmentDuration()
	if live {
		// A promise for the segments still to come as well: the
		// packager's maximum, or a longer segment already written.
		msd = max(msd, p.TargetDuration)
	}
	if msd > 0 {
		m.MaxSegmentDuration = Duration(msd)
	}
	mbt := p.MinBufferTime
	if mbt <= 0 {
		mbt = p.MaxSegmentDuration()
	}
	m.MinBufferTime = Duration(mbt)
	for pi := range p.Periods {
		pd := &p.Periods[pi]
		px := periodXML{ID: manifest.PeriodID(pd, pi), Start: Duration(pd.Start)}
		// A live period runs to the next one's start, the last one to the
		// live edge (or the mediaPresentationDuration once ended).
		if !live && (len(p.Periods) > 1 || pd.Duration > 0) {
			px.Duration = Duration(pd.MediaDuration())
		}
		if es := b.eventStream(pd.Cues); es != nil {
			px.EventStreams = append(px.EventStreams, *es)
		}
		var tricks []adaptationSetXML
		for si := range pd.Sets {
			set := &pd.Sets[si]
			id := len(px.AdaptationSets) + 1
			as, err := b.adaptationSet(set, id)
			if err != nil {
				return nil, err
			}
			b.producerReference(&as, pd, set)
			px.AdaptationSets = append(px.AdaptationSets, as)
			if t, ok := b.trickSet(set, as); ok {
				tricks = append(tricks, t)
			}
		}
		for i := range tricks {
			tricks[i].ID = len(px.AdaptationSets) + 1
			px.AdaptationSets = append(px.AdaptationSets, tricks[i])
		}
		m.Periods = append(m.Periods, px)
	}
	var profiles []string
	for i, name := range []string{ProfileLive, ProfileOnDemand, ProfileFull} {
		if b.profiles[i] {
			profiles = append(profiles, name)
		}
	}
	if len(profiles) == 0 {
		profiles = append(profiles, ProfileOnDemand) // side-loaded files only
	}
	if p.CMAF {
		profiles = append(profiles, ProfileCMAF)
	}
	m.Profiles = joinComma(profiles)
	if b.ns.cenc {
		m.XmlnsCENC = nsCENC
	}
	if b.ns.mspr {
		m.XmlnsMSPR = nsMSPR
	}
	if b.ns.dashif {
		m.XmlnsDASHIF = nsDASHIF
	}
	if b.ns.clearkey {
		m.XmlnsClearKey = nsClearKey
	}
	if b.ns.scte214 {
		m.XmlnsSCTE214 = nsSCTE214
	}
	if b.ns.scte35 {
		m.XmlnsSCTE35 = nsSCTE35
	}
	return m, nil
}

func joinComma(list []string) string {
	s := ""
	for i, x := range list {
		if i > 0 {
			s += ","
		}
		s += x
	}
	return s
}

func ptr[T any](v T) *T { return &v }

func descriptor(scheme, value string) mpd.DescriptorType {
	return mpd.DescriptorType{SchemeIDURI: ptr(scheme), Value: ptr(value)}
}

func (b *builder) adaptationSet(set *manifest.SwitchingSet, id int) (adaptationSetXML, error) {
	as := adaptationSetXML{
		ID:               id,
		ContentType:      set.ContentType.String(),
		MimeType:         set.MIME(),
		Lang:             set.Lang,
		SegmentAlignment: "true",
		Label:            set.Label,
	}
	if set.ContentType != segment.KindText {
		as.StartWithSAP = max(set.StartWithSAP, 1)
	}
	var colorHoisted bool
	if set.ContentType == segment.KindVideo {
		b.videoLimits(&as, set.Representations)
		if c, ok := setColor(set.Representations); ok {
			as.EssentialProperty, as.SupplementalProperty = colorProperties(c)
			colorHoisted = true
		}
	}
	pi, hoisted := setProtection(set)
	if pi != nil {
		cp, err := b.protection(pi)
		if err != nil {
			return as, fmt.Errorf("%w (set %s)", err, set.ID)
		}
		as.ContentProtection = cp
	}
	for _, r := range set.Roles {
		as.Roles = append(as.Roles, descriptor(schemeRole, string(r)))
		switch r {
		case manifest.RoleDescription:
			// DASH-IF IOP: audio description for the visually impaired.
			as.Accessibility = append(as.Accessibility, descriptor(schemeAudioPurpose, "1"))
		case manifest.RoleCaption:
			as.Accessibility = append(as.Accessibility, descriptor(schemeRole, "caption"))
		}
	}
	if set.Forced {
		as.Roles = append(as.Roles, descriptor(schemeRole, "forced-subtitle"))
	}
	as.Accessibility = append(as.Accessibility, captions(set.ClosedCaptions)...)
	shared := sharedTemplate(set.Representations)
	if shared {
		as.SegmentTemplate = b.template(&set.Representations[0])
		b.profiles[0] = true
	}
	for ri := range set.Representations {
		r := &set.Representations[ri]
		rx, err := b.representation(set, r, shared, hoisted)
		if err != nil {
			return as, err
		}
		if set.ContentType == segment.KindVideo && !colorHoisted {
			rx.EssentialProperty, rx.SupplementalProperty = colorProperties(r.Color)
		}
		as.Representations = append(as.Representations, rx)
	}
	return as, nil
}

// captions returns the Accessibility descriptors of closed captions
// carried in the video, as SCTE 214-1 and the DASH-IF guidelines write
// them: one for the CEA-608 channels, value "CC1=eng;CC3=spa", and one for
// the CEA-708 services, value "1=lang:eng;2=lang:spa".
func captions(ccs []manifest.ClosedCaption) []mpd.DescriptorType {
	var v608, v708 string
	for _, c := range ccs {
		switch c.Type {
		case manifest.CEA608:
			if v608 != "" {
				v608 += ";"
			}
			v608 += "CC" + strconv.Itoa(c.Channel) + "=" + c.Lang
		case manifest.CEA708:
			if v708 != "" {
				v708 += ";"
			}
			v708 += strconv.Itoa(c.Channel) + "=lang:" + c.Lang
		}
	}
	var out []mpd.DescriptorType
	if v608 != "" {
		out = append(out, descriptor(schemeCEA608, v608))
	}
	if v708 != "" {
		out = append(out, descriptor(schemeCEA708, v708))
	}
	return out
}

// videoLimits sets maxWidth, maxHeight, maxFrameRate and, when all
// representations agree, par.
func (b *builder) videoLimits(as *adaptationSetXML, reps []manifest.Representation) {
	var maxFR segment.Rational
	par := ""
	for i := range reps {
		r := &reps[i]
		as.MaxWidth = max(as.MaxWidth, r.Width)
		as.MaxHeight = max(as.MaxHeight, r.Height)
		if !r.FrameRate.IsZero() && (maxFR.IsZero() || maxFR.Less(r.FrameRate)) {
			maxFR = r.FrameRate
		}
		rp := pictureAspect(r)
		if i == 0 {
			par = rp
		} else if rp != par {
			par = ""
		}
	}
	as.MaxFrameRate = frameRate(maxFR)
	as.Par = par
}

// The CICP descriptor schemes of ISO/IEC 23001-8 that DASH-IF IOP uses to
// signal HDR and wide colour gamut.
const (
	schemeColourPrimaries = "urn:mpeg:mpegB:cicp:ColourPrimaries"
	schemeTransfer        = "urn:mpeg:mpegB:cicp:TransferCharacteristics"
	schemeMatrix          = "urn:mpeg:mpegB:cicp:MatrixCoefficients"
)

// setColor returns the colour every representation shares, for signalling
// on the AdaptationSet; ok is false when they differ.
func setColor(reps []manifest.Representation) (c *manifest.Color, ok bool) {
	if len(reps) == 0 {
		return nil, false
	}
	c = reps[0].Color
	for i := 1; i < len(reps); i++ {
		if !reflect.DeepEqual(reps[i].Color, c) {
			return nil, false
		}
	}
	return c, true
}

// colorProperties returns the CICP descriptors for a colour description
// that needs them: HDR (PQ, HLG) or BT.2020 primaries. SDR BT.709 video, or
// video whose colour is unknown, gets none, as every player assumes it.
//
// PQ video is not watchable on a device that ignores the transfer function,
// so its descriptors are essential (DASH-IF IOP 4.3 section 10.3: a client
// that does not know them skips the representation). HLG and BT.2020 SDR
// degrade gracefully, so theirs are supplemental.
func colorProperties(c *manifest.Color) (essential, supplemental []mpd.DescriptorType) {
	if c == nil || c.Transfer != 16 && c.Transfer != 18 && c.Primaries != 9 {
		return nil, nil
	}
	var d []mpd.DescriptorType
	if c.Primaries != 0 {
		d = append(d, descriptor(schemeColourPrimaries, strconv.Itoa(int(c.Primaries))))
	}
	if c.Transfer != 0 {
		d = append(d, descriptor(schemeTransfer, strconv.Itoa(int(c.Transfer))))
	}
	if c.Matrix != 0 {
		d = append(d, descriptor(schemeMatrix, strconv.Itoa(int(c.Matrix))))
	}
	if c.Transfer == 16 {
		return d, nil
	}
	return nil, d
}

// pictureAspect returns the picture aspect ratio "w:h" in lowest terms, or
// "" when the sample aspect ratio is unknown.
func pictureAspect(r *manifest.Representation) string {
	sar := r.PixelAspect
	if sar.IsZero() || r.Width <= 0 || r.Height <= 0 {
		return ""
	}
	w := new(big.Int).Mul(big.NewInt(int64(r.Width)), big.NewInt(sar.Num))
	h := new(big.Int).Mul(big.NewInt(int64(r.Height)), big.NewInt(sar.Den))
	g := new(big.Int).GCD(nil, nil, w, h)
	if g.Sign() == 0 {
		return ""
	}
	return w.Div(w, g).String() + ":" + h.Div(h, g).String()
}

// frameRate formats a rational as the FrameRateType "n" or "n/d".
func frameRate(r segment.Rational) string {
	if r.IsZero() || r.Num <= 0 || r.Den <= 0 {
		return ""
	}
	if r.Den == 1 {
		return strconv.FormatInt(r.Num, 10)
	}
	return strconv.FormatInt(r.Num, 10) + "/" + strconv.FormatInt(r.Den, 10)
}

// setProtection returns the protection to write on the AdaptationSet of set:
// set.Protection, or else the protection every representation shares
// (hoisted reports that case; the representations then carry none). DASH-IF
// IOP 4.3 section 7.7.1 puts ContentProtection on the AdaptationSet, and
// dash.js 5 reads it only there (DashManifestModel
// getContentProtectionByAdaptation): with Representation-level elements it
// cannot select a key system from the MPD and falls back to the init
// segment's pssh boxes alone.
func setProtection(set *manifest.SwitchingSet) (pi *drm.Protection, hoisted bool) {
	if set.Protection != nil || len(set.Representations) == 0 {
		return set.Protection, false
	}
	first := set.Representations[0].Protection
	if first == nil {
		return nil, false
	}
	for i := 1; i < len(set.Representations); i++ {
		if !reflect.DeepEqual(set.Representations[i].Protection, first) {
			return nil, false
		}
	}
	return first, true
}

func (b *builder) representation(set *manifest.SwitchingSet, r *manifest.Representation, sharedTmpl, hoisted bool) (representationXML, error) {
	if r.Bandwidth > math.MaxUint32 {
		return representationXML{}, fmt.Errorf("dash: representation %q: bandwidth %d exceeds xs:unsignedInt", r.ID, r.Bandwidth)
	}
	rx := representationXML{
		ID:        r.ID,
		Bandwidth: r.Bandwidth,
		Codecs:    r.Codecs,
	}
	if c, _, _ := strings.Cut(r.SupplementalCodecs, "/"); c != "" {
		rx.SupplementalCodecs = c
		b.ns.scte214 = true
	}
	switch set.ContentType {
	case segment.KindVideo:
		rx.Width, rx.Height = r.Width, r.Height
		rx.FrameRate = frameRate(r.FrameRate)
		if !r.PixelAspect.IsZero() {
			rx.Sar = strconv.FormatInt(r.PixelAspect.Num, 10) + ":" + strconv.FormatInt(r.PixelAspect.Den, 10)
		}
	case segment.KindAudio:
		rx.AudioSamplingRate = r.SampleRate
		switch {
		case r.ChannelConfig != nil:
			rx.AudioChannelConfiguration = []mpd.DescriptorType{descriptor(r.ChannelConfig.SchemeIDURI, r.ChannelConfig.Value)}
		case r.Channels > 0:
			rx.AudioChannelConfiguration = []mpd.DescriptorType{descriptor(schemeChannels, strconv.Itoa(r.Channels))}
		}
	}
	if r.Protection != nil && !hoisted {
		cp, err := b.protection(r.Protection)
		if err != nil {
			return rx, fmt.Errorf("%w (representation %s)", err, r.ID)
		}
		rx.ContentProtection = cp
	}
	switch {
	case sharedTmpl:
	case r.Template != nil:
		rx.SegmentTemplate = b.template(r)
		b.profiles[0] = true
	case r.SingleFile != nil:
		rx.BaseURL = r.SingleFile.URI
		if !r.SingleFile.IndexRange.IsZero() {
			// isoff-on-demand: the sidx indexes the segments.
			sb := &segmentBaseXML{
				Timescale:              r.Timescale,
				PresentationTimeOffset: r.PresentationTimeOffset,
				IndexRange:             r.SingleFile.IndexRange.String(),
				IndexRangeExact:        "true",
			}
			if !r.Init.Range.IsZero() {
				sb.Initialization = &mpd.URL{Range: ptr(r.Init.Range.String())}
			}
			rx.SegmentBase = sb
			b.profiles[1] = true
		}
	default:
		// Segments with URIs but no template: list them.
		rx.SegmentList = segmentList(r)
		b.profiles[2] = true
	}
	return rx, nil
}

// sharedTemplate reports whether every representation has the same
// template, timescale, offset and timeline, so one SegmentTemplate at the
// AdaptationSet level serves them all ($RepresentationID$ differs).
func sharedTemplate(reps []manifest.Representation) bool {
	if len(reps) < 2 {
		return false
	}
	a := &reps[0]
	if a.Template == nil || a.SingleFile != nil {
		return false
	}
	for i := 1; i < len(reps); i++ {
		r := &reps[i]
		if r.Template == nil || *r.Template != *a.Template || r.SingleFile != nil ||
			r.Timescale != a.Timescale || r.PresentationTimeOffset != a.PresentationTimeOffset ||
			len(r.Segments) != len(a.Segments) {
			return false
		}
		if manifest.TemplateUses(a.Template.Media, "Bandwidth") || manifest.TemplateUses(a.Template.Init, "Bandwidth") {
			return false
		}
		for j := range r.Segments {
			if r.Segments[j].Start != a.Segments[j].Start || r.Segments[j].Duration != a.Segments[j].Duration ||
				r.Segments[j].Number != a.Segments[j].Number {
				return false
			}
		}
	}
	return true
}

func template(r *manifest.Representation) *segmentTemplateXML {
	st := &segmentTemplateXML{
		Timescale:              r.Timescale,
		PresentationTimeOffset: r.PresentationTimeOffset,
		Initialization:         r.Template.Init,
		Media:                  r.Template.Media,
		SegmentTimeline:        timeline(len(r.Segments), func(i int) (uint64, uint64) { return r.Segments[i].Start, r.Segments[i].Duration }),
	}
	if manifest.TemplateUses(r.Template.Media, "Number") {
		st.StartNumber = ptr(r.Segments[0].Number)
	}
	return st
}

// timeline builds a SegmentTimeline, run-length compressed with @r: one S
// per run of equal durations, @t only where the timeline starts (or would
// jump, which Validate rules out).
func timeline(n int, at func(int) (start, dur uint64)) *mpd.SegmentTimeline {
	tl := &mpd.SegmentTimeline{}
	var last *mpd.SegmentTimelineSegment
	var end uint64
	for i := 0; i < n; i++ {
		start, dur := at(i)
		if last != nil && start == end && dur == last.Duration {
			*last.RepeatCount++
			end += dur
			continue
		}
		s := &mpd.SegmentTimelineSegment{Duration: dur, RepeatCount: new(int)}
		if last == nil || start != end {
			s.StartTime = ptr(start)
		}
		tl.Segments = append(tl.Segments, s)
		last = s
		end = start + dur
	}
	for _, s := range tl.Segments {
		if *s.RepeatCount == 0 {
			s.RepeatCount = nil // r defaults to 0
		}
	}
	return tl
}

func segmentList(r *manifest.Representation) *segmentListXML {
	sl := &segmentListXML{
		Timescale:              r.Timescale,
		PresentationTimeOffset: r.PresentationTimeOffset,
		StartNumber:            r.Segments[0].Number,
		SegmentTimeline:        timeline(len(r.Segments), func(i int) (uint64, uint64) { return r.Segments[i].Start, r.Segments[i].Duration }),
	}
	sl.Initialization = initURL(r)
	for i := range r.Segments {
		s := &r.Segments[i]
		u := mpd.SegmentURL{Media: ptr(s.URI)}
		if !s.Range.IsZero() {
			u.MediaRange = ptr(s.Range.String())
		}
		sl.SegmentURLs = append(sl.SegmentURLs, u)
	}
	return sl
}

func initURL(r *manifest.Representation) *mpd.URL {
	if r.Init.URI == "" {
		return nil
	}
	u := &mpd.URL{SourceURL: ptr(r.Init.URI)}
	if !r.Init.Range.IsZero() {
		u.Range = ptr(r.Init.Range.String())
	}
	return u
}

// protection renders the mp4protection descriptor (scheme and default KID,
// ISO/IEC 23009-1 5.8.5.2 and 23001-7 11.2) followed by one descriptor per
// DRM system with its pssh, PlayReady object and license URL.
//
// With key rotation (pi.KeyPeriods or pi.KeyRotation) the descriptors name no key: no
// cenc:default_KID, cenc:pssh or mspr:pro, only the scheme, the systems and
// their license URLs. Each crypto period's key is announced by the pssh
// boxes in its moofs, and players only act on those when the MPD gave them
// no init data of its own: shaka-player (drm_engine.js) stops listening to
// "encrypted" events and skips in-band pssh once the MPD yields init data,
// which it builds from cenc:pssh, mspr:pro or, for ClearKey, from
// cenc:default_KID; it then never asks for the second period's key. Shaka
// Packager writes the same (mpd_utils.cc leaves default_KID out under key
// rotation). DASH-IF's guidelines keep default_KID and model rotation as a
// key hierarchy whose root key it names; keys that rotate without a root
// key (ClearKey, Widevine crypto periods) need one license per period.
func (b *builder) protection(pi *drm.Protection) ([]contentProtectionXML, error) {
	b.ns.cenc = true
	rotation := len(pi.KeyPeriods) > 0 || pi.KeyRotation
	defaultKID := pi.DefaultKID.String()
	if rotation {
		defaultKID = ""
	}
	out := []contentProtectionXML{{
		SchemeIDURI: schemeMP4Protection,
		// The scheme in use; go-dash v3.0.3 always writes "cenc".
		Value:      string(pi.Scheme),
		DefaultKID: defaultKID,
	}}
	for i := range pi.Systems {
		s := &pi.Systems[i]
		id, name := systemDescriptor(s.System)
		cp := contentProtectionXML{
			SchemeIDURI: "urn:uuid:" + id.String(),
			Value:       name,
			// Repeated here for players that read the KID from the system
			// descriptor (DASH-IF IOP allows it on every descriptor).
			DefaultKID: defaultKID,
		}
		if s.ContentProtectionData != "" {
			// A key server's own signalling replaces ours. Under key
			// rotation it is left out with the rest (CPIX 2.3 clause 8.4
			// has it ignored for rotating keys without a root key).
			if !rotation {
				if err := b.keyServerXML(&cp, s.ContentProtectionData); err != nil {
					return nil, fmt.Errorf("dash: ContentProtectionData of %s: %w", s.System, err)
				}
			}
			out = append(out, cp)
			continue
		}
		// ClearKey's pssh (W3C common system) stays in the init segment
		// and the moofs; players build "keyids" init data from
		// cenc:default_KID. A second element with the common system ID
		// 1077efec… and cenc:pssh breaks dash.js 5.2.1: it ranks that
		// element first when the app configures a license URL and passes
		// its pssh box to generateRequest as "keyids" JSON, which Chromium
		// rejects with a TypeError ("Error generating key request").
		if len(s.PSSH) > 0 && !rotation && s.System != drm.ClearKey {
			cp.PSSH = base64.StdEncoding.EncodeToString(s.PSSH)
		}
		if len(s.PlayReadyObject) > 0 && !rotation {
			cp.PRO = base64.StdEncoding.EncodeToString(s.PlayReadyObject)
			b.ns.mspr = true
		}
		if s.LicenseURL != "" {
			cp.Laurl = s.LicenseURL
			b.ns.dashif = true
			if s.System == drm.ClearKey {
				cp.ClearKeyLaurl = &clearKeyLaurl{LicType: "EME-1.0", URL: s.LicenseURL}
				b.ns.clearkey = true
			}
		}
		out = append(out, cp)
	}
	return out, nil
}

// systemDescriptor returns the scheme UUID and @value of a DRM system's
// ContentProtection element. ClearKey is the DASH-IF ClearKey element
// (DASH-IF IOP 4.3 7.6.2.4), which carries the license URL; its W3C common
// system ID is that of its pssh boxes.
func systemDescriptor(s drm.System) (drm.KID, string) {
	switch s {
	case drm.Widevine:
		return drm.SystemIDWidevine, "Widevine"
	case drm.PlayReady:
		return drm.SystemIDPlayReady, "MSPR 2.0"
	case drm.ClearKey:
		return drm.SystemIDClearKeyDASHIF, "ClearKey1.0"
	}
	return s.SystemID(), string(s)
}

// trickSet builds the trick mode AdaptationSet for a video set whose
// representations carry I-frames (DASH-IF IOP 3.2.9): an EssentialProperty
// naming the main set, and I-frame-only representations addressing the
// moof+sync sample ranges the HLS I-frame playlists use.
func (b *builder) trickSet(set *manifest.SwitchingSet, main adaptationSetXML) (adaptationSetXML, bool) {
	if set.ContentType != segment.KindVideo {
		return adaptationSetXML{}, false
	}
	as := adaptationSetXML{
		ContentType:       "video",
		MimeType:          set.MIME(),
		SegmentAlignment:  "true",
		StartWithSAP:      1,
		MaxWidth:          main.MaxWidth,
		MaxHeight:         main.MaxHeight,
		Par:               main.Par,
		ContentProtection: main.ContentProtection,
		EssentialProperty: append([]mpd.DescriptorType{descriptor(schemeTrickMode, strconv.Itoa(main.ID))}, main.EssentialProperty...),
		// The trick representations show the same pictures: same colour.
		SupplementalProperty: main.SupplementalProperty,
	}
	_, hoisted := setProtection(set)
	var maxFR segment.Rational
	for ri := range set.Representations {
		r := &set.Representations[ri]
		if len(r.IFrames) == 0 {
			continue
		}
		peak, _ := manifest.IFrameBandwidth(r.IFrames, r.Timescale)
		var total uint64
		for i := range r.IFrames {
			total += r.IFrames[i].Duration
		}
		// The I-frame rate: count per total duration, exact.
		fr := reduce(segment.Rational{Num: int64(len(r.IFrames)) * int64(r.Timescale), Den: int64(total)})
		if maxFR.IsZero() || maxFR.Less(fr) {
			maxFR = fr
		}
		rx := representationXML{
			ID:               r.ID + "_trick",
			Bandwidth:        min(peak, math.MaxUint32),
			Codecs:           r.Codecs,
			Width:            r.Width,
			Height:           r.Height,
			FrameRate:        frameRate(fr),
			CodingDependency: "false",
		}
		if !r.PixelAspect.IsZero() {
			rx.Sar = strconv.FormatInt(r.PixelAspect.Num, 10) + ":" + strconv.FormatInt(r.PixelAspect.Den, 10)
		}
		if !r.FrameRate.IsZero() && fr.Num > 0 {
			// Playing I-frames at the normal frame rate speeds playback up by
			// the full rate over the I-frame rate.
			speed := r.FrameRate.Float() / fr.Float()
			rx.MaxPlayoutRate = strconv.FormatFloat(math.Round(speed*1000)/1000, 'f', -1, 64)
		}
		if r.Protection != nil && !hoisted {
			// Errors were reported for the main set.
			rx.ContentProtection, _ = b.protection(r.Protection)
		}
		if len(main.EssentialProperty) == 0 && len(main.SupplementalProperty) == 0 {
			rx.EssentialProperty, rx.SupplementalProperty = colorProperties(r.Color)
		}
		sl := &segmentListXML{
			Timescale:              r.Timescale,
			PresentationTimeOffset: r.PresentationTimeOffset,
			Initialization:         initURL(r),
			SegmentTimeline:        timeline(len(r.IFrames), func(i int) (uint64, uint64) { return r.IFrames[i].Start, r.IFrames[i].Duration }),
		}
		for i := range r.IFrames {
			f := &r.IFrames[i]
			sl.SegmentURLs = append(sl.SegmentURLs, mpd.SegmentURL{Media: ptr(f.URI), MediaRange: ptr(f.Range.String())})
		}
		rx.SegmentList = sl
		as.Representations = append(as.Representations, rx)
	}
	if len(as.Representations) == 0 {
		return adaptationSetXML{}, false
	}
	as.MaxFrameRate = frameRate(maxFR)
	b.profiles[2] = true // SegmentList is outside the live and on-demand profiles
	return as, true
}

func reduce(r segment.Rational) segment.Rational {
	a, b := r.Num, r.Den
	for b != 0 {
		a, b = b, a%b
	}
	if a == 0 {
		return r
	}
	return segment.Rational{Num: r.Num / a, Den: r.Den / a}
}

// Duration formats d as an xs:duration exact to the nanosecond: PT, then
// hours, minutes and seconds with only the fraction digits needed, as in
// PT2H0M8.008S, PT0.5S and PT0S. Days are not used: a day is not always
// 24 hours. go-dash v3.0.3 writes durations under a second as a number of
// nanoseconds, a NUL byte and S (half a second is "PT500000000\x00S").
func Duration(d time.Duration) string {
	if d <= 0 {
		return "PT0S"
	}
	b := make([]byte, 0, 24)
	b = append(b, "PT"...)
	h := d / time.Hour
	d -= h * time.Hour
	m := d / time.Minute
	d -= m * time.Minute
	if h > 0 {
		b = strconv.AppendInt(b, int64(h), 10)
		b = append(b, 'H')
	}
	if h > 0 || m > 0 {
		b = strconv.AppendInt(b, int64(m), 10)
		b = append(b, 'M')
	}
	s := d / time.Second
	ns := d - s*time.Second
	b = strconv.AppendInt(b, int64(s), 10)
	if ns > 0 {
		frac := strconv.AppendInt(nil, int64(ns)+1_000_000_000, 10)[1:] // nine digits
		n := len(frac)
		for frac[n-1] == '0' {
			n--
		}
		b = append(b, '.')
		b = append(b, frac[:n]...)
	}
	b = append(b, 'S')
	return string(b)
}

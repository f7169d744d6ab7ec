package manifest

import (
	"errors"
	"fmt"
	"time"
)

// ErrCue is wrapped by the ValidationError of a bad cue.
var ErrCue = errors.New("bad cue")

// CueKind says what a cue marks.
type CueKind string

// Cue kinds.
const (
	// CueOut starts a break (an ad opportunity): SCTE-35 splice_insert
	// with out_of_network_indicator set, or a segmentation descriptor that
	// opens a break.
	CueOut CueKind = "out"
	// CueIn ends a break: the return to the network.
	CueIn CueKind = "in"
	// CueSignal is any other cue (a programme or chapter boundary, a
	// time_signal without a break, splice_null): it is signalled, but
	// opens and closes nothing.
	CueSignal CueKind = "signal"
)

// Cue is a timed marker of the presentation, such as the SCTE-35 splice
// points of an ad break. The packager cuts segments at cue times; HLS
// writes an EXT-X-DATERANGE before the segment a cue falls in (RFC 8216bis
// 4.4.5.1, with SCTE35-OUT, SCTE35-IN or SCTE35-CMD holding the section),
// DASH an Event of an EventStream of scheme urn:scte:scte35:2014:xml+bin in
// the period. The model carries cues the same way for VOD and live.
type Cue struct {
	// ID identifies the cue; unique within the period, except that the
	// CueIn that closes a CueOut carries the CueOut's ID, which makes HLS
	// write both as one date range (the return adds DURATION and
	// SCTE35-IN to the range the break opened). No white space or quotes.
	ID string
	// Start is the presentation time of the splice point relative to the
	// period start.
	Start time.Duration
	// Duration of the break a CueOut opens, if known; zero means unknown.
	Duration time.Duration
	// Planned marks Duration as what was announced (HLS PLANNED-DURATION)
	// rather than what happened (HLS DURATION).
	Planned bool
	Kind    CueKind
	// SCTE35 is the splice_info_section, as received or as synthesised for
	// a cue list entry (see package scte35). Empty means none: HLS then
	// writes the date range without an SCTE35 attribute and DASH an empty
	// Event.
	SCTE35 []byte
	// EventID is the DASH Event@id; zero numbers the period's events in
	// cue order from 1. A live window, where earlier cues leave, sets it so
	// that each event keeps its id. Set it on all cues or none.
	EventID uint32
	// Class is the HLS date range CLASS (such as
	// "com.apple.hls.interstitial"); empty writes none.
	Class string
}

// InterstitialClass is the HLS date range CLASS of HLS Interstitials.
const InterstitialClass = "com.apple.hls.interstitial"

// Interstitials configures the HLS Interstitials written for breaks (RFC
// 8216bis appendix D, Apple's HLS Interstitials): for each cue of kind
// CueOut, HLS adds a date range with ID "<cue ID>-ad", CLASS
// "com.apple.hls.interstitial", the break's start, its DURATION or
// PLANNED-DURATION when known, the asset below, and X-RESUME-OFFSET equal to
// the break's duration when known, so that players resume the primary
// content after the break the interstitial replaces. Set exactly one of
// AssetURI and AssetList.
type Interstitials struct {
	// AssetURI is the X-ASSET-URI: the playlist of the interstitial asset
	// to play. "{id}" in it is replaced by the cue's ID, so that an ad
	// decision server can tell breaks apart.
	AssetURI string
	// AssetList is the X-ASSET-LIST: a URI answering a JSON list of
	// assets; "{id}" is replaced as in AssetURI.
	AssetList string
	// Restrict is the X-RESTRICT value, such as "SKIP,JUMP"; empty writes
	// none.
	Restrict string
}

// validate checks that exactly one asset is set and that the values can be
// written as quoted strings.
func (in *Interstitials) validate() error {
	if (in.AssetURI == "") == (in.AssetList == "") {
		return fmt.Errorf("interstitials: set exactly one of AssetURI (%q) and AssetList (%q)", in.AssetURI, in.AssetList)
	}
	for _, v := range []string{in.AssetURI, in.AssetList, in.Restrict} {
		for _, r := range v {
			if r == '"' || r == '\n' || r == '\r' {
				return fmt.Errorf("interstitials: %q has a quote or a line break", v)
			}
		}
	}
	switch in.Restrict {
	case "", "SKIP", "JUMP", "SKIP,JUMP", "JUMP,SKIP":
	default:
		return fmt.Errorf("interstitials: X-RESTRICT %q is not a list of SKIP and JUMP", in.Restrict)
	}
	return nil
}

// CueEpoch is the wall-clock time of presentation time zero that VOD
// playlists with cues use when Presentation.ProgramDateTime is zero: HLS
// date ranges need an EXT-X-PROGRAM-DATE-TIME to anchor START-DATE to.
var CueEpoch = time.Unix(0, 0).UTC()

// validateCues checks the cues of a period: kinds known, IDs present and
// not shared except by an out and the in that closes it, starts inside the
// presentation (not negative) and in order.
func validateCues(pd *Period) error {
	seen := map[string]CueKind{}
	var last time.Duration
	for i := range pd.Cues {
		c := &pd.Cues[i]
		bad := func(f string, args ...any) error {
			return fmt.Errorf("cue %d (%q at %v): %s", i, c.ID, c.Start, fmt.Sprintf(f, args...))
		}
		switch c.Kind {
		case CueOut, CueIn, CueSignal:
		default:
			return bad("unknown kind %q", c.Kind)
		}
		if c.ID == "" {
			return bad("no ID")
		}
		for _, r := range c.ID {
			if r <= ' ' || r == '"' || r == ',' {
				return bad("ID has white space, a comma or a quote")
			}
		}
		if c.Start < 0 || c.Duration < 0 {
			return bad("negative time")
		}
		if c.Start < last {
			return bad("before the previous cue (%v)", last)
		}
		last = c.Start
		if k, ok := seen[c.ID]; ok && !(k == CueOut && c.Kind == CueIn) {
			return bad("ID used twice")
		}
		seen[c.ID] = c.Kind
	}
	return nil
}

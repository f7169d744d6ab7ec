package manifest

import (
	"fmt"
	"time"

	"github.com/cmafkit/cmafkit/drm"
	"github.com/cmafkit/cmafkit/segment"
)

// PresentationType tells whether a presentation is complete (VOD) or still
// growing (live). The zero value is VOD.
type PresentationType int

// Presentation types.
const (
	// VOD is a complete presentation: DASH type="static", HLS
	// EXT-X-PLAYLIST-TYPE:VOD with EXT-X-ENDLIST.
	VOD PresentationType = iota
	// Live is a presentation that grows while it is published (DASH
	// type="dynamic", HLS media playlists without EXT-X-PLAYLIST-TYPE:VOD
	// and, until Ended, without EXT-X-ENDLIST). Its Periods hold the
	// segments of the window, a period per discontinuity-free span; a
	// representation keeps its ID from period to period.
	Live
)

// String returns "vod" or "live".
func (t PresentationType) String() string {
	if t == Live {
		return "live"
	}
	return "vod"
}

// Presentation is one streaming presentation: what a DASH MPD or an HLS
// multivariant playlist with its media playlists describes.
type Presentation struct {
	Type PresentationType

	// Duration is the media presentation duration. Zero means "derive it":
	// the longest representation's span (see [Presentation.MediaDuration]).
	Duration time.Duration

	// MinBufferTime is DASH MPD@minBufferTime. Zero means the longest
	// segment duration.
	MinBufferTime time.Duration

	// TargetDuration is the segment duration the packager aimed for. When
	// non-zero it is the HLS EXT-X-TARGETDURATION (rounded up to whole
	// seconds) of every audio and video media playlist, and Validate refuses
	// a segment whose duration, rounded to the nearest second, exceeds it
	// (RFC 8216 section 4.3.3.1) — except in a Live presentation, whose
	// target must never change (RFC 8216 section 6.2.1): there a longer
	// segment is rendered as it is under the same target, and the packager
	// reports it. It is also the window length of the peak
	// bit rate computation (see [PeakBandwidth]), and in a Live
	// presentation DASH MPD@maxSegmentDuration (the longest segment
	// when a longer one was written), a promise about segments still to
	// come. Zero derives all of them from the longest segment.
	TargetDuration time.Duration

	// CMAF declares that every media segment conforms to CMAF (ISO/IEC
	// 23000-19); DASH then adds the urn:mpeg:dash:profile:cmaf:2019 profile.
	CMAF bool

	// Live fields (DASH MPD@availabilityStartTime, @publishTime,
	// @timeShiftBufferDepth, @minimumUpdatePeriod,
	// @suggestedPresentationDelay). Unused for VOD. A zero
	// TimeShiftBufferDepth means an unlimited window (HLS
	// EXT-X-PLAYLIST-TYPE:EVENT).
	AvailabilityStartTime      time.Time
	PublishTime                time.Time
	TimeShiftBufferDepth       time.Duration
	MinimumUpdatePeriod        time.Duration
	SuggestedPresentationDelay time.Duration
	// UTCTiming lists DASH UTCTiming sources (scheme and value, e.g.
	// urn:mpeg:dash:utc:http-iso:2014 and a time URL) for live clients.
	UTCTiming []Descriptor
	// Ended marks a live presentation whose stream is over: HLS writes
	// EXT-X-ENDLIST. (To turn a live MPD static, render it as VOD.)
	Ended bool
	// DiscontinuitySequence is the number of discontinuities (period
	// changes) that have left a live window: HLS
	// EXT-X-DISCONTINUITY-SEQUENCE.
	DiscontinuitySequence uint64

	// ProgramDateTime is the wall-clock time of presentation time zero of
	// a VOD presentation with cues: HLS writes it as the
	// EXT-X-PROGRAM-DATE-TIME of the first segment and dates the cues'
	// EXT-X-DATERANGE tags from it. Zero means CueEpoch. (Live segments
	// carry their own SegmentRef.ProgramDateTime, which takes precedence.)
	ProgramDateTime time.Time
	// HLSCueTags makes HLS also write the non-standard but widely read
	// EXT-X-CUE-OUT:<seconds>, EXT-X-CUE-OUT-CONT and EXT-X-CUE-IN tags for
	// breaks (cues of kind CueOut with a Duration and their CueIn).
	HLSCueTags bool
	// HLSInterstitials, when set, makes HLS also write an HLS Interstitial
	// (an EXT-X-DATERANGE of CLASS com.apple.hls.interstitial) for each
	// break (cue of kind CueOut), for server-guided ad insertion; see
	// Interstitials.
	HLSInterstitials *Interstitials

	// LowLatency, when set on a live presentation, makes HLS write
	// partial segments and server control, and DASH segment availability
	// ahead of completion, a ServiceDescription and producer reference
	// times; see LowLatency.
	LowLatency *LowLatency

	Periods []Period
}

// Period is a span of the presentation with one set of switching sets. HLS
// supports exactly one period for VOD; in a live presentation each period
// is a discontinuity-free span, and HLS writes EXT-X-DISCONTINUITY between
// periods.
type Period struct {
	// ID is DASH Period@id; empty uses the period's index. A live period
	// needs an ID that stays the same while it is in the window (the index
	// changes as periods leave it).
	ID string
	// Start is the period start relative to the presentation start; in a
	// live presentation, relative to AvailabilityStartTime. The media time
	// at Start is each representation's PresentationTimeOffset.
	Start time.Duration
	// Duration of the period; zero means "until the next period or the end
	// of the presentation".
	Duration time.Duration

	Sets []SwitchingSet

	// Cues are the period's timed markers (SCTE-35 splice points), in
	// start order; see Cue.
	Cues []Cue
}

// Role describes the purpose of a switching set. The values are those of the
// DASH role scheme urn:mpeg:dash:role:2011.
type Role string

// Roles.
const (
	RoleMain        Role = "main"
	RoleAlternate   Role = "alternate"
	RoleCommentary  Role = "commentary"
	RoleSubtitle    Role = "subtitle"
	RoleCaption     Role = "caption"
	RoleDescription Role = "description"
	RoleDub         Role = "dub"
)

// SwitchingSet is a group of representations a player may switch between:
// a DASH AdaptationSet; in HLS, video representations become variants and
// audio and text representations become renditions of one group.
type SwitchingSet struct {
	// ID names the set in errors. DASH numbers AdaptationSets itself
	// (AdaptationSet@id must be an integer); HLS uses GroupID.
	ID string

	// ContentType is the kind of media the set carries (DASH
	// AdaptationSet@contentType, HLS rendition TYPE).
	ContentType segment.Kind

	// MimeType is the container MIME type; empty means video/mp4 or
	// audio/mp4 by content type, and text/vtt for text.
	MimeType string

	// Lang is the BCP 47 language tag (HLS LANGUAGE, DASH @lang). Required
	// for audio and text sets.
	Lang string
	// Label is the human-readable name (HLS NAME, DASH Label element).
	Label string
	Roles []Role

	// Default and Autoselect map to the HLS EXT-X-MEDIA attributes of the
	// same name (DEFAULT=YES implies AUTOSELECT=YES). Forced marks forced
	// subtitles (HLS FORCED=YES, DASH Role "forced-subtitle").
	Default    bool
	Autoselect bool
	Forced     bool

	// CodecFamily is a short codec name ("avc", "hevc", "aac", "ec-3",
	// "wvtt", ...). HLS groups audio renditions by it: renditions of one
	// group must share a codec.
	CodecFamily string

	// GroupID overrides the HLS GROUP-ID of this set's renditions. Empty
	// means "audio-<CodecFamily>" for audio and "subs" for text.
	GroupID string

	// StartWithSAP is DASH @startWithSAP; zero means 1 (segments start with
	// a closed-GOP random access point).
	StartWithSAP int

	// ClosedCaptions lists the CEA-608/708 caption services that every
	// representation of a video set carries in its video (see
	// ClosedCaption). HLS variants of a set without any say
	// CLOSED-CAPTIONS=NONE when no set has captions.
	ClosedCaptions []ClosedCaption

	// Protection describes the encryption of every representation in the
	// set, unless a representation has its own. Nil means clear. The
	// renderers turn it into DASH ContentProtection elements and HLS key
	// tags; see package drm.
	Protection *drm.Protection

	Representations []Representation
}

// MIME returns the set's MIME type, defaulted by content type.
func (s *SwitchingSet) MIME() string {
	if s.MimeType != "" {
		return s.MimeType
	}
	switch s.ContentType {
	case segment.KindVideo:
		return "video/mp4"
	case segment.KindAudio:
		return "audio/mp4"
	case segment.KindText:
		return "text/vtt"
	}
	return "application/mp4"
}

// HasRole reports whether r is among the set's roles.
func (s *SwitchingSet) HasRole(r Role) bool {
	for _, x := range s.Roles {
		if x == r {
			return true
		}
	}
	return false
}

// VideoRange is the HLS VIDEO-RANGE of a video representation.
type VideoRange string

// Video ranges. The zero value means SDR.
const (
	SDR VideoRange = "SDR"
	PQ  VideoRange = "PQ"
	HLG VideoRange = "HLG"
)

// Color describes the colour of a video representation with ITU-T H.273
// (ISO/IEC 23091-2, CICP) code points, as the colr box or the SPS VUI of the
// source gives them; zero means unspecified.
type Color struct {
	Primaries uint8 // colour_primaries: 1 BT.709, 9 BT.2020
	Transfer  uint8 // transfer_characteristics: 1 BT.709, 14 BT.2020, 16 PQ, 18 HLG
	Matrix    uint8 // matrix_coefficients: 1 BT.709, 9 BT.2020 non-constant
}

// Descriptor is a DASH descriptor (scheme and value).
type Descriptor struct {
	SchemeIDURI string
	Value       string
}

// ByteRange is a range of bytes in a resource. A zero Length means the
// whole resource.
type ByteRange struct {
	Offset, Length uint64
}

// IsZero reports whether the range is the whole resource.
func (b ByteRange) IsZero() bool { return b.Length == 0 }

// Last returns the offset of the last byte (Offset+Length-1).
func (b ByteRange) Last() uint64 { return b.Offset + b.Length - 1 }

// String formats the range as RFC 7233 "first-last", as DASH writes it.
func (b ByteRange) String() string {
	return fmt.Sprintf("%d-%d", b.Offset, b.Last())
}

// Resource is a URI, optionally narrowed to a byte range.
type Resource struct {
	URI   string
	Range ByteRange
}

// SegmentRef is one media segment as the segmenter wrote it.
type SegmentRef struct {
	// URI of the segment, resolved (HLS lists it as is). In single-file
	// mode it is the file's URI and Range locates the segment.
	URI   string
	Range ByteRange
	// Number is the segment number ($Number$); HLS uses the first
	// segment's Number as EXT-X-MEDIA-SEQUENCE.
	Number uint64
	// Start and Duration in the representation's timescale. Start is the
	// earliest presentation time ($Time$, the tfdt of a CMAF segment).
	Start, Duration uint64
	// Size is the segment size in bytes.
	Size uint64
	// ProgramDateTime is the wall-clock time of the segment's start (live
	// ingest time): HLS EXT-X-PROGRAM-DATE-TIME. Zero means none.
	ProgramDateTime time.Time
	// Parts are the segment's partial segments, in order, for low-latency
	// HLS: a producer lists them for the last few segments only (RFC
	// 8216bis drops them after three target durations).
	Parts []Part
}

// IFrameRef locates one sync sample for trick play: the byte range covers
// the segment's (or chunk's) moof and the sync sample's data. For DASH the
// range must be a self-contained fragment (a moof and an mdat holding only
// the sync sample), which the segmenter produces by writing the sync sample
// as its own chunk; HLS also accepts a range that cuts the mdat short.
type IFrameRef struct {
	URI   string
	Range ByteRange
	// Start and Duration in the representation's timescale; Duration runs
	// to the next I-frame (or the end of the representation).
	Start, Duration uint64
}

// Template holds DASH SegmentTemplate strings. The identifiers $Number$,
// $Time$, $RepresentationID$ and $Bandwidth$ (with an optional %0Nd width)
// and $$ are understood. Validate checks that expanding Media for each
// segment gives that segment's URI, so that HLS (which lists URIs) and DASH
// (which uses the template) address the same objects.
type Template struct {
	Init  string
	Media string
	// Duration, when set, makes DASH write SegmentTemplate@duration in
	// place of a SegmentTimeline, with StartNumber the number of the
	// period's first segment: segment StartNumber+k starts k×Duration
	// after the period start. A low-latency live MPD needs it, since a
	// client must address the segment being written before any timeline
	// lists it; the segments must then last Duration each.
	Duration    time.Duration
	StartNumber uint64
}

// SingleFile describes a representation stored as one file (DASH
// isoff-on-demand SegmentBase): the segments are byte ranges of URI, the
// init segment is Representation.Init (same URI, with its range), and
// IndexRange locates the sidx box. A zero IndexRange without segments is a
// side-loaded file such as a whole WebVTT document.
type SingleFile struct {
	URI        string
	IndexRange ByteRange
}

// Representation is one encoded version of the content.
type Representation struct {
	// ID is unique within the presentation and has no white space (DASH
	// Representation@id).
	ID string

	// Bandwidth is the peak bit rate in bits/s (HLS BANDWIDTH; DASH
	// @bandwidth). AverageBandwidth is the average over the whole
	// representation (HLS AVERAGE-BANDWIDTH). See FillBandwidth.
	Bandwidth        uint64
	AverageBandwidth uint64

	// Codecs is the RFC 6381 codecs string, such as "avc1.64001f".
	Codecs string
	// SupplementalCodecs is the codec of an enhancement a capable player
	// may use on top of Codecs, with its compatibility brand after a
	// slash, as HLS SUPPLEMENTAL-CODECS: "dvh1.08.07/db1p" for Dolby
	// Vision over an HDR10 base layer. DASH writes the codec part as
	// @scte214:supplementalCodecs.
	SupplementalCodecs string

	// Video.
	Width, Height int
	FrameRate     segment.Rational
	PixelAspect   segment.Rational // sample aspect ratio; zero means unknown
	VideoRange    VideoRange
	// Color is the video's colour description; nil when the source gives
	// none. DASH signals it for HDR and wide-gamut video.
	Color *Color

	// Audio.
	SampleRate int
	Channels   int
	// ChannelConfig overrides the DASH AudioChannelConfiguration, which is
	// otherwise urn:mpeg:dash:23003:3:audio_channel_configuration:2011 with
	// the channel count (Dolby codecs need their own scheme).
	ChannelConfig *Descriptor

	// CodecPrivateData is the decoder configuration in the form Smooth
	// Streaming's client manifest carries it (MS-SSTR 2.2.2.5): for H.264
	// the SPS and PPS each after a 00000001 start code, for AAC the
	// AudioSpecificConfig. Only manifest/smooth reads it.
	CodecPrivateData []byte

	// Timescale of Start/Duration values (ticks per second).
	Timescale uint32
	// PresentationTimeOffset in ticks: the media time that corresponds to
	// the period start (DASH @presentationTimeOffset), for audio priming or
	// edit lists. In a live presentation whose media times count from
	// AvailabilityStartTime it is the period's Start in ticks, so that
	// Period.Start + (Segment.Start - PresentationTimeOffset)/Timescale is
	// the segment's time since AvailabilityStartTime.
	PresentationTimeOffset uint64

	// Init is the initialization segment; a zero URI means none (plain
	// WebVTT).
	Init Resource
	// Segments in presentation order, contiguous in time.
	Segments []SegmentRef
	// Template, when set, lets DASH use a SegmentTemplate instead of
	// listing segments.
	Template *Template
	// Parts are the partial segments of the segment being written after
	// the last of Segments (low-latency HLS: EXT-X-PART after the last
	// EXTINF), and PreloadHint the URI of the part that comes next
	// (EXT-X-PRELOAD-HINT), which a server answers as it is made.
	Parts       []Part
	PreloadHint string
	// SingleFile, when set, makes DASH use SegmentBase (on-demand profile).
	SingleFile *SingleFile

	// IFrames, when present, yield an HLS I-frame playlist and a DASH trick
	// mode AdaptationSet.
	IFrames []IFrameRef

	// PlaylistURI and IFramePlaylistURI name the HLS media playlists; empty
	// means ID+".m3u8" and ID+"_iframes.m3u8".
	PlaylistURI       string
	IFramePlaylistURI string

	// Protection overrides the set's protection for this representation
	// (for instance a separate key for HD renditions).
	Protection *drm.Protection
}

// End returns the end time in ticks of the last segment, or 0.
func (r *Representation) End() uint64 {
	if len(r.Segments) == 0 {
		return 0
	}
	s := r.Segments[len(r.Segments)-1]
	return s.Start + s.Duration
}

// Span returns the duration covered by the segments.
func (r *Representation) Span() time.Duration {
	if len(r.Segments) == 0 || r.Timescale == 0 {
		return 0
	}
	return TicksToDuration(r.End()-r.Segments[0].Start, r.Timescale)
}

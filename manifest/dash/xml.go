package dash

import (
	"encoding/xml"

	"github.com/zencoder/go-dash/v3/mpd"
)

// The MPD element types below follow the element order of the DASH schema
// (ISO/IEC 23009-1, DASH-MPD.xsd): encoding/xml writes fields in declaration
// order. go-dash v3.0.3's own MPD types are not used for writing because of
// the problems the tests demonstrate (sub-second durations, Label as an
// attribute, Accessibility after Representation, dropped embedded common
// attributes, SegmentTemplate@duration next to a SegmentTimeline, a fixed
// mp4protection value, no maxFrameRate, no laurl). Its leaf types that are
// right are reused: SegmentTimeline, URL, SegmentURL and DescriptorType.

// Namespaces.
const (
	nsMPD      = "urn:mpeg:dash:schema:mpd:2011"
	nsCENC     = "urn:mpeg:cenc:2013"
	nsMSPR     = "urn:microsoft:playready"
	nsDASHIF   = "https://dashif.org/CPS"
	nsClearKey = "http://dashif.org/guidelines/clearKey"
	nsSCTE214  = "urn:scte:dash:scte214-extensions"
	nsSCTE35   = "http://www.scte.org/schemas/35/2016"
)

// Profiles.
const (
	ProfileLive     = "urn:mpeg:dash:profile:isoff-live:2011"
	ProfileOnDemand = "urn:mpeg:dash:profile:isoff-on-demand:2011"
	ProfileFull     = "urn:mpeg:dash:profile:full:2011"
	ProfileCMAF     = "urn:mpeg:dash:profile:cmaf:2019"
)

// Descriptor schemes.
const (
	schemeRole          = "urn:mpeg:dash:role:2011"
	schemeAudioPurpose  = "urn:tva:metadata:cs:AudioPurposeCS:2007"
	schemeChannels      = "urn:mpeg:dash:23003:3:audio_channel_configuration:2011"
	schemeMP4Protection = "urn:mpeg:dash:mp4protection:2011"
	schemeTrickMode     = "http://dashif.org/guidelines/trickmode"
	schemeCEA608        = "urn:scte:dash:cc:cea-608:2015"
	schemeCEA708        = "urn:scte:dash:cc:cea-708:2015"
)

type mpdXML struct {
	XMLName                    xml.Name               `xml:"MPD"`
	Xmlns                      string                 `xml:"xmlns,attr"`
	XmlnsCENC                  string                 `xml:"xmlns:cenc,attr,omitempty"`
	XmlnsMSPR                  string                 `xml:"xmlns:mspr,attr,omitempty"`
	XmlnsDASHIF                string                 `xml:"xmlns:dashif,attr,omitempty"`
	XmlnsClearKey              string                 `xml:"xmlns:clearkey,attr,omitempty"`
	XmlnsSCTE214               string                 `xml:"xmlns:scte214,attr,omitempty"`
	XmlnsSCTE35                string                 `xml:"xmlns:scte35,attr,omitempty"`
	Profiles                   string                 `xml:"profiles,attr"`
	Type                       string                 `xml:"type,attr"`
	AvailabilityStartTime      string                 `xml:"availabilityStartTime,attr,omitempty"`
	PublishTime                string                 `xml:"publishTime,attr,omitempty"`
	MediaPresentationDuration  string                 `xml:"mediaPresentationDuration,attr,omitempty"`
	MinimumUpdatePeriod        string                 `xml:"minimumUpdatePeriod,attr,omitempty"`
	TimeShiftBufferDepth       string                 `xml:"timeShiftBufferDepth,attr,omitempty"`
	SuggestedPresentationDelay string                 `xml:"suggestedPresentationDelay,attr,omitempty"`
	MaxSegmentDuration         string                 `xml:"maxSegmentDuration,attr,omitempty"`
	MinBufferTime              string                 `xml:"minBufferTime,attr"`
	ServiceDescription         *serviceDescriptionXML `xml:"ServiceDescription"`
	Periods                    []periodXML            `xml:"Period"`
	// After Period, Metrics, EssentialProperty and SupplementalProperty.
	UTCTiming []mpd.DescriptorType `xml:"UTCTiming"`
}

type periodXML struct {
	ID             string             `xml:"id,attr,omitempty"`
	Start          string             `xml:"start,attr"`
	Duration       string             `xml:"duration,attr,omitempty"`
	EventStreams   []eventStreamXML   `xml:"EventStream"`
	AdaptationSets []adaptationSetXML `xml:"AdaptationSet"`
}

// eventStreamXML is a Period's EventStream; the SCTE 214-1 scheme
// urn:scte:scte35:2014:xml+bin carries each splice_info_section base64 in
// an scte35:Signal/scte35:Binary element (SCTE 35 2016 XML schema).
type eventStreamXML struct {
	SchemeIDURI string     `xml:"schemeIdUri,attr"`
	Timescale   uint32     `xml:"timescale,attr"`
	Events      []eventXML `xml:"Event"`
}

type eventXML struct {
	PresentationTime uint64     `xml:"presentationTime,attr"`
	Duration         uint64     `xml:"duration,attr,omitempty"`
	ID               uint32     `xml:"id,attr"`
	Signal           *signalXML `xml:"scte35:Signal"`
}

type signalXML struct {
	Binary string `xml:"scte35:Binary"`
}

type adaptationSetXML struct {
	ID               int    `xml:"id,attr"`
	ContentType      string `xml:"contentType,attr"`
	MimeType         string `xml:"mimeType,attr"`
	Lang             string `xml:"lang,attr,omitempty"`
	SegmentAlignment string `xml:"segmentAlignment,attr"`
	StartWithSAP     int    `xml:"startWithSAP,attr,omitempty"`
	MaxWidth         int    `xml:"maxWidth,attr,omitempty"`
	MaxHeight        int    `xml:"maxHeight,attr,omitempty"`
	MaxFrameRate     string `xml:"maxFrameRate,attr,omitempty"`
	Par              string `xml:"par,attr,omitempty"`
	// RepresentationBaseType elements.
	ContentProtection     []contentProtectionXML     `xml:"ContentProtection"`
	EssentialProperty     []mpd.DescriptorType       `xml:"EssentialProperty"`
	SupplementalProperty  []mpd.DescriptorType       `xml:"SupplementalProperty"`
	Label                 string                     `xml:"Label,omitempty"`
	ProducerReferenceTime []producerReferenceTimeXML `xml:"ProducerReferenceTime"`
	// AdaptationSetType elements.
	Accessibility   []mpd.DescriptorType `xml:"Accessibility"`
	Roles           []mpd.DescriptorType `xml:"Role"`
	SegmentTemplate *segmentTemplateXML  `xml:"SegmentTemplate"`
	Representations []representationXML  `xml:"Representation"`
}

type representationXML struct {
	ID        string `xml:"id,attr"`
	Bandwidth uint64 `xml:"bandwidth,attr"`
	Codecs    string `xml:"codecs,attr,omitempty"`
	// SCTE 214-1: the codec of an enhancement layer (Dolby Vision).
	SupplementalCodecs string `xml:"scte214:supplementalCodecs,attr,omitempty"`
	Width              int    `xml:"width,attr,omitempty"`
	Height             int    `xml:"height,attr,omitempty"`
	FrameRate          string `xml:"frameRate,attr,omitempty"`
	Sar                string `xml:"sar,attr,omitempty"`
	AudioSamplingRate  int    `xml:"audioSamplingRate,attr,omitempty"`
	MaxPlayoutRate     string `xml:"maxPlayoutRate,attr,omitempty"`
	CodingDependency   string `xml:"codingDependency,attr,omitempty"`
	// RepresentationBaseType elements.
	AudioChannelConfiguration []mpd.DescriptorType   `xml:"AudioChannelConfiguration"`
	ContentProtection         []contentProtectionXML `xml:"ContentProtection"`
	EssentialProperty         []mpd.DescriptorType   `xml:"EssentialProperty"`
	SupplementalProperty      []mpd.DescriptorType   `xml:"SupplementalProperty"`
	// RepresentationType elements.
	BaseURL         string              `xml:"BaseURL,omitempty"`
	SegmentBase     *segmentBaseXML     `xml:"SegmentBase"`
	SegmentList     *segmentListXML     `xml:"SegmentList"`
	SegmentTemplate *segmentTemplateXML `xml:"SegmentTemplate"`
}

// contentProtectionXML is a ContentProtection descriptor with the Common
// Encryption, PlayReady and DASH-IF child elements.
type contentProtectionXML struct {
	SchemeIDURI string `xml:"schemeIdUri,attr"`
	Value       string `xml:"value,attr,omitempty"`
	DefaultKID  string `xml:"cenc:default_KID,attr,omitempty"`
	PSSH        string `xml:"cenc:pssh,omitempty"`
	PRO         string `xml:"mspr:pro,omitempty"`
	// dashif:Laurl as Shaka Player and dash.js read it (the DASH-IF CPS
	// text spells it laurl; players match the capitalised form).
	Laurl         string         `xml:"dashif:Laurl,omitempty"`
	ClearKeyLaurl *clearKeyLaurl `xml:"clearkey:Laurl"`
	// Data is a key server's XML (CPIX ContentProtectionData), written
	// as it is instead of the children above.
	Data string `xml:",innerxml"`
}

type clearKeyLaurl struct {
	LicType string `xml:"Lic_type,attr"`
	URL     string `xml:",chardata"`
}

// segmentTemplateXML: SegmentBaseType attributes, then
// MultipleSegmentBaseType (SegmentTimeline, startNumber), then the
// template strings. No @duration: the timeline gives every duration.
type segmentTemplateXML struct {
	Timescale              uint32               `xml:"timescale,attr"`
	PresentationTimeOffset uint64               `xml:"presentationTimeOffset,attr,omitempty"`
	AvailabilityTimeOffset string               `xml:"availabilityTimeOffset,attr,omitempty"`
	AvailabilityComplete   string               `xml:"availabilityTimeComplete,attr,omitempty"`
	Duration               uint64               `xml:"duration,attr,omitempty"`
	StartNumber            *uint64              `xml:"startNumber,attr"`
	Initialization         string               `xml:"initialization,attr,omitempty"`
	Media                  string               `xml:"media,attr"`
	SegmentTimeline        *mpd.SegmentTimeline `xml:"SegmentTimeline"`
}

type segmentBaseXML struct {
	Timescale              uint32   `xml:"timescale,attr"`
	PresentationTimeOffset uint64   `xml:"presentationTimeOffset,attr,omitempty"`
	IndexRange             string   `xml:"indexRange,attr"`
	IndexRangeExact        string   `xml:"indexRangeExact,attr"`
	Initialization         *mpd.URL `xml:"Initialization"`
}

type segmentListXML struct {
	Timescale              uint32               `xml:"timescale,attr"`
	PresentationTimeOffset uint64               `xml:"presentationTimeOffset,attr,omitempty"`
	StartNumber            uint64               `xml:"startNumber,attr,omitempty"`
	Initialization         *mpd.URL             `xml:"Initialization"`
	SegmentTimeline        *mpd.SegmentTimeline `xml:"SegmentTimeline"`
	SegmentURLs            []mpd.SegmentURL     `xml:"SegmentURL"`
}

// serviceDescriptionXML is the MPD's ServiceDescription of a low-latency
// presentation (ISO/IEC 23009-1 K.4).
type serviceDescriptionXML struct {
	ID           uint32           `xml:"id,attr"`
	Latency      *latencyXML      `xml:"Latency"`
	PlaybackRate *playbackRateXML `xml:"PlaybackRate"`
}

type latencyXML struct {
	Target uint64 `xml:"target,attr,omitempty"` // milliseconds
	Max    uint64 `xml:"max,attr,omitempty"`
	Min    uint64 `xml:"min,attr,omitempty"`
}

type playbackRateXML struct {
	Max string `xml:"max,attr,omitempty"`
	Min string `xml:"min,attr,omitempty"`
}

type producerReferenceTimeXML struct {
	ID               uint32              `xml:"id,attr"`
	Type             string              `xml:"type,attr,omitempty"`
	WallClockTime    string              `xml:"wallClockTime,attr"`
	PresentationTime uint64              `xml:"presentationTime,attr"`
	UTCTiming        *mpd.DescriptorType `xml:"UTCTiming"`
}

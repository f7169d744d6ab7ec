package manifest

import "time"

// LowLatency describes how a live presentation is offered for low-latency
// playback: LL-HLS partial segments with blocking playlist reload (RFC
// 8216bis), and LL-DASH chunked segments announced before they are
// complete (DASH-IF low-latency modes). Nil in a Presentation means none:
// the renderers then write exactly what they write without it.
type LowLatency struct {
	// PartTarget is the longest a partial segment (CMAF chunk) lasts: HLS
	// EXT-X-PART-INF:PART-TARGET.
	PartTarget time.Duration
	// PartHoldBack is HLS EXT-X-SERVER-CONTROL:PART-HOLD-BACK, how far from
	// the live edge a client should play with parts; zero means three part
	// targets (the least RFC 8216bis allows).
	PartHoldBack time.Duration
	// HoldBack is HLS HOLD-BACK, the same without parts; zero means three
	// target durations.
	HoldBack time.Duration
	// CanBlockReload declares that the server holds playlist requests with
	// _HLS_msn/_HLS_part until they can be answered (HLS
	// CAN-BLOCK-RELOAD=YES).
	CanBlockReload bool
	// CanSkipUntil, when non-zero, offers playlist delta updates: HLS
	// CAN-SKIP-UNTIL, the age from the end of the playlist beyond which a
	// delta update (_HLS_skip=YES) leaves segments out. RFC 8216bis wants
	// at least six target durations.
	CanSkipUntil time.Duration

	// AvailabilityTimeOffset is DASH SegmentTemplate@availabilityTimeOffset:
	// how long before its end a segment can be requested (its chunks then
	// arrive as they are made), written with
	// availabilityTimeComplete="false".
	AvailabilityTimeOffset time.Duration
	// TargetLatency, MinLatency and MaxLatency are the DASH
	// ServiceDescription's Latency@target, @min and @max; MinPlaybackRate
	// and MaxPlaybackRate its PlaybackRate bounds, within which a client
	// may speed up or slow down to hold the target. Zero values are left
	// out; no ServiceDescription without a TargetLatency.
	TargetLatency, MinLatency, MaxLatency time.Duration
	MinPlaybackRate, MaxPlaybackRate      float64
	// ProducerReference, when set, is written as a DASH
	// ProducerReferenceTime in each live AdaptationSet: the wall clock at
	// which the media at a presentation time was produced (the segments
	// carry the same in prft boxes).
	ProducerReference *ProducerReference
}

// ProducerReference pairs a producer's wall clock with a presentation
// time: DASH ProducerReferenceTime, ISO/IEC 14496-12 prft.
type ProducerReference struct {
	// ID is ProducerReferenceTime@id.
	ID uint32
	// WallClock is the producer's clock (UTC) when the media at
	// PresentationTime was made.
	WallClock time.Time
	// PresentationTime is the time on the presentation timeline, relative
	// to AvailabilityStartTime (each representation writes it in its own
	// timescale, offset by its PresentationTimeOffset).
	PresentationTime time.Duration
	// Type is ProducerReferenceTime@type: "encoder" (the default) or
	// "captured".
	Type string
	// UTCTiming is the clock the wall clock follows, when given.
	UTCTiming *Descriptor
}

// Part is one partial segment (a CMAF chunk) of a media segment: HLS
// EXT-X-PART.
type Part struct {
	// URI of the part; with a non-zero Range, the segment's URI and the
	// part's bytes in it (EXT-X-PART BYTERANGE).
	URI   string
	Range ByteRange
	// Duration in the representation's timescale.
	Duration uint64
	// Independent marks a part that starts with a sync sample
	// (INDEPENDENT=YES).
	Independent bool
}

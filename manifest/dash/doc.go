// Package dash renders a [manifest.Presentation] as a DASH MPD (Render).
//
// Representations with a manifest.Template get a SegmentTemplate with a
// SegmentTimeline compressed with @r ($Number$ or $Time$ addressing),
// shared at the AdaptationSet level when every representation has the same
// timeline (isoff-live profile); single-file representations get
// SegmentBase with indexRange and an Initialization range (isoff-on-demand
// profile); other segment lists become SegmentList. The CMAF profile is
// added when the presentation says its segments are CMAF. Video sets with
// I-frames get a trick mode AdaptationSet (DASH-IF trickmode
// EssentialProperty); closed captions carried in the video become SCTE
// 214-1 Accessibility descriptors (urn:scte:dash:cc:cea-608:2015 with
// "CC1=eng;CC3=spa", urn:scte:dash:cc:cea-708:2015 with "1=lang:eng").
// A drm.Protection becomes an mp4protection descriptor with the scheme and
// default KID and one descriptor per DRM system (cenc:pssh, mspr:pro,
// dashif:Laurl, clearkey:Laurl), or with a key server's
// ContentProtectionData as it was sent. Durations are exact to the
// nanosecond.
//
// A live presentation (manifest.Live) becomes a dynamic MPD with
// availabilityStartTime, publishTime, minimumUpdatePeriod,
// timeShiftBufferDepth (absent for an unlimited window),
// suggestedPresentationDelay and UTCTiming elements, and one Period per
// model period with its own @id and @start (relative to the availability
// start time) and no @duration. The timelines hold the window's segments
// at their media times (S@t) from startNumber = the first segment's
// Number; a representation's PresentationTimeOffset is the media time at
// its period's start. Once Ended the MPD stays dynamic, with a
// mediaPresentationDuration and without minimumUpdatePeriod; render the
// presentation as VOD to make it static.
//
// The MPD is written with this package's own element types, in the
// schema's element order, because github.com/zencoder/go-dash/v3 v3.0.3
// writes sub-second durations as invalid text, Label as an attribute,
// Accessibility after the Representations, drops values set on its
// embedded common attributes, writes SegmentTemplate@duration next to a
// SegmentTimeline and fixes the mp4protection value to "cenc". Its leaf
// types that are right are reused, and the tests show each problem and
// read every MPD we write back with go-dash.
package dash

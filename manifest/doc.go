// Package manifest is the common presentation model that HLS (manifest/hls)
// and DASH (manifest/dash) are rendered from, so that a feature added here
// reaches both formats.
//
// The model is plain data: a [Presentation] holds [Period]s, a period holds
// [SwitchingSet]s (a DASH AdaptationSet, an HLS rendition group), and a set
// holds [Representation]s with their init and media segment references. The
// packager fills it from what the segmenter reports; this package knows
// nothing about media bytes and does not import the segmenter. Encryption
// is described by [drm.Protection], plain data the renderers turn into
// syntax.
//
// Times are integers in the representation's timescale (ticks), so that no
// rounding error accumulates across segments; they become seconds only in
// the renderers. Presentation-level times are [time.Duration] values, which
// are exact to the nanosecond.
//
// [Presentation.Validate] checks the rules both renderers depend on
// (contiguous timelines, codecs present, BANDWIDTH not below the measured
// peak, segments within the target duration, template and URI agreement, ...)
// and returns a [*ValidationError] naming the period, set, representation and
// segment at fault. The renderers call it and refuse to write anything for an
// invalid model.
//
// [PeakBandwidth] and [AverageBandwidth] compute the bit rates the renderers
// need from segment sizes and durations; [Representation.FillBandwidth]
// applies them.
package manifest

package manifest

import (
	"math"
	"math/bits"
	"time"
)

// mulDiv returns a*b/c rounded as asked, saturating at MaxUint64 instead of
// overflowing. c must not be zero.
func mulDiv(a, b, c uint64, roundUp bool) uint64 {
	hi, lo := bits.Mul64(a, b)
	if hi >= c {
		return math.MaxUint64
	}
	q, r := bits.Div64(hi, lo, c)
	if roundUp && r != 0 && q < math.MaxUint64 {
		q++
	}
	return q
}

// TicksToDuration converts ticks of a timescale to a duration, rounding to
// the nearest nanosecond and saturating instead of overflowing. A zero
// timescale gives 0.
func TicksToDuration(ticks uint64, timescale uint32) time.Duration {
	if timescale == 0 {
		return 0
	}
	ns := mulDiv(ticks, 2*uint64(time.Second), uint64(timescale), false)
	if ns == math.MaxUint64 {
		return math.MaxInt64
	}
	ns = (ns + 1) / 2 // round half up from the doubled quotient
	if ns > math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(ns)
}

// DurationToTicks converts d to ticks of timescale, rounding to nearest.
// Negative durations give 0.
func DurationToTicks(d time.Duration, timescale uint32) uint64 {
	if d <= 0 {
		return 0
	}
	t := mulDiv(uint64(d), 2*uint64(timescale), uint64(time.Second), false)
	if t == math.MaxUint64 {
		return t
	}
	return (t + 1) / 2
}

// bitRate returns bytes*8 per (ticks/timescale) seconds, rounded up so that
// a declared rate is never below the measured one.
func bitRate(bytes, ticks uint64, timescale uint32) uint64 {
	if ticks == 0 || timescale == 0 {
		return 0
	}
	hi, lo := bits.Mul64(bytes, 8)
	if hi != 0 {
		return math.MaxUint64
	}
	return mulDiv(lo, uint64(timescale), ticks, true)
}

// PeakBandwidth returns the peak bit rate of segs in bits/s as RFC 8216
// section 4.3.4.2 defines HLS BANDWIDTH: the largest bit rate of any run of
// contiguous segments whose total duration is between 0.5 and 1.5 times the
// target duration. A target of zero or less uses the longest segment's
// duration. Segments without a Size count as zero bytes. Rates are rounded
// up.
//
// Using runs rather than single segments keeps a short last segment from
// inflating the peak, while every segment of normal length still counts on
// its own.
func PeakBandwidth(segs []SegmentRef, timescale uint32, target time.Duration) uint64 {
	if len(segs) == 0 || timescale == 0 {
		return 0
	}
	var t uint64
	if target > 0 {
		t = DurationToTicks(target, timescale)
	}
	if t == 0 {
		for i := range segs {
			t = max(t, segs[i].Duration)
		}
	}
	lo, hi := t/2, t+t/2 // [0.5T, 1.5T] in ticks; t/2 rounds the bounds down and up generously
	if t%2 == 1 {
		hi++
	}
	var peak uint64
	found := false
	for i := range segs {
		var size, dur uint64
		for j := i; j < len(segs); j++ {
			size += segs[j].Size
			dur += segs[j].Duration
			if dur > hi {
				break
			}
			if dur >= lo {
				found = true
				peak = max(peak, bitRate(size, dur, timescale))
			}
		}
	}
	if !found {
		// No run fits the window (segments much longer than the target, which
		// Validate reports); fall back to the largest single segment rate.
		for i := range segs {
			peak = max(peak, bitRate(segs[i].Size, segs[i].Duration, timescale))
		}
	}
	return peak
}

// AverageBandwidth returns the total size of segs over their total duration,
// in bits/s rounded up (HLS AVERAGE-BANDWIDTH).
func AverageBandwidth(segs []SegmentRef, timescale uint32) uint64 {
	var size, dur uint64
	for i := range segs {
		size += segs[i].Size
		dur += segs[i].Duration
	}
	return bitRate(size, dur, timescale)
}

// IFrameBandwidth returns the peak and average bit rate of an I-frame
// sequence: each I-frame's range length over its duration (the rate a
// player fetching only I-frames needs).
func IFrameBandwidth(frames []IFrameRef, timescale uint32) (peak, average uint64) {
	var size, dur uint64
	for i := range frames {
		f := &frames[i]
		peak = max(peak, bitRate(f.Range.Length, f.Duration, timescale))
		size += f.Range.Length
		dur += f.Duration
	}
	return peak, bitRate(size, dur, timescale)
}

// FillBandwidth sets Bandwidth and AverageBandwidth from the segments, with
// the window of [PeakBandwidth] set by target (pass the presentation's
// TargetDuration).
func (r *Representation) FillBandwidth(target time.Duration) {
	r.Bandwidth = PeakBandwidth(r.Segments, r.Timescale, target)
	r.AverageBandwidth = AverageBandwidth(r.Segments, r.Timescale)
}

// FillBandwidth calls FillBandwidth on every representation that has segment
// sizes, leaving the others (side-loaded files) alone.
func (p *Presentation) FillBandwidth() {
	for pi := range p.Periods {
		for si := range p.Periods[pi].Sets {
			set := &p.Periods[pi].Sets[si]
			for ri := range set.Representations {
				r := &set.Representations[ri]
				if hasSizes(r.Segments) {
					r.FillBandwidth(p.TargetDuration)
				}
			}
		}
	}
}

func hasSizes(segs []SegmentRef) bool {
	for i := range segs {
		if segs[i].Size != 0 {
			return true
		}
	}
	return false
}

// MediaDuration returns p.Duration, or when that is zero the end of the last
// period as derived from its representations.
func (p *Presentation) MediaDuration() time.Duration {
	if p.Duration > 0 {
		return p.Duration
	}
	var end time.Duration
	for pi := range p.Periods {
		end = max(end, p.Periods[pi].Start+p.Periods[pi].MediaDuration())
	}
	return end
}

// MediaDuration returns the period's Duration, or when that is zero the span
// of its longest representation.
func (pd *Period) MediaDuration() time.Duration {
	if pd.Duration > 0 {
		return pd.Duration
	}
	var d time.Duration
	for si := range pd.Sets {
		for ri := range pd.Sets[si].Representations {
			d = max(d, pd.Sets[si].Representations[ri].Span())
		}
	}
	return d
}

// MaxSegmentDuration returns the longest segment of any representation,
// rounded up to the nanosecond so that it is never below a real duration
// (DASH MPD@maxSegmentDuration).
func (p *Presentation) MaxSegmentDuration() time.Duration {
	var d time.Duration
	for pi := range p.Periods {
		for si := range p.Periods[pi].Sets {
			for ri := range p.Periods[pi].Sets[si].Representations {
				r := &p.Periods[pi].Sets[si].Representations[ri]
				var m uint64
				for i := range r.Segments {
					m = max(m, r.Segments[i].Duration)
				}
				if r.Timescale != 0 {
					ns := mulDiv(m, uint64(time.Second), uint64(r.Timescale), true)
					d = max(d, time.Duration(min(ns, math.MaxInt64)))
				}
			}
		}
	}
	return d
}

package dash

import (
	"strconv"
	"time"

	"github.com/cmafkit/cmafkit/manifest"
)

// lowLatency returns the presentation's low-latency description when it
// applies: a live presentation that has not ended.
func (b *builder) lowLatency() *manifest.LowLatency {
	p := b.p
	if p.Type != manifest.Live || p.Ended {
		return nil
	}
	return p.LowLatency
}

// template builds r's SegmentTemplate: a SegmentTimeline, or @duration
// when the template has a Duration; with low latency, the availability
// of segments before they are complete.
func (b *builder) template(r *manifest.Representation) *segmentTemplateXML {
	st := template(r)
	if d := r.Template.Duration; d > 0 && b.p.Type == manifest.Live {
		st.SegmentTimeline = nil
		st.Duration = manifest.DurationToTicks(d, r.Timescale)
		n := r.Template.StartNumber
		if n == 0 {
			n = r.Segments[0].Number
		}
		st.StartNumber = ptr(n)
	}
	if ll := b.lowLatency(); ll != nil && ll.AvailabilityTimeOffset > 0 {
		st.AvailabilityTimeOffset = seconds(ll.AvailabilityTimeOffset)
		st.AvailabilityComplete = "false"
	}
	return st
}

// seconds formats d as a decimal number of seconds (xs:double).
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}

// serviceDescription is the MPD's ServiceDescription of a low-latency
// live presentation with a target latency, else nil.
func serviceDescription(ll *manifest.LowLatency) *serviceDescriptionXML {
	if ll == nil || ll.TargetLatency <= 0 {
		return nil
	}
	sd := &serviceDescriptionXML{Latency: &latencyXML{
		Target: uint64(ll.TargetLatency.Milliseconds()),
		Max:    uint64(max(ll.MaxLatency, 0).Milliseconds()),
		Min:    uint64(max(ll.MinLatency, 0).Milliseconds()),
	}}
	if ll.MinPlaybackRate > 0 || ll.MaxPlaybackRate > 0 {
		pr := &playbackRateXML{}
		if ll.MaxPlaybackRate > 0 {
			pr.Max = strconv.FormatFloat(ll.MaxPlaybackRate, 'f', -1, 64)
		}
		if ll.MinPlaybackRate > 0 {
			pr.Min = strconv.FormatFloat(ll.MinPlaybackRate, 'f', -1, 64)
		}
		sd.PlaybackRate = pr
	}
	return sd
}

// producerReference adds the presentation's producer reference time to
// an AdaptationSet of period pd whose representations share a timescale,
// when that time falls in the period: presentationTime is on the
// representations' media timeline (PresentationTimeOffset at the period
// start).
func (b *builder) producerReference(as *adaptationSetXML, pd *manifest.Period, set *manifest.SwitchingSet) {
	ll := b.lowLatency()
	if ll == nil || ll.ProducerReference == nil || len(set.Representations) == 0 {
		return
	}
	pr := ll.ProducerReference
	if pr.PresentationTime < pd.Start {
		return
	}
	r := &set.Representations[0]
	for i := range set.Representations {
		o := &set.Representations[i]
		if o.Timescale != r.Timescale || o.PresentationTimeOffset != r.PresentationTimeOffset {
			return
		}
	}
	x := producerReferenceTimeXML{
		ID:               pr.ID,
		Type:             pr.Type,
		WallClockTime:    dateTime(pr.WallClock),
		PresentationTime: r.PresentationTimeOffset + manifest.DurationToTicks(pr.PresentationTime-pd.Start, r.Timescale),
	}
	if pr.UTCTiming != nil {
		x.UTCTiming = ptr(descriptor(pr.UTCTiming.SchemeIDURI, pr.UTCTiming.Value))
	}
	as.ProducerReferenceTime = append(as.ProducerReferenceTime, x)
}

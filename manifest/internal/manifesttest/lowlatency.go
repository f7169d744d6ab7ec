package manifesttest

import (
	"fmt"
	"time"

	"github.com/cmafkit/cmafkit/manifest"
)

// LivePart is the part target of the low-latency fixture.
const LivePart = 500 * time.Millisecond

// LowLatencyModel returns a 16 s window (segments 2 to 9 of 2 s, from 2 s
// to 18 s) offered for low latency: four 0.5 s parts for each of the last
// two segments, two parts of segment 10 being written with a preload hint
// for its third, delta updates for segments 12 s old, and a DASH
// SegmentTemplate@duration from segment 1 available 1.5 s early with a 3 s
// target latency and a producer reference at the start of segment 9.
func LowLatencyModel() *manifest.Presentation {
	p := Live(8*LiveSegment, LiveStart.Add(19*time.Second), LivePeriod{ID: "p0", First: 2, Start: LiveSegment, Count: 8, Init: "init"})
	p.LowLatency = &manifest.LowLatency{
		PartTarget: LivePart, CanBlockReload: true, CanSkipUntil: 6 * LiveSegment,
		AvailabilityTimeOffset: LiveSegment - LivePart,
		TargetLatency:          3 * time.Second, MinLatency: 2 * time.Second, MaxLatency: 6 * time.Second,
		MinPlaybackRate: 0.96, MaxPlaybackRate: 1.04,
		ProducerReference: &manifest.ProducerReference{WallClock: LiveStart.Add(16*time.Second + 150*time.Millisecond),
			PresentationTime: 16 * time.Second, Type: "encoder",
			UTCTiming: &manifest.Descriptor{SchemeIDURI: "urn:mpeg:dash:utc:http-iso:2014", Value: "https://example.com/time"}},
	}
	for si := range p.Periods[0].Sets {
		r := &p.Periods[0].Sets[si].Representations[0]
		r.Template.Duration, r.Template.StartNumber = LiveSegment, 1
		d := manifest.DurationToTicks(LivePart, r.Timescale)
		parts := func(n uint64, k int) []manifest.Part {
			out := make([]manifest.Part, k)
			for i := range out {
				out[i] = manifest.Part{URI: fmt.Sprintf("%s/part-%d.%d.m4s", r.ID, n, i), Duration: d, Independent: i == 0 || r.ID == "audio"}
			}
			return out
		}
		for i := range r.Segments[6:] {
			s := &r.Segments[6+i]
			s.Parts = parts(s.Number, 4)
		}
		r.Parts = parts(10, 2)
		r.PreloadHint = fmt.Sprintf("%s/part-10.2.m4s", r.ID)
	}
	return p
}

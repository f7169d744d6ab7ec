package manifesttest

import (
	"fmt"
	"time"

	"github.com/cmafkit/cmafkit/segment"

	"github.com/cmafkit/cmafkit/manifest"
)

// LiveStart is the availability start time of the live fixtures.
var LiveStart = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// LiveSegment is the segment duration of the live fixtures.
const LiveSegment = 2 * time.Second

// LiveVideoTimescale is the video timescale of the live fixtures (audio
// uses AudioTimescale).
const LiveVideoTimescale = 90000

// LivePeriod describes one period of a live fixture: its segments are
// Count segments of LiveSegment numbered from First, the first starting
// at media time Start since LiveStart (the channel's timeline, which is
// also each representation's PresentationTimeOffset at the period start
// PeriodStart). Init names the video initialization segment
// ("init" gives video/init.mp4), so that a new codec configuration can be
// modelled.
type LivePeriod struct {
	ID          string
	PeriodStart time.Duration
	Start       time.Duration
	First       uint64
	Count       int
	Init        string
}

// Live returns a live presentation of one H.264 representation with
// I-frames and one AAC representation, with the given periods of segments
// in the window, a window of tsbd (0: unlimited), published at publish. The
// segment times follow the channel timeline: segment k of a period starts
// at Start + k*LiveSegment after LiveStart, and its program date-time is
// that instant.
func Live(tsbd time.Duration, publish time.Time, periods ...LivePeriod) *manifest.Presentation {
	p := &manifest.Presentation{
		Type: manifest.Live, CMAF: true, TargetDuration: LiveSegment, MinBufferTime: LiveSegment,
		AvailabilityStartTime: LiveStart, PublishTime: publish,
		TimeShiftBufferDepth: tsbd, MinimumUpdatePeriod: LiveSegment, SuggestedPresentationDelay: 3 * LiveSegment,
		UTCTiming: []manifest.Descriptor{{SchemeIDURI: "urn:mpeg:dash:utc:http-iso:2014", Value: "https://example.com/time"}},
	}
	for _, lp := range periods {
		segs := func(kind string, ts uint32, bitrate uint64) []manifest.SegmentRef {
			d := manifest.DurationToTicks(LiveSegment, ts)
			start := manifest.DurationToTicks(lp.Start, ts)
			out := make([]manifest.SegmentRef, lp.Count)
			for i := range out {
				n := lp.First + uint64(i)
				out[i] = manifest.SegmentRef{
					URI: fmt.Sprintf("%s/seg-%d.m4s", kind, n), Number: n,
					Start: start + uint64(i)*d, Duration: d, Size: sizeAt(bitrate, d, ts, int(n)),
					ProgramDateTime: LiveStart.Add(lp.Start + time.Duration(i)*LiveSegment),
				}
			}
			return out
		}
		vsegs := segs("video", LiveVideoTimescale, 2_500_000)
		video := manifest.SwitchingSet{
			ID: "video", ContentType: segment.KindVideo, CodecFamily: "avc",
			Representations: []manifest.Representation{{
				ID: "video", Codecs: "avc1.64001f", Width: 1280, Height: 720,
				FrameRate: segment.Rational{Num: 25, Den: 1}, PixelAspect: segment.Rational{Num: 1, Den: 1},
				Timescale:              LiveVideoTimescale,
				PresentationTimeOffset: manifest.DurationToTicks(lp.PeriodStart, LiveVideoTimescale),
				Init:                   manifest.Resource{URI: "video/" + lp.Init + ".mp4"},
				Segments:               vsegs,
				Template:               &manifest.Template{Init: "video/" + lp.Init + ".mp4", Media: "video/seg-$Number$.m4s"},
				IFrames:                iframesOf(vsegs),
			}},
		}
		audio := manifest.SwitchingSet{
			ID: "audio", ContentType: segment.KindAudio, Lang: "en", CodecFamily: "aac", Default: true, Autoselect: true,
			Representations: []manifest.Representation{{
				ID: "audio", Codecs: "mp4a.40.2", SampleRate: 48000, Channels: 2, Timescale: AudioTimescale,
				PresentationTimeOffset: manifest.DurationToTicks(lp.PeriodStart, AudioTimescale),
				Init:                   manifest.Resource{URI: "audio/init.mp4"},
				Segments:               segs("audio", AudioTimescale, 128_000),
				Template:               &manifest.Template{Init: "audio/init.mp4", Media: "audio/seg-$Number$.m4s"},
			}},
		}
		p.Periods = append(p.Periods, manifest.Period{ID: lp.ID, Start: lp.PeriodStart, Sets: []manifest.SwitchingSet{video, audio}})
	}
	p.FillBandwidth()
	return p
}

// LiveModels returns the live fixtures by name: a 10 s window before and
// after it slides by one segment, a discontinuity (the publisher gone from
// 10 s to 14 s, back with a new codec configuration) with both periods in
// the window and after the first left it, the end of the stream, and an
// unlimited window (EVENT).
func LiveModels() map[string]*manifest.Presentation {
	const w = 5 * LiveSegment
	at := func(d time.Duration) time.Time { return LiveStart.Add(d) }
	p0 := func(first uint64, n int) LivePeriod {
		return LivePeriod{ID: "p0", First: first, Start: time.Duration(first-1) * LiveSegment, Count: n, Init: "init"}
	}
	// The second period starts at 14 s, after a 4 s gap; its segments
	// continue the numbering.
	p1 := func(first uint64, n int) LivePeriod {
		return LivePeriod{ID: "p1-14s", PeriodStart: 14 * time.Second,
			Start: 14*time.Second + time.Duration(first-6)*LiveSegment, First: first, Count: n, Init: "init-2"}
	}
	ended := Live(w, at(26*time.Second), p1(7, 5))
	ended.Ended = true
	left := Live(w, at(24*time.Second), p1(6, 5))
	left.DiscontinuitySequence = 1
	ended.DiscontinuitySequence = 1
	return map[string]*manifest.Presentation{
		"live-before":        Live(w, at(10*time.Second), p0(1, 5)),
		"live-after":         Live(w, at(12*time.Second), p0(2, 5)),
		"live-discontinuity": Live(w, at(20*time.Second), p0(4, 2), p1(6, 3)),
		"live-left":          left,
		"live-ended":         ended,
		"live-event":         Live(0, at(20*time.Second), p0(1, 5), p1(6, 3)),
	}
}

package manifest_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/drm"
	"github.com/cmafkit/cmafkit/manifest"
	"github.com/cmafkit/cmafkit/manifest/internal/manifesttest"
)

func TestTicksToDuration(t *testing.T) {
	cases := []struct {
		ticks uint64
		ts    uint32
		want  time.Duration
	}{
		{60060, 30000, 2002 * time.Millisecond},
		{96256, 48000, 2005333333 * time.Nanosecond}, // 2.0053333… rounds down
		{2, 3, 666666667 * time.Nanosecond},          // 0.6666… rounds up
		{1, 2_000_000_000, 1 * time.Nanosecond},      // half a nanosecond rounds up
		{0, 90000, 0},
		{5, 0, 0},
		{math.MaxUint64, 1, math.MaxInt64}, // saturates
	}
	for _, c := range cases {
		if got := manifest.TicksToDuration(c.ticks, c.ts); got != c.want {
			t.Errorf("TicksToDuration(%d, %d) = %d, want %d", c.ticks, c.ts, got, c.want)
		}
	}
	if got := manifest.DurationToTicks(2002*time.Millisecond, 30000); got != 60060 {
		t.Errorf("DurationToTicks = %d, want 60060", got)
	}
	if got := manifest.DurationToTicks(-time.Second, 30000); got != 0 {
		t.Errorf("DurationToTicks(negative) = %d, want 0", got)
	}
}

func TestPeakBandwidthWindow(t *testing.T) {
	// Timescale 1000: durations in ms. Rates 1, 2 and 1 Mbit/s, then a
	// 0.2 s tail at 2 Mbit/s.
	segs := []manifest.SegmentRef{
		{Duration: 2000, Size: 250_000},
		{Start: 2000, Duration: 2000, Size: 500_000},
		{Start: 4000, Duration: 2000, Size: 250_000},
		{Start: 6000, Duration: 200, Size: 50_000},
	}
	if got := manifest.PeakBandwidth(segs, 1000, 2*time.Second); got != 2_000_000 {
		t.Errorf("peak = %d, want 2000000", got)
	}
	// Without the 2 Mbit/s segment the 0.2 s tail alone would be the
	// fastest; it is shorter than half the target, so only the run of the
	// last two segments counts: 300000 bytes in 2.2 s, rounded up.
	tail := []manifest.SegmentRef{segs[0], segs[2], segs[3]}
	tail[1].Start, tail[2].Start = 2000, 4000
	if got, want := manifest.PeakBandwidth(tail, 1000, 2*time.Second), uint64(1_090_910); got != want {
		t.Errorf("peak with short tail = %d, want %d", got, want)
	}
	// A zero target takes the longest segment as the target.
	if got := manifest.PeakBandwidth(tail, 1000, 0); got != 1_090_910 {
		t.Errorf("peak with derived target = %d, want 1090910", got)
	}
	// 1 050 000 bytes * 8 / 6.2 s = 1 354 838.7, rounded up.
	if got := manifest.AverageBandwidth(segs, 1000); got != 1_354_839 {
		t.Errorf("average = %d, want 1354839", got)
	}
	if got := manifest.PeakBandwidth(nil, 1000, 0); got != 0 {
		t.Errorf("peak of nothing = %d", got)
	}
	// Sizes large enough to overflow 64 bits in bytes*8*timescale.
	huge := []manifest.SegmentRef{{Duration: 1, Size: 1 << 60}}
	if got := manifest.PeakBandwidth(huge, 1<<31, 0); got != math.MaxUint64 {
		t.Errorf("overflowing peak = %d, want saturation", got)
	}
}

func TestIFrameBandwidth(t *testing.T) {
	frames := []manifest.IFrameRef{
		{URI: "a", Range: manifest.ByteRange{Length: 50_000}, Duration: 2000},
		{URI: "b", Range: manifest.ByteRange{Length: 100_000}, Start: 2000, Duration: 2000},
	}
	peak, avg := manifest.IFrameBandwidth(frames, 1000)
	if peak != 400_000 || avg != 300_000 {
		t.Errorf("IFrameBandwidth = %d, %d; want 400000, 300000", peak, avg)
	}
}

func TestExpandTemplate(t *testing.T) {
	cases := []struct {
		tmpl, want string
		bad        bool
	}{
		{"v/$RepresentationID$/seg-$Number$.m4s", "v/720p/seg-42.m4s", false},
		{"seg-$Number%05d$.m4s", "seg-00042.m4s", false},
		{"t-$Time$-$Bandwidth$.m4s", "t-84084-3000000.m4s", false},
		{"cost$$-$Number$", "cost$-42", false},
		{"seg-$Nmber$.m4s", "", true},
		{"seg-$Number", "", true},
		{"seg-$Number%5d$", "", true},
		{"$RepresentationID%03d$", "", true},
	}
	for _, c := range cases {
		got, err := manifest.ExpandTemplate(c.tmpl, "720p", 3_000_000, 42, 84084)
		if c.bad {
			if err == nil {
				t.Errorf("ExpandTemplate(%q) = %q, want an error", c.tmpl, got)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ExpandTemplate(%q) = %q, %v; want %q", c.tmpl, got, err, c.want)
		}
	}
}

func TestFixturesValid(t *testing.T) {
	for name, p := range map[string]*manifest.Presentation{
		"ladder":     manifesttest.Ladder(8 * time.Second),
		"singlefile": manifesttest.SingleFile(8 * time.Second),
		"cenc":       manifesttest.Protected(8*time.Second, drm.SchemeCENC),
		"cbcs":       manifesttest.Protected(8*time.Second, drm.SchemeCBCS),
		"subsecond":  manifesttest.SubSecond(),
		"big":        manifesttest.Big(10*time.Minute, 3, 2),
	} {
		if err := p.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// find returns the first *ValidationError in err wrapping want.
func find(err, want error) *manifest.ValidationError {
	var stack = []error{err}
	for len(stack) > 0 {
		e := stack[0]
		stack = stack[1:]
		if ve, ok := e.(*manifest.ValidationError); ok && errors.Is(ve, want) {
			return ve
		}
		switch x := e.(type) {
		case interface{ Unwrap() []error }:
			stack = append(stack, x.Unwrap()...)
		case interface{ Unwrap() error }:
			stack = append(stack, x.Unwrap())
		}
	}
	return nil
}

func TestValidateRules(t *testing.T) {
	video := func(p *manifest.Presentation, i int) *manifest.Representation {
		return &p.Periods[0].Sets[0].Representations[i]
	}
	cases := []struct {
		name    string
		mutate  func(*manifest.Presentation)
		want    error
		rep     string
		segment int
	}{
		{"segment longer than target", func(p *manifest.Presentation) {
			r := video(p, 0)
			r.Segments[3].Duration = 78000 // 2.6 s rounds to 3 > 2
			r.FillBandwidth(p.TargetDuration)
		}, manifest.ErrSegmentTooLong, "video-720p", 3},
		{"missing codecs", func(p *manifest.Presentation) { video(p, 1).Codecs = "" }, manifest.ErrNoCodecs, "video-360p", -1},
		{"bandwidth below peak", func(p *manifest.Presentation) { video(p, 0).Bandwidth-- }, manifest.ErrBandwidthBelowPeak, "video-720p", -1},
		{"average above peak", func(p *manifest.Presentation) {
			r := video(p, 0)
			r.AverageBandwidth = r.Bandwidth + 1
		}, manifest.ErrAverageAbovePeak, "video-720p", -1},
		{"timeline gap", func(p *manifest.Presentation) { video(p, 1).Segments[2].Start++ }, manifest.ErrTimeline, "video-360p", 2},
		{"template mismatch", func(p *manifest.Presentation) { video(p, 0).Segments[1].URI = "elsewhere.m4s" }, manifest.ErrTemplate, "video-720p", 1},
		{"template without number or time", func(p *manifest.Presentation) {
			video(p, 0).Template = &manifest.Template{Media: "fixed.m4s"}
		}, manifest.ErrTemplate, "video-720p", -1},
		{"duplicate ID", func(p *manifest.Presentation) { video(p, 1).ID = "video-720p" }, manifest.ErrDuplicateID, "video-720p", -1},
		{"ID with space", func(p *manifest.Presentation) { video(p, 1).ID = "video 360p" }, manifest.ErrBadID, "video 360p", -1},
		{"no resolution", func(p *manifest.Presentation) { video(p, 0).Height = 0 }, manifest.ErrNoResolution, "video-720p", -1},
		{"no timescale", func(p *manifest.Presentation) { video(p, 0).Timescale = 0 }, manifest.ErrNoTimescale, "video-720p", -1},
		{"segment without URI", func(p *manifest.Presentation) {
			r := video(p, 0)
			r.Template, r.Segments[0].URI = nil, ""
		}, manifest.ErrNoURI, "video-720p", 0},
		{"I-frame without range", func(p *manifest.Presentation) { video(p, 0).IFrames[1].Range = manifest.ByteRange{} }, manifest.ErrIFrame, "video-720p", 1},
		{"protection without KID", func(p *manifest.Presentation) {
			p.Periods[0].Sets[0].Representations[0].Protection = &drm.Protection{Scheme: drm.SchemeCBCS}
		}, manifest.ErrProtection, "video-720p", -1},
		{"key period at the first segment", func(p *manifest.Presentation) {
			video(p, 0).Protection = &drm.Protection{Scheme: drm.SchemeCBCS, DefaultKID: manifesttest.KIDVideo,
				KeyPeriods: []drm.KeyPeriod{{FirstSegment: 0, KID: manifesttest.KIDAudio}}}
		}, manifest.ErrProtection, "video-720p", -1},
		{"key period past the segments", func(p *manifest.Presentation) {
			r := video(p, 0)
			r.Protection = &drm.Protection{Scheme: drm.SchemeCBCS, DefaultKID: manifesttest.KIDVideo,
				KeyPeriods: []drm.KeyPeriod{{FirstSegment: len(r.Segments), KID: manifesttest.KIDAudio}}}
		}, manifest.ErrProtection, "video-720p", -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := manifesttest.Ladder(8 * time.Second)
			c.mutate(p)
			err := p.Validate()
			if !errors.Is(err, c.want) {
				t.Fatalf("Validate() = %v, want %v", err, c.want)
			}
			ve := find(err, c.want)
			if ve == nil {
				t.Fatalf("no *ValidationError wrapping %v in %v", c.want, err)
			}
			if ve.Representation != c.rep || ve.Segment != c.segment || ve.Set != "video" || ve.Period != "p0" {
				t.Errorf("error names period %q set %q rep %q segment %d; want p0/video/%q/%d",
					ve.Period, ve.Set, ve.Representation, ve.Segment, c.rep, c.segment)
			}
			// The single-representation check agrees for representation rules.
			if c.rep != "" && c.want != manifest.ErrDuplicateID {
				if err := p.ValidateRepresentation(c.rep); !errors.Is(err, c.want) {
					t.Errorf("ValidateRepresentation(%q) = %v, want %v", c.rep, err, c.want)
				}
			}
		})
	}
}

func TestValidateSetRules(t *testing.T) {
	p := manifesttest.Ladder(8 * time.Second)
	p.Periods[0].Sets[2].Lang = ""
	err := p.Validate()
	ve := find(err, manifest.ErrNoLanguage)
	if ve == nil || ve.Set != "audio-fr-ad" {
		t.Fatalf("Validate() = %v, want ErrNoLanguage naming set audio-fr-ad", err)
	}
	if got, want := ve.Error(), `manifest: period "p0" set "audio-fr-ad": audio or text set without language`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}

	p = manifesttest.SingleFile(8 * time.Second)
	p.Periods[0].Sets[1].Representations[0].Segments[2].URI = "other.mp4"
	if ve := find(p.Validate(), manifest.ErrSingleFile); ve == nil || ve.Segment != 2 || ve.Representation != "audio-en" {
		t.Errorf("single-file mismatch not reported at audio-en segment 2: %v", ve)
	}

	if err := (&manifest.Presentation{}).Validate(); !errors.Is(err, manifest.ErrEmpty) {
		t.Errorf("empty presentation: %v, want ErrEmpty", err)
	}
	if err := p.ValidateRepresentation("nope"); !errors.Is(err, manifest.ErrEmpty) {
		t.Errorf("unknown representation: %v, want ErrEmpty", err)
	}
}

func TestValidateCapsErrors(t *testing.T) {
	p := manifesttest.Big(time.Hour, 1, 0)
	r := &p.Periods[0].Sets[0].Representations[0]
	for i := range r.Segments {
		r.Segments[i].URI = "" // 1800 broken segments
	}
	err := p.Validate()
	n := 0
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		if _, ok := e.(*manifest.ValidationError); ok {
			n++
		}
	}
	if n != 16 || !strings.Contains(err.Error(), "more problems not listed") {
		t.Errorf("got %d listed errors (want 16) and message tail %q", n, err.Error()[max(0, len(err.Error())-60):])
	}
}

func TestMediaDuration(t *testing.T) {
	p := manifesttest.Ladder(8 * time.Second)
	if got := p.MediaDuration(); got != 8*time.Second {
		t.Errorf("MediaDuration = %v, want 8s", got)
	}
	if got := p.MaxSegmentDuration(); got != 2005333334*time.Nanosecond { // 96256/48000 s, rounded up
		t.Errorf("MaxSegmentDuration = %v", got)
	}
	p.Duration = 7 * time.Second
	if got := p.MediaDuration(); got != 7*time.Second {
		t.Errorf("explicit Duration not used: %v", got)
	}
}

func TestParseInstreamID(t *testing.T) {
	for _, c := range []struct {
		in  string
		typ manifest.CaptionType
		ch  int
	}{
		{"CC1", manifest.CEA608, 1}, {"cc4", manifest.CEA608, 4},
		{"SERVICE1", manifest.CEA708, 1}, {"service63", manifest.CEA708, 63},
		{"CC0", "", 0}, {"CC5", "", 0}, {"CC01", "", 0}, {"CC+1", "", 0}, {"CC", "", 0},
		{"SERVICE64", "", 0}, {"SERVICE", "", 0}, {"T1", "", 0}, {"", "", 0},
	} {
		typ, ch, err := manifest.ParseInstreamID(c.in)
		if typ != c.typ || ch != c.ch || (err == nil) != (c.typ != "") || err != nil && !errors.Is(err, manifest.ErrCaptions) {
			t.Errorf("ParseInstreamID(%q) = %q, %d, %v", c.in, typ, ch, err)
			continue
		}
		if err == nil {
			if id := (manifest.ClosedCaption{Type: typ, Channel: ch}).InstreamID(); id != strings.ToUpper(c.in) {
				t.Errorf("InstreamID of %q = %q", c.in, id)
			}
		}
	}
}

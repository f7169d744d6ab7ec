package dash_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zencoder/go-dash/v3/mpd"

	"github.com/cmafkit/cmafkit/internal/testutil"
	"github.com/cmafkit/cmafkit/manifest"
	"github.com/cmafkit/cmafkit/manifest/dash"
	"github.com/cmafkit/cmafkit/manifest/internal/manifesttest"
)

// TestLiveGolden renders the live fixtures (a window before and after a
// slide, a discontinuity with both periods in the window and after the
// first left it, the end, an unlimited window), compares each MPD with
// testdata/<name>.mpd and validates it against the DASH schema.
func TestLiveGolden(t *testing.T) {
	for name, p := range manifesttest.LiveModels() {
		got := render(t, p)
		path := filepath.Join("testdata", name+".mpd")
		if testutil.Update() {
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -update)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from %s:\n%s", name, path, got)
		}
		testutil.ValidateMPD(t, path)
	}
}

// TestLiveParseBack reads each live MPD with go-dash and checks it against
// the model: the dynamic MPD attributes, one Period per model period with
// its ID and start, and for every representation a timeline whose @t are
// the segments' media times, whose startNumber is the first segment's
// number, and which places each segment at its time since the availability
// start time: Period@start + (t - presentationTimeOffset)/timescale (the
// fixtures' program date-times are that instant).
func TestLiveParseBack(t *testing.T) {
	for name, p := range manifesttest.LiveModels() {
		t.Run(name, func(t *testing.T) {
			m, err := mpd.ReadFromString(string(render(t, p)))
			if err != nil {
				t.Fatal(err)
			}
			str := func(s *string) string {
				if s == nil {
					return ""
				}
				return *s
			}
			if got := str(m.Type); got != "dynamic" {
				t.Errorf("type %q, want dynamic", got)
			}
			if got := str(m.AvailabilityStartTime); got != "2024-05-01T12:00:00Z" {
				t.Errorf("availabilityStartTime %q", got)
			}
			if pt, err := time.Parse(time.RFC3339, str(m.PublishTime)); err != nil || !pt.Equal(p.PublishTime) {
				t.Errorf("publishTime %q, want %v", str(m.PublishTime), p.PublishTime)
			}
			wantMUP, wantMPD := "PT2S", ""
			if p.Ended {
				// The end of the last segment (number 11), 26 s after the start.
				wantMUP, wantMPD = "", "PT26S"
			}
			if got := str(m.MinimumUpdatePeriod); got != wantMUP {
				t.Errorf("minimumUpdatePeriod %q, want %q", got, wantMUP)
			}
			if got := str(m.MediaPresentationDuration); got != wantMPD {
				t.Errorf("mediaPresentationDuration %q, want %q", got, wantMPD)
			}
			wantTSBD := "PT10S"
			if p.TimeShiftBufferDepth == 0 {
				wantTSBD = ""
			}
			if got := str(m.TimeShiftBufferDepth); got != wantTSBD {
				t.Errorf("timeShiftBufferDepth %q, want %q", got, wantTSBD)
			}
			if m.SuggestedPresentationDelay == nil || time.Duration(*m.SuggestedPresentationDelay) != 6*time.Second {
				t.Errorf("suggestedPresentationDelay %v, want 6 s", m.SuggestedPresentationDelay)
			}
			if m.UTCTiming == nil || str(m.UTCTiming.SchemeIDURI) != "urn:mpeg:dash:utc:http-iso:2014" || str(m.UTCTiming.Value) != "https://example.com/time" {
				t.Errorf("UTCTiming %+v", m.UTCTiming)
			}
			if len(m.Periods) != len(p.Periods) {
				t.Fatalf("%d periods, want %d", len(m.Periods), len(p.Periods))
			}
			for pi, mp := range m.Periods {
				pd := &p.Periods[pi]
				if mp.ID != pd.ID || mp.Start == nil || time.Duration(*mp.Start) != pd.Start {
					t.Errorf("period %d: id %q start %v, want %q at %v", pi, mp.ID, mp.Start, pd.ID, pd.Start)
				}
				if mp.Duration != 0 {
					t.Errorf("period %s: a live period with a duration", mp.ID)
				}
				for _, as := range mp.AdaptationSets {
					for _, rx := range as.Representations {
						if strings.HasSuffix(str(rx.ID), "_trick") {
							continue
						}
						_, r := findIn(pd, str(rx.ID))
						if r == nil {
							t.Fatalf("period %s: representation %q not in the model", mp.ID, str(rx.ID))
						}
						st := rx.SegmentTemplate
						if st == nil {
							st = as.SegmentTemplate
						}
						checkTimeline(t, r, st)
						if got := uint64(*st.StartNumber); got != r.Segments[0].Number {
							t.Errorf("%s: startNumber %d, want %d", r.ID, got, r.Segments[0].Number)
						}
						var pto uint64
						if st.PresentationTimeOffset != nil {
							pto = *st.PresentationTimeOffset
						}
						for i, s := range r.Segments {
							at := pd.Start + manifest.TicksToDuration(s.Start-pto, r.Timescale)
							if want := s.ProgramDateTime.Sub(p.AvailabilityStartTime); at != want {
								t.Errorf("%s segment %d: at %v after the availability start, want %v", r.ID, i, at, want)
							}
						}
					}
				}
			}
		})
	}
}

func findIn(pd *manifest.Period, id string) (*manifest.SwitchingSet, *manifest.Representation) {
	for si := range pd.Sets {
		for ri := range pd.Sets[si].Representations {
			if pd.Sets[si].Representations[ri].ID == id {
				return &pd.Sets[si], &pd.Sets[si].Representations[ri]
			}
		}
	}
	return nil, nil
}

// TestLiveUTCTimingOrder checks that UTCTiming follows the Period elements,
// as MPDtype's sequence has it.
func TestLiveUTCTimingOrder(t *testing.T) {
	e := parse(t, render(t, manifesttest.LiveModels()["live-discontinuity"]))
	var names []string
	for _, c := range e.Children {
		names = append(names, c.XMLName.Local)
	}
	if got := strings.Join(names, " "); got != "Period Period UTCTiming" {
		t.Errorf("MPD children %q, want Period Period UTCTiming", got)
	}
}

// TestLiveRefusals checks what a dynamic MPD needs: availability start
// and publish times, and period IDs of their own that differ.
func TestLiveRefusals(t *testing.T) {
	live := func() *manifest.Presentation { return manifesttest.LiveModels()["live-discontinuity"] }
	for _, tc := range []struct {
		name   string
		change func(*manifest.Presentation)
		want   string
	}{
		{"no availability start", func(p *manifest.Presentation) { p.AvailabilityStartTime = time.Time{} }, "no availability start time"},
		{"no publish time", func(p *manifest.Presentation) { p.PublishTime = time.Time{} }, "no publish time"},
		{"period without ID", func(p *manifest.Presentation) { p.Periods[1].ID = "" }, "period without ID"},
		{"duplicate period ID", func(p *manifest.Presentation) { p.Periods[1].ID = "p0" }, "duplicate period ID"},
		{"periods out of order", func(p *manifest.Presentation) { p.Periods[1].Start = 0 }, "not after the previous period"},
	} {
		p := live()
		tc.change(p)
		var b bytes.Buffer
		err := dash.Render(&b, p)
		if !errors.Is(err, manifest.ErrLive) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want ErrLive saying %q", tc.name, err, tc.want)
		}
		if b.Len() != 0 {
			t.Errorf("%s: refused render wrote %d bytes", tc.name, b.Len())
		}
	}
}

// TestLiveToStatic renders an ended live presentation of two periods as
// VOD, as a channel does to make its MPD static: the representation IDs
// that repeat from period to period are fine (unique within a period, as
// DASH wants), and the MPD validates.
func TestLiveToStatic(t *testing.T) {
	p := manifesttest.LiveModels()["live-discontinuity"]
	p.Ended = true
	p.Type = manifest.VOD
	got := render(t, p)
	testutil.ValidateMPDBytes(t, "static.mpd", got)
	e := parse(t, got)
	if typ := e.attr("type"); typ != "static" {
		t.Errorf("type %q, want static", typ)
	}
	periods := 0
	for _, c := range e.Children {
		if c.XMLName.Local == "Period" {
			periods++
		}
	}
	if periods != 2 {
		t.Errorf("%d periods, want 2", periods)
	}
	// Twice in one period is still refused.
	p.Periods[1].Sets[1].Representations[0].ID = "video"
	if err := dash.Render(io.Discard, p); !errors.Is(err, manifest.ErrDuplicateID) {
		t.Errorf("an ID twice in one period: %v, want ErrDuplicateID", err)
	}
}

// TestLiveVODUnchanged checks that the live fields do nothing to a VOD
// presentation.
func TestLiveVODUnchanged(t *testing.T) {
	p := manifesttest.Ladder(8 * time.Second)
	plain := render(t, p)
	p.AvailabilityStartTime, p.PublishTime = manifesttest.LiveStart, manifesttest.LiveStart
	p.MinimumUpdatePeriod, p.TimeShiftBufferDepth, p.SuggestedPresentationDelay = time.Second, time.Minute, time.Second
	p.UTCTiming = []manifest.Descriptor{{SchemeIDURI: "urn:mpeg:dash:utc:http-iso:2014", Value: "https://example.com/time"}}
	p.Ended = true
	if got := render(t, p); !bytes.Equal(got, plain) {
		t.Errorf("live fields changed a VOD MPD:\n%s", got)
	}
}

// TestLiveMaxSegmentDuration: a dynamic MPD's maxSegmentDuration is the
// packager's maximum (TargetDuration), which segments still to come keep
// to, unless a longer segment was already written; a static MPD's is the
// longest segment.
func TestLiveMaxSegmentDuration(t *testing.T) {
	for _, tc := range []struct {
		target time.Duration
		typ    manifest.PresentationType
		want   string
	}{
		{5 * time.Second, manifest.Live, `maxSegmentDuration="PT5S"`},
		{time.Second, manifest.Live, `maxSegmentDuration="PT2S"`}, // the segments' 2 s
		{5 * time.Second, manifest.VOD, `maxSegmentDuration="PT2S"`},
	} {
		p := manifesttest.LiveModels()["live-discontinuity"]
		p.TargetDuration, p.Type = tc.target, tc.typ
		if b := render(t, p); !strings.Contains(string(b), tc.want) {
			t.Errorf("%v target %v: want %s in\n%s", tc.typ, tc.target, tc.want, b)
		}
	}
}

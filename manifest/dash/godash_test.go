package dash_test

// Each test here shows a problem of github.com/zencoder/go-dash/v3 v3.0.3
// that made this package write the MPD with its own element types, next to
// what we write instead. If a later release fixes one, its test fails.

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"github.com/zencoder/go-dash/v3/mpd"

	"github.com/cmafkit/cmafkit/drm"
	"github.com/cmafkit/cmafkit/manifest/dash"
	"github.com/cmafkit/cmafkit/manifest/internal/manifesttest"
)

func ptr[T any](v T) *T { return &v }

// Durations under a second come out as a nanosecond count, a NUL byte and
// an S: half a second is written as "PT500000000\x00S", which is not an
// xs:duration (and not even valid XML text).
func TestGoDashSubSecondDuration(t *testing.T) {
	d := mpd.Duration(500 * time.Millisecond)
	if got := d.String(); got != "PT500000000\x00S" {
		t.Errorf("go-dash now writes %q for 0.5 s", got)
	}
	if got := dash.Duration(500 * time.Millisecond); got != "PT0.5S" {
		t.Errorf("ours writes %q", got)
	}
	ours := render(t, manifesttest.SubSecond())
	if !bytes.Contains(ours, []byte(`mediaPresentationDuration="PT0.5S"`)) || !bytes.Contains(ours, []byte(`minBufferTime="PT0.25S"`)) {
		t.Errorf("sub-second MPD durations wrong:\n%s", ours)
	}
}

// Label is an element of the DASH schema; go-dash writes an attribute.
func TestGoDashLabel(t *testing.T) {
	as := &mpd.AdaptationSet{Label: ptr("English")}
	b, err := xml.Marshal(as)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `label="English"`) || strings.Contains(string(b), "<Label>") {
		t.Errorf("go-dash now writes the label differently: %s", b)
	}
	ours := render(t, manifesttest.Ladder(8*time.Second))
	if !bytes.Contains(ours, []byte("<Label>English</Label>")) || bytes.Contains(ours, []byte(`label=`)) {
		t.Errorf("ours lacks the Label element")
	}
}

// Accessibility precedes Role and Representation in the schema; go-dash
// writes it after the Representations.
func TestGoDashAccessibilityOrder(t *testing.T) {
	as := &mpd.AdaptationSet{
		Representations:    []*mpd.Representation{{ID: ptr("a")}},
		AccessibilityElems: []*mpd.Accessibility{{SchemeIdUri: ptr("urn:tva:metadata:cs:AudioPurposeCS:2007"), Value: ptr("1")}},
	}
	b, err := xml.Marshal(as)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Index(string(b), "<Accessibility") < strings.Index(string(b), "<Representation") {
		t.Errorf("go-dash now writes Accessibility before Representation: %s", b)
	}
	ours := string(render(t, manifesttest.Ladder(8*time.Second)))
	fr := ours[strings.Index(ours, `lang="fr"`):]
	if a, r := strings.Index(fr, "<Accessibility"), strings.Index(fr, "<Representation"); a < 0 || a > r {
		t.Errorf("ours: Accessibility at %d, Representation at %d", a, r)
	}
}

// Values set on the embedded CommonAttributesAndElements are dropped when
// the outer struct has a field of the same name.
func TestGoDashEmbeddedCommonAttributes(t *testing.T) {
	r := &mpd.Representation{ID: ptr("v")}
	r.CommonAttributesAndElements.Codecs = ptr("avc1.64001f")
	r.CommonAttributesAndElements.Width = ptr("1280")
	b, err := xml.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "codecs=") || strings.Contains(string(b), "width=") {
		t.Errorf("go-dash now writes the embedded attributes: %s", b)
	}
	ours := render(t, manifesttest.Ladder(8*time.Second))
	if !bytes.Contains(ours, []byte(`codecs="avc1.64001f" width="1280"`)) {
		t.Errorf("ours lacks codecs and width")
	}
}

// SetNewSegmentTemplate always sets @duration; with a SegmentTimeline added
// both are written, which the schema semantics forbid.
func TestGoDashTemplateDurationWithTimeline(t *testing.T) {
	m := mpd.NewMPD(mpd.DASH_PROFILE_LIVE, "PT8S", "PT2S")
	as, err := m.AddNewAdaptationSetVideo("video/mp4", "progressive", true, 1)
	if err != nil {
		t.Fatal(err)
	}
	st, err := as.SetNewSegmentTemplate(2, "init.mp4", "$Number$.m4s", 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	st.SegmentTimeline = &mpd.SegmentTimeline{Segments: []*mpd.SegmentTimelineSegment{{Duration: 2}}}
	s, err := m.WriteToString()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s, `duration="2"`) || !strings.Contains(s, "<SegmentTimeline>") {
		t.Errorf("go-dash no longer writes @duration with a timeline:\n%s", s)
	}
	root := parse(t, render(t, manifesttest.Ladder(8*time.Second)))
	root.walk(func(e *element) {
		if e.XMLName.Local == "SegmentTemplate" && e.attr("duration") != "" {
			t.Errorf("ours writes SegmentTemplate@duration=%s", e.attr("duration"))
		}
	})
}

// The mp4protection descriptor's value names the scheme; go-dash always
// writes "cenc".
func TestGoDashProtectionValue(t *testing.T) {
	m := mpd.NewMPD(mpd.DASH_PROFILE_LIVE, "PT8S", "PT2S")
	as, err := m.AddNewAdaptationSetVideo("video/mp4", "progressive", true, 1)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := as.AddNewContentProtectionRoot(strings.Repeat("ab", 16))
	if err != nil {
		t.Fatal(err)
	}
	if *cp.Value != "cenc" {
		t.Errorf("go-dash now sets value %q", *cp.Value)
	}
	ours := render(t, manifesttest.Protected(8*time.Second, drm.SchemeCBCS))
	if !bytes.Contains(ours, []byte(`schemeIdUri="urn:mpeg:dash:mp4protection:2011" value="cbcs"`)) {
		t.Errorf("ours lacks value=cbcs")
	}
}

// go-dash's AdaptationSet has no maxFrameRate and its ContentProtection
// types have no license URL element.
func TestGoDashMissingFields(t *testing.T) {
	b, _ := xml.Marshal(&mpd.AdaptationSet{})
	if strings.Contains(string(b), "maxFrameRate") {
		t.Errorf("go-dash now has maxFrameRate: %s", b)
	}
	ours := render(t, manifesttest.Protected(8*time.Second, drm.SchemeCENC))
	if !bytes.Contains(ours, []byte(`maxFrameRate="30000/1001"`)) || !bytes.Contains(ours, []byte("<dashif:Laurl>")) {
		t.Errorf("ours lacks maxFrameRate or dashif:Laurl")
	}
}

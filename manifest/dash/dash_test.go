package dash_test

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/internal/testutil"
	"github.com/cmafkit/cmafkit/segment"

	"github.com/zencoder/go-dash/v3/mpd"

	"github.com/cmafkit/cmafkit/drm"
	"github.com/cmafkit/cmafkit/manifest"
	"github.com/cmafkit/cmafkit/manifest/dash"
	"github.com/cmafkit/cmafkit/manifest/internal/manifesttest"
)

func models() map[string]*manifest.Presentation {
	return map[string]*manifest.Presentation{
		"ladder":     manifesttest.Ladder(8 * time.Second),
		"singlefile": manifesttest.SingleFile(8 * time.Second),
		"cenc":       manifesttest.Protected(8*time.Second, drm.SchemeCENC),
		"cbcs":       manifesttest.Protected(8*time.Second, drm.SchemeCBCS),
		"subsecond":  manifesttest.SubSecond(),
		"hdr":        hdrLadder(manifest.Color{Primaries: 9, Transfer: 16, Matrix: 9}),
		"captions":   manifesttest.Captioned(8 * time.Second),
		"cues":       manifesttest.Cued(),
		"textonly":   manifesttest.TextOnly(8 * time.Second),
	}
}

// hdrLadder is the test ladder with every video representation in c.
func hdrLadder(c manifest.Color) *manifest.Presentation {
	p := manifesttest.Ladder(8 * time.Second)
	for si := range p.Periods[0].Sets {
		set := &p.Periods[0].Sets[si]
		if set.ContentType != segment.KindVideo {
			continue
		}
		for ri := range set.Representations {
			cc := c
			set.Representations[ri].Color = &cc
		}
	}
	return p
}

func render(t testing.TB, p *manifest.Presentation) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := dash.Render(&b, p); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestGolden(t *testing.T) {
	for name, p := range models() {
		got := render(t, p)
		path := filepath.Join("testdata", name+".mpd")
		if testutil.Update() {
			os.MkdirAll("testdata", 0o755)
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
		if again := render(t, p); !bytes.Equal(again, got) {
			t.Errorf("%s: two renders differ", name)
		}
	}
}

// TestParseBack reads each MPD with go-dash and checks it against the model:
// representations, bandwidths, codecs, and segment timelines that expand to
// the model's segments and sum to the presentation duration within a tick.
func TestParseBack(t *testing.T) {
	for name, p := range models() {
		t.Run(name, func(t *testing.T) {
			m, err := mpd.ReadFromString(string(render(t, p)))
			if err != nil {
				t.Fatal(err)
			}
			mpdDur, err := mpd.ParseDuration(*m.MediaPresentationDuration)
			if err != nil || mpdDur != p.MediaDuration() {
				t.Errorf("mediaPresentationDuration %q = %v (%v), want %v", *m.MediaPresentationDuration, mpdDur, err, p.MediaDuration())
			}
			if len(m.Periods) != 1 {
				t.Fatalf("%d periods", len(m.Periods))
			}
			seen := 0
			for _, as := range m.Periods[0].AdaptationSets {
				for _, rx := range as.Representations {
					set, r := p.Find(*rx.ID)
					if r == nil {
						if !strings.HasSuffix(*rx.ID, "_trick") {
							t.Errorf("representation %q not in the model", *rx.ID)
						}
						continue
					}
					seen++
					if uint64(*rx.Bandwidth) != r.Bandwidth {
						t.Errorf("%s: bandwidth %d, want %d", r.ID, *rx.Bandwidth, r.Bandwidth)
					}
					if r.Codecs != "" && (rx.Codecs == nil || *rx.Codecs != r.Codecs) {
						t.Errorf("%s: codecs %v, want %q", r.ID, rx.Codecs, r.Codecs)
					}
					if *as.ContentType != set.ContentType.String() {
						t.Errorf("%s: contentType %q", r.ID, *as.ContentType)
					}
					st := rx.SegmentTemplate
					if st == nil {
						st = as.SegmentTemplate
					}
					switch {
					case r.Template != nil:
						checkTimeline(t, r, st)
					case r.SingleFile != nil && len(r.Segments) > 0:
						if rx.SegmentBase == nil || *rx.SegmentBase.IndexRange != r.SingleFile.IndexRange.String() || len(rx.BaseURL) != 1 || rx.BaseURL[0] != r.SingleFile.URI {
							t.Errorf("%s: SegmentBase %+v BaseURL %v", r.ID, rx.SegmentBase, rx.BaseURL)
						}
					}
				}
			}
			if n := countReps(p); seen != n {
				t.Errorf("read %d representations, model has %d", seen, n)
			}
		})
	}
}

func countReps(p *manifest.Presentation) int {
	n := 0
	for _, s := range p.Periods[0].Sets {
		n += len(s.Representations)
	}
	return n
}

// checkTimeline expands a SegmentTemplate's timeline and compares it with
// the model's segments, URI by URI.
func checkTimeline(t *testing.T, r *manifest.Representation, st *mpd.SegmentTemplate) {
	t.Helper()
	if st == nil || st.SegmentTimeline == nil {
		t.Fatalf("%s: no SegmentTemplate with a timeline", r.ID)
	}
	if st.Duration != nil {
		t.Errorf("%s: SegmentTemplate@duration next to a SegmentTimeline", r.ID)
	}
	var tt, total uint64
	i := 0
	number := uint64(*st.StartNumber)
	for _, s := range st.SegmentTimeline.Segments {
		if s.StartTime != nil {
			tt = *s.StartTime
		}
		n := 1
		if s.RepeatCount != nil {
			n += *s.RepeatCount
		}
		for k := 0; k < n; k++ {
			if i >= len(r.Segments) {
				t.Fatalf("%s: timeline longer than the %d segments", r.ID, len(r.Segments))
			}
			seg := r.Segments[i]
			uri, err := manifest.ExpandTemplate(*st.Media, r.ID, r.Bandwidth, number, tt)
			if err != nil || uri != seg.URI || tt != seg.Start || s.Duration != seg.Duration {
				t.Errorf("%s segment %d: %s at %d for %d, want %s at %d for %d", r.ID, i, uri, tt, s.Duration, seg.URI, seg.Start, seg.Duration)
			}
			tt += s.Duration
			total += s.Duration
			number++
			i++
		}
	}
	if i != len(r.Segments) {
		t.Errorf("%s: timeline has %d segments, want %d", r.ID, i, len(r.Segments))
	}
	if got := manifest.TicksToDuration(total, r.Timescale); math.Abs(float64(got-r.Span())) > float64(time.Second)/float64(r.Timescale) {
		t.Errorf("%s: timeline sums to %v, span %v", r.ID, got, r.Span())
	}
}

// element is a generic XML tree for checks go-dash cannot make.
type element struct {
	XMLName  xml.Name
	Attrs    []xml.Attr `xml:",any,attr"`
	Children []element  `xml:",any"`
	Text     string     `xml:",chardata"`
}

func (e *element) attr(name string) string {
	for _, a := range e.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func (e *element) walk(f func(*element)) {
	f(e)
	for i := range e.Children {
		e.Children[i].walk(f)
	}
}

func parse(t *testing.T, b []byte) *element {
	t.Helper()
	var e element
	if err := xml.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	return &e
}

// The children of AdaptationSet come in the order of the DASH schema.
func TestSchemaOrder(t *testing.T) {
	order := map[string]int{"ContentProtection": 1, "EssentialProperty": 2, "SupplementalProperty": 3, "Label": 4, "Accessibility": 5, "Role": 6, "SegmentTemplate": 7, "Representation": 8}
	for name, p := range models() {
		parse(t, render(t, p)).walk(func(e *element) {
			if e.XMLName.Local != "AdaptationSet" {
				return
			}
			last := 0
			for _, c := range e.Children {
				k := order[c.XMLName.Local]
				if k == 0 {
					t.Errorf("%s: unexpected AdaptationSet child %s", name, c.XMLName.Local)
				}
				if k < last {
					t.Errorf("%s: %s after a later element", name, c.XMLName.Local)
				}
				last = k
			}
		})
	}
}

func TestProtection(t *testing.T) {
	for _, scheme := range []drm.Scheme{drm.SchemeCENC, drm.SchemeCBCS} {
		root := parse(t, render(t, manifesttest.Protected(8*time.Second, scheme)))
		var mp4, pssh, pro, laurl, ck int
		root.walk(func(e *element) {
			switch e.XMLName.Local {
			case "ContentProtection":
				if e.attr("schemeIdUri") == "urn:mpeg:dash:mp4protection:2011" {
					mp4++
					if e.attr("value") != string(scheme) || e.attr("default_KID") == "" {
						t.Errorf("%s: mp4protection value=%q default_KID=%q", scheme, e.attr("value"), e.attr("default_KID"))
					}
				}
			case "pssh":
				pssh++
				if e.XMLName.Space != "urn:mpeg:cenc:2013" {
					t.Errorf("pssh in namespace %q", e.XMLName.Space)
				}
			case "pro":
				pro++
				if e.XMLName.Space != "urn:microsoft:playready" {
					t.Errorf("pro in namespace %q", e.XMLName.Space)
				}
			case "Laurl":
				if e.XMLName.Space == "https://dashif.org/CPS" {
					laurl++
				} else {
					ck++
				}
			}
		})
		// Video, two audio sets and the trick mode set.
		if mp4 != 4 || pssh != 4 || pro != 4 {
			t.Errorf("%s: %d mp4protection, %d pssh, %d pro; want 4 each", scheme, mp4, pssh, pro)
		}
		if scheme == drm.SchemeCENC && (laurl != 12 || ck != 4) {
			t.Errorf("cenc: %d dashif:Laurl, %d clearkey:Laurl; want 12 and 4", laurl, ck)
		}
		if scheme == drm.SchemeCBCS && (laurl != 8 || ck != 0) {
			t.Errorf("cbcs: %d dashif:Laurl, %d clearkey:Laurl; want 8 and 0", laurl, ck)
		}
	}
	// Protection on one representation goes on that Representation.
	p := manifesttest.Ladder(8 * time.Second)
	p.Periods[0].Sets[0].Representations[0].Protection = &drm.Protection{Scheme: drm.SchemeCBCS, DefaultKID: manifesttest.KIDVideo}
	root := parse(t, render(t, p))
	root.walk(func(e *element) {
		if e.XMLName.Local == "Representation" {
			has := false
			for _, c := range e.Children {
				has = has || c.XMLName.Local == "ContentProtection"
			}
			if has != (e.attr("id") == "video-720p" || e.attr("id") == "video-720p_trick") {
				t.Errorf("representation %s: ContentProtection present = %v", e.attr("id"), has)
			}
		}
	})
}

// TestProtectionHoisted checks that protection every representation of a set
// shares is written once on the AdaptationSet (where DASH-IF IOP puts it and
// dash.js reads it), and stays per Representation when the keys differ.
func TestProtectionHoisted(t *testing.T) {
	for _, same := range []bool{true, false} {
		p := manifesttest.Ladder(8 * time.Second)
		video := &p.Periods[0].Sets[0]
		if len(video.Representations) < 2 {
			t.Fatalf("fixture has %d video representations", len(video.Representations))
		}
		for i := range video.Representations {
			kid := manifesttest.KIDVideo
			if !same && i > 0 {
				kid[15] ^= byte(i)
			}
			video.Representations[i].Protection = &drm.Protection{Scheme: drm.SchemeCENC, DefaultKID: kid,
				Systems: []drm.SystemSignaling{{System: drm.ClearKey, LicenseURL: "https://ck.example/license"}}}
		}
		root := parse(t, render(t, p))
		var onSet, onRep, sets int
		root.walk(func(e *element) {
			if e.XMLName.Local != "AdaptationSet" || e.attr("contentType") != "video" {
				return
			}
			sets++
			for _, c := range e.Children {
				switch c.XMLName.Local {
				case "ContentProtection":
					onSet++
				case "Representation":
					for _, cc := range c.Children {
						if cc.XMLName.Local == "ContentProtection" {
							onRep++
						}
					}
				}
			}
		})
		n := len(video.Representations)
		// Two descriptors (mp4protection, ClearKey) per carrier; the trick
		// mode set repeats the main set's.
		wantSet, wantRep := 2*sets, 0
		if !same {
			wantSet, wantRep = 0, 2*2*n // main and trick representations
		}
		if onSet != wantSet || onRep != wantRep {
			t.Errorf("same key=%v: %d ContentProtection on %d video AdaptationSets, %d on Representations; want %d and %d", same, onSet, sets, onRep, wantSet, wantRep)
		}
	}
}

// TestKeyRotationMPD checks the MPD of a presentation with key rotation:
// still protected with the scheme and every DRM system (and license URL) of
// the model, but no key named anywhere (no cenc:default_KID, cenc:pssh or
// mspr:pro), so that players take each period's key from the moof pssh.
func TestKeyRotationMPD(t *testing.T) {
	for _, scheme := range []drm.Scheme{drm.SchemeCENC, drm.SchemeCBCS} {
		rotated := manifesttest.Rotated(8*time.Second, scheme, 2)
		if len(rotated.Periods[0].Sets[0].Protection.KeyPeriods) == 0 {
			t.Fatal("fixture has no key periods")
		}
		root := parse(t, render(t, rotated))
		var mp4, systems, laurls int
		root.walk(func(e *element) {
			switch e.XMLName.Local {
			case "ContentProtection":
				if e.attr("default_KID") != "" {
					t.Errorf("%s: %s names default_KID %s", scheme, e.attr("schemeIdUri"), e.attr("default_KID"))
				}
				if e.attr("schemeIdUri") == "urn:mpeg:dash:mp4protection:2011" {
					mp4++
					if e.attr("value") != string(scheme) {
						t.Errorf("%s: mp4protection value %q", scheme, e.attr("value"))
					}
				} else {
					systems++
				}
			case "pssh", "pro":
				t.Errorf("%s: %s element under key rotation", scheme, e.XMLName.Local)
			case "laurl", "Laurl":
				laurls++
			}
		})
		// Video, two audio sets and the trick mode set; Widevine, PlayReady
		// and FairPlay or ClearKey each.
		const wantSys = 4 * 3
		if mp4 != 4 || systems != wantSys || laurls == 0 {
			t.Errorf("%s: %d mp4protection, %d system descriptors, %d license URLs; want 4, %d, >0", scheme, mp4, systems, laurls, wantSys)
		}
	}
}

func TestTrickMode(t *testing.T) {
	root := parse(t, render(t, manifesttest.Ladder(8*time.Second)))
	found := false
	root.walk(func(e *element) {
		if e.XMLName.Local != "AdaptationSet" {
			return
		}
		for _, c := range e.Children {
			if c.XMLName.Local == "EssentialProperty" && c.attr("schemeIdUri") == "http://dashif.org/guidelines/trickmode" {
				found = true
				if c.attr("value") != "1" {
					t.Errorf("trick mode refers to AdaptationSet %q, want 1", c.attr("value"))
				}
			}
		}
	})
	if !found {
		t.Error("no trick mode AdaptationSet")
	}
}

func TestProfiles(t *testing.T) {
	cases := map[string]string{
		"ladder":     dash.ProfileLive + "," + dash.ProfileFull + "," + dash.ProfileCMAF,
		"singlefile": dash.ProfileOnDemand + "," + dash.ProfileFull + "," + dash.ProfileCMAF,
	}
	for name, want := range cases {
		if got := parse(t, render(t, models()[name])).attr("profiles"); got != want {
			t.Errorf("%s: profiles %q, want %q", name, got, want)
		}
	}
	p := manifesttest.Ladder(8 * time.Second)
	for i := range p.Periods[0].Sets[0].Representations {
		p.Periods[0].Sets[0].Representations[i].IFrames = nil
	}
	p.CMAF = false
	if got := parse(t, render(t, p)).attr("profiles"); got != dash.ProfileLive {
		t.Errorf("templates only: profiles %q", got)
	}
}

func TestDuration(t *testing.T) {
	cases := []struct {
		d    time.Duration
		want string
	}{
		{0, "PT0S"},
		{500 * time.Millisecond, "PT0.5S"},
		{time.Nanosecond, "PT0.000000001S"},
		{8 * time.Second, "PT8S"},
		{2002 * time.Millisecond, "PT2.002S"},
		{3 * time.Hour, "PT3H0M0S"},
		{time.Hour + 90*time.Second + time.Millisecond, "PT1H1M30.001S"},
		{61 * time.Second, "PT1M1S"},
		{-time.Second, "PT0S"},
	}
	for _, c := range cases {
		got := dash.Duration(c.d)
		if got != c.want {
			t.Errorf("Duration(%v) = %q, want %q", c.d, got, c.want)
		}
		// go-dash parses seconds through a float64, so allow a microsecond.
		if back, err := mpd.ParseDuration(got); err != nil || (c.d > 0 && (back-c.d > time.Microsecond || c.d-back > time.Microsecond)) {
			t.Errorf("go-dash reads %q as %v (%v), want %v", got, back, err, c.d)
		}
	}
}

func TestRefusesInvalidModel(t *testing.T) {
	p := manifesttest.Ladder(8 * time.Second)
	r := &p.Periods[0].Sets[0].Representations[0]
	r.Bandwidth /= 2
	var b bytes.Buffer
	err := dash.Render(&b, p)
	if !errors.Is(err, manifest.ErrBandwidthBelowPeak) || !strings.Contains(err.Error(), `"video-720p"`) {
		t.Errorf("Render = %v, want ErrBandwidthBelowPeak naming video-720p", err)
	}
	if b.Len() != 0 {
		t.Errorf("refused render wrote %d bytes", b.Len())
	}
	p = manifesttest.Ladder(8 * time.Second)
	p.Type = 7
	if err := dash.Render(&b, p); !errors.Is(err, manifest.ErrUnsupported) {
		t.Errorf("unknown type: %v, want ErrUnsupported", err)
	}
}

// TestColor checks the CICP colour descriptors of DASH-IF IOP: essential for
// PQ, supplemental for HLG and BT.2020 SDR, none for BT.709 or unknown
// colour; on the AdaptationSet when every representation agrees (and on the
// trick mode set with it), else on each representation.
func TestColor(t *testing.T) {
	const cp, tc, mc = "urn:mpeg:mpegB:cicp:ColourPrimaries", "urn:mpeg:mpegB:cicp:TransferCharacteristics", "urn:mpeg:mpegB:cicp:MatrixCoefficients"
	type prop struct{ kind, scheme, value string }
	props := func(e *element) []prop {
		var out []prop
		for _, c := range e.Children {
			if k := c.XMLName.Local; k == "EssentialProperty" || k == "SupplementalProperty" {
				if s := c.attr("schemeIdUri"); strings.HasPrefix(s, "urn:mpeg:mpegB:cicp:") {
					out = append(out, prop{k, s, c.attr("value")})
				}
			}
		}
		return out
	}
	for _, tt := range []struct {
		name  string
		color manifest.Color
		want  []prop
	}{
		{"pq", manifest.Color{Primaries: 9, Transfer: 16, Matrix: 9}, []prop{{"EssentialProperty", cp, "9"}, {"EssentialProperty", tc, "16"}, {"EssentialProperty", mc, "9"}}},
		{"hlg", manifest.Color{Primaries: 9, Transfer: 18, Matrix: 9}, []prop{{"SupplementalProperty", cp, "9"}, {"SupplementalProperty", tc, "18"}, {"SupplementalProperty", mc, "9"}}},
		{"bt2020-sdr", manifest.Color{Primaries: 9, Transfer: 14}, []prop{{"SupplementalProperty", cp, "9"}, {"SupplementalProperty", tc, "14"}}},
		{"bt709", manifest.Color{Primaries: 1, Transfer: 1, Matrix: 1}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := render(t, hdrLadder(tt.color))
			testutil.ValidateMPDBytes(t, tt.name, b)
			sets := 0
			parse(t, b).walk(func(e *element) {
				if e.XMLName.Local != "AdaptationSet" || e.attr("contentType") != "video" {
					return
				}
				sets++ // the main set and its trick mode set
				if got := props(e); !reflect.DeepEqual(got, tt.want) {
					t.Errorf("AdaptationSet %s: colour descriptors %v, want %v", e.attr("id"), got, tt.want)
				}
				for _, c := range e.Children {
					if c.XMLName.Local == "Representation" && len(props(&c)) > 0 {
						t.Errorf("representation %s repeats the set's colour: %v", c.attr("id"), props(&c))
					}
				}
			})
			if sets != 2 {
				t.Errorf("%d video AdaptationSets, want the main and the trick mode set", sets)
			}
		})
	}

	t.Run("per-representation", func(t *testing.T) {
		p := hdrLadder(manifest.Color{Primaries: 9, Transfer: 16, Matrix: 9})
		for si := range p.Periods[0].Sets {
			if set := &p.Periods[0].Sets[si]; set.ContentType == segment.KindVideo {
				set.Representations[1].Color = nil // an SDR rendition of unknown colour
			}
		}
		b := render(t, p)
		testutil.ValidateMPDBytes(t, "per-representation", b)
		var reps [][]prop
		parse(t, b).walk(func(e *element) {
			if e.XMLName.Local == "AdaptationSet" && e.attr("contentType") == "video" && e.attr("id") != "" {
				if got := props(e); got != nil {
					t.Errorf("AdaptationSet %s carries %v although its representations differ", e.attr("id"), got)
				}
			}
			if e.XMLName.Local == "Representation" && !strings.HasSuffix(e.attr("id"), "_trick") && e.attr("width") != "" {
				reps = append(reps, props(e))
			}
		})
		if len(reps) != 2 || len(reps[0]) != 3 || reps[0][1] != (prop{"EssentialProperty", tc, "16"}) || reps[1] != nil {
			t.Errorf("representation descriptors %v, want PQ on the first and none on the second", reps)
		}
	})
}

// TestClosedCaptions: the closed captions of the video set become one
// Accessibility descriptor per caption type on the video AdaptationSet, in
// the value syntax of SCTE 214-1 that players parse; other sets get none.
func TestClosedCaptions(t *testing.T) {
	p := manifesttest.Captioned(8 * time.Second)
	m, err := mpd.ReadFromString(string(render(t, p)))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, as := range m.Periods[0].AdaptationSets {
		for _, a := range as.AccessibilityElems {
			if strings.HasPrefix(*a.SchemeIdUri, "urn:scte:dash:cc:") {
				got = append(got, *as.ContentType+" "+*a.SchemeIdUri+" "+*a.Value)
			}
		}
	}
	want := []string{
		"video urn:scte:dash:cc:cea-608:2015 CC1=eng;CC3=spa",
		"video urn:scte:dash:cc:cea-708:2015 1=lang:eng",
	}
	if !slices.Equal(got, want) {
		t.Errorf("caption descriptors:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// Invalid services are refused, naming the set.
	for _, c := range []manifest.ClosedCaption{
		{Type: manifest.CEA608, Channel: 5, Lang: "eng"},
		{Type: manifest.CEA708, Channel: 64, Lang: "eng"},
		{Type: manifest.CEA608, Channel: 2, Lang: "eng;CC3=spa"},
		{Type: manifest.CEA608, Channel: 2},
		{Type: "cea-709", Channel: 1, Lang: "eng"},
		{Type: manifest.CEA608, Channel: 1, Lang: "fra"}, // CC1 twice
	} {
		p := manifesttest.Captioned(8 * time.Second)
		p.Periods[0].Sets[0].ClosedCaptions = append(p.Periods[0].Sets[0].ClosedCaptions, c)
		var b bytes.Buffer
		err := dash.Render(&b, p)
		var ve *manifest.ValidationError
		if !errors.Is(err, manifest.ErrCaptions) || !errors.As(err, &ve) || ve.Set != "video" || b.Len() != 0 {
			t.Errorf("%+v: %v, want ErrCaptions naming set video and nothing written", c, err)
		}
	}
	p = manifesttest.Captioned(8 * time.Second)
	p.Periods[0].Sets[1].ClosedCaptions = p.Periods[0].Sets[0].ClosedCaptions
	if err := dash.Render(io.Discard, p); !errors.Is(err, manifest.ErrCaptions) || !strings.Contains(err.Error(), "audio set") {
		t.Errorf("captions on an audio set: %v, want ErrCaptions", err)
	}
}

// TestKeyServerData: a system's ContentProtectionData (from a CPIX key
// server) becomes the children of its ContentProtection element verbatim,
// in place of cenc:pssh, mspr:pro and the license URL; the MPD declares the
// prefixes it uses and stays valid. XML that would make the MPD malformed or
// invalid is refused.
func TestKeyServerData(t *testing.T) {
	withData := func(data string) *manifest.Presentation {
		p := manifesttest.Protected(8*time.Second, drm.SchemeCENC)
		for si := range p.Periods[0].Sets {
			if pi := p.Periods[0].Sets[si].Protection; pi != nil {
				pi.Systems[1].ContentProtectionData = data // PlayReady
			}
		}
		return p
	}
	for _, data := range []string{
		`<cenc:pssh>AAAAAHBzc2g=</cenc:pssh><mspr:pro>AAAA</mspr:pro>`,
		`<mspr:pro xmlns:mspr="urn:microsoft:playready">AAAA</mspr:pro>`,
		"\n  <x:laurl xmlns:x=\"urn:example:drm\" x:type=\"a\">https://lic.example/?a=1&amp;b=2</x:laurl><!-- note -->\n",
		`<pssh xmlns="urn:mpeg:cenc:2013">AAAA</pssh>`,
	} {
		b := render(t, withData(data))
		n := strings.Count(string(b), ">"+data+"</ContentProtection>")
		if n != 4 { // video, two audio sets, trick mode set
			t.Errorf("%q appears %d times in\n%s", data, n, b)
		}
		root := parse(t, b)
		root.walk(func(e *element) {
			if e.XMLName.Local == "ContentProtection" && e.attr("value") == "MSPR 2.0" && e.attr("default_KID") == "" {
				t.Errorf("PlayReady element without cenc:default_KID")
			}
		})
		if strings.Contains(data, "mspr:pro>") && !strings.Contains(string(b), `xmlns:mspr="urn:microsoft:playready"`) {
			t.Errorf("%q: MPD does not declare mspr", data)
		}
		testutil.ValidateMPDBytes(t, "keyserver", b)
	}
	for _, bad := range []string{
		`<foo:bar>1</foo:bar>`,                  // undeclared prefix
		`<pssh>AAAA</pssh>`,                     // in the MPD's namespace
		`<cenc:pssh>AAAA</cenc:pssh> and text`,  // text in an element-only descriptor
		`<cenc:pssh>AAAA</cenc:pssh><mspr:pro>`, // not closed
		`<cenc:pssh>AAAA</mspr:pro>`,            // closed by another
		`<?xml version="1.0"?><cenc:pssh/>`,     // a declaration
		`<x xmlns="urn:mpeg:dash:schema:mpd:2011"/>`,
	} {
		var buf bytes.Buffer
		if err := dash.Render(&buf, withData(bad)); !errors.Is(err, manifest.ErrProtection) {
			t.Errorf("%q: Render = %v, want manifest.ErrProtection", bad, err)
		}
	}
	// Under key rotation the MPD names no key: the data is left out too.
	p := manifesttest.Rotated(8*time.Second, drm.SchemeCBCS, 2)
	p.Periods[0].Sets[0].Protection.Systems[0].ContentProtectionData = `<cenc:pssh>AAAA</cenc:pssh>`
	if b := render(t, p); strings.Contains(string(b), "cenc:pssh") {
		t.Errorf("key rotation: key server data written:\n%s", b)
	}
}

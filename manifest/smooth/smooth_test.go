package smooth_test

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/drm"
	"github.com/cmafkit/cmafkit/internal/testutil"
	"github.com/cmafkit/cmafkit/manifest"
	"github.com/cmafkit/cmafkit/manifest/internal/manifesttest"
	"github.com/cmafkit/cmafkit/manifest/smooth"
	"github.com/cmafkit/cmafkit/segment"
)

// withCodecData fills the CodecPrivateData Smooth needs: a fixed SPS/PPS
// for video, the AudioSpecificConfig of 48 kHz stereo AAC-LC for audio.
func withCodecData(p *manifest.Presentation) *manifest.Presentation {
	for si := range p.Periods[0].Sets {
		set := &p.Periods[0].Sets[si]
		for ri := range set.Representations {
			r := &set.Representations[ri]
			switch set.ContentType {
			case segment.KindVideo:
				r.CodecPrivateData = []byte{0, 0, 0, 1, 0x67, 0x64, 0x00, 0x1f, 0xac, 0, 0, 0, 1, 0x68, 0xeb, 0xe3, 0xcb}
			case segment.KindAudio:
				r.CodecPrivateData = []byte{0x11, 0x90}
			}
		}
	}
	return p
}

func models() map[string]*manifest.Presentation {
	live := withCodecData(manifesttest.Ladder(8 * time.Second))
	live.Type = manifest.Live
	live.TimeShiftBufferDepth = 30 * time.Second
	live.AvailabilityStartTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return map[string]*manifest.Presentation{
		"ladder":    withCodecData(manifesttest.Ladder(8 * time.Second)),
		"playready": withCodecData(oneKey(manifesttest.Protected(8*time.Second, drm.SchemeCENC))),
		"live":      live,
	}
}

// oneKey gives every set the video set's protection: Smooth carries one
// protection header.
func oneKey(p *manifest.Presentation) *manifest.Presentation {
	sets := p.Periods[0].Sets
	for i := range sets {
		if sets[i].Protection != nil {
			sets[i].Protection = sets[0].Protection
		}
	}
	return p
}

func render(t *testing.T, p *manifest.Presentation) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := smooth.Render(&b, p); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestGolden(t *testing.T) {
	for name, p := range models() {
		got := render(t, p)
		path := filepath.Join("testdata", name+".ism.xml")
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
	}
}

// The client manifest's XML, as MS-SSTR 2.2.2 defines the parts tested.
type ssm struct {
	Duration   int64  `xml:"Duration,attr"`
	TimeScale  int64  `xml:"TimeScale,attr"`
	IsLive     string `xml:"IsLive,attr"`
	DVR        int64  `xml:"DVRWindowLength,attr"`
	Protection *struct {
		Header struct {
			SystemID string `xml:"SystemID,attr"`
			Value    string `xml:",chardata"`
		} `xml:"ProtectionHeader"`
	} `xml:"Protection"`
	Streams []struct {
		Type      string `xml:"Type,attr"`
		Name      string `xml:"Name,attr"`
		Chunks    int    `xml:"Chunks,attr"`
		TimeScale uint32 `xml:"TimeScale,attr"`
		URL       string `xml:"Url,attr"`
		Levels    []struct {
			Bitrate uint64 `xml:"Bitrate,attr"`
			FourCC  string `xml:"FourCC,attr"`
			CPD     string `xml:"CodecPrivateData,attr"`
		} `xml:"QualityLevel"`
		C []struct {
			T *uint64 `xml:"t,attr"`
			D uint64  `xml:"d,attr"`
		} `xml:"c"`
	} `xml:"StreamIndex"`
}

// TestParseBack reads each manifest back and checks it against the model:
// one StreamIndex per audio or video set, quality levels by bit rate, the
// chunk list expanding to the model's fragment times, the duration.
func TestParseBack(t *testing.T) {
	for name, p := range models() {
		var m ssm
		if err := xml.Unmarshal(render(t, p), &m); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var sets []manifest.SwitchingSet
		for _, s := range p.Periods[0].Sets {
			if s.ContentType != segment.KindText {
				sets = append(sets, s)
			}
		}
		if len(m.Streams) != len(sets) {
			t.Fatalf("%s: %d StreamIndex, want %d", name, len(m.Streams), len(sets))
		}
		if p.Type == manifest.VOD && m.Duration != int64(p.MediaDuration()/100) {
			t.Errorf("%s: Duration %d, want %d", name, m.Duration, p.MediaDuration()/100)
		}
		if p.Type == manifest.Live && (m.IsLive != "TRUE" || m.DVR != int64(p.TimeShiftBufferDepth/100)) {
			t.Errorf("%s: IsLive %q DVRWindowLength %d", name, m.IsLive, m.DVR)
		}
		for i, s := range m.Streams {
			set := sets[i]
			if s.Type != set.ContentType.String() || s.Name != smooth.StreamName(&set) || s.URL != smooth.URLTemplate(s.Name) {
				t.Errorf("%s: stream %d: %s %s %s", name, i, s.Type, s.Name, s.URL)
			}
			if len(s.Levels) != len(set.Representations) {
				t.Fatalf("%s: %s: %d quality levels, want %d", name, s.Name, len(s.Levels), len(set.Representations))
			}
			for k, l := range s.Levels {
				r := set.Representations[k]
				if l.Bitrate != smooth.Bitrate(&r) || l.FourCC != smooth.FourCC(r.Codecs) || !strings.EqualFold(l.CPD, hexOf(r.CodecPrivateData)) {
					t.Errorf("%s: %s level %d: %+v", name, s.Name, k, l)
				}
			}
			segs := set.Representations[0].Segments
			if s.Chunks != len(segs) || len(s.C) != len(segs) || s.TimeScale != set.Representations[0].Timescale {
				t.Fatalf("%s: %s: %d chunks (%d c), want %d", name, s.Name, s.Chunks, len(s.C), len(segs))
			}
			var at uint64
			for k, c := range s.C {
				if c.T != nil {
					at = *c.T
				}
				if at != segs[k].Start || c.D != segs[k].Duration {
					t.Errorf("%s: %s chunk %d at %d for %d, want %d for %d", name, s.Name, k, at, c.D, segs[k].Start, segs[k].Duration)
				}
				at += c.D
			}
		}
		prot := p.Periods[0].Sets[0].Protection
		if (m.Protection != nil) != (prot != nil) {
			t.Fatalf("%s: Protection element %v, model protection %v", name, m.Protection != nil, prot != nil)
		}
		if prot != nil {
			pro, err := base64.StdEncoding.DecodeString(m.Protection.Header.Value)
			if err != nil || !bytes.Equal(pro, prot.Systems[1].PlayReadyObject) || m.Protection.Header.SystemID != drm.SystemIDPlayReady.String() {
				t.Errorf("%s: ProtectionHeader %s %q", name, m.Protection.Header.SystemID, m.Protection.Header.Value)
			}
		}
	}
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

func TestFragmentName(t *testing.T) {
	if got, want := smooth.FragmentName("video", 800000, 60060), "QualityLevels(800000)/Fragments(video=60060)"; got != want {
		t.Fatalf("FragmentName %s, want %s", got, want)
	}
	set := manifest.SwitchingSet{ID: "audio-en/aac/Main (2)"}
	if got := smooth.StreamName(&set); got != "audio-enaacMain2" {
		t.Fatalf("StreamName %q", got)
	}
}

// TestRefuses checks that what Smooth cannot describe is refused with
// ErrUnsupported naming it.
func TestRefuses(t *testing.T) {
	cases := map[string]struct {
		edit func(p *manifest.Presentation)
		want string
	}{
		"hevc":          {func(p *manifest.Presentation) { p.Periods[0].Sets[0].Representations[0].Codecs = "hvc1.1.6.L93.B0" }, "hvc1"},
		"no codec data": {func(p *manifest.Presentation) { p.Periods[0].Sets[0].Representations[1].CodecPrivateData = nil }, "CodecPrivateData"},
		"same bitrate": {func(p *manifest.Presentation) {
			r := p.Periods[0].Sets[0].Representations
			r[1].Bandwidth, r[1].AverageBandwidth = r[0].Bandwidth, r[0].AverageBandwidth
		}, "share bit rate"},
		"timelines": {func(p *manifest.Presentation) { p.Periods[0].Sets[0].Representations[1].Segments[3].Duration-- }, "differ at fragment 3"},
		"cbcs": {func(p *manifest.Presentation) {
			oneKey(p)
			p.Periods[0].Sets[0].Protection = &drm.Protection{Scheme: drm.SchemeCBCS, DefaultKID: manifesttest.KIDVideo}
		}, "cbcs"},
	}
	for name, c := range cases {
		p := withCodecData(manifesttest.Protected(8*time.Second, drm.SchemeCENC))
		oneKey(p)
		c.edit(p)
		err := smooth.Render(&bytes.Buffer{}, p)
		if !errors.Is(err, smooth.ErrUnsupported) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want ErrUnsupported naming %q", name, err, c.want)
		}
	}
	var p *manifest.Presentation
	// A clear set before protected ones, and after.
	for _, i := range []int{0, 2} {
		p := withCodecData(oneKey(manifesttest.Protected(8*time.Second, drm.SchemeCENC)))
		p.Periods[0].Sets[i].Protection = nil
		if err := smooth.Render(&bytes.Buffer{}, p); !errors.Is(err, smooth.ErrUnsupported) || !strings.Contains(err.Error(), "clear while others") {
			t.Errorf("clear set %d: err %v", i, err)
		}
	}
	// Quality levels of one set with different PlayReady objects.
	p = withCodecData(oneKey(manifesttest.Protected(8*time.Second, drm.SchemeCENC)))
	v := &p.Periods[0].Sets[0]
	other := *v.Protection
	other.Systems = append([]drm.SystemSignaling(nil), other.Systems...)
	other.Systems[1].PlayReadyObject = []byte("another")
	v.Representations[1].Protection = &other
	if err := smooth.Render(&bytes.Buffer{}, p); !errors.Is(err, smooth.ErrUnsupported) || !strings.Contains(err.Error(), "different protection") {
		t.Errorf("levels with different PlayReady objects: err %v", err)
	}
	// Two sets with different PlayReady headers.
	p = withCodecData(manifesttest.Protected(8*time.Second, drm.SchemeCENC))
	if err := smooth.Render(&bytes.Buffer{}, p); !errors.Is(err, smooth.ErrUnsupported) || !strings.Contains(err.Error(), "different PlayReady headers") {
		t.Errorf("two keys: err %v", err)
	}
}

// TestGapsAndOverlaps: a gap between fragments (a live stream's
// discontinuity) is stated by a c element with its own t; an overlap is
// refused.
func TestGapsAndOverlaps(t *testing.T) {
	p := models()["live"]
	for si := range p.Periods[0].Sets {
		for ri := range p.Periods[0].Sets[si].Representations {
			segs := p.Periods[0].Sets[si].Representations[ri].Segments
			for k := 2; k < len(segs); k++ {
				segs[k].Start += 1000
			}
		}
	}
	out := string(render(t, p))
	video := p.Periods[0].Sets[0].Representations[0].Segments
	if want := fmt.Sprintf(`<c t="%d" d="%d"/>`, video[2].Start, video[2].Duration); !strings.Contains(out, want) {
		t.Errorf("no %s after the gap:\n%s", want, out)
	}
	for si := range p.Periods[0].Sets {
		for ri := range p.Periods[0].Sets[si].Representations {
			p.Periods[0].Sets[si].Representations[ri].Segments[2].Start -= 2000
		}
	}
	if err := smooth.Render(&bytes.Buffer{}, p); !errors.Is(err, smooth.ErrUnsupported) || !strings.Contains(err.Error(), "overlaps") {
		t.Errorf("overlap: err %v, want ErrUnsupported naming the overlap", err)
	}
}

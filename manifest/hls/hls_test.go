package hls_test

import (
	"bytes"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/internal/testutil"

	"github.com/grafov/m3u8"

	"github.com/cmafkit/cmafkit/drm"
	"github.com/cmafkit/cmafkit/manifest"
	"github.com/cmafkit/cmafkit/manifest/hls"
	"github.com/cmafkit/cmafkit/manifest/internal/manifesttest"
)

// audioOnly is the ladder without its video set.
func audioOnly() *manifest.Presentation {
	p := manifesttest.Ladder(8 * time.Second)
	p.Periods[0].Sets = p.Periods[0].Sets[1:]
	return p
}

func models() map[string]*manifest.Presentation {
	return map[string]*manifest.Presentation{
		"ladder":     manifesttest.Ladder(8 * time.Second),
		"singlefile": manifesttest.SingleFile(8 * time.Second),
		"cenc":       manifesttest.Protected(8*time.Second, drm.SchemeCENC),
		"cbcs":       manifesttest.Protected(8*time.Second, drm.SchemeCBCS),
		"rotation":   manifesttest.Rotated(8*time.Second, drm.SchemeCBCS, 2),
		"subsecond":  manifesttest.SubSecond(),
		"audioonly":  audioOnly(),
		"captions":   manifesttest.Captioned(8 * time.Second),
		"cues":       manifesttest.Cued(),
		"interstitials": func() *manifest.Presentation {
			p := manifesttest.Cued()
			p.HLSInterstitials = &manifest.Interstitials{AssetURI: "https://ads.example/break.m3u8?id={id}", Restrict: "SKIP,JUMP"}
			return p
		}(),
	}
}

// closer collects one rendered file.
type closer struct {
	bytes.Buffer
	files map[string][]byte
	name  string
}

func (c *closer) Close() error {
	c.files[c.name] = c.Bytes()
	return nil
}

func renderAll(t testing.TB, p *manifest.Presentation) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := hls.RenderAll(p, "main.m3u8", func(uri string) (io.WriteCloser, error) {
		return &closer{files: files, name: uri}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestGolden(t *testing.T) {
	for name, p := range models() {
		t.Run(name, func(t *testing.T) {
			files := renderAll(t, p)
			dir := filepath.Join("testdata", name)
			if testutil.Update() {
				os.RemoveAll(dir)
				os.MkdirAll(dir, 0o755)
			}
			for uri, got := range files {
				path := filepath.Join(dir, strings.ReplaceAll(uri, "/", "_"))
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
					t.Errorf("%s differs from %s:\n%s", uri, path, got)
				}
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != len(files) {
				t.Errorf("%s holds %d files, rendering gave %d", dir, len(entries), len(files))
			}
			// The individual functions write the same bytes as RenderAll.
			var b bytes.Buffer
			if err := hls.RenderMultivariant(&b, p); err != nil || !bytes.Equal(b.Bytes(), files["main.m3u8"]) {
				t.Errorf("RenderMultivariant differs from RenderAll (err %v)", err)
			}
			for _, pl := range hls.Playlists(p) {
				b.Reset()
				render := hls.RenderMedia
				if pl.IFrames {
					render = hls.RenderIFrames
				}
				if err := render(&b, p, pl.RepresentationID); err != nil || !bytes.Equal(b.Bytes(), files[pl.URI]) {
					t.Errorf("%s: single render differs from RenderAll (err %v)", pl.URI, err)
				}
			}
		})
	}
}

// TestParseBack reads every playlist back with grafov/m3u8 and checks what
// a player would take from it against the model.
func TestParseBack(t *testing.T) {
	for name, p := range models() {
		t.Run(name, func(t *testing.T) {
			files := renderAll(t, p)
			pl, typ, err := m3u8.DecodeFrom(bytes.NewReader(files["main.m3u8"]), true)
			if err != nil || typ != m3u8.MASTER {
				t.Fatalf("decode multivariant: %v, type %v", err, typ)
			}
			master := pl.(*m3u8.MasterPlaylist)
			if len(master.Variants) == 0 {
				t.Fatal("no variants")
			}
			for _, v := range master.Variants {
				if v.Bandwidth == 0 || v.Codecs == "" {
					t.Errorf("variant %s: BANDWIDTH %d CODECS %q", v.URI, v.Bandwidth, v.Codecs)
				}
				if !v.Iframe && v.AverageBandwidth > v.Bandwidth {
					t.Errorf("variant %s: AVERAGE-BANDWIDTH %d above BANDWIDTH %d", v.URI, v.AverageBandwidth, v.Bandwidth)
				}
				if _, ok := files[v.URI]; !ok {
					t.Errorf("variant URI %s was not rendered", v.URI)
				}
				for _, alt := range v.Alternatives {
					if alt.Language == "" {
						t.Errorf("rendition %s without LANGUAGE", alt.Name)
					}
				}
			}
			for _, plist := range hls.Playlists(p) {
				set, r := p.Find(plist.RepresentationID)
				mp, typ, err := m3u8.DecodeFrom(bytes.NewReader(files[plist.URI]), true)
				if err != nil || typ != m3u8.MEDIA {
					t.Fatalf("%s: %v, type %v", plist.URI, err, typ)
				}
				media := mp.(*m3u8.MediaPlaylist)
				segs := media.GetAllSegments()
				want := len(r.Segments)
				if plist.IFrames {
					want = len(r.IFrames)
				}
				sideLoaded := len(r.Segments) == 0
				if sideLoaded {
					want = 1 // the whole file as one segment
				}
				if len(segs) != want {
					t.Errorf("%s: %d segments, want %d", plist.URI, len(segs), want)
				}
				var sum float64
				for i, s := range segs {
					sum += s.Duration
					if math.Round(s.Duration) > media.TargetDuration {
						t.Errorf("%s segment %d: EXTINF %v over target %v", plist.URI, i, s.Duration, media.TargetDuration)
					}
					if (r.SingleFile != nil && !sideLoaded) || plist.IFrames {
						if s.Limit == 0 {
							t.Errorf("%s segment %d: no byte range", plist.URI, i)
						}
					}
				}
				// The EXTINF values add up to the representation's span within
				// one tick.
				span := r.Span().Seconds()
				tick := 1 / float64(r.Timescale)
				if sideLoaded {
					span, tick = p.MediaDuration().Seconds(), 1e-9
				}
				if plist.IFrames {
					var total uint64
					for _, f := range r.IFrames {
						total += f.Duration
					}
					span = float64(total) / float64(r.Timescale)
				}
				if d := math.Abs(sum - span); d > tick {
					t.Errorf("%s: EXTINF sum %.9f, span %.9f (off by %.3g s)", plist.URI, sum, span, d)
				}
				if r.Init.URI != "" && (media.Map == nil || media.Map.URI != r.Init.URI) {
					t.Errorf("%s: EXT-X-MAP %+v, want %s", plist.URI, media.Map, r.Init.URI)
				}
				if pi := set.Protection; pi != nil && (media.Key == nil || !strings.HasPrefix(media.Key.Method, "SAMPLE-AES")) {
					t.Errorf("%s: key %+v", plist.URI, media.Key)
				}
				if media.MediaType != m3u8.VOD || !media.Closed {
					t.Errorf("%s: not a closed VOD playlist", plist.URI)
				}
			}
		})
	}
}

// TestVariantBandwidth checks the combined BANDWIDTH and CODECS of a
// variant against the model: video peak plus audio and subtitle peaks.
func TestVariantBandwidth(t *testing.T) {
	p := manifesttest.Ladder(8 * time.Second)
	files := renderAll(t, p)
	pl, _, err := m3u8.DecodeFrom(bytes.NewReader(files["main.m3u8"]), true)
	if err != nil {
		t.Fatal(err)
	}
	v := pl.(*m3u8.MasterPlaylist).Variants[0]
	sets := p.Periods[0].Sets
	video, audio, subs := &sets[0].Representations[0], &sets[1].Representations[0], &sets[3].Representations[0]
	if want := video.Bandwidth + audio.Bandwidth + subs.Bandwidth; uint64(v.Bandwidth) != want {
		t.Errorf("BANDWIDTH %d, want %d", v.Bandwidth, want)
	}
	if want := video.AverageBandwidth + audio.AverageBandwidth + subs.AverageBandwidth; uint64(v.AverageBandwidth) != want {
		t.Errorf("AVERAGE-BANDWIDTH %d, want %d", v.AverageBandwidth, want)
	}
	if v.Codecs != "avc1.64001f,mp4a.40.2" || v.Resolution != "1280x720" || v.FrameRate != 29.97 || v.VideoRange != "SDR" {
		t.Errorf("variant attributes %+v", v.VariantParams)
	}
	if v.Audio != "audio-aac" || v.Subtitles != "subs" || v.Captions != "NONE" {
		t.Errorf("groups AUDIO=%q SUBTITLES=%q CLOSED-CAPTIONS=%q", v.Audio, v.Subtitles, v.Captions)
	}
}

func TestRefusesInvalidModel(t *testing.T) {
	p := manifesttest.Ladder(8 * time.Second)
	p.Periods[0].Sets[0].Representations[1].Codecs = ""
	var b bytes.Buffer
	err := hls.RenderMultivariant(&b, p)
	if !errors.Is(err, manifest.ErrNoCodecs) || !strings.Contains(err.Error(), `"video-360p"`) {
		t.Errorf("RenderMultivariant = %v, want ErrNoCodecs naming video-360p", err)
	}
	if err := hls.RenderMedia(&b, p, "video-360p"); !errors.Is(err, manifest.ErrNoCodecs) {
		t.Errorf("RenderMedia = %v, want ErrNoCodecs", err)
	}
	// Another representation is still valid on its own.
	if err := hls.RenderMedia(io.Discard, p, "video-720p"); err != nil {
		t.Errorf("RenderMedia of a valid representation: %v", err)
	}
	p.Periods[0].Sets[0].Representations[1].Codecs = "avc1.64001e"
	p.Periods[0].Sets[0].Representations[0].Segments[2].Duration = 3 * 30000 // 3 s in a 2 s target
	if err := hls.RenderMedia(&b, p, "video-720p"); !errors.Is(err, manifest.ErrSegmentTooLong) {
		t.Errorf("RenderMedia = %v, want ErrSegmentTooLong", err)
	}
	if b.Len() != 0 {
		t.Errorf("refused renders wrote %d bytes", b.Len())
	}

	p = manifesttest.Ladder(8 * time.Second)
	p.Type = 7
	if err := hls.RenderMultivariant(&b, p); !errors.Is(err, manifest.ErrUnsupported) {
		t.Errorf("unknown type: %v, want ErrUnsupported", err)
	}
	p = manifesttest.Ladder(8 * time.Second)
	p.Periods = append(p.Periods, p.Periods[0])
	if err := hls.RenderMultivariant(&b, p); !errors.Is(err, manifest.ErrUnsupported) {
		t.Errorf("two periods: %v, want ErrUnsupported", err)
	}
	p = manifesttest.Ladder(8 * time.Second)
	p.Periods[0].Sets[1].Label = `The "best" mix`
	if err := hls.RenderMultivariant(&b, p); !errors.Is(err, hls.ErrText) {
		t.Errorf("quote in NAME: %v, want ErrText", err)
	}
}

func TestVersions(t *testing.T) {
	cases := []struct {
		model, file, want string
	}{
		{"ladder", "main.m3u8", "#EXT-X-VERSION:6"},
		{"ladder", "video-720p.m3u8", "#EXT-X-VERSION:6"},         // EXT-X-MAP
		{"ladder", "video-720p_iframes.m3u8", "#EXT-X-VERSION:5"}, // EXT-X-MAP in I-frames-only
		{"ladder", "subs-en.m3u8", "#EXT-X-VERSION:3"},            // plain WebVTT: decimal EXTINF only
		{"cbcs", "audio-en.m3u8", "#EXT-X-VERSION:6"},
	}
	all := models()
	for _, c := range cases {
		files := renderAll(t, all[c.model])
		if !strings.Contains(string(files[c.file]), c.want+"\n") {
			t.Errorf("%s/%s: want %s in\n%s", c.model, c.file, c.want, files[c.file])
		}
		if strings.Contains(string(files[c.file]), "PROGRAM-ID") {
			t.Errorf("%s/%s: PROGRAM-ID written", c.model, c.file)
		}
	}
}

func TestTimestampMap(t *testing.T) {
	if got, want := hls.TimestampMap(900000, 0), "X-TIMESTAMP-MAP=MPEGTS:900000,LOCAL:00:00:00.000"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := hls.TimestampMap(0, time.Hour+2*time.Minute+3*time.Second+4*time.Millisecond), "X-TIMESTAMP-MAP=MPEGTS:0,LOCAL:01:02:03.004"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestPlaylistsOrder(t *testing.T) {
	var got []string
	for _, pl := range hls.Playlists(manifesttest.Ladder(8 * time.Second)) {
		got = append(got, pl.URI)
	}
	want := []string{"video-720p.m3u8", "video-720p_iframes.m3u8", "video-360p.m3u8", "video-360p_iframes.m3u8", "audio-en.m3u8", "audio-fr-ad.m3u8", "subs-en.m3u8"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("Playlists = %v, want %v", got, want)
	}
	if sort.StringsAreSorted(got) {
		t.Log("(order happens to be sorted)")
	}
}

// TestKeyRotation follows the EXT-X-KEY tags through each media playlist of
// a presentation with key rotation and checks which key every segment (and
// I-frame) is under: the set's KID for the first crypto period, then the
// period's KID.
func TestKeyRotation(t *testing.T) {
	const every = 2
	p := manifesttest.Rotated(8*time.Second, drm.SchemeCBCS, every)
	files := renderAll(t, p)
	checked := 0
	for _, set := range p.Periods[0].Sets {
		pi := set.Protection
		if pi == nil {
			continue
		}
		for _, r := range set.Representations {
			for _, name := range []string{r.ID + ".m3u8", r.ID + "_iframes.m3u8"} {
				pl, ok := files[name]
				if !ok {
					if strings.HasSuffix(name, "_iframes.m3u8") {
						continue
					}
					t.Fatalf("no playlist %s among %d files", name, len(files))
				}
				var skd string // the FairPlay key URI in force
				seg := 0
				for _, line := range strings.Split(string(pl), "\n") {
					if strings.HasPrefix(line, "#EXT-X-KEY:") && strings.Contains(line, `URI="skd://`) {
						skd = line[strings.Index(line, `skd://`):]
						skd = skd[:strings.IndexByte(skd, '"')]
					}
					if line == "" || strings.HasPrefix(line, "#") {
						continue
					}
					kid := pi.DefaultKID
					if seg >= every {
						kid[15] = byte(seg / every)
					}
					if want := "skd://" + kid.String(); skd != want {
						t.Errorf("%s: segment %d under %q, want %q", name, seg, skd, want)
					}
					seg++
					checked++
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no protected segments checked")
	}
}

// TestClosedCaptions: closed captions carried in the video are one
// EXT-X-MEDIA rendition of TYPE=CLOSED-CAPTIONS per service, without URI,
// in a group every variant of the set names; CEA-708 services need
// version 7. CLOSED-CAPTIONS=NONE is written only when no variant has
// captions, since NONE on one EXT-X-STREAM-INF must be on all of them.
func TestClosedCaptions(t *testing.T) {
	files := renderAll(t, manifesttest.Captioned(8*time.Second))
	main := string(files["main.m3u8"])
	for _, want := range []string{
		"#EXT-X-VERSION:7\n",
		`#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID="cc",NAME="CC1",LANGUAGE="eng",DEFAULT=NO,AUTOSELECT=YES,INSTREAM-ID="CC1"` + "\n",
		`#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID="cc",NAME="Español",LANGUAGE="spa",DEFAULT=NO,AUTOSELECT=YES,INSTREAM-ID="CC3"` + "\n",
		`#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID="cc",NAME="SERVICE1",LANGUAGE="eng",DEFAULT=NO,AUTOSELECT=YES,INSTREAM-ID="SERVICE1"` + "\n",
	} {
		if !strings.Contains(main, want) {
			t.Errorf("multivariant playlist lacks %s", want)
		}
	}
	// SERVICE1 before CC1, so that hls.js, which reads SERVICE1 as CC1,
	// keeps CC1's NAME and LANGUAGE.
	if strings.Index(main, `INSTREAM-ID="SERVICE1"`) > strings.Index(main, `INSTREAM-ID="CC1"`) {
		t.Errorf("SERVICE1 after CC1:\n%s", main)
	}
	pl, _, err := m3u8.DecodeFrom(strings.NewReader(main), true)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range pl.(*m3u8.MasterPlaylist).Variants {
		if !v.Iframe && v.Captions != "cc" {
			t.Errorf("variant %s: CLOSED-CAPTIONS=%q, want \"cc\"", v.URI, v.Captions)
		}
	}

	// CEA-608 only: no version 7 for captions.
	p := manifesttest.Captioned(8 * time.Second)
	p.Periods[0].Sets[0].ClosedCaptions = p.Periods[0].Sets[0].ClosedCaptions[:2]
	if main := string(renderAll(t, p)["main.m3u8"]); !strings.Contains(main, "#EXT-X-VERSION:6\n") || strings.Contains(main, "SERVICE") {
		t.Errorf("CEA-608 only:\n%s", main)
	}

	// Three video sets: HEVC with other services (its own group), AV1 with
	// none (no CLOSED-CAPTIONS attribute, and no NONE anywhere).
	p = manifesttest.Captioned(8 * time.Second)
	sets := p.Periods[0].Sets
	hevc, av1 := sets[0], sets[0]
	hevc.ID, hevc.ClosedCaptions = "video-hevc", []manifest.ClosedCaption{{Type: manifest.CEA608, Channel: 1, Lang: "eng"}}
	av1.ID, av1.ClosedCaptions = "video-av1", nil
	for _, s := range []*manifest.SwitchingSet{&hevc, &av1} {
		s.Representations = slices.Clone(s.Representations[:1])
		s.Representations[0].ID, s.Representations[0].Template = s.ID, nil
	}
	p.Periods[0].Sets = append([]manifest.SwitchingSet{sets[0], hevc, av1}, sets[1:]...)
	main = string(renderAll(t, p)["main.m3u8"])
	if strings.Contains(main, "NONE") || strings.Count(main, `GROUP-ID="cc-2"`) != 1 || !strings.Contains(main, `GROUP-ID="cc-2",NAME="CC1"`) {
		t.Errorf("groups per caption set:\n%s", main)
	}
	pl, _, err = m3u8.DecodeFrom(strings.NewReader(main), true)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range pl.(*m3u8.MasterPlaylist).Variants {
		want := map[string]string{"video-720p.m3u8": "cc", "video-360p.m3u8": "cc", "video-hevc.m3u8": "cc-2", "video-av1.m3u8": ""}[v.URI]
		if !v.Iframe && v.Captions != want {
			t.Errorf("variant %s: CLOSED-CAPTIONS=%q, want %q", v.URI, v.Captions, want)
		}
	}

	// A NAME holding a quote cannot be written.
	p = manifesttest.Captioned(8 * time.Second)
	p.Periods[0].Sets[0].ClosedCaptions[0].Label = `"CC"`
	if err := hls.RenderMultivariant(io.Discard, p); !errors.Is(err, hls.ErrText) {
		t.Errorf("quote in NAME: %v, want ErrText", err)
	}
}

// TestTextOnly: a presentation of text alone has no variant stream, so no
// valid multivariant playlist: it is refused with ErrNoVariant (an
// ErrUnsupported) before anything is created, while the text's own media
// playlist can still be rendered.
func TestTextOnly(t *testing.T) {
	p := manifesttest.TextOnly(8 * time.Second)
	var b bytes.Buffer
	err := hls.RenderMultivariant(&b, p)
	if !errors.Is(err, hls.ErrNoVariant) || !errors.Is(err, manifest.ErrUnsupported) || !strings.Contains(err.Error(), "subs-en") || b.Len() != 0 {
		t.Errorf("RenderMultivariant = %v (%d bytes), want ErrNoVariant naming subs-en", err, b.Len())
	}
	created := 0
	err = hls.RenderAll(p, "main.m3u8", func(string) (io.WriteCloser, error) {
		created++
		return &closer{files: map[string][]byte{}}, nil
	})
	if !errors.Is(err, hls.ErrNoVariant) || created != 0 {
		t.Errorf("RenderAll = %v after creating %d playlists, want ErrNoVariant and none", err, created)
	}
	if err := hls.RenderMedia(&b, p, "subs-en"); err != nil || !strings.HasPrefix(b.String(), "#EXTM3U\n") {
		t.Errorf("RenderMedia of the text: %v\n%s", err, b.String())
	}
}

// TestKeyServerTags: a system's own tag lines (CPIX HLSSignalingData) are
// written verbatim in place of its EXT-X-KEY (media playlists) and
// EXT-X-SESSION-KEY (multivariant playlist); with media lines only, the
// multivariant playlist has no session key for the system. Lines that are
// not tags are refused.
func TestKeyServerTags(t *testing.T) {
	const (
		media  = "#EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"skd://vendor/abc\",KEYFORMAT=\"com.apple.streamingkeydelivery\",KEYFORMATVERSIONS=\"1\"\r\n#EXT-X-VENDOR-HINT:1\r\n"
		master = "#EXT-X-SESSION-KEY:METHOD=SAMPLE-AES,URI=\"skd://vendor/abc\",KEYFORMAT=\"com.apple.streamingkeydelivery\",KEYFORMATVERSIONS=\"1\""
	)
	lf := strings.ReplaceAll(media, "\r\n", "\n")
	with := func(m, mv string) *manifest.Presentation {
		p := manifesttest.Protected(8*time.Second, drm.SchemeCBCS)
		for si := range p.Periods[0].Sets {
			if pi := p.Periods[0].Sets[si].Protection; pi != nil {
				fp := &pi.Systems[2] // FairPlay
				fp.HLSMedia, fp.HLSMultivariant = m, mv
			}
		}
		return p
	}
	for _, withMaster := range []bool{true, false} {
		mv := ""
		if withMaster {
			mv = master
		}
		files := renderAll(t, with(media, mv))
		for name, b := range files {
			pl := string(b)
			switch {
			case name == "main.m3u8":
				if got := strings.Count(pl, master+"\n"); withMaster && got != 1 {
					t.Errorf("multivariant playlist has the key server's session key %d times, want once:\n%s", got, pl)
				}
				if strings.Contains(pl, "skd://"+manifesttest.KIDVideo.String()) {
					t.Errorf("multivariant playlist has the default FairPlay session key:\n%s", pl)
				}
				if !withMaster && strings.Contains(pl, "com.apple.streamingkeydelivery") {
					t.Errorf("media lines only: FairPlay session key written:\n%s", pl)
				}
			case strings.HasPrefix(name, "video") || strings.HasPrefix(name, "audio"):
				if !strings.Contains(pl, "#EXT-X-INDEPENDENT-SEGMENTS\n") {
					continue
				}
				if strings.Count(pl, lf) != 1 || strings.Contains(pl, "\r") || strings.Contains(pl, `URI="skd://`+manifesttest.KIDVideo.String()) {
					t.Errorf("%s: key server lines not written once, verbatim:\n%s", name, pl)
				}
				// The EXT-X-MAP and the segments follow the keys.
				if i, j := strings.Index(pl, lf), strings.Index(pl, "#EXT-X-MAP:"); i < 0 || j < i {
					t.Errorf("%s: EXT-X-MAP before the key lines", name)
				}
			}
		}
	}
	for _, bad := range []string{"#EXT-X-KEY:METHOD=SAMPLE-AES\nsegment.m4s\n", "EXT-X-KEY:METHOD=SAMPLE-AES"} {
		for _, p := range []*manifest.Presentation{with(bad, ""), with("", bad)} {
			err := hls.RenderAll(p, "main.m3u8", func(string) (io.WriteCloser, error) { return &closer{files: map[string][]byte{}}, nil })
			if !errors.Is(err, hls.ErrText) {
				t.Errorf("%q: RenderAll = %v, want hls.ErrText", bad, err)
			}
		}
	}
}

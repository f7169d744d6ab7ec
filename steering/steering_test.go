package steering

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/cmafkit/cmafkit/internal/testutil"
)

const master = `#EXTM3U
#EXT-X-VERSION:6
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio-aac",NAME="und aac 2ch",LANGUAGE="und",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="audio_und_aac_2ch.m3u8"
#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID="cc",NAME="CC1",INSTREAM-ID="CC1"
#EXT-X-STREAM-INF:BANDWIDTH=782278,CODECS="avc1.64001f,mp4a.40.2",RESOLUTION=1280x720,AUDIO="audio-aac",CLOSED-CAPTIONS="cc"
video_720p_avc.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=357415,CODECS="avc1.64001e,mp4a.40.2",RESOLUTION=640x360,AUDIO="audio-aac",CLOSED-CAPTIONS="cc"
video_360p_avc.m3u8
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=20978,CODECS="avc1.64001f",RESOLUTION=1280x720,URI="video_720p_avc_iframes.m3u8"
`

func testConfig() *Config {
	return &Config{ServerURI: "https://steer.example/steer.json", Pathways: []Pathway{
		{ID: "cdn-a", BaseURL: "https://a.example/vod"}, {ID: "cdn-b", BaseURL: "https://b.example/"}}}
}

// TestHLS: every variant, I-frame stream and rendition group with a URI
// appears once per pathway, marked and absolute; closed captions stay one
// shared group; the steering tag names the server and default pathway.
func TestHLS(t *testing.T) {
	out, err := testConfig().HLS([]byte(master), "movies/a.mp4/")
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	for _, want := range []string{
		"#EXT-X-CONTENT-STEERING:SERVER-URI=\"https://steer.example/steer.json\",PATHWAY-ID=\"cdn-a\"\n",
		`GROUP-ID="audio-aac-cdn-a",NAME="und aac 2ch",LANGUAGE="und",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="https://a.example/vod/movies/a.mp4/audio_und_aac_2ch.m3u8"`,
		`GROUP-ID="audio-aac-cdn-b",NAME="und aac 2ch",LANGUAGE="und",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="https://b.example/movies/a.mp4/audio_und_aac_2ch.m3u8"`,
		"RESOLUTION=1280x720,AUDIO=\"audio-aac-cdn-b\",CLOSED-CAPTIONS=\"cc\",PATHWAY-ID=\"cdn-b\"\nhttps://b.example/movies/a.mp4/video_720p_avc.m3u8\n",
		"RESOLUTION=640x360,AUDIO=\"audio-aac-cdn-a\",CLOSED-CAPTIONS=\"cc\",PATHWAY-ID=\"cdn-a\"\nhttps://a.example/vod/movies/a.mp4/video_360p_avc.m3u8\n",
		`URI="https://b.example/movies/a.mp4/video_720p_avc_iframes.m3u8",PATHWAY-ID="cdn-b"`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("lacks %q:\n%s", want, s)
		}
	}
	for tag, n := range map[string]int{"#EXT-X-STREAM-INF:": 4, "#EXT-X-I-FRAME-STREAM-INF:": 2, "TYPE=AUDIO": 2, "TYPE=CLOSED-CAPTIONS": 1, "#EXT-X-VERSION": 1} {
		if got := strings.Count(s, tag); got != n {
			t.Errorf("%d %s, want %d", got, tag, n)
		}
	}
	if _, err := testConfig().HLS(out, ""); err == nil {
		t.Error("steering added twice")
	}
	if _, err := testConfig().HLS([]byte("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\na.m4s\n"), ""); err == nil {
		t.Error("a media playlist was taken")
	}
}

// TestDASH: a ContentSteering element and one BaseURL per pathway, in a
// document that still parses.
func TestDASH(t *testing.T) {
	mpd := `<?xml version="1.0" encoding="UTF-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" profiles="urn:mpeg:dash:profile:isoff-live:2011" type="static" minBufferTime="PT2S">
  <ProgramInformation><Title>t</Title></ProgramInformation>
  <Period id="0"></Period>
  <UTCTiming schemeIdUri="urn:mpeg:dash:utc:direct:2014" value="2026-12-05T00:00:00Z"></UTCTiming>
</MPD>
`
	c := testConfig()
	c.QueryBeforeStart = true
	out, err := c.DASH([]byte(mpd), "movies/a%20b.mp4/")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Steering struct {
			Default string `xml:"defaultServiceLocation,attr"`
			QBS     bool   `xml:"queryBeforeStart,attr"`
			URL     string `xml:",chardata"`
		} `xml:"ContentSteering"`
		Bases []struct {
			Loc string `xml:"serviceLocation,attr"`
			URL string `xml:",chardata"`
		} `xml:"BaseURL"`
		Periods []struct{} `xml:"Period"`
	}
	if err := xml.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	testutil.ValidateMPDBytes(t, "steered.mpd", out)
	if !bytes.HasSuffix(out, []byte("</ContentSteering>\n</MPD>\n")) || !bytes.Contains(out, []byte("</ProgramInformation>\n  <BaseURL")) {
		t.Errorf("elements out of the schema's order:\n%s", out)
	}
	if doc.Steering.Default != "cdn-a" || !doc.Steering.QBS || doc.Steering.URL != c.ServerURI || len(doc.Periods) != 1 {
		t.Errorf("ContentSteering %+v, %d periods", doc.Steering, len(doc.Periods))
	}
	if len(doc.Bases) != 2 || doc.Bases[0].Loc != "cdn-a" || doc.Bases[0].URL != "https://a.example/vod/movies/a%20b.mp4/" ||
		doc.Bases[1].Loc != "cdn-b" || doc.Bases[1].URL != "https://b.example/movies/a%20b.mp4/" {
		t.Errorf("BaseURLs %+v", doc.Bases)
	}
}

// TestCheck refuses unusable configurations.
func TestCheck(t *testing.T) {
	for name, c := range map[string]Config{
		"no server":   {Pathways: []Pathway{{ID: "a", BaseURL: "https://a/"}}},
		"no pathways": {ServerURI: "s.json"},
		"bad id":      {ServerURI: "s.json", Pathways: []Pathway{{ID: "a b", BaseURL: "https://a/"}}},
		"dup id":      {ServerURI: "s.json", Pathways: []Pathway{{ID: "a", BaseURL: "https://a/"}, {ID: "a", BaseURL: "https://b/"}}},
		"relative":    {ServerURI: "s.json", Pathways: []Pathway{{ID: "a", BaseURL: "/a/"}}},
		"quote":       {ServerURI: `s".json`, Pathways: []Pathway{{ID: "a", BaseURL: "https://a/"}}},
	} {
		if err := c.Check(); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v, want ErrConfig", name, err)
		}
	}
}

// TestHandler: the steering manifest follows the policy: order, a pathway
// marked down moved out, clones, TTL, weights.
func TestHandler(t *testing.T) {
	p := NewPolicy("cdn-a", "cdn-b")
	p.SetTTL(5e9)
	srv := httptest.NewServer(Handler(p))
	defer srv.Close()
	fetch := func() Manifest {
		t.Helper()
		resp, err := http.Get(srv.URL + "/steer.json?_HLS_pathway=cdn-a&_HLS_throughput=1000")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("headers %v", resp.Header)
		}
		var m Manifest
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	m := fetch()
	if m.Version != 1 || m.TTL != 5 || m.ReloadURI != "/steer.json" || !slices.Equal(m.Priority, []string{"cdn-a", "cdn-b"}) {
		t.Errorf("%+v", m)
	}
	p.SetDown("cdn-a", true)
	if m := fetch(); !slices.Equal(m.Priority, []string{"cdn-b"}) {
		t.Errorf("cdn-a down: %v", m.Priority)
	}
	p.SetDown("cdn-b", true)
	if m := fetch(); !slices.Equal(m.Priority, []string{"cdn-a", "cdn-b"}) {
		t.Errorf("all down: %v, want every pathway", m.Priority)
	}
	p.SetDown("cdn-a", false)
	p.SetDown("cdn-b", false)
	p.SetClones([]Clone{{BaseID: "cdn-b", ID: "cdn-c", Host: "c.example"}})
	m = fetch()
	if len(m.Clones) != 1 || m.Clones[0].Replacement["HOST"] != "c.example" || !slices.Contains(m.Priority, "cdn-c") {
		t.Errorf("clones: %+v", m)
	}
	p.SetClones(nil)
	p.SetWeights(map[string]float64{"cdn-a": 3, "cdn-b": 1})
	first := map[string]int{}
	for range 2000 {
		first[p.Priority()[0]]++
	}
	if a := first["cdn-a"]; a < 1300 || a > 1700 {
		t.Errorf("weights 3:1 put cdn-a first %d times in 2000", a)
	}
}

package hls_test

// Each test here shows a problem of github.com/grafov/m3u8 v0.12.1 that made
// this package write playlists itself, next to what we write instead. If a
// later grafov release fixes one, its test fails: the work-around can then
// be reconsidered.

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/grafov/m3u8"

	"github.com/cmafkit/cmafkit/drm"
	"github.com/cmafkit/cmafkit/manifest/internal/manifesttest"
)

func grafovMedia(t *testing.T) *m3u8.MediaPlaylist {
	t.Helper()
	p, err := m3u8.NewMediaPlaylist(0, 4)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// EXT-X-MAP in a playlist that is not I-frames-only needs version 6 (RFC
// 8216 section 7); grafov writes 5.
func TestGrafovVersionWithMap(t *testing.T) {
	p := grafovMedia(t)
	p.SetDefaultMap("init.mp4", 0, 0)
	p.Append("seg-1.m4s", 2, "")
	p.Close()
	if !strings.Contains(p.String(), "#EXT-X-VERSION:5\n") {
		t.Errorf("grafov no longer writes version 5 with EXT-X-MAP:\n%s", p)
	}
	ours := renderAll(t, manifesttest.Ladder(8*time.Second))["video-720p.m3u8"]
	if !bytes.Contains(ours, []byte("#EXT-X-VERSION:6\n")) || !bytes.Contains(ours, []byte("#EXT-X-MAP:")) {
		t.Errorf("ours lacks version 6 with EXT-X-MAP:\n%s", ours)
	}
}

// BYTERANGE of EXT-X-MAP is a quoted-string (RFC 8216 4.3.2.5); grafov
// writes it bare.
func TestGrafovMapByteRangeQuoting(t *testing.T) {
	p := grafovMedia(t)
	p.SetDefaultMap("file.mp4", 700, 0)
	p.Append("file.mp4", 2, "")
	if !strings.Contains(p.String(), `#EXT-X-MAP:URI="file.mp4",BYTERANGE=700@0`) {
		t.Errorf("grafov no longer writes an unquoted BYTERANGE:\n%s", p)
	}
	ours := renderAll(t, manifesttest.SingleFile(8*time.Second))["video-720p.m3u8"]
	if !bytes.Contains(ours, []byte(`#EXT-X-MAP:URI="video-720p.mp4",BYTERANGE="700@0"`)) {
		t.Errorf("ours lacks a quoted BYTERANGE:\n%s", ours)
	}
}

// PROGRAM-ID was removed in protocol version 6; grafov always writes it.
func TestGrafovProgramID(t *testing.T) {
	m := m3u8.NewMasterPlaylist()
	m.Append("v.m3u8", nil, m3u8.VariantParams{Bandwidth: 1000, Codecs: "avc1.64001f"})
	m.SetVersion(6)
	if !strings.Contains(m.String(), "PROGRAM-ID=0") {
		t.Errorf("grafov no longer writes PROGRAM-ID:\n%s", m)
	}
	ours := renderAll(t, manifesttest.Ladder(8*time.Second))["main.m3u8"]
	if bytes.Contains(ours, []byte("PROGRAM-ID")) {
		t.Errorf("ours writes PROGRAM-ID:\n%s", ours)
	}
}

// FORCED is an enumerated-string (YES/NO), never quoted; grafov quotes it.
func TestGrafovForcedQuoting(t *testing.T) {
	m := m3u8.NewMasterPlaylist()
	m.Append("v.m3u8", nil, m3u8.VariantParams{Bandwidth: 1000, Subtitles: "subs", Alternatives: []*m3u8.Alternative{
		{GroupId: "subs", Type: "SUBTITLES", Name: "English", Language: "en", Forced: "NO", URI: "s.m3u8"},
	}})
	if !strings.Contains(m.String(), `FORCED="NO"`) {
		t.Errorf("grafov no longer quotes FORCED:\n%s", m)
	}
	ours := renderAll(t, manifesttest.Ladder(8*time.Second))["main.m3u8"]
	if !bytes.Contains(ours, []byte(",FORCED=NO,")) {
		t.Errorf("ours lacks an unquoted FORCED:\n%s", ours)
	}
}

// grafov has no CHANNELS attribute: it cannot write it and drops it when a
// playlist is read and written again.
func TestGrafovChannels(t *testing.T) {
	if _, ok := reflect.TypeOf(m3u8.Alternative{}).FieldByName("Channels"); ok {
		t.Error("grafov's Alternative now has a Channels field")
	}
	ours := renderAll(t, manifesttest.Ladder(8*time.Second))["main.m3u8"]
	if !bytes.Contains(ours, []byte(`CHANNELS="2"`)) {
		t.Fatalf("ours lacks CHANNELS:\n%s", ours)
	}
	pl, _, err := m3u8.DecodeFrom(bytes.NewReader(ours), true)
	if err != nil {
		t.Fatal(err)
	}
	if again := pl.(*m3u8.MasterPlaylist).String(); strings.Contains(again, "CHANNELS") {
		t.Errorf("grafov now keeps CHANNELS through decode and encode:\n%s", again)
	}
}

// grafov has no EXT-X-SESSION-KEY: it drops the tag on a round trip.
func TestGrafovSessionKey(t *testing.T) {
	ours := renderAll(t, manifesttest.Protected(8*time.Second, drm.SchemeCBCS))["main.m3u8"]
	if !bytes.Contains(ours, []byte(`#EXT-X-SESSION-KEY:METHOD=SAMPLE-AES,URI="skd://`)) {
		t.Fatalf("ours lacks EXT-X-SESSION-KEY:\n%s", ours)
	}
	pl, _, err := m3u8.DecodeFrom(bytes.NewReader(ours), true)
	if err != nil {
		t.Fatal(err)
	}
	if again := pl.(*m3u8.MasterPlaylist).String(); strings.Contains(again, "SESSION-KEY") {
		t.Errorf("grafov now keeps EXT-X-SESSION-KEY:\n%s", again)
	}
}

// grafov ties keys to segments: a playlist read with one EXT-X-KEY is
// written with the key twice, and keys set per segment are repeated before
// every segment even when they do not change.
func TestGrafovKeyPerSegment(t *testing.T) {
	p := grafovMedia(t)
	for i := 0; i < 3; i++ {
		p.Append("seg.m4s", 2, "")
		p.SetKey("SAMPLE-AES", "skd://k", "", "com.apple.streamingkeydelivery", "1")
	}
	if n := strings.Count(p.String(), "#EXT-X-KEY:"); n != 3 {
		t.Errorf("grafov wrote %d EXT-X-KEY tags for one unchanging key over 3 segments; it used to write 3", n)
	}
	ours := renderAll(t, manifesttest.Protected(8*time.Second, drm.SchemeCBCS))["video-720p.m3u8"]
	// One tag per DRM system (Widevine, PlayReady and FairPlay).
	if n := bytes.Count(ours, []byte("#EXT-X-KEY:")); n != 3 {
		t.Errorf("ours wrote %d EXT-X-KEY tags, want 3:\n%s", n, ours)
	}
	pl, _, err := m3u8.DecodeFrom(bytes.NewReader([]byte("#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:2\n#EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"skd://k\"\n#EXTINF:2,\na.m4s\n#EXTINF:2,\nb.m4s\n#EXT-X-ENDLIST\n")), true)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(pl.(*m3u8.MediaPlaylist).String(), "#EXT-X-KEY:"); n != 2 {
		t.Errorf("grafov round trip wrote %d EXT-X-KEY tags for one; it used to write 2", n)
	}
}

type tag string

func (t tag) TagName() string       { return "#" + string(t) }
func (t tag) Encode() *bytes.Buffer { return bytes.NewBufferString("#" + string(t)) }
func (t tag) String() string        { return "#" + string(t) }

// grafov writes custom tags in map order, so the same playlist comes out in
// different orders; our output is byte-for-byte stable (see TestGolden and
// TestDeterministic).
func TestGrafovCustomTagOrder(t *testing.T) {
	orders := map[string]bool{}
	for i := 0; i < 50 && len(orders) < 2; i++ {
		p := grafovMedia(t)
		for _, name := range []string{"X-A", "X-B", "X-C", "X-D", "X-E", "X-F"} {
			p.SetCustomTag(tag(name))
		}
		orders[p.String()] = true
	}
	if len(orders) < 2 {
		t.Error("grafov wrote custom tags in one order 50 times; map order is no longer visible")
	}
}

func TestDeterministic(t *testing.T) {
	first := renderAll(t, manifesttest.Protected(8*time.Second, drm.SchemeCBCS))
	for i := 0; i < 20; i++ {
		again := renderAll(t, manifesttest.Protected(8*time.Second, drm.SchemeCBCS))
		for name, b := range first {
			if !bytes.Equal(b, again[name]) {
				t.Fatalf("%s differs between runs", name)
			}
		}
	}
}

// grafov formats EXTINF from a float32 with three decimals, so durations of
// 48 kHz audio segments lose precision and their sum drifts from the
// presentation duration; we write up to nanoseconds.
func TestGrafovExtinfPrecision(t *testing.T) {
	p := grafovMedia(t)
	p.Append("a.m4s", 96256.0/48000, "") // 2.0053333…
	if !strings.Contains(p.String(), "#EXTINF:2.005,") {
		t.Errorf("grafov no longer writes 2.005:\n%s", p)
	}
	ours := renderAll(t, manifesttest.Ladder(8*time.Second))["audio-en.m3u8"]
	if !bytes.Contains(ours, []byte("#EXTINF:2.005333333,")) {
		t.Errorf("ours lacks nanosecond EXTINF:\n%s", ours)
	}
}

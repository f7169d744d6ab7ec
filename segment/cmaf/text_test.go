package cmaf_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/cmafkit/cmafkit/segment"
	"github.com/cmafkit/cmafkit/segment/cmaf"
	"github.com/cmafkit/cmafkit/segment/internal/mp4fixture"
	"github.com/cmafkit/cmafkit/segment/webvtt"
)

func openVTT(t *testing.T, name string) *segment.Source {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	src, err := webvtt.Open(context.Background(), f, name, nil)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// TestOpenWebVTT: a .vtt document read directly and the wvtt MP4 made from
// it (testdata/genwvtt) give the same track: samples and payloads.
func TestOpenWebVTT(t *testing.T) {
	vtt := openVTT(t, "subtitles_en.vtt").Tracks[0]
	mp4t := openTestFile(t, "wvtt.mp4").Tracks[0]
	if vtt.Codec != "wvtt" || mp4t.Codec != "wvtt" || vtt.Kind != segment.KindText || mp4t.Language != "eng" {
		t.Fatalf("tracks %s (%s) and %s (%s)", vtt, vtt.Language, mp4t, mp4t.Language)
	}
	a, b := allSamples(t, vtt), allSamples(t, mp4t)
	if len(a) != len(b) || len(a) != 8 {
		t.Fatalf("%d and %d samples, want 8", len(a), len(b))
	}
	for i := range a {
		if a[i].DecodeTime != b[i].DecodeTime || a[i].Duration != b[i].Duration || a[i].Size != b[i].Size || !b[i].Sync {
			t.Errorf("sample %d: %+v vs %+v", i, a[i], b[i])
		}
		pa, err := vtt.Data.AppendSample(nil, &a[i])
		if err != nil {
			t.Fatal(err)
		}
		pb, err := mp4t.Data.AppendSample(nil, &b[i])
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(pa, pb) {
			t.Errorf("sample %d payloads differ", i)
		}
	}
	if got := cmaf.WebVTTHeader(mp4t); got != "Kind: captions\n\nSTYLE\n::cue(b) { color: yellow; }" {
		t.Errorf("header %q", got)
	}
	if _, err := webvtt.Open(context.Background(), strings.NewReader("WEBVTT\n\nNOTE only\n"), "empty.vtt", nil); err == nil {
		t.Error("a document without cues must fail")
	}
}

// textPlan plans 2 s segments of the 360p ladder video with a text track.
func textPlan(t *testing.T, text *segment.Track) (*segment.Plan, *segment.Track) {
	t.Helper()
	video := openTestFile(t, "ladder_360p.mp4").Tracks[0]
	plan, err := segment.PlanSegments([]*segment.Track{video, text}, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	al, err := segment.AlignText(text, plan)
	if err != nil {
		t.Fatal(err)
	}
	return plan, al
}

// TestAlignText: the aligned wvtt track is contiguous from 0 to the end of
// the presentation, every segment starts exactly at its boundary, samples
// spanning a boundary are split with the same payload, and the CMAF output
// round-trips.
func TestAlignText(t *testing.T) {
	src := openTestFile(t, "wvtt.mp4").Tracks[0]
	plan, al := textPlan(t, src)
	if len(plan.Starts) != 4 {
		t.Fatalf("plan %v", plan.Starts)
	}
	ss := allSamples(t, al)
	var at uint64
	for i, s := range ss {
		if s.DecodeTime != at || s.Duration == 0 {
			t.Fatalf("sample %d starts at %d (want %d), duration %d", i, s.DecodeTime, at, s.Duration)
		}
		at += uint64(s.Duration)
	}
	// The video ends at 8.008 s (timescale 1000: 8008); the cues at 7.8 s.
	if at != 8008 || al.Duration != 8008 {
		t.Errorf("text ends at %d, duration %d, want 8008", at, al.Duration)
	}
	cuts, err := plan.Cuts(al)
	if err != nil {
		t.Fatal(err)
	}
	for k, b := range plan.Starts {
		want := uint64((b*1000 + int64(plan.Timescale)/2) / int64(plan.Timescale))
		if got := ss[cuts[k]].DecodeTime; got != want {
			t.Errorf("segment %d starts at %d ms, boundary %d ms", k+1, got, want)
		}
	}
	// 8 source samples; the 2.002, 4.004 and 6.006 s boundaries each split one; one vtte at the end.
	if len(ss) != 8+3+1 {
		t.Errorf("%d aligned samples, want 12", len(ss))
	}
	// Split pieces share the payload of their source sample.
	for i := 1; i < len(ss); i++ {
		if ss[i].Offset == ss[i-1].Offset && ss[i].Size != ss[i-1].Size {
			t.Errorf("pieces %d and %d of one sample differ in size", i-1, i)
		}
	}
	init, segs, infos := writeTrack(t, al, plan, cmaf.Options{})
	checkRoundTrip(t, al, init, segs, infos)
	var dump strings.Builder
	f, err := mp4.DecodeFile(bytes.NewReader(append(append([]byte(nil), init...), segs[1]...)))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Info(&dump, "all:1", "", "  "); err != nil {
		t.Fatal(err)
	}
	compareGolden(t, filepath.Join("testdata", "wvtt.aligned.golden"), dump.String())
}

// TestAlignStpp: the one TTML sample ffmpeg writes for the whole track is
// repeated in every segment (TTML times are on the track timeline), and an
// empty TTML document covers the rest of the presentation (the cues end at
// 7.8 s, the video at 8.008 s), as vtte samples do for wvtt.
func TestAlignStpp(t *testing.T) {
	src := openTestFile(t, "ladder_360p_text.mp4")
	var stpp *segment.Track
	for _, tr := range src.Tracks {
		if tr.Codec == "stpp.ttml.im1t" {
			stpp = tr
		}
	}
	if stpp == nil || stpp.Language != "eng" {
		t.Fatalf("no English stpp track in %v", src.Tracks)
	}
	plan, al := textPlan(t, stpp)
	ss := allSamples(t, al)
	if len(ss) != 5 {
		t.Fatalf("%d samples, want the one sample in 4 pieces and an empty document: %+v", len(ss), ss)
	}
	for _, s := range ss[1:4] {
		if s.Offset != ss[0].Offset || s.Size != ss[0].Size {
			t.Errorf("piece %+v is not the source sample", s)
		}
	}
	// Contiguous from 0 to the end of the video (8.008 s; timescale 1e6).
	var at uint64
	for i, s := range ss {
		if s.DecodeTime != at {
			t.Fatalf("sample %d starts at %d, want %d", i+1, s.DecodeTime, at)
		}
		at += uint64(s.Duration)
	}
	if at != 8008000 || al.Duration != 8008000 {
		t.Errorf("text ends at %d, duration %d; want 8008000", at, al.Duration)
	}
	init, segs, infos := writeTrack(t, al, plan, cmaf.Options{})
	checkRoundTrip(t, al, init, segs, infos)
	if len(segs) != 4 || !bytes.Contains(segs[3], []byte("Overlapping last cue")) || !bytes.Contains(segs[3], []byte(segment.EmptyTTML)) {
		t.Errorf("%d segments; the last must carry the TTML document and the empty one", len(segs))
	}
	if d := infos[3].Duration; d != 2002000 {
		t.Errorf("last segment lasts %d µs, want 2002000 (to the end of the video)", d)
	}
	// The empty document is well-formed XML with a tt root and no text.
	var doc struct {
		XMLName xml.Name
		Body    struct {
			Inner string `xml:",innerxml"`
		} `xml:"body"`
	}
	if err := xml.Unmarshal([]byte(segment.EmptyTTML), &doc); err != nil || doc.XMLName.Local != "tt" ||
		doc.XMLName.Space != "http://www.w3.org/ns/ttml" || doc.Body.Inner != "" {
		t.Errorf("EmptyTTML: %v %+v", err, doc)
	}
	var dump strings.Builder
	f, err := mp4.DecodeFile(bytes.NewReader(init))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Info(&dump, "all:1", "", "  "); err != nil {
		t.Fatal(err)
	}
	compareGolden(t, filepath.Join("testdata", "stpp.init.golden"), dump.String())
}

// TestWriteWebVTT writes the HLS WebVTT segments of the aligned wvtt track:
// goldens, and each parses back with exactly the source cues displayed
// during its time span, each with its whole source timing even where it
// crosses the segment's edges (RFC 8216 3.5).
func TestWriteWebVTT(t *testing.T) {
	srcDoc, err := webvtt.Parse(bytes.NewReader(mp4fixture.Testdata(t, "subtitles_en.vtt")))
	if err != nil {
		t.Fatal(err)
	}
	plan, al := textPlan(t, openVTT(t, "subtitles_en.vtt").Tracks[0])
	sw, err := cmaf.NewWriter(al, plan, cmaf.Options{})
	if err != nil {
		t.Fatal(err)
	}
	key := func(c webvtt.Cue) string { return fmt.Sprintf("%v-%v %q %q", c.Start, c.End, c.Settings, c.Text) }
	for i := 0; i < sw.Len(); i++ {
		var b bytes.Buffer
		info, err := sw.WriteWebVTT(context.Background(), &b, i)
		if err != nil {
			t.Fatal(err)
		}
		if info.Size != int64(b.Len()) {
			t.Errorf("segment %d: size %d, wrote %d", i, info.Size, b.Len())
		}
		compareGolden(t, filepath.Join("testdata", fmt.Sprintf("subtitles_en.seg%d.vtt.golden", i+1)), b.String())
		doc, err := webvtt.Parse(&b)
		if err != nil {
			t.Fatalf("segment %d: %v", i, err)
		}
		start := time.Duration(info.PresentationTime) * time.Millisecond
		end := start + time.Duration(info.Duration)*time.Millisecond
		var got, want []string
		for _, c := range doc.Cues {
			got = append(got, key(c))
		}
		for _, c := range srcDoc.Cues {
			if c.End > start && c.Start < end {
				c.ID = "" // identifiers are compared through the goldens
				want = append(want, key(c))
			}
		}
		for k := range doc.Cues {
			doc.Cues[k].ID = ""
			got[k] = key(doc.Cues[k])
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("segment %d [%v, %v): cues\n%s\nwant the source cues\n%s", i+1, start, end, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	if _, err := sw.WriteWebVTT(context.Background(), &bytes.Buffer{}, sw.Len()); err == nil {
		t.Error("segment out of range must fail")
	}
}

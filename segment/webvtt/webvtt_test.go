package webvtt_test

import (
	"bytes"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/segment/webvtt"
)

func ms(v int) time.Duration { return time.Duration(v) * time.Millisecond }

func TestParse(t *testing.T) {
	f, err := os.Open("../../testdata/subtitles_en.vtt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := webvtt.Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	want := []webvtt.Cue{
		{ID: "intro", Start: ms(500), End: ms(2000), Text: "Hello <b>world</b>"},
		{Start: ms(1500), End: ms(5200), Settings: "line:0 align:start", Text: "Second cue\nspanning the 4 s boundary"},
		{Start: ms(6000), End: ms(7500), Settings: "position:20%", Text: "Third"},
		{Start: ms(7000), End: ms(7800), Text: "Overlapping last cue"},
	}
	if !reflect.DeepEqual(doc.Cues, want) {
		t.Errorf("cues:\n%+v\nwant\n%+v", doc.Cues, want)
	}
	if doc.Header != "Kind: captions\n\nSTYLE\n::cue(b) { color: yellow; }" {
		t.Errorf("header %q", doc.Header)
	}
}

func TestParseErrors(t *testing.T) {
	for _, in := range []string{
		"", "WEBVTTX\n", "hello",
		"WEBVTT\n\n00:01.000 --> 00:00.500\nends before it starts",
		"WEBVTT\n\n00:01.00 --> 00:02.000\nshort millis",
		"WEBVTT\n\n00:61.000 --> 00:62.000\nseconds",
		"WEBVTT\n\n1:00:01.000 --> 00:02.000\none-digit hours",
	} {
		if _, err := webvtt.Parse(strings.NewReader(in)); !errors.Is(err, webvtt.ErrSyntax) {
			t.Errorf("%q: got %v, want ErrSyntax", in, err)
		}
	}
	// CRLF, a BOM and hours are fine.
	doc, err := webvtt.Parse(strings.NewReader("\xef\xbb\xbfWEBVTT\r\n\r\n01:00:00.000 --> 01:00:01.250\r\nx\r\n"))
	if err != nil || len(doc.Cues) != 1 || doc.Cues[0].Start != time.Hour || doc.Cues[0].End != time.Hour+ms(1250) {
		t.Errorf("got %+v, %v", doc, err)
	}
}

func TestParseTimestamp(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"00:00.000":         0,
		"01:02.003":         ms(62_003),
		"01:02:03.004":      ms(3_723_004),
		"100:00:00.000":     100 * time.Hour,
		"2562047:47:16.854": 2562047*time.Hour + 47*time.Minute + 16*time.Second + ms(854), // the largest time.Duration in ms
	} {
		if got, err := webvtt.ParseTimestamp(in); err != nil || got != want {
			t.Errorf("%q: got %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "00.000", "00:00:00:00.000", "00:00.00", "00:00.0000", "00::00.000",
		"00:60.000", "60:00.000" + "x", "1:00:00.000", "00:0a.000", "-1:00.000", "00:00,000", "4294967296:00:00.000",
		"2562047:47:16.855", "4294967295:00:00.000"} {
		if _, err := webvtt.ParseTimestamp(in); !errors.Is(err, webvtt.ErrSyntax) {
			t.Errorf("%q: got %v, want ErrSyntax", in, err)
		}
	}
}

// TestSamplesRoundTrip: cues → contiguous non-overlapping samples → wvtt
// payloads → decoded → merged gives the cues back.
func TestSamplesRoundTrip(t *testing.T) {
	cues := []webvtt.Cue{
		{ID: "a", Start: ms(500), End: ms(2000), Text: "one"},
		{Start: ms(1500), End: ms(5200), Settings: "line:0", Text: "two\nlines"},
		{Start: ms(7000), End: ms(7800), Text: "three"},
	}
	samples := toSamples(t, cues, ms(9000))
	wantBounds := [][2]int{{0, 500}, {500, 1500}, {1500, 2000}, {2000, 5200}, {5200, 7000}, {7000, 7800}, {7800, 9000}}
	if len(samples) != len(wantBounds) {
		t.Fatalf("%d samples, want %d: %+v", len(samples), len(wantBounds), samples)
	}
	for i, s := range samples {
		if s.Start != ms(wantBounds[i][0]) || s.End != ms(wantBounds[i][1]) {
			t.Errorf("sample %d: [%v, %v)", i, s.Start, s.End)
		}
		b := webvtt.AppendSample(nil, s.Cues)
		got, err := webvtt.DecodeSample(b)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(s.Cues) {
			t.Fatalf("sample %d: %d cues decoded, want %d", i, len(got), len(s.Cues))
		}
		if len(s.Cues) == 0 && !bytes.Equal(b, []byte("\x00\x00\x00\x08vtte")) {
			t.Errorf("empty sample is % x, want a vtte box", b)
		}
		samples[i].Cues = got
	}
	if got := webvtt.Merge(samples); !reflect.DeepEqual(got, cues) {
		t.Errorf("merged:\n%+v\nwant\n%+v", got, cues)
	}
}

func TestWrite(t *testing.T) {
	var b bytes.Buffer
	err := webvtt.Write(&b, []string{"X-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000"}, []webvtt.Cue{
		{ID: "a", Start: ms(500), End: ms(3_723_004), Settings: "line:0", Text: "x\ny"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000\n\na\n00:00:00.500 --> 01:02:03.004 line:0\nx\ny\n\n"
	if b.String() != want {
		t.Errorf("got %q\nwant %q", b.String(), want)
	}
	// What Write writes, Parse reads.
	doc, err := webvtt.Parse(&b)
	if err != nil || len(doc.Cues) != 1 || doc.Cues[0].End != ms(3_723_004) {
		t.Errorf("reparse: %+v %v", doc, err)
	}
}

func TestDecodeSampleErrors(t *testing.T) {
	for _, b := range [][]byte{
		{0, 0, 0},
		{0, 0, 0, 4, 'v', 't', 't', 'c'},
		{0, 0, 0, 9, 'v', 't', 't', 'c'},
		{0, 0, 0, 16, 'v', 't', 't', 'c', 0, 0, 0, 9, 'p', 'a', 'y', 'l'},
	} {
		if _, err := webvtt.DecodeSample(b); !errors.Is(err, webvtt.ErrSyntax) {
			t.Errorf("% x: got %v, want ErrSyntax", b, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	seed, err := os.ReadFile("../../testdata/subtitles_en.vtt")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte("WEBVTT\n\n00:00.000 --> 00:01.000\nx\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 4<<10 {
			return // small documents reach every branch, and keep minimizing fast
		}
		doc, err := webvtt.Parse(bytes.NewReader(b))
		if err != nil {
			return
		}
		// Whatever parses survives the sample form, or is refused by a limit.
		checkSamples(t, doc.Cues)
	})
}

func FuzzDecodeSample(f *testing.F) {
	f.Add(webvtt.AppendSample(nil, []webvtt.Cue{{ID: "a", Settings: "line:0", Text: "x"}}))
	f.Add(webvtt.AppendSample(nil, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = webvtt.DecodeSample(b)
	})
}

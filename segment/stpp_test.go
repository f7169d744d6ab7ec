package segment_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/cmafkit/cmafkit/segment"
)

const (
	imscText  = "http://www.w3.org/ns/ttml/profile/imsc1/text"
	imscImage = "http://www.w3.org/ns/ttml/profile/imsc1/image"
)

// ttmlDoc returns a TTML document with the given attributes on tt, head
// content and body content.
func ttmlDoc(ttAttrs, head, body string) []byte {
	return []byte(`<?xml version="1.0" encoding="UTF-8"?>
<tt xmlns="http://www.w3.org/ns/ttml" xmlns:ttp="http://www.w3.org/ns/ttml#parameter" xmlns:tts="http://www.w3.org/ns/ttml#styling"
 xmlns:smpte="http://www.smpte-ra.org/schemas/2052-1/2010/smpte-tt" xml:lang="en" ` + ttAttrs + `>
<head>` + head + `</head>
<body><div>` + body + `</div></body></tt>
`)
}

const (
	textBody  = `<p begin="00:00:00.000" end="00:00:01.000">Hello</p>`
	imageBody = `<div begin="00:00:00.000" end="00:00:01.000" smpte:backgroundImage="urn:mpeg:14496-30:subs:1"/>`
)

// stppTrack sets up an stpp sample entry with the given schema location
// and, when mime is not "", a mime box.
func stppTrack(schema, mime string) func(*mp4.InitSegment, *mp4.TrakBox) {
	return func(_ *mp4.InitSegment, trak *mp4.TrakBox) {
		e := mp4.NewStppBox("http://www.w3.org/ns/ttml", schema, "")
		if mime != "" {
			e.AddChild(&mp4.MimeBox{ContentType: mime})
		}
		trak.Mdia.Minf.Stbl.Stsd.AddChild(e)
	}
}

// TestStppProfile: the codec string of an stpp track names the TTML
// profile the source declares (sample entry or documents), not always
// IMSC1 text: image subtitles are stpp.ttml.im1i.
func TestStppProfile(t *testing.T) {
	cases := []struct {
		name         string
		schema, mime string
		doc          []byte
		want         string
		warn         string
	}{
		{"schema location image", imscImage, "", ttmlDoc("", "", imageBody), "stpp.ttml.im1i", ""},
		{"schema location text", imscText, "", ttmlDoc("", "", textBody), "stpp.ttml.im1t", ""},
		{"mime codecs", "", "application/ttml+xml;codecs=stpp.ttml.im1i", ttmlDoc("", "", imageBody), "stpp.ttml.im1i", ""},
		{"mime short codecs", "", `application/ttml+xml; codecs="im2t"`, ttmlDoc("", "", textBody), "stpp.ttml.im2t", ""},
		{"mime wins over schema", imscText, "application/ttml+xml;codecs=im1i", ttmlDoc("", "", imageBody), "stpp.ttml.im1i", ""},
		{"ttp:profile image", "", "", ttmlDoc(`ttp:profile="`+imscImage+`"`, "", imageBody), "stpp.ttml.im1i", ""},
		{"ttp:contentProfiles IMSC 1.1 text", "", "", ttmlDoc(`ttp:contentProfiles="http://www.w3.org/ns/ttml/profile/imsc1.1/text"`, "", textBody), "stpp.ttml.im2t", ""},
		{"ttp:profile element", "", "", ttmlDoc("", `<ttp:profile use="`+imscImage+`"/>`, imageBody), "stpp.ttml.im1i", ""},
		{"no profile, text", "", "", ttmlDoc("", "", textBody), "stpp.ttml.im1t", ""},
		{"no profile, images only", "", "", ttmlDoc("", `<metadata><smpte:image imageType="PNG" encoding="Base64" xml:id="img1">iVBORw0KGgo=</smpte:image></metadata>`,
			`<div begin="0s" end="1s" smpte:backgroundImage="#img1"/>`), "stpp.ttml.im1i", ""},
		{"profile outside IMSC1", "", "", ttmlDoc(`ttp:profile="http://www.w3.org/ns/ttml/profile/sdp-us"`, "", textBody), "stpp", "plain stpp"},
	}
	for _, c := range cases {
		for _, layout := range []string{"fragmented", "progressive"} {
			t.Run(c.name+"/"+layout, func(t *testing.T) {
				samples := []fixtureSample{{data: c.doc, dur: 1000, sync: true}, {data: []byte(segment.EmptyTTML), dur: 1000, sync: true}}
				var b []byte
				if layout == "fragmented" {
					b = buildFMP4(t, 1000, "subtitle", stppTrack(c.schema, c.mime), samples)
				} else {
					b = buildProgressive(t, 1000, "subtitle", stppTrack(c.schema, c.mime), samples, nil)
				}
				var logs bytes.Buffer
				src, err := segment.Open(context.Background(), bytes.NewReader(b), int64(len(b)), "subs.mp4",
					&segment.OpenOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
				if err != nil {
					t.Fatal(err)
				}
				if got := src.Tracks[0].Codec; got != c.want {
					t.Errorf("codec %q, want %q", got, c.want)
				}
				if c.warn != "" && !strings.Contains(logs.String(), c.warn) {
					t.Errorf("no warning %q in %q", c.warn, logs.String())
				}
			})
		}
	}
}

// TestStppImageSubsamples: the images of IMSC1 image subtitles, carried as
// subsamples after the TTML document (ISO/IEC 14496-30), keep their subs
// box in every output fragment that holds them (players find the images
// through it), from fragmented and progressive sources, also when a
// sample is split across segments.
func TestStppImageSubsamples(t *testing.T) {
	doc := ttmlDoc(`ttp:profile="`+imscImage+`"`, "", imageBody+`<div begin="0s" end="3s" smpte:backgroundImage="urn:mpeg:14496-30:subs:2"/>`)
	img1, img2 := bytes.Repeat([]byte{0x89, 'P', 'N', 'G'}, 50), bytes.Repeat([]byte{0x89, 'P', 'N', 'G'}, 70)
	withImages := append(append(append([]byte(nil), doc...), img1...), img2...)
	subs := []mp4.SubsSample{{SubsampleSize: uint32(len(doc))}, {SubsampleSize: uint32(len(img1))}, {SubsampleSize: uint32(len(img2))}}
	// Sample 1 (3 s, over the 2 s boundary) has images, sample 2 does not.
	samples := []fixtureSample{{data: withImages, dur: 3000, sync: true}, {data: []byte(segment.EmptyTTML), dur: 1000, sync: true}}
	subsBox := func() *mp4.SubsBox {
		return &mp4.SubsBox{Version: 1, Entries: []mp4.SubsEntry{{SampleDelta: 1, SubSamples: subs}}}
	}
	inputs := map[string][]byte{
		"progressive": buildProgressive(t, 1000, "subtitle", stppTrack("", ""), samples, func(stbl *mp4.StblBox) { stbl.AddChild(subsBox()) }),
	}
	frag := buildFMP4(t, 1000, "subtitle", stppTrack("", ""), samples)
	{
		f, err := mp4.DecodeFile(bytes.NewReader(frag))
		if err != nil {
			t.Fatal(err)
		}
		traf := f.Segments[0].Fragments[0].Moof.Traf
		if err := traf.AddChild(subsBox()); err != nil {
			t.Fatal(err)
		}
		f.Segments[0].Fragments[0].SetTrunDataOffsets()
		var b bytes.Buffer
		if err := f.Encode(&b); err != nil {
			t.Fatal(err)
		}
		inputs["fragmented"] = b.Bytes()
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			src, err := segment.Open(context.Background(), bytes.NewReader(in), int64(len(in)), name+".mp4", nil)
			if err != nil {
				t.Fatal(err)
			}
			tr := src.Tracks[0]
			if tr.Codec != "stpp.ttml.im1i" || tr.Subsamples == nil {
				t.Fatalf("track %s, subsamples %v", tr, tr.Subsamples)
			}
			plan, al := textPlan(t, tr) // cut at 2 s, 4 s, ... by a video track
			for _, chunk := range []time.Duration{0, time.Nanosecond} {
				init, segs, _ := writeTrack(t, al, plan, segment.SegmentOptions{ChunkDuration: chunk})
				if len(segs) < 3 {
					t.Fatalf("%d segments", len(segs))
				}
				for i, seg := range segs {
					f, err := mp4.DecodeFile(bytes.NewReader(append(append([]byte(nil), init...), seg...)))
					if err != nil {
						t.Fatal(err)
					}
					for j, fr := range f.Segments[0].Fragments {
						var got *mp4.SubsBox
						for _, c := range fr.Moof.Traf.Children {
							if s, ok := c.(*mp4.SubsBox); ok {
								got = s
							}
						}
						full, err := fr.GetFullSamples(nil)
						if err != nil {
							t.Fatal(err)
						}
						// Segments 1 and 2 start with a piece of sample 1 (0-3 s):
						// the document and its images, with their subsamples.
						if i < 2 && j == 0 {
							if got == nil || len(got.Entries) != 1 || got.Entries[0].SampleDelta != 1 || fmt.Sprint(got.Entries[0].SubSamples) != fmt.Sprint(subs) {
								t.Fatalf("chunk %v segment %d: subs %+v, want one entry for sample 1 with %v", chunk, i+1, got, subs)
							}
							if !bytes.Equal(full[0].Data, withImages) {
								t.Errorf("chunk %v segment %d: first sample is not the document with its images", chunk, i+1)
							}
							continue
						}
						// Sample 2 and the empty samples after the source's have none.
						if got != nil {
							t.Errorf("chunk %v segment %d fragment %d: subs box %+v for samples without images", chunk, i+1, j+1, got)
						}
					}
				}
			}
		})
	}
}

// FuzzStpp feeds mutated stpp tracks with image subsamples (progressive and
// fragmented) through indexing and segment writing.
func FuzzStpp(f *testing.F) {
	doc := ttmlDoc(`ttp:profile="`+imscImage+`"`, "", imageBody)
	img := []byte("\x89PNG image")
	samples := []fixtureSample{{data: append(append([]byte(nil), doc...), img...), dur: 1000, sync: true}}
	subs := func() *mp4.SubsBox {
		return &mp4.SubsBox{Entries: []mp4.SubsEntry{{SampleDelta: 1, SubSamples: []mp4.SubsSample{{SubsampleSize: uint32(len(doc))}, {SubsampleSize: uint32(len(img))}}}}}
	}
	f.Add(buildProgressive(f, 1000, "subtitle", stppTrack("", ""), samples, func(stbl *mp4.StblBox) { stbl.AddChild(subs()) }))
	f.Add(buildFMP4(f, 1000, "subtitle", stppTrack(imscImage, "application/ttml+xml;codecs=im1i"), samples))
	f.Fuzz(func(t *testing.T, b []byte) {
		wd := time.AfterFunc(5*time.Second, func() { panic("FuzzStpp: one input took over 5 s") })
		defer wd.Stop()
		_ = open(b)
	})
}

// TestStppBadSubsamples: subsamples larger than their sample are refused.
func TestStppBadSubsamples(t *testing.T) {
	doc := ttmlDoc("", "", textBody)
	b := buildProgressive(t, 1000, "subtitle", stppTrack("", ""), []fixtureSample{{data: doc, dur: 1000, sync: true}}, func(stbl *mp4.StblBox) {
		stbl.AddChild(&mp4.SubsBox{Version: 1, Entries: []mp4.SubsEntry{{SampleDelta: 1, SubSamples: []mp4.SubsSample{{SubsampleSize: uint32(len(doc))}, {SubsampleSize: 10}}}}})
	})
	err := open(b)
	if err == nil || !strings.Contains(err.Error(), "subsamples larger than their sample") {
		t.Fatalf("got %v", err)
	}
}

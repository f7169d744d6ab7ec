package isobmff_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/cmafkit/cmafkit/segment"
	"github.com/cmafkit/cmafkit/segment/internal/mp4fixture"
)

const (
	imscText  = "http://www.w3.org/ns/ttml/profile/imsc1/text"
	imscImage = "http://www.w3.org/ns/ttml/profile/imsc1/image"
)

const (
	textBody  = `<p begin="00:00:00.000" end="00:00:01.000">Hello</p>`
	imageBody = `<div begin="00:00:00.000" end="00:00:01.000" smpte:backgroundImage="urn:mpeg:14496-30:subs:1"/>`
)

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
		{"schema location image", imscImage, "", mp4fixture.TTML("", "", imageBody), "stpp.ttml.im1i", ""},
		{"schema location text", imscText, "", mp4fixture.TTML("", "", textBody), "stpp.ttml.im1t", ""},
		{"mime codecs", "", "application/ttml+xml;codecs=stpp.ttml.im1i", mp4fixture.TTML("", "", imageBody), "stpp.ttml.im1i", ""},
		{"mime short codecs", "", `application/ttml+xml; codecs="im2t"`, mp4fixture.TTML("", "", textBody), "stpp.ttml.im2t", ""},
		{"mime wins over schema", imscText, "application/ttml+xml;codecs=im1i", mp4fixture.TTML("", "", imageBody), "stpp.ttml.im1i", ""},
		{"ttp:profile image", "", "", mp4fixture.TTML(`ttp:profile="`+imscImage+`"`, "", imageBody), "stpp.ttml.im1i", ""},
		{"ttp:contentProfiles IMSC 1.1 text", "", "", mp4fixture.TTML(`ttp:contentProfiles="http://www.w3.org/ns/ttml/profile/imsc1.1/text"`, "", textBody), "stpp.ttml.im2t", ""},
		{"ttp:profile element", "", "", mp4fixture.TTML("", `<ttp:profile use="`+imscImage+`"/>`, imageBody), "stpp.ttml.im1i", ""},
		{"no profile, text", "", "", mp4fixture.TTML("", "", textBody), "stpp.ttml.im1t", ""},
		{"no profile, images only", "", "", mp4fixture.TTML("", `<metadata><smpte:image imageType="PNG" encoding="Base64" xml:id="img1">iVBORw0KGgo=</smpte:image></metadata>`,
			`<div begin="0s" end="1s" smpte:backgroundImage="#img1"/>`), "stpp.ttml.im1i", ""},
		{"profile outside IMSC1", "", "", mp4fixture.TTML(`ttp:profile="http://www.w3.org/ns/ttml/profile/sdp-us"`, "", textBody), "stpp", "plain stpp"},
	}
	for _, c := range cases {
		for _, layout := range []string{"fragmented", "progressive"} {
			t.Run(c.name+"/"+layout, func(t *testing.T) {
				samples := []mp4fixture.Sample{{Data: c.doc, Dur: 1000, Sync: true}, {Data: []byte(segment.EmptyTTML), Dur: 1000, Sync: true}}
				var b []byte
				if layout == "fragmented" {
					b = mp4fixture.FMP4(t, 1000, "subtitle", mp4fixture.Stpp(c.schema, c.mime), samples)
				} else {
					b = mp4fixture.Progressive(t, 1000, "subtitle", mp4fixture.Stpp(c.schema, c.mime), samples, nil)
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

// FuzzStpp feeds stpp tracks with image subsamples (progressive and
// fragmented), changed by fuzzed edit lists (applyEdits), through indexing
// and segment writing. The fuzzed value is the short edit list, not the
// file: whole files as inputs kept the fuzzer minimizing (quadratic in the
// input's length) instead of running inputs.
func FuzzStpp(f *testing.F) {
	doc := mp4fixture.TTML(`ttp:profile="`+imscImage+`"`, "", imageBody)
	img := []byte("\x89PNG image")
	samples := []mp4fixture.Sample{{Data: append(append([]byte(nil), doc...), img...), Dur: 1000, Sync: true}}
	subs := func() *mp4.SubsBox {
		return &mp4.SubsBox{Entries: []mp4.SubsEntry{{SampleDelta: 1, SubSamples: []mp4.SubsSample{{SubsampleSize: uint32(len(doc))}, {SubsampleSize: uint32(len(img))}}}}}
	}
	seeds := [][]byte{
		mp4fixture.Progressive(f, 1000, "subtitle", mp4fixture.Stpp("", ""), samples, func(stbl *mp4.StblBox) { stbl.AddChild(subs()) }),
		mp4fixture.FMP4(f, 1000, "subtitle", mp4fixture.Stpp(imscImage, "application/ttml+xml;codecs=im1i"), samples),
	}
	for i := range seeds {
		f.Add(uint8(i), []byte{})
	}
	var buf []byte
	f.Fuzz(func(t *testing.T, which uint8, edits []byte) {
		if len(edits) > maxFuzzEdits {
			return
		}
		buf = applyEdits(buf, seeds[int(which)%len(seeds)], edits)
		if len(buf) > maxFuzzInput {
			return
		}
		wd := time.AfterFunc(5*time.Second, func() { panic("FuzzStpp: one input took over 5 s") })
		defer wd.Stop()
		_ = open(buf)
	})
}

// TestStppBadSubsamples: subsamples larger than their sample are refused.
func TestStppBadSubsamples(t *testing.T) {
	doc := mp4fixture.TTML("", "", textBody)
	b := mp4fixture.Progressive(t, 1000, "subtitle", mp4fixture.Stpp("", ""), []mp4fixture.Sample{{Data: doc, Dur: 1000, Sync: true}}, func(stbl *mp4.StblBox) {
		stbl.AddChild(&mp4.SubsBox{Version: 1, Entries: []mp4.SubsEntry{{SampleDelta: 1, SubSamples: []mp4.SubsSample{{SubsampleSize: uint32(len(doc))}, {SubsampleSize: 10}}}}})
	})
	err := open(b)
	if err == nil || !strings.Contains(err.Error(), "subsamples larger than their sample") {
		t.Fatalf("got %v", err)
	}
}

package cmaf_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/cmafkit/cmafkit/segment"
	"github.com/cmafkit/cmafkit/segment/cmaf"
	"github.com/cmafkit/cmafkit/segment/internal/mp4fixture"
)

const (
	imscImage = "http://www.w3.org/ns/ttml/profile/imsc1/image"
	imageBody = `<div begin="00:00:00.000" end="00:00:01.000" smpte:backgroundImage="urn:mpeg:14496-30:subs:1"/>`
)

// TestStppImageSubsamples: the images of IMSC1 image subtitles, carried as
// subsamples after the TTML document (ISO/IEC 14496-30), keep their subs
// box in every output fragment that holds them (players find the images
// through it), from fragmented and progressive sources, also when a
// sample is split across segments.
func TestStppImageSubsamples(t *testing.T) {
	doc := mp4fixture.TTML(`ttp:profile="`+imscImage+`"`, "", imageBody+`<div begin="0s" end="3s" smpte:backgroundImage="urn:mpeg:14496-30:subs:2"/>`)
	img1, img2 := bytes.Repeat([]byte{0x89, 'P', 'N', 'G'}, 50), bytes.Repeat([]byte{0x89, 'P', 'N', 'G'}, 70)
	withImages := append(append(append([]byte(nil), doc...), img1...), img2...)
	subs := []mp4.SubsSample{{SubsampleSize: uint32(len(doc))}, {SubsampleSize: uint32(len(img1))}, {SubsampleSize: uint32(len(img2))}}
	// Sample 1 (3 s, over the 2 s boundary) has images, sample 2 does not.
	samples := []mp4fixture.Sample{{Data: withImages, Dur: 3000, Sync: true}, {Data: []byte(segment.EmptyTTML), Dur: 1000, Sync: true}}
	subsBox := func() *mp4.SubsBox {
		return &mp4.SubsBox{Version: 1, Entries: []mp4.SubsEntry{{SampleDelta: 1, SubSamples: subs}}}
	}
	inputs := map[string][]byte{
		"progressive": mp4fixture.Progressive(t, 1000, "subtitle", mp4fixture.Stpp("", ""), samples, func(stbl *mp4.StblBox) { stbl.AddChild(subsBox()) }),
	}
	frag := mp4fixture.FMP4(t, 1000, "subtitle", mp4fixture.Stpp("", ""), samples)
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
				init, segs, _ := writeTrack(t, al, plan, cmaf.Options{ChunkDuration: chunk})
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

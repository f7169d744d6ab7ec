// Package mp4fixture builds small MP4 inputs in memory for the tests of
// the segment packages: a fragmented or progressive MP4 with one track.
package mp4fixture

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/Eyevinn/mp4ff/mp4"
)

// Sample is one sample of a fragmented MP4 that FMP4 makes.
type Sample struct {
	Data []byte
	Dur  uint32
	Sync bool
}

// FMP4 makes a small fragmented MP4 in memory: an init segment with
// one track of the given timescale and media type ("video", "audio",
// "subtitle", ...), whose sample entry and tkhd setup fills in (nil
// leaves the track without sample entry), and one fragment holding samples.
func FMP4(t testing.TB, timescale uint32, mediaType string, setup func(init *mp4.InitSegment, trak *mp4.TrakBox), samples []Sample) []byte {
	t.Helper()
	init := mp4.CreateEmptyInit()
	trak := init.AddEmptyTrack(timescale, mediaType, "eng")
	if setup != nil {
		setup(init, trak)
	}
	var b bytes.Buffer
	if err := init.Encode(&b); err != nil {
		t.Fatal(err)
	}
	if len(samples) == 0 {
		return b.Bytes()
	}
	frag, err := mp4.CreateFragment(1, trak.Tkhd.TrackID)
	if err != nil {
		t.Fatal(err)
	}
	var dts uint64
	for _, s := range samples {
		flags := uint32(0x01010000) // depends on others, non-sync
		if s.Sync {
			flags = 0x02000000
		}
		frag.AddFullSample(mp4.FullSample{Sample: mp4.NewSample(flags, s.Dur, uint32(len(s.Data)), 0), DecodeTime: dts, Data: s.Data})
		dts += uint64(s.Dur)
	}
	if err := frag.Encode(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// AAC sets up an AAC-LC audio track at 48 kHz.
func AAC(t testing.TB) func(*mp4.InitSegment, *mp4.TrakBox) {
	return func(_ *mp4.InitSegment, trak *mp4.TrakBox) {
		if err := trak.SetAACDescriptor(2, 48000); err != nil {
			t.Fatal(err)
		}
	}
}

// Progressive makes a small progressive MP4 in memory (ftyp, moov,
// mdat) with one track like FMP4's, its samples in one chunk; extra,
// when not nil, adds boxes to the sample table.
func Progressive(t testing.TB, timescale uint32, mediaType string, setup func(init *mp4.InitSegment, trak *mp4.TrakBox), samples []Sample, extra func(stbl *mp4.StblBox)) []byte {
	t.Helper()
	init := mp4.CreateEmptyInit()
	trak := init.AddEmptyTrack(timescale, mediaType, "eng")
	if setup != nil {
		setup(init, trak)
	}
	var kids []mp4.Box
	for _, c := range init.Moov.Children {
		if _, ok := c.(*mp4.MvexBox); !ok {
			kids = append(kids, c)
		}
	}
	init.Moov.Children, init.Moov.Mvex = kids, nil
	stbl := trak.Mdia.Minf.Stbl
	var data []byte
	for _, s := range samples {
		stbl.Stts.SampleCount = append(stbl.Stts.SampleCount, 1)
		stbl.Stts.SampleTimeDelta = append(stbl.Stts.SampleTimeDelta, s.Dur)
		stbl.Stsz.SampleSize = append(stbl.Stsz.SampleSize, uint32(len(s.Data)))
		data = append(data, s.Data...)
	}
	stbl.Stsz.SampleNumber = uint32(len(samples))
	if err := stbl.Stsc.AddEntry(1, uint32(len(samples)), 1); err != nil {
		t.Fatal(err)
	}
	stbl.Stco.ChunkOffset = []uint32{0}
	if extra != nil {
		extra(stbl)
	}
	var b bytes.Buffer
	if err := init.Encode(&b); err != nil {
		t.Fatal(err)
	}
	stbl.Stco.ChunkOffset[0] = uint32(b.Len() + 8)
	b.Reset()
	if err := init.Encode(&b); err != nil {
		t.Fatal(err)
	}
	if err := (&mp4.MdatBox{Data: data}).Encode(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TTML returns a TTML document with the given attributes on tt, head
// content and body content.
func TTML(ttAttrs, head, body string) []byte {
	return []byte(`<?xml version="1.0" encoding="UTF-8"?>
<tt xmlns="http://www.w3.org/ns/ttml" xmlns:ttp="http://www.w3.org/ns/ttml#parameter" xmlns:tts="http://www.w3.org/ns/ttml#styling"
 xmlns:smpte="http://www.smpte-ra.org/schemas/2052-1/2010/smpte-tt" xml:lang="en" ` + ttAttrs + `>
<head>` + head + `</head>
<body><div>` + body + `</div></body></tt>
`)
}

// Stpp sets up an stpp sample entry with the given schema location
// and, when mime is not "", a mime box.
func Stpp(schema, mime string) func(*mp4.InitSegment, *mp4.TrakBox) {
	return func(_ *mp4.InitSegment, trak *mp4.TrakBox) {
		e := mp4.NewStppBox("http://www.w3.org/ns/ttml", schema, "")
		if mime != "" {
			e.AddChild(&mp4.MimeBox{ContentType: mime})
		}
		trak.Mdia.Minf.Stbl.Stsd.AddChild(e)
	}
}

// Testdata returns the contents of the file name in the module's testdata
// directory.
func Testdata(t testing.TB, name string) []byte {
	t.Helper()
	_, here, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("mp4fixture: no caller information")
	}
	b, err := os.ReadFile(filepath.Join(filepath.Dir(here), "..", "..", "..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// BoxAt returns the offset of the first box of type typ (its size field).
func BoxAt(t testing.TB, b []byte, typ string) int {
	t.Helper()
	i := bytes.Index(b, []byte(typ))
	if i < 4 {
		t.Fatalf("no %s box", typ)
	}
	return i - 4
}

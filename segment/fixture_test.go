package segment_test

import (
	"bytes"
	"testing"

	"github.com/Eyevinn/mp4ff/mp4"
)

// fixtureSample is one sample of a fragmented MP4 that buildFMP4 makes.
type fixtureSample struct {
	data []byte
	dur  uint32
	sync bool
}

// buildFMP4 makes a small fragmented MP4 in memory: an init segment with
// one track of the given timescale and media type ("video", "audio",
// "subtitle", ...), whose sample entry and tkhd setup fills in (nil
// leaves the track without sample entry), and one fragment holding samples.
func buildFMP4(t testing.TB, timescale uint32, mediaType string, setup func(init *mp4.InitSegment, trak *mp4.TrakBox), samples []fixtureSample) []byte {
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
		if s.sync {
			flags = 0x02000000
		}
		frag.AddFullSample(mp4.FullSample{Sample: mp4.NewSample(flags, s.dur, uint32(len(s.data)), 0), DecodeTime: dts, Data: s.data})
		dts += uint64(s.dur)
	}
	if err := frag.Encode(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// aacTrack sets up an AAC-LC audio track at 48 kHz.
func aacTrack(t testing.TB) func(*mp4.InitSegment, *mp4.TrakBox) {
	return func(_ *mp4.InitSegment, trak *mp4.TrakBox) {
		if err := trak.SetAACDescriptor(2, 48000); err != nil {
			t.Fatal(err)
		}
	}
}

// buildProgressive makes a small progressive MP4 in memory (ftyp, moov,
// mdat) with one track like buildFMP4's, its samples in one chunk; extra,
// when not nil, adds boxes to the sample table.
func buildProgressive(t testing.TB, timescale uint32, mediaType string, setup func(init *mp4.InitSegment, trak *mp4.TrakBox), samples []fixtureSample, extra func(stbl *mp4.StblBox)) []byte {
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
		stbl.Stts.SampleTimeDelta = append(stbl.Stts.SampleTimeDelta, s.dur)
		stbl.Stsz.SampleSize = append(stbl.Stsz.SampleSize, uint32(len(s.data)))
		data = append(data, s.data...)
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

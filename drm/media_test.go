package drm

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/Eyevinn/mp4ff/mp4"
)

// clearTrack is one track of a test file: a clear CMAF init segment built
// around the source's own sample entry (shared, to prove it is not
// mutated) and the clear samples, read with mp4ff's sample tables.
type clearTrack struct {
	name    string
	init    *mp4.InitSegment
	entry   mp4.Box // the source sample entry object
	samples []mp4.FullSample
}

func testdataPath(name string) string { return filepath.Join("..", "testdata", name) }

// loadTrack reads the first track with the given handler ("vide"/"soun") of
// a progressive MP4 in testdata.
func loadTrack(t testing.TB, file, handler string) *clearTrack {
	t.Helper()
	raw, err := os.ReadFile(testdataPath(file))
	if err != nil {
		t.Fatal(err)
	}
	f, err := mp4.DecodeFile(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	for _, trak := range f.Moov.Traks {
		if trak.Mdia.Hdlr.HandlerType != handler {
			continue
		}
		mediaType := map[string]string{"vide": "video", "soun": "audio"}[handler]
		init := mp4.CreateEmptyInit()
		nt := init.AddEmptyTrack(trak.Mdia.Mdhd.Timescale, mediaType, "und")
		entry := trak.Mdia.Minf.Stbl.Stsd.Children[0]
		nt.Mdia.Minf.Stbl.Stsd.AddChild(entry)
		if vse, ok := entry.(*mp4.VisualSampleEntryBox); ok {
			nt.Tkhd.Width = mp4.Fixed32(uint32(vse.Width) << 16)
			nt.Tkhd.Height = mp4.Fixed32(uint32(vse.Height) << 16)
		}
		n := trak.GetNrSamples()
		meta, err := trak.GetSampleData(1, n)
		if err != nil {
			t.Fatal(err)
		}
		ct := &clearTrack{name: file + "/" + mediaType, init: init, entry: entry}
		var dts uint64
		for i := uint32(1); i <= n; i++ {
			rs, err := trak.GetRangesForSampleInterval(i, i)
			if err != nil || len(rs) != 1 {
				t.Fatalf("sample %d ranges %v: %v", i, rs, err)
			}
			s := meta[i-1]
			data := raw[rs[0].Offset : rs[0].Offset+rs[0].Size]
			ct.samples = append(ct.samples, mp4.FullSample{Sample: s, DecodeTime: dts, Data: data})
			dts += uint64(s.Dur)
		}
		return ct
	}
	t.Fatalf("%s: no %s track", file, handler)
	return nil
}

// segments splits samples at sync samples for video, every 48 samples for audio.
func (ct *clearTrack) segments() [][]mp4.FullSample {
	var segs [][]mp4.FullSample
	video := ct.init.Moov.Trak.Mdia.Hdlr.HandlerType == "vide"
	for i, s := range ct.samples {
		start := i == 0 || (video && !mp4.DecodeSampleFlags(s.Flags).SampleIsNonSync) || (!video && i%48 == 0)
		if start {
			segs = append(segs, nil)
		}
		segs[len(segs)-1] = append(segs[len(segs)-1], s)
	}
	return segs
}

// fragments builds one fragment per chunk of a segment, copying sample data.
func buildFragments(t testing.TB, seq *uint32, samples []mp4.FullSample, chunks int) []*mp4.Fragment {
	t.Helper()
	per := (len(samples) + chunks - 1) / chunks
	var out []*mp4.Fragment
	for start := 0; start < len(samples); start += per {
		*seq++
		f, err := mp4.CreateFragment(*seq, 1)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range samples[start:min(start+per, len(samples))] {
			c := s
			c.Data = append([]byte(nil), s.Data...)
			f.AddFullSample(c)
		}
		out = append(out, f)
	}
	return out
}

func encodeInit(t testing.TB, init *mp4.InitSegment) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := init.Encode(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodeFragment(t testing.TB, f *mp4.Fragment) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := f.Encode(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Command genwvtt writes a progressive MP4 with one WebVTT (wvtt, ISO/IEC
// 14496-30) text track made from a .vtt file, because FFmpeg cannot mux
// WebVTT into MP4. testdata/gen.sh runs it:
//
//	go run ./testdata/genwvtt -lang eng testdata/subtitles_en.vtt testdata/wvtt.mp4
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log"
	"os"

	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/cmafkit/cmafkit/segment/webvtt"
)

func main() {
	lang := flag.String("lang", "und", "ISO 639-2/T language of the track")
	flag.Parse()
	if flag.NArg() != 2 {
		log.Fatal("usage: genwvtt [-lang eng] in.vtt out.mp4")
	}
	if err := run(flag.Arg(0), flag.Arg(1), *lang); err != nil {
		log.Fatal(err)
	}
}

func run(in, out, lang string) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	src, err := webvtt.Open(context.Background(), f, in, nil)
	if err != nil {
		return err
	}
	t := src.Tracks[0]
	ss, err := t.AppendSamples(nil, 0, t.SampleCount())
	if err != nil {
		return err
	}
	var mdat []byte
	init := mp4.CreateEmptyInit()
	init.Moov.Mvhd.Timescale = t.Timescale
	init.Moov.Mvhd.Duration = t.Duration
	trak := init.AddEmptyTrack(t.Timescale, "wvtt", lang)
	trak.Tkhd.Duration = t.Duration
	// A progressive file: no mvex.
	init.Moov.Mvex = nil
	kids := init.Moov.Children[:0]
	for _, b := range init.Moov.Children {
		if b.Type() != "mvex" {
			kids = append(kids, b)
		}
	}
	init.Moov.Children = kids
	trak.Mdia.Mdhd.Duration = t.Duration
	trak.Mdia.Minf.Stbl.Stsd.AddChild(t.SampleEntry)
	stbl := trak.Mdia.Minf.Stbl
	for _, s := range ss {
		if n := len(stbl.Stts.SampleCount); n > 0 && stbl.Stts.SampleTimeDelta[n-1] == s.Duration {
			stbl.Stts.SampleCount[n-1]++
		} else {
			stbl.Stts.SampleCount = append(stbl.Stts.SampleCount, 1)
			stbl.Stts.SampleTimeDelta = append(stbl.Stts.SampleTimeDelta, s.Duration)
		}
		stbl.Stsz.SampleSize = append(stbl.Stsz.SampleSize, s.Size)
		if mdat, err = t.Data.AppendSample(mdat, &s); err != nil {
			return err
		}
	}
	stbl.Stsz.SampleNumber = uint32(len(ss))
	stbl.Stsc.Entries = []mp4.StscEntry{{FirstChunk: 1, SamplesPerChunk: uint32(len(ss)), FirstSampleNr: 1}}
	stbl.Stsc.SampleDescriptionID = []uint32{1}
	init.Ftyp = mp4.NewFtyp("isom", 0x200, []string{"isom", "iso6", "mp41"})
	init.Children[0] = init.Ftyp
	stbl.Stco.ChunkOffset = []uint32{0}
	off := init.Ftyp.Size() + init.Moov.Size() + 8
	stbl.Stco.ChunkOffset[0] = uint32(off)
	var buf bytes.Buffer
	if err := init.Encode(&buf); err != nil {
		return err
	}
	if uint64(buf.Len())+8 != off {
		return fmt.Errorf("header is %d bytes, expected %d", buf.Len(), off-8)
	}
	mb := mp4.MdatBox{Data: mdat}
	if err := mb.Encode(&buf); err != nil {
		return err
	}
	return os.WriteFile(out, buf.Bytes(), 0o644)
}

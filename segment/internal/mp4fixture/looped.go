package mp4fixture

import (
	"bufio"
	"encoding/binary"
	"os"
	"testing"

	"github.com/cmafkit/cmafkit/segment"
)

// Looped writes a progressive MP4 at dst that repeats every track of
// the source in until the media data reaches size bytes: one mdat, then
// a moov whose tables are written as they are generated, so that building
// a multi-gigabyte file takes no memory. It returns the file size.
func Looped(tb testing.TB, in *segment.Source, dst string, size int64) int64 {
	tb.Helper()
	type loopTrack struct {
		t       *segment.Track
		samples []segment.Sample
		bytes   int64
		chunks  []int64 // offset of each repetition's run of samples
	}
	var tracks []*loopTrack
	var perLoop int64
	for _, t := range in.Tracks {
		ss, err := t.AppendSamples(nil, 0, t.SampleCount())
		if err != nil {
			tb.Fatal(err)
		}
		lt := &loopTrack{t: t, samples: ss}
		for _, s := range ss {
			lt.bytes += int64(s.Size)
		}
		perLoop += lt.bytes
		tracks = append(tracks, lt)
	}
	loops := int((size + perLoop - 1) / perLoop)
	f, err := os.Create(dst)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	be := binary.BigEndian
	u32 := func(v uint32) { w.Write(be.AppendUint32(nil, v)) }
	u64 := func(v uint64) { w.Write(be.AppendUint64(nil, v)) }
	box := func(typ string, payload int64) { // header of a box with this payload size
		u32(uint32(8 + payload))
		w.WriteString(typ)
	}
	full := func(typ string, payload int64) { box(typ, 4+payload); u32(0) }

	w.Write([]byte{0, 0, 0, 16, 'f', 't', 'y', 'p', 'i', 's', 'o', 'm', 0, 0, 2, 0})
	mdatStart := int64(16)
	u32(1)
	w.WriteString("mdat")
	u64(uint64(16 + int64(loops)*perLoop))
	off := mdatStart + 16
	var buf []byte
	for range loops {
		for _, lt := range tracks {
			lt.chunks = append(lt.chunks, off)
			for i := range lt.samples {
				if buf, err = lt.t.Data.AppendSample(buf[:0], &lt.samples[i]); err != nil {
					tb.Fatal(err)
				}
				w.Write(buf)
			}
			off += lt.bytes
		}
	}

	// moov: mvhd, then per track tkhd, mdia/mdhd, hdlr, minf/stbl.
	type trakSizes struct {
		stsd                   []byte
		stbl, minf, mdia, trak int64
		syncs                  int
		ctts                   bool
	}
	sizes := make([]trakSizes, len(tracks))
	var moovPayload int64 = 8 + 100
	for k, lt := range tracks {
		var sd, entry bytesBuffer
		if err := lt.t.SampleEntry.Encode(&entry); err != nil {
			tb.Fatal(err)
		}
		sd.b = append(be.AppendUint32(nil, 0), be.AppendUint32(nil, 1)...)
		sd.b = append(sd.b, entry.b...)
		z := &sizes[k]
		z.stsd = sd.b
		for _, s := range lt.samples {
			if s.Sync {
				z.syncs++
			}
			z.ctts = z.ctts || s.CompositionOffset != 0
		}
		n := int64(len(lt.samples) * loops)
		z.stbl = 8 + 8 + int64(len(sd.b)) + // stbl, stsd
			16 + 8*n + // stts: one entry per sample
			20 + 4*n + // stsz
			12 + 4 + 12 + // stsc: one entry
			12 + 4 + 8*int64(loops) + // co64
			12 + 4 + 4*int64(z.syncs*loops) // stss
		if z.ctts {
			z.stbl += 12 + 4 + 8*n
		}
		z.minf = 8 + z.stbl
		z.mdia = 8 + 32 + 33 + z.minf // mdia, mdhd, hdlr, minf
		z.trak = 8 + 92 + z.mdia      // trak, tkhd, mdia
		moovPayload += z.trak
	}
	box("moov", moovPayload)
	full("mvhd", 96)
	u32(0)
	u32(0)
	u32(1000)
	w.Write(make([]byte, 84))
	for k, lt := range tracks {
		z := sizes[k]
		t := lt.t
		n := len(lt.samples) * loops
		box("trak", z.trak-8)
		full("tkhd", 80)
		u32(0)
		u32(0)
		u32(t.ID)
		w.Write(make([]byte, 68))
		box("mdia", z.mdia-8)
		full("mdhd", 20)
		u32(0)
		u32(0)
		u32(t.Timescale)
		u32(0)
		u32(0x55c40000) // und
		full("hdlr", 21)
		u32(0)
		if t.Kind == segment.KindVideo {
			w.WriteString("vide")
		} else {
			w.WriteString("soun")
		}
		w.Write(make([]byte, 13))
		box("minf", z.minf-8)
		box("stbl", z.stbl-8)
		box("stsd", int64(len(z.stsd)))
		w.Write(z.stsd)
		full("stts", 4+8*int64(n))
		u32(uint32(n))
		for range loops {
			for _, s := range lt.samples {
				u32(1)
				u32(s.Duration)
			}
		}
		if z.ctts {
			full("ctts", 4+8*int64(n))
			u32(uint32(n))
			for range loops {
				for _, s := range lt.samples {
					u32(1)
					u32(uint32(s.CompositionOffset))
				}
			}
		}
		full("stsz", 8+4*int64(n))
		u32(0)
		u32(uint32(n))
		for range loops {
			for _, s := range lt.samples {
				u32(s.Size)
			}
		}
		full("stsc", 4+12)
		u32(1)
		u32(1)
		u32(uint32(len(lt.samples)))
		u32(1)
		full("co64", 4+8*int64(loops))
		u32(uint32(loops))
		for _, c := range lt.chunks {
			u64(uint64(c))
		}
		full("stss", 4+4*int64(z.syncs*loops))
		u32(uint32(z.syncs * loops))
		for l := range loops {
			for i, s := range lt.samples {
				if s.Sync {
					u32(uint32(l*len(lt.samples) + i + 1))
				}
			}
		}
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	fi, err := f.Stat()
	if err != nil {
		tb.Fatal(err)
	}
	return fi.Size()
}

type bytesBuffer struct{ b []byte }

func (w *bytesBuffer) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }

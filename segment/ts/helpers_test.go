package ts

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/cmafkit/cmafkit/internal/testutil"

	"github.com/Eyevinn/mp4ff/hevc"
	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/cmafkit/cmafkit/segment"
)

const testdata = "../../testdata/"

// quiet discards logs in tests; set TS_TEST_LOG=1 to see them.
func quiet() *slog.Logger {
	if os.Getenv("TS_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testdata, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// openBytes opens b and, when that succeeds, checks every sample read
// through the compact index against the plain reference index (see
// checkIndex), so every test input also tests the index encoding.
func openBytes(t testing.TB, b []byte, name string) (*Source, error) {
	t.Helper()
	src, d, err := open(context.Background(), bytes.NewReader(b), int64(len(b)), name, &Options{Logger: quiet()}, true)
	if err == nil {
		checkIndex(t, src, d)
	}
	return src, err
}

func mustOpen(t testing.TB, b []byte, name string) *Source {
	t.Helper()
	src, err := openBytes(t, b, name)
	if err != nil {
		t.Fatalf("Open(%s): %v", name, err)
	}
	return src
}

func trackOf(t testing.TB, src *Source, k segment.Kind) *segment.Track {
	t.Helper()
	for _, tr := range src.Tracks {
		if tr.Kind == k {
			return tr
		}
	}
	t.Fatalf("%s: no %s track", src.Name, k)
	return nil
}

// payloads reads every sample of tr and checks its length against Size.
func payloads(t testing.TB, tr *segment.Track) [][]byte {
	t.Helper()
	ss := samplesOf(tr)
	out := make([][]byte, len(ss))
	for i := range ss {
		s := &ss[i]
		b, err := tr.Data.AppendSample(nil, s)
		if err != nil {
			t.Fatalf("%s sample %d: %v", tr, i+1, err)
		}
		if len(b) != int(s.Size) {
			t.Fatalf("%s sample %d: %d bytes, Size %d", tr, i+1, len(b), s.Size)
		}
		out[i] = b
	}
	return out
}

// mp4Track is a track read from an MP4 file with mp4ff, as the reference.
type mp4Track struct {
	timescale uint32
	mediaTime int64 // edit list media_time, 0 without an edit list
	entry     mp4.Box
	dts       []uint64
	cto       []int32
	sync      []bool
	data      [][]byte
}

func readMP4(t testing.TB, name string) map[string]*mp4Track {
	t.Helper()
	raw := readFile(t, name)
	f, err := mp4.DecodeFile(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*mp4Track{}
	for _, trak := range f.Moov.Traks {
		stbl := trak.Mdia.Minf.Stbl
		mt := &mp4Track{timescale: trak.Mdia.Mdhd.Timescale, entry: stbl.Stsd.Children[0]}
		if trak.Edts != nil && len(trak.Edts.Elst) > 0 && len(trak.Edts.Elst[0].Entries) > 0 {
			mt.mediaTime = trak.Edts.Elst[0].Entries[0].MediaTime
		}
		n := stbl.Stsz.GetNrSamples()
		for nr := uint32(1); nr <= n; nr++ {
			dts, _ := stbl.Stts.GetDecodeTime(nr)
			var cto int32
			if stbl.Ctts != nil {
				cto = stbl.Ctts.GetCompositionTimeOffset(nr)
			}
			sync := stbl.Stss == nil || stbl.Stss.IsSyncSample(nr)
			chunkNr, first, err := stbl.Stsc.ChunkNrFromSampleNr(int(nr))
			if err != nil {
				t.Fatal(err)
			}
			off, err := stbl.Stco.GetOffset(chunkNr)
			if err != nil {
				t.Fatal(err)
			}
			for k := first; k < int(nr); k++ {
				off += uint64(stbl.Stsz.GetSampleSize(k))
			}
			size := stbl.Stsz.GetSampleSize(int(nr))
			mt.dts = append(mt.dts, dts)
			mt.cto = append(mt.cto, cto)
			mt.sync = append(mt.sync, sync)
			mt.data = append(mt.data, raw[off:off+uint64(size)])
		}
		out[trak.Mdia.Hdlr.HandlerType] = mt
	}
	return out
}

// ffmpeg runs ffmpeg with args in dir.
func ffmpeg(t testing.TB, args ...string) {
	t.Helper()
	bin := testutil.NeedTool(t, "ffmpeg")
	cmd := exec.Command(bin, append([]string{"-hide_banner", "-loglevel", "error", "-y"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg %v: %v\n%s", args, err, out)
	}
}

func encodeBox(t testing.TB, b mp4.Box) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := b.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type hevcNaluType = hevc.NaluType

// samplesOf decodes the whole index of a track.
func samplesOf(tr *segment.Track) segment.SampleList {
	ss, err := tr.AppendSamples(nil, 0, tr.SampleCount())
	if err != nil {
		panic(err) // checkIndex reports decoding errors with context
	}
	return ss
}

package isobmff

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/cmafkit/cmafkit/segment"
	"github.com/cmafkit/cmafkit/segment/cmaf"
	"github.com/cmafkit/cmafkit/segment/internal/mp4fixture"
)

// TestIndexAgainstMP4ff compares our sample index of every test file with
// one built by mp4ff from the whole file in memory: sizes, decode times,
// durations, composition offsets, sync flags and payload bytes.
func TestIndexAgainstMP4ff(t *testing.T) {
	for _, name := range []string{"ladder_720p.mp4", "hevc_ac3.mp4", "av1.mp4", "eac3.mp4", "opus.mp4", "fragmented.mp4", "moov_end.mp4"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("..", "..", "testdata", name)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			f, err := mp4.DecodeFile(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			src, err := segment.OpenFile(context.Background(), path, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			for _, tr := range src.Tracks {
				got, err := tr.AppendSamples(nil, 0, tr.SampleCount())
				if err != nil {
					t.Fatal(err)
				}
				want := mp4ffSamples(t, f, data, tr.ID)
				if len(got) != len(want) {
					t.Fatalf("track %d: %d samples, mp4ff finds %d", tr.ID, len(got), len(want))
				}
				for i := range got {
					g, w := got[i], want[i]
					if g.DecodeTime != w.DecodeTime || g.Duration != w.Dur || g.Size != uint32(len(w.Data)) ||
						g.CompositionOffset != w.CompositionTimeOffset || g.Sync != (w.IsSync() || tr.Kind != segment.KindVideo) {
						t.Fatalf("track %d sample %d: %+v, mp4ff %+v", tr.ID, i+1, g, w.Sample)
					}
					payload, err := tr.Data.AppendSample(nil, &g)
					if err != nil || !bytes.Equal(payload, w.Data) {
						t.Fatalf("track %d sample %d: payload differs (%v)", tr.ID, i+1, err)
					}
				}
			}
		})
	}
}

// mp4ffSamples lists a track's samples with mp4ff: from the sample tables of
// a progressive file, from the fragments of a fragmented one.
func mp4ffSamples(t *testing.T, f *mp4.File, data []byte, id uint32) []mp4.FullSample {
	t.Helper()
	var out []mp4.FullSample
	if f.IsFragmented() {
		var trex *mp4.TrexBox
		for _, x := range f.Init.Moov.Mvex.Trexs {
			if x.TrackID == id {
				trex = x
			}
		}
		for _, seg := range f.Segments {
			for _, frag := range seg.Fragments {
				for _, traf := range frag.Moof.Trafs {
					if traf.Tfhd.TrackID != id {
						continue
					}
					fs, err := frag.GetFullSamples(trex)
					if err != nil {
						t.Fatal(err)
					}
					out = append(out, fs...)
				}
			}
		}
		return out
	}
	for _, trak := range f.Moov.Traks {
		if trak.Tkhd.TrackID != id {
			continue
		}
		stbl := trak.Mdia.Minf.Stbl
		n := int(stbl.Stsz.GetNrSamples())
		for nr := 1; nr <= n; nr++ {
			dts, dur := stbl.Stts.GetDecodeTime(uint32(nr))
			var cto int32
			if stbl.Ctts != nil {
				cto = stbl.Ctts.GetCompositionTimeOffset(uint32(nr))
			}
			flags := mp4.NonSyncSampleFlags
			if stbl.Stss == nil || stbl.Stss.IsSyncSample(uint32(nr)) {
				flags = mp4.SyncSampleFlags
			}
			chunkNr, firstInChunk, err := stbl.Stsc.ChunkNrFromSampleNr(nr)
			if err != nil {
				t.Fatal(err)
			}
			var off uint64
			if stbl.Stco != nil {
				off = uint64(stbl.Stco.ChunkOffset[chunkNr-1])
			} else {
				off = stbl.Co64.ChunkOffset[chunkNr-1]
			}
			for k := firstInChunk; k < nr; k++ {
				off += uint64(stbl.Stsz.GetSampleSize(k))
			}
			size := uint64(stbl.Stsz.GetSampleSize(nr))
			out = append(out, mp4.FullSample{
				Sample:     mp4.Sample{Flags: flags, Dur: dur, Size: uint32(size), CompositionTimeOffset: cto},
				DecodeTime: dts,
				Data:       data[off : off+size],
			})
		}
	}
	return out
}

// TestIndexWindows reads the index of long tracks (a looped progressive file,
// so that the saved iterator states every markEvery samples are used, and a
// fragmented file with a fragment every 0.3 s written from it) in windows
// that start and end around those states, and wants every window to equal
// the same range of one whole read.
func TestIndexWindows(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 12 MB file")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "looped.mp4")
	mp4fixture.Looped(t, openFile(t, filepath.Join("..", "..", "testdata", "ladder_360p.mp4")), path, 12<<20)
	src, err := segment.OpenFile(context.Background(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	checkWindows(t, src)

	// The video track as fragmented MP4: init segment and all segments.
	plan, err := segment.PlanSegments(src.Tracks, 0)
	if err != nil {
		t.Fatal(err)
	}
	var frag bytes.Buffer
	if err := cmaf.WriteInit(&frag, src.Tracks[0], nil); err != nil {
		t.Fatal(err)
	}
	sw, err := cmaf.NewWriter(src.Tracks[0], plan, cmaf.Options{ChunkDuration: 300 * time.Millisecond, NoStyp: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < sw.Len(); i++ {
		if _, err := sw.WriteSegment(context.Background(), &frag, i); err != nil {
			t.Fatal(err)
		}
	}
	fsrc, err := Open(context.Background(), bytes.NewReader(frag.Bytes()), int64(frag.Len()), "frag.mp4", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := fsrc.Tracks[0].Index.(*moofIndex); !ok || fsrc.Tracks[0].SampleCount() != src.Tracks[0].SampleCount() {
		t.Fatalf("fragmented copy: index %T with %d samples", fsrc.Tracks[0].Index, fsrc.Tracks[0].SampleCount())
	}
	checkWindows(t, fsrc)
}

func checkWindows(t *testing.T, src *segment.Source) {
	t.Helper()
	for _, tr := range src.Tracks {
		n := tr.SampleCount()
		if n < 3*markEvery {
			t.Fatalf("track %d has only %d samples; the test needs several marks", tr.ID, n)
		}
		all, err := tr.AppendSamples(nil, 0, n)
		if err != nil {
			t.Fatal(err)
		}
		var edges []int
		for m := 0; m <= n; m += markEvery {
			edges = append(edges, max(m-1, 0), m, min(m+1, n))
		}
		edges = append(edges, n-1, n)
		for _, from := range edges {
			for _, to := range []int{from, from + 1, from + markEvery - 1, from + markEvery + 1, n} {
				if to > n || to < from {
					continue
				}
				got, err := tr.AppendSamples(nil, from, to)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != to-from {
					t.Fatalf("track %d [%d,%d): %d samples", tr.ID, from, to, len(got))
				}
				for i := range got {
					if got[i] != all[from+i] {
						t.Fatalf("track %d [%d,%d): sample %d is %+v, whole read has %+v", tr.ID, from, to, from+i, got[i], all[from+i])
					}
				}
			}
		}
		// Ranges in random order from two goroutines, many following on
		// from the one before: reads then start from the states where
		// earlier reads started or ended (stblIndex.recent).
		rng := rand.New(rand.NewPCG(1, uint64(tr.ID)))
		var ranges [][2]int
		for range 400 {
			from := rng.IntN(n)
			ranges = append(ranges, [2]int{from, min(n, from+1+rng.IntN(300))})
			for rng.IntN(2) == 0 {
				last := ranges[len(ranges)-1]
				ranges = append(ranges, [2]int{last[1], min(n, last[1]+1+rng.IntN(300))}, last)
			}
		}
		errs := make(chan error, 2)
		for w := range 2 {
			go func() {
				for k := w; k < len(ranges); k += 2 {
					from, to := ranges[k][0], ranges[k][1]
					got, err := tr.AppendSamples(nil, from, to)
					if err == nil && len(got) != to-from {
						err = fmt.Errorf("track %d [%d,%d): %d samples", tr.ID, from, to, len(got))
					}
					for i := 0; err == nil && i < len(got); i++ {
						if got[i] != all[from+i] {
							err = fmt.Errorf("track %d [%d,%d) after other reads: sample %d is %+v, whole read has %+v", tr.ID, from, to, from+i, got[i], all[from+i])
						}
					}
					if err != nil {
						errs <- err
						return
					}
				}
				errs <- nil
			}()
		}
		for range 2 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		// A scan in windows sees the same samples.
		sc := tr.Scan(0, n)
		for sc.Next() {
			if *sc.Sample() != all[sc.Index()] {
				t.Fatalf("track %d: scan differs at %d", tr.ID, sc.Index())
			}
		}
		if sc.Err() != nil || sc.Index() != n-1 {
			t.Fatalf("track %d: scan ended at %d: %v", tr.ID, sc.Index(), sc.Err())
		}
	}
}

// TestPlanSyncOrder refuses a video track whose sync samples are not
// presented in decode order (found by mutating a test file: the plan cut an
// empty segment and writing it panicked).
func TestPlanSyncOrder(t *testing.T) {
	ss := segment.SampleList{
		{DecodeTime: 0, Size: 1, Duration: 512, CompositionOffset: 1 << 20, Sync: true},
		{DecodeTime: 512, Size: 1, Duration: 512},
		{DecodeTime: 1024, Size: 1, Duration: 512, Sync: true},
		{DecodeTime: 1536, Size: 1, Duration: 512},
	}
	tr := &segment.Track{ID: 1, Source: "x.mp4", Kind: segment.KindVideo, Timescale: 512, Index: ss}
	_, err := segment.PlanSegments([]*segment.Track{tr}, time.Second)
	var fe *segment.FormatError
	if !errors.As(err, &fe) || !errors.Is(err, segment.ErrMalformed) || fe.Sample != 3 {
		t.Fatalf("got %v, want ErrMalformed naming sample 3", err)
	}
	ss[0].CompositionOffset = 0
	if _, err := segment.PlanSegments([]*segment.Track{tr}, time.Second); err != nil {
		t.Fatal(err)
	}
}

// openFile opens the input at path, closed when the test ends.
func openFile(tb testing.TB, path string) *segment.Source {
	tb.Helper()
	src, err := segment.OpenFile(context.Background(), path, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { src.Close() })
	return src
}

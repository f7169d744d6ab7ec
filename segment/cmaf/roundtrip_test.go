package cmaf_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/internal/testutil"
	"github.com/cmafkit/cmafkit/segment/cmaf"

	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/cmafkit/cmafkit/segment"
)

var testFiles = []string{
	"ladder_720p.mp4", "ladder_360p.mp4", "hevc_ac3.mp4", "av1.mp4", "eac3.mp4",
	"opus.mp4", "fragmented.mp4", "moov_end.mp4",
}

func openTestFile(t testing.TB, name string) *segment.Source {
	t.Helper()
	src, err := segment.OpenFile(context.Background(), filepath.Join("..", "..", "testdata", name), nil)
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

// writeTrack packages one track to an init segment and media segments.
func writeTrack(t testing.TB, tr *segment.Track, plan *segment.Plan, opts cmaf.Options) (init []byte, segs [][]byte, infos []cmaf.SegmentInfo) {
	t.Helper()
	var ib bytes.Buffer
	if err := cmaf.WriteInit(&ib, tr, opts.Protector); err != nil {
		t.Fatalf("%s: init: %v", tr, err)
	}
	sw, err := cmaf.NewWriter(tr, plan, opts)
	if err != nil {
		t.Fatalf("%s: %v", tr, err)
	}
	for i := 0; i < sw.Len(); i++ {
		var b bytes.Buffer
		info, err := sw.WriteSegment(context.Background(), &b, i)
		if err != nil {
			t.Fatalf("%s: segment %d: %v", tr, i, err)
		}
		if info.Size != int64(b.Len()) {
			t.Fatalf("%s: segment %d reports %d bytes, wrote %d", tr, i, info.Size, b.Len())
		}
		segs = append(segs, b.Bytes())
		infos = append(infos, info)
	}
	return ib.Bytes(), segs, infos
}

// TestRoundTrip packages every track of every test file and parses the
// result back with mp4ff (not with our own parser), checking that every
// sample comes back with identical bytes, timing and sync flag.
func TestRoundTrip(t *testing.T) {
	for _, name := range testFiles {
		for _, chunk := range []time.Duration{0, 500 * time.Millisecond, time.Nanosecond} {
			t.Run(fmt.Sprintf("%s/chunk=%v", name, chunk), func(t *testing.T) {
				src := openTestFile(t, name)
				plan, err := segment.PlanSegments(src.Tracks, 2*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				for _, tr := range src.Tracks {
					opts := cmaf.Options{ChunkDuration: chunk, IsolateSyncSample: chunk == 0}
					init, segs, infos := writeTrack(t, tr, plan, opts)
					checkRoundTrip(t, tr, init, segs, infos)
					if tr.Kind == segment.KindVideo && opts.IsolateSyncSample {
						checkIsolatedSync(t, tr, init, segs, infos)
					}
				}
			})
		}
	}
}

func checkRoundTrip(t *testing.T, tr *segment.Track, init []byte, segs [][]byte, infos []cmaf.SegmentInfo) {
	t.Helper()
	all := append([]byte(nil), init...)
	for _, s := range segs {
		all = append(all, s...)
	}
	f, err := mp4.DecodeFile(bytes.NewReader(all))
	if err != nil {
		t.Fatalf("%s: mp4ff cannot decode output: %v", tr, err)
	}
	if f.Init == nil || len(f.Init.Moov.Traks) != 1 {
		t.Fatalf("%s: output has no single-track init", tr)
	}
	if got := f.Init.Moov.Trak.Mdia.Mdhd.Timescale; got != tr.Timescale {
		t.Errorf("timescale %d, want %d", got, tr.Timescale)
	}
	var elst int64
	if edts := f.Init.Moov.Trak.Edts; edts != nil && len(edts.Elst) == 1 {
		elst = edts.Elst[0].Entries[0].MediaTime
	}
	trex := f.Init.Moov.Mvex.Trex
	var got []mp4.FullSample
	for _, seg := range f.Segments {
		for _, frag := range seg.Fragments {
			fs, err := frag.GetFullSamples(trex)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, fs...)
		}
	}
	samples := allSamples(t, tr)
	if len(got) != len(samples) {
		t.Fatalf("%s: %d samples back, want %d", tr, len(got), len(samples))
	}
	data := make([]byte, 0, 1<<16)
	var prevEnd uint64
	for i, g := range got {
		s := &samples[i]
		data, err = tr.Data.AppendSample(data[:0], s)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(g.Data, data) {
			t.Fatalf("%s sample %d: payload differs", tr, i+1)
		}
		// Presentation time on the output timeline must equal the source's
		// presentation time after its edit list.
		wantPT := s.PresentationTime() - tr.PresentationOffset
		if pt := g.PresentationTime() - elst; pt != wantPT {
			t.Fatalf("%s sample %d: presentation time %d, want %d", tr, i+1, pt, wantPT)
		}
		if g.Dur != s.Duration {
			t.Fatalf("%s sample %d: duration %d, want %d", tr, i+1, g.Dur, s.Duration)
		}
		if i > 0 && g.DecodeTime != prevEnd {
			t.Fatalf("%s sample %d: decode time %d, previous ended at %d (gap or overlap)", tr, i+1, g.DecodeTime, prevEnd)
		}
		prevEnd = g.DecodeTime + uint64(g.Dur)
		sync := mp4.DecodeSampleFlags(g.Flags)
		if isSync := !sync.SampleIsNonSync; isSync != s.Sync {
			t.Fatalf("%s sample %d: sync %v, want %v", tr, i+1, isSync, s.Sync)
		}
	}
	// Reported segment infos must agree with the samples.
	var n int
	for i, info := range infos {
		if info.Number != i+1 || info.FirstSample != n {
			t.Fatalf("segment %d: number %d first sample %d, want first %d", i, info.Number, info.FirstSample, n)
		}
		n = info.EndSample
	}
	if n != tr.SampleCount() {
		t.Fatalf("segments cover %d of %d samples", n, tr.SampleCount())
	}
}

// TestInitSegmentGolden keeps a readable dump of each track's init segment
// and first media segment. Regenerate with: go test ./segment/cmaf -update
func TestInitSegmentGolden(t *testing.T) {
	for _, name := range testFiles {
		src := openTestFile(t, name)
		plan, err := segment.PlanSegments(src.Tracks, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		for _, tr := range src.Tracks {
			init, segs, _ := writeTrack(t, tr, plan, cmaf.Options{})
			var dump strings.Builder
			f, err := mp4.DecodeFile(bytes.NewReader(append(append([]byte(nil), init...), segs[0]...)))
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Info(&dump, "all:1", "", "  "); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", fmt.Sprintf("%s.track%d.golden", strings.TrimSuffix(name, ".mp4"), tr.ID))
			compareGolden(t, golden, dump.String())
		}
	}
}

func compareGolden(t *testing.T, path, got string) {
	t.Helper()
	if testutil.Update() {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the output; diff it after go test -update:\n%s", path, firstDiff(string(want), got))
	}
}

func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) && i < len(bl); i++ {
		if al[i] != bl[i] {
			return fmt.Sprintf("line %d:\n- %s\n+ %s", i+1, al[i], bl[i])
		}
	}
	return fmt.Sprintf("lengths differ: %d vs %d lines", len(al), len(bl))
}

// TestSingleFile checks the single-file layout: init, sidx, fragments, with
// each reported byte range holding exactly one segment, and the sidx sizes
// and durations matching those ranges.
func TestSingleFile(t *testing.T) {
	src := openTestFile(t, "ladder_360p.mp4")
	plan, err := segment.PlanSegments(src.Tracks, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range src.Tracks {
		var b bytes.Buffer
		info, err := cmaf.WriteSingleFile(context.Background(), &b, tr, plan, cmaf.Options{}, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		if info.Size != int64(b.Len()) {
			t.Fatalf("size %d, wrote %d", info.Size, b.Len())
		}
		file := b.Bytes()
		f, err := mp4.DecodeFile(bytes.NewReader(file))
		if err != nil {
			t.Fatal(err)
		}
		if f.Sidx == nil || len(f.Sidx.SidxRefs) != len(info.Segments) {
			t.Fatalf("sidx missing or has wrong reference count")
		}
		if int64(f.Init.Size()) != info.InitSize {
			t.Fatalf("init range %d, init is %d bytes", info.InitSize, f.Init.Size())
		}
		if info.IndexOffset != info.InitSize || info.IndexSize != int64(f.Sidx.Size()) {
			t.Fatalf("index range %d+%d, sidx at %d size %d", info.IndexOffset, info.IndexSize, info.InitSize, f.Sidx.Size())
		}
		var segs [][]byte
		next := info.IndexOffset + info.IndexSize
		for i, s := range info.Segments {
			if s.Offset != next {
				t.Fatalf("segment %d at %d, want %d", i, s.Offset, next)
			}
			ref := f.Sidx.SidxRefs[i]
			if int64(ref.ReferencedSize) != s.Size || uint64(ref.SubSegmentDuration) != s.Duration {
				t.Fatalf("sidx ref %d: %d bytes %d ticks; segment %d bytes %d ticks", i, ref.ReferencedSize, ref.SubSegmentDuration, s.Size, s.Duration)
			}
			segs = append(segs, file[s.Offset:s.Offset+s.Size])
			next += s.Size
		}
		if next != info.Size {
			t.Fatalf("segments end at %d, file is %d", next, info.Size)
		}
		checkRoundTrip(t, tr, file[:info.InitSize], segs, info.Segments)
	}
}

// checkIsolatedSync verifies that each video segment's reported sync range is
// a complete moof/mdat pair holding exactly the segment's first sample.
func checkIsolatedSync(t *testing.T, tr *segment.Track, init []byte, segs [][]byte, infos []cmaf.SegmentInfo) {
	t.Helper()
	for i, info := range infos {
		frag := segs[i][info.FragmentOffset:info.SyncSampleEnd]
		f, err := mp4.DecodeFile(bytes.NewReader(append(append([]byte(nil), init...), frag...)))
		if err != nil {
			t.Fatalf("segment %d sync range: %v", i+1, err)
		}
		if len(f.Segments) != 1 || len(f.Segments[0].Fragments) != 1 {
			t.Fatalf("segment %d sync range is not one fragment", i+1)
		}
		fs, err := f.Segments[0].Fragments[0].GetFullSamples(f.Init.Moov.Mvex.Trex)
		if err != nil || len(fs) != 1 {
			t.Fatalf("segment %d sync range holds %d samples (%v)", i+1, len(fs), err)
		}
		first := allSamples(t, tr)[info.FirstSample]
		want, _ := tr.Data.AppendSample(nil, &first)
		if !bytes.Equal(fs[0].Data, want) || !first.Sync {
			t.Fatalf("segment %d sync range does not hold the first (sync) sample", i+1)
		}
	}
}

// allSamples reads a track's whole sample index.
func allSamples(t testing.TB, tr *segment.Track) []segment.Sample {
	t.Helper()
	ss, err := tr.AppendSamples(nil, 0, tr.SampleCount())
	if err != nil {
		t.Fatal(err)
	}
	return ss
}

// TestWriteToFile writes every segment both into a file (runs of a few KiB
// and more then go from file to file in the kernel, as in fragmented.mp4;
// smaller ones through memory, as in ladder_720p.mp4) and into memory, and
// wants the same bytes.
func TestWriteToFile(t *testing.T) {
	for _, file := range []string{"ladder_720p.mp4", "fragmented.mp4"} {
		writeToFile(t, file)
	}
}

func writeToFile(t *testing.T, file string) {
	src := openTestFile(t, file)
	plan, err := segment.PlanSegments(src.Tracks, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range src.Tracks {
		sw, err := cmaf.NewWriter(tr, plan, cmaf.Options{ChunkDuration: 500 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.Create(filepath.Join(t.TempDir(), "segs.m4s"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var mem bytes.Buffer
		for i := 0; i < sw.Len(); i++ {
			fi, err := sw.WriteSegment(context.Background(), f, i)
			if err != nil {
				t.Fatal(err)
			}
			mi, err := sw.WriteSegment(context.Background(), &mem, i)
			if err != nil {
				t.Fatal(err)
			}
			if fi != mi {
				t.Fatalf("%s segment %d: reported %+v to a file, %+v to memory", tr, i, fi, mi)
			}
		}
		got, err := os.ReadFile(f.Name())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, mem.Bytes()) {
			t.Fatalf("%s: %d bytes in the file, %d in memory (or content differs)", tr, len(got), mem.Len())
		}
	}
}

// checkingProtector is a FragmentProtector that encrypts nothing but checks
// that each fragment's mdat holds exactly its samples' payloads.
type checkingProtector struct {
	t     *testing.T
	tr    *segment.Track
	next  int // next sample of the track
	calls int
}

func (p *checkingProtector) ProtectInit(*mp4.InitSegment) error { return nil }

func (p *checkingProtector) ProtectFragment(_ context.Context, f *mp4.Fragment, _, first int) error {
	if first != p.next {
		p.t.Fatalf("%s: fragment reported to start at sample %d, want %d", p.tr, first, p.next)
	}
	n := len(f.Moof.Traf.Trun.Samples)
	ss := allSamples(p.t, p.tr)[p.next : p.next+n]
	var want []byte
	for i := range ss {
		var err error
		if want, err = p.tr.Data.AppendSample(want, &ss[i]); err != nil {
			return err
		}
	}
	if !bytes.Equal(f.Mdat.Data, want) {
		p.t.Fatalf("%s: fragment with samples %d..%d: mdat differs from the samples", p.tr, p.next+1, p.next+n)
	}
	p.next += n
	p.calls++
	return nil
}

// TestProtectorSeesSamples: the payload handed to a protector (read in
// spans from an interleaved source) is exactly the fragment's samples.
func TestProtectorSeesSamples(t *testing.T) {
	src := openTestFile(t, "ladder_720p.mp4")
	plan, err := segment.PlanSegments(src.Tracks, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range src.Tracks {
		p := &checkingProtector{t: t, tr: tr}
		sw, err := cmaf.NewWriter(tr, plan, cmaf.Options{Protector: p, ChunkDuration: 700 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < sw.Len(); i++ {
			if _, err := sw.WriteSegment(context.Background(), io.Discard, i); err != nil {
				t.Fatal(err)
			}
		}
		if p.next != tr.SampleCount() || p.calls < sw.Len() {
			t.Fatalf("%s: protector saw %d of %d samples in %d fragments", tr, p.next, tr.SampleCount(), p.calls)
		}
	}
}

// nopProtector leaves fragments clear but makes the writer take its
// in-memory (protected) path.
type nopProtector struct{}

func (nopProtector) ProtectInit(*mp4.InitSegment) error                             { return nil }
func (nopProtector) ProtectFragment(context.Context, *mp4.Fragment, int, int) error { return nil }

// sequentialProtector is a protector that changes nothing but needs its
// fragments in order, as AV1 and in-band parameter-set protectors do.
type sequentialProtector struct{ nopProtector }

func (p *sequentialProtector) Sequential() bool { return true }

// TestWriteSegments: segments written by WriteSegments, two at a time or
// pipelined (read and encrypted in memory while the one before is stored,
// for a Sequential protector), are those WriteSegment writes one by one,
// and a Sequential protector's segments reach store in order.
func TestWriteSegments(t *testing.T) {
	src := openTestFile(t, "ladder_720p.mp4")
	plan, err := segment.PlanSegments(src.Tracks, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range src.Tracks {
		for name, prot := range map[string]cmaf.FragmentProtector{"clear": nil, "protected": nopProtector{}, "sequential": &sequentialProtector{}} {
			opts := cmaf.Options{IsolateSyncSample: true, Protector: prot}
			direct, _ := cmaf.NewWriter(tr, plan, opts)
			sw, _ := cmaf.NewWriter(tr, plan, opts)
			var mu sync.Mutex
			got := make([][]byte, sw.Len())
			var order []int
			infos, err := sw.WriteSegments(context.Background(), 2, func(ctx context.Context, i int, pre cmaf.SegmentInfo, write func(io.Writer) (cmaf.SegmentInfo, error)) error {
				var b bytes.Buffer
				info, err := write(&b)
				if err != nil {
					return err
				}
				if info.Number != pre.Number || info.MediaTime != pre.MediaTime {
					t.Errorf("%s %s segment %d: written as %+v, announced as %+v", tr, name, i, info, pre)
				}
				mu.Lock()
				got[i] = b.Bytes()
				order = append(order, i)
				mu.Unlock()
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			for i := range got {
				var want bytes.Buffer
				wi, err := direct.WriteSegment(context.Background(), &want, i)
				if err != nil {
					t.Fatal(err)
				}
				if infos[i] != wi || !bytes.Equal(got[i], want.Bytes()) {
					t.Fatalf("%s %s segment %d: %+v (%d bytes), one by one %+v (%d bytes)", tr, name, i, infos[i], len(got[i]), wi, want.Len())
				}
			}
			if name == "sequential" && !slices.IsSorted(order) {
				t.Errorf("%s: sequential protector's segments stored in order %v", tr, order)
			}
		}
	}
}

// TestWriteSegmentsError: the first error of store stops the writing and
// is returned, for concurrent and pipelined writing.
func TestWriteSegmentsError(t *testing.T) {
	src := openTestFile(t, "ladder_720p.mp4")
	plan, err := segment.PlanSegments(src.Tracks, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	errStore := errors.New("store failed")
	for _, prot := range []cmaf.FragmentProtector{nil, &sequentialProtector{}} {
		sw, _ := cmaf.NewWriter(src.Tracks[0], plan, cmaf.Options{Protector: prot})
		infos, err := sw.WriteSegments(context.Background(), 2, func(ctx context.Context, i int, pre cmaf.SegmentInfo, write func(io.Writer) (cmaf.SegmentInfo, error)) error {
			if i == 1 {
				return errStore
			}
			_, err := write(io.Discard)
			return err
		})
		if !errors.Is(err, errStore) || infos != nil {
			t.Errorf("protector %T: got %d infos and %v, want the store's error", prot, len(infos), err)
		}
	}
}

package ts

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"sync"
	"testing"
	"unsafe"

	"github.com/cmafkit/cmafkit/segment"
)

// refTrack turns a stream's plain reference index into the samples the
// track must show, the straightforward way: rebase every decode time, then
// give each sample the distance to the next one (the last one: the one before
// it for video, dflt otherwise). It reports a duration out of range as an
// error, as building the compact index must.
func refTrack(ref []segment.Sample, origin int64, video bool, dflt int64) ([]segment.Sample, uint64, error) {
	smp := append([]segment.Sample(nil), ref...)
	for i := range smp {
		smp[i].DecodeTime = uint64(int64(smp[i].DecodeTime) - origin)
	}
	var total uint64
	for i := range smp {
		var dur int64
		switch {
		case i+1 < len(smp):
			dur = int64(smp[i+1].DecodeTime - smp[i].DecodeTime)
		case i > 0 && video:
			dur = int64(smp[i-1].Duration)
		default:
			dur = dflt
		}
		if dur <= 0 || dur > math.MaxUint32 {
			return nil, 0, fmt.Errorf("sample %d: duration %d out of range", i+1, dur)
		}
		smp[i].Duration = uint32(dur)
		total += uint64(dur)
	}
	return smp, total, nil
}

// checkIndex compares every sample of src, decoded from the compact index,
// with the plain index the demuxer kept beside it: every field, and the
// payload found through the compact index (by Offset) against the payload
// read from the reference locator.
func checkIndex(t testing.TB, src *Source, d *demuxer) {
	t.Helper()
	var t0 int64
	have := false
	for _, s := range d.sortedStreams() {
		if s.ref == nil {
			t.Fatalf("PID %d: no reference index", s.pid)
		}
		if len(s.ref.samples) > 0 {
			t0 = min(t0, s.first90)
			if !have {
				t0, have = s.first90, true
			}
		}
	}
	n := 0
	for _, s := range d.streams {
		if len(s.ref.samples) > 0 {
			n++
		}
	}
	if n != len(src.Tracks) {
		t.Fatalf("%d tracks, %d streams with samples", len(src.Tracks), n)
	}
	for _, tr := range src.Tracks {
		s := d.streams[uint16(tr.ID)]
		dflt := int64(3003)
		if s.acfg != nil {
			dflt = s.acfg.frameDur
		}
		want, total, err := refTrack(s.ref.samples, rescale(t0, int64(tr.Timescale)), s.vcfg != nil, dflt)
		if err != nil {
			t.Fatalf("%s: reference: %v, but the compact index was built", tr, err)
		}
		got, err := tr.AppendSamples(nil, 0, tr.SampleCount())
		if err != nil {
			t.Fatalf("%s: %v", tr, err)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d samples, reference %d", tr, len(got), len(want))
		}
		if tr.Duration != total {
			t.Errorf("%s: Duration %d, reference %d", tr, tr.Duration, total)
		}
		rd := tr.Data.(*sampleReader)
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%s sample %d: %+v, reference %+v", tr, i+1, got[i], want[i])
			}
			gp, gerr := tr.Data.AppendSample(nil, &got[i])
			wp, werr := rd.appendRaw(nil, &s.ref.locs[i], &want[i])
			if werr == nil && rd.vcfg != nil {
				wp, werr = rd.vcfg.appendSample(nil, wp, i)
			}
			if (gerr != nil) != (werr != nil) || !bytes.Equal(gp, wp) {
				t.Fatalf("%s sample %d: payload %d bytes (%v), reference %d bytes (%v)", tr, i+1, len(gp), gerr, len(wp), werr)
			}
		}
	}
}

// TestIndexMatchesReference decodes the test files' indexes and compares
// them with the plain reference (openBytes runs checkIndex; the damaged
// inputs of damage_test.go and paramsets_test.go go through it too), and
// checks the index stays compact.
func TestIndexMatchesReference(t *testing.T) {
	if s := unsafe.Sizeof(blockHdr{}); s != blockHdrSize {
		t.Errorf("blockHdr is %d bytes, blockHdrSize says %d", s, blockHdrSize)
	}
	if s := unsafe.Sizeof(run{}); s != runSize {
		t.Errorf("run is %d bytes, runSize says %d", s, runSize)
	}
	for _, name := range []string{"h264_aac.ts", "h264_aac_wrap.ts", "hevc_ac3.ts"} {
		t.Run(name, func(t *testing.T) {
			src := mustOpen(t, readFile(t, name), name)
			for _, tr := range src.Tracks {
				x := tr.Index.(*index)
				if x.Len() <= blockLen {
					t.Fatalf("%s: %d samples, too few to span blocks", tr, x.Len())
				}
				// The whole index, blocks, pages and runs, per sample.
				if per := float64(x.size()) / float64(x.Len()); per > 12 {
					t.Errorf("%s: index holds %.1f bytes/sample", tr, per)
				} else {
					t.Logf("%s: %d samples, %.1f index bytes/sample", tr, x.Len(), per)
				}
			}
		})
	}
}

// TestIndexConcurrentRanges reads random ranges and payloads from two
// goroutines at once (run it with -race) and compares them with one full read.
func TestIndexConcurrentRanges(t *testing.T) {
	src := mustOpen(t, readFile(t, "h264_aac.ts"), "h264_aac.ts")
	type full struct {
		ss   []segment.Sample
		data [][]byte
	}
	var fulls []full
	for _, tr := range src.Tracks {
		fulls = append(fulls, full{samplesOf(tr), payloads(t, tr)})
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for g := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(g)))
			for range 300 {
				k := rng.Intn(len(src.Tracks))
				tr, f := src.Tracks[k], fulls[k]
				from := rng.Intn(len(f.ss) + 1)
				to := from + rng.Intn(len(f.ss)-from+1)
				got, err := tr.AppendSamples(make([]segment.Sample, 0, rng.Intn(4)), from, to)
				if err == nil && !slicesEqual(got, f.ss[from:to]) {
					err = fmt.Errorf("%s [%d, %d) differs from the full read", tr, from, to)
				}
				if err == nil && from < to {
					var b []byte
					b, err = tr.Data.AppendSample(nil, &got[rng.Intn(len(got))])
					if err == nil && !containsPayload(f.data[from:to], b) {
						err = fmt.Errorf("%s: payload of a sample in [%d, %d) differs", tr, from, to)
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func slicesEqual(a, b []segment.Sample) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func containsPayload(ps [][]byte, b []byte) bool {
	for _, p := range ps {
		if bytes.Equal(p, b) {
			return true
		}
	}
	return false
}

// synthSample is one generated sample for the index round trip.
type synthSample struct {
	dt   int64
	cto  int32
	size uint32
	sync bool
	l    loc
}

// synthIndex turns arbitrary bytes into a sample sequence that covers the
// encoding's corners: repeated and changing decode-time steps (also zero,
// negative and beyond 32 bits), any composition offset, sizes and ES lengths
// far apart, packet steps on and off the packet grid (also backwards) with
// strictly increasing Offsets, skips beyond a byte, and explicit runs.
func synthIndex(b []byte) (samples []synthSample, runs []run, ps int64) {
	rd := bytes.NewReader(b)
	u := func() uint64 { v, _ := binary.ReadUvarint(rd); return v }
	i := func() int64 { v, _ := binary.ReadVarint(rd); return v }
	ps = []int64{188, 192, 204}[u()%3]
	n := int(u() % 1000)
	dt, step, start := i(), int64(3003), int64(u()%1e12)
	for k := 0; k < n && rd.Len() > 0; k++ {
		op := u()
		if op&1 != 0 {
			step = i()
			if op%61 != 0 { // mostly a valid duration
				step = abs64(step)%math.MaxUint32 + 1
			}
		}
		dt += step
		s := synthSample{dt: dt, sync: op&2 != 0, size: uint32(u())}
		if op&4 != 0 {
			s.cto = int32(i())
		}
		if op&8 != 0 {
			start += int64(u()%(1<<40)) + 1
		} else {
			start += ps * int64(u()%300+1)
		}
		s.l.skip = uint16(u())
		if op&16 == 0 {
			s.l.skip %= 200
		}
		s.l.pkt = start - int64(s.l.skip)
		s.l.raw = s.size
		if op&32 != 0 {
			s.l.raw = uint32(u())
		}
		s.l.span = uint32(u())
		s.l.runs = -1
		if op&64 != 0 {
			s.l.span %= 8
			if op&128 != 0 { // a gap, as if runs were made and then not used
				runs = append(runs, make([]run, u()%4)...)
			}
			s.l.runs = int32(len(runs))
			for range s.l.span {
				runs = append(runs, run{off: int64(u()), n: uint32(u())})
			}
		}
		samples = append(samples, s)
	}
	return samples, runs, ps
}

// roundTrip builds an index from samples and checks every way of reading it
// against the reference.
func roundTrip(t *testing.T, samples []synthSample, runs []run, ps int64, video bool, dflt, origin int64) (built bool) {
	var b indexBuilder
	b.x.ps = ps
	ref := make([]segment.Sample, len(samples))
	for k, s := range samples {
		// As locate does: a sample's runs are appended just before it.
		if s.l.runs >= 0 {
			b.x.runs = runs[:int(s.l.runs)+int(s.l.span)]
		}
		b.add(s.dt, s.cto, s.size, s.sync, s.l)
		ref[k] = segment.Sample{DecodeTime: uint64(s.dt), Offset: s.l.start(), Size: s.size, CompositionOffset: s.cto, Sync: s.sync}
	}
	b.x.runs = runs
	want, total, werr := refTrack(ref, origin, video, dflt)
	x, err := b.build(origin, video, dflt, func(sample int, off, dur int64) error {
		return fmt.Errorf("sample %d: duration %d out of range", sample, dur)
	})
	if (err != nil) != (werr != nil) || err != nil && err.Error() != werr.Error() {
		t.Fatalf("build: %v, reference: %v", err, werr)
	}
	if err != nil {
		return false
	}
	if x.Len() != len(want) || x.total != total {
		t.Fatalf("%d samples lasting %d, want %d lasting %d", x.Len(), x.total, len(want), total)
	}
	got, err := x.AppendSamples(nil, 0, x.Len())
	if err != nil || !slicesEqual(got, want) {
		t.Fatalf("full read: %v", err)
	}
	var cur cursor
	for k := range want {
		if k%7 == 0 || k%blockLen == blockLen-1 {
			r, err := x.AppendSamples(nil, k, min(k+blockLen+3, len(want)))
			if err != nil || !slicesEqual(r, want[k:min(k+blockLen+3, len(want))]) {
				t.Fatalf("read from %d: %v", k, err)
			}
		}
		i, l, err := x.find(want[k].Offset, nil)
		if err != nil || i != k || l != samples[k].l {
			t.Fatalf("find sample %d: got %d %+v %v, want %+v", k, i, l, err, samples[k].l)
		}
		// In order through one cursor, and after one lookup elsewhere.
		i, l, err = x.find(want[k].Offset, &cur)
		if err != nil || i != k || l != samples[k].l {
			t.Fatalf("find sample %d: got %d %+v %v, want %+v", k, i, l, err, samples[k].l)
		}
		if k%5 == 0 {
			_, _, _ = x.find(want[(k*7919)%len(want)].Offset, &cur)
		}
		if i, _, _ := x.find(want[k].Offset-1, nil); i >= 0 && (k == 0 || want[k-1].Offset != want[k].Offset-1) {
			t.Fatalf("found sample %d one byte before sample %d", i, k)
		}
	}
	if _, err := x.AppendSamples(nil, 1, 0); err == nil {
		t.Fatal("reversed range accepted")
	}
	return true
}

// corrupt flips bytes of x's encoding and reads it all: errors are fine,
// panics are not.
func corrupt(x *index, b []byte) {
	for k := 0; k+2 < len(b) && len(x.pages) > 0; k += 3 {
		p := x.pages[int(b[k])%len(x.pages)]
		if len(p) > 0 {
			p[int(binary.BigEndian.Uint16(b[k+1:]))%len(p)] ^= b[k+2] | 1
		}
	}
	ss, _ := x.AppendSamples(nil, 0, x.Len())
	for k := range x.blocks {
		_, _, _ = x.find(x.blocks[k].start+int64(k%5), nil)
	}
	var c cursor
	for _, s := range ss {
		_, _, _ = x.find(s.Offset, &c)
	}
}

func TestIndexRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	built, long := 0, 0
	for round := range 300 {
		b := make([]byte, rng.Intn(8000))
		rng.Read(b)
		samples, runs, ps := synthIndex(b)
		if roundTrip(t, samples, runs, ps, round%2 == 0, int64(rng.Intn(3)*1024), rng.Int63n(1<<40)-1<<39) {
			built++
			if len(samples) > 2*blockLen {
				long++
			}
		}
	}
	t.Logf("%d of 300 sequences built, %d over two blocks", built, long)
	// Random steps are sometimes out of range; enough must still build.
	if built < 50 || long < 10 {
		t.Fatalf("only %d of 300 sequences built, %d of them over two blocks", built, long)
	}
	// Regular streams, as a real demuxer makes them.
	for _, video := range []bool{false, true} {
		var ss []synthSample
		for k := range 1000 {
			ss = append(ss, synthSample{dt: 1e10 + int64(k)*1024, size: 300, sync: k%30 == 0,
				l: loc{pkt: int64(k) * 2 * 188, skip: 20, span: 2, raw: 300, runs: -1}})
		}
		roundTrip(t, ss, nil, 188, video, 1024, 1e10)
	}
}

// FuzzIndex round-trips generated sample sequences through the compact
// index, then damages the encoding and reads it again.
func FuzzIndex(f *testing.F) {
	f.Add([]byte{0, 10, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	f.Add(bytes.Repeat([]byte{0xff, 0x7f, 1, 0x80, 0x80, 1}, 200))
	rng := rand.New(rand.NewSource(3))
	for range 4 {
		b := make([]byte, 600)
		rng.Read(b)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 4096 { // keeps minimization short
			return
		}
		samples, runs, ps := synthIndex(b)
		video := len(b) > 0 && b[0]&1 != 0
		roundTrip(t, samples, runs, ps, video, 1536, int64(len(b))*1e6)
		// The same samples with valid durations, to damage.
		var bl indexBuilder
		bl.x.ps = ps
		for k, s := range samples {
			if s.l.runs >= 0 {
				bl.x.runs = runs[:int(s.l.runs)+int(s.l.span)]
			}
			bl.add(int64(k)<<11+s.dt&1023, s.cto, s.size, s.sync, s.l)
		}
		bl.x.runs = runs
		x, err := bl.build(0, video, 1536, func(int, int64, int64) error { return errors.New("range") })
		if err == nil {
			corrupt(x, b)
		}
	})
}

package ts

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/internal/tscue"
	"github.com/cmafkit/cmafkit/scte35"
	"github.com/cmafkit/cmafkit/segment"
)

// checker is a Handler that checks what a Demuxer hands over and keeps a
// digest of it.
type checker struct {
	t       *testing.T
	tracks  map[uint32]*segment.Track
	last    map[uint32]uint64
	h       []byte // digest input, hashed as it grows
	sum     uint64
	samples int
	cues    int // live SCTE-35 cues handed over
}

func newChecker(t *testing.T) *checker {
	return &checker{t: t, tracks: map[uint32]*segment.Track{}, last: map[uint32]uint64{}}
}

func (c *checker) add(format string, args ...any) {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d "+format, append([]any{c.sum}, args...)...)
	c.sum = h.Sum64()
}

func (c *checker) Track(t *segment.Track) error {
	if t.SampleEntry == nil || t.Timescale == 0 || t.Codec == "" || (t.Kind != segment.KindVideo && t.Kind != segment.KindAudio) {
		c.t.Fatalf("incomplete track %+v", t)
	}
	c.tracks[t.ID] = t
	c.add("track %d %s %s", t.ID, t.Codec, t.Kind)
	return nil
}

func (c *checker) Sample(pid uint32, s segment.Sample, p []byte) error {
	t := c.tracks[pid]
	if t == nil {
		c.t.Fatalf("sample of undeclared PID %d", pid)
	}
	if int(s.Size) != len(p) || len(p) == 0 {
		c.t.Fatalf("PID %d: size %d, payload %d", pid, s.Size, len(p))
	}
	if t.Kind == segment.KindVideo {
		for b := p; len(b) > 0; {
			if len(b) < 5 {
				c.t.Fatalf("PID %d: bad NAL length prefix", pid)
			}
			n := int(b[0])<<24 | int(b[1])<<16 | int(b[2])<<8 | int(b[3])
			if n == 0 || n > len(b)-4 {
				c.t.Fatalf("PID %d: NAL length %d of %d", pid, n, len(b)-4)
			}
			b = b[4+n:]
		}
	}
	if l, ok := c.last[pid]; ok && s.DecodeTime <= l {
		c.t.Fatalf("PID %d: decode time %d after %d on one time base", pid, s.DecodeTime, l)
	}
	c.last[pid] = s.DecodeTime
	c.samples++
	h := fnv.New64a()
	h.Write(p)
	c.add("sample %d %d %d %v %x", pid, s.DecodeTime, s.CompositionOffset, s.Sync, h.Sum64())
	return nil
}

// Cue checks a live SCTE-35 cue: a section that parses. (Its stream may
// not be declared yet: video waits for its decode times.)
func (c *checker) Cue(pid uint32, t uint64, section []byte) error {
	if _, err := scte35.Parse(section); err != nil {
		c.t.Fatalf("cue section handed over: %v", err)
	}
	c.cues++
	c.add("cue %d %d %x", pid, t, section)
	return nil
}

func (c *checker) Discontinuity() error {
	clear(c.last)
	c.add("disc")
	return nil
}

// feed demuxes b written in pieces whose sizes come from seed (0: at once).
func feed(t *testing.T, b []byte, seed byte) *checker {
	c := newChecker(t)
	m := NewDemuxer("fuzz", &Options{MaxSampleSize: 1 << 20}, c)
	x := uint32(seed)
	for len(b) > 0 {
		n := len(b)
		if seed != 0 {
			x = x*1664525 + 1013904223
			n = min(n, 1+int(x>>20)%1500)
		}
		if k, err := m.Write(b[:n]); err != nil || k != n {
			t.Fatalf("Write: %d, %v", k, err)
		}
		b = b[n:]
	}
	if err := m.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := m.Write([]byte{0x47}); err == nil {
		t.Fatal("Write after Close succeeded")
	}
	return c
}

// FuzzDemuxer feeds real streams, cut, spliced and damaged (damage, as in
// FuzzOpen), or for the last base the fuzzer's bytes as they are, to a
// Demuxer in pieces: it must never panic or fail, must hand over only
// declared tracks' samples with valid payloads in increasing decode order
// on each time base, and must hand over the same whatever the pieces. The
// fuzzer's input is the edit list, short enough for it to minimize.
func FuzzDemuxer(f *testing.F) {
	var streams [][]byte
	for _, name := range []string{"h264_aac.ts", "hevc_ac3.ts"} {
		b := readFile(f, name)
		streams = append(streams, b[:min(len(b), 48*tsLen)])
	}
	a, b := streams[0], streams[1]
	pts := uint64(1 << 20)
	sec, err := (&scte35.Section{SAPType: 3, Tier: 0xFFF, Command: &scte35.SpliceInsert{EventID: 1, OutOfNetwork: true, ProgramSplice: true, SpliceTime: &pts}}).Encode()
	if err != nil {
		f.Fatal(err)
	}
	cued, err := tscue.AddSCTE35(a, 0x1F0, []tscue.Insert{{After: 10, Section: sec}, {After: 30, Section: sec}})
	if err != nil {
		f.Fatal(err)
	}
	bases := [][]byte{
		cued, // with SCTE-35 (live cues)
		a, b,
		append(bytes.Clone(a[:len(a)/2]), b[len(b)/3:]...),                                                   // spliced
		append(bytes.Clone(a[:len(a)/2+77]), a[len(a)/4+13:]...),                                             // cut mid-packet, replayed
		append(append(bytes.Clone(a[:24*tsLen]), bytes.Repeat([]byte{0x47, 0, 1}, 100)...), a[24*tsLen:]...), // garbage
	}
	for i := range bases {
		f.Add(byte(2*i+1), uint8(i), []byte{})
		f.Add(byte(i), uint8(i), []byte{5, 171, 0, 0, 7, 86, 0, 0, 1, 0x80, 0, 3, 4, 0xf0, 0, 0})
	}
	f.Add(byte(1), uint8(len(bases)), []byte{0x47})
	f.Fuzz(func(t *testing.T, seed byte, base uint8, edits []byte) {
		if len(edits) > maxEdits {
			return
		}
		var b []byte
		if int(base)%(len(bases)+1) == len(bases) {
			b = edits
		} else {
			b = damage(bases[int(base)%(len(bases)+1)], edits)
		}
		wd := time.AfterFunc(20*time.Second, func() { panic("FuzzDemuxer: one input took over 20 s") })
		defer wd.Stop()
		whole := feed(t, b, 0)
		pieces := feed(t, b, seed|1)
		if whole.sum != pieces.sum || whole.samples != pieces.samples || whole.cues != pieces.cues {
			t.Fatalf("fed at once: %d samples; in pieces: %d samples, other content", whole.samples, pieces.samples)
		}
	})
}

// TestDemuxerCues checks that the live Demuxer hands over the SCTE-35
// sections of a stream type 0x86 PID (twice the same section here) on the
// video's clock, the splice time 2^20 ticks after the 33-bit origin.
func TestDemuxerCues(t *testing.T) {
	a := readFile(t, "h264_aac.ts")
	pts := uint64(1 << 20)
	sec, err := (&scte35.Section{SAPType: 3, Tier: 0xFFF, Command: &scte35.SpliceInsert{EventID: 1, OutOfNetwork: true, ProgramSplice: true, SpliceTime: &pts}}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	cued, err := tscue.AddSCTE35(a, 0x1F0, []tscue.Insert{{After: 10, Section: sec}, {After: 30, Section: sec}})
	if err != nil {
		t.Fatal(err)
	}
	var got []uint64
	h := &cueFunc{funcHandler: &funcHandler{sample: func(uint32, segment.Sample, []byte) {}}, cue: func(pid uint32, at uint64, s []byte) { got = append(got, at) }}
	m := NewDemuxer("cued", nil, h)
	if _, err := m.Write(cued); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != got[1] || got[0] != liveBase+pts {
		t.Errorf("cue times %v, want twice %d", got, liveBase+pts)
	}
}

type cueFunc struct {
	*funcHandler
	cue func(pid uint32, t uint64, section []byte)
}

func (h *cueFunc) Cue(pid uint32, t uint64, section []byte) error {
	h.cue(pid, t, section)
	return nil
}

// TestDemuxerMatchesOpen checks the Demuxer against Open on the test
// streams: the same samples, decode times shifted by one constant.
func TestDemuxerMatchesOpen(t *testing.T) {
	for _, name := range []string{"h264_aac.ts", "hevc_ac3.ts"} {
		b := readFile(t, name)
		src, err := Open(t.Context(), bytes.NewReader(b), int64(len(b)), name, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := map[uint32][]segment.Sample{}
		var payloads = map[uint32][][]byte{}
		h := &funcHandler{sample: func(pid uint32, s segment.Sample, p []byte) {
			got[pid] = append(got[pid], s)
			payloads[pid] = append(payloads[pid], bytes.Clone(p))
		}}
		m := NewDemuxer(name, nil, h)
		if _, err := m.Write(b); err != nil {
			t.Fatal(err)
		}
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		for _, tr := range src.Tracks {
			want := samplesOf(tr)
			g := got[tr.ID]
			if len(g) != len(want) {
				t.Fatalf("%s PID %d: %d samples, Open %d", name, tr.ID, len(g), len(want))
			}
			off := g[0].DecodeTime - want[0].DecodeTime
			for i := range g {
				p, err := tr.Data.AppendSample(nil, &want[i])
				if err != nil {
					t.Fatal(err)
				}
				if g[i].DecodeTime-off != want[i].DecodeTime || g[i].CompositionOffset != want[i].CompositionOffset ||
					g[i].Sync != want[i].Sync || !bytes.Equal(payloads[tr.ID][i], p) {
					t.Fatalf("%s PID %d sample %d: %+v, Open %+v", name, tr.ID, i, g[i], want[i])
				}
			}
		}
	}
}

type funcHandler struct {
	sample func(pid uint32, s segment.Sample, p []byte)
}

func (h *funcHandler) Track(t *segment.Track) error { return nil }
func (h *funcHandler) Sample(pid uint32, s segment.Sample, p []byte) error {
	h.sample(pid, s, p)
	return nil
}
func (h *funcHandler) Discontinuity() error { return nil }

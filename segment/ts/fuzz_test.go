package ts

import (
	"bytes"
	"context"
	"runtime/metrics"
	"slices"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/internal/testutil"
)

// FuzzOpen feeds the demuxer damaged streams: one of a few real streams
// (openBases) with byte edits applied where the fuzzer says (damage), or,
// for the last base, the fuzzer's bytes as they are. The demuxer must never
// panic, must fail with a *segment.FormatError, or return tracks whose every
// sample reads back with exactly Size bytes in increasing decode order, and
// whose compact index decodes to exactly the plain reference index
// (checkIndex); and it must allocate no more than allocBound.
//
// The fuzzer's input is the short edit list, not the stream: the Go fuzzer
// minimizes every input that finds new coverage by trying to remove each
// byte range (quadratic in the input's length) and runs no new input while
// it does, so multi-kilobyte inputs stall it for its whole minimize time.
func FuzzOpen(f *testing.F) {
	bases := openBases(f)
	for i := range bases {
		f.Add(uint8(i), []byte{})
		// A bad sync byte, a lost packet, a flipped bit and a cut end.
		f.Add(uint8(i), []byte{5, 171, 0, 0, 7, 86, 0, 0, 1, 0x80, 0, 3, 4, 0xf0, 0, 0})
	}
	f.Add(uint8(len(bases)), []byte{0x47})
	f.Fuzz(func(t *testing.T, base uint8, edits []byte) {
		if len(edits) > maxEdits {
			return
		}
		var b []byte
		if int(base)%(len(bases)+1) == len(bases) {
			b = edits
		} else {
			b = damage(bases[int(base)%(len(bases)+1)], edits)
		}
		wd := time.AfterFunc(20*time.Second, func() { panic("FuzzOpen: one input took over 20 s") })
		defer wd.Stop()
		if alloc := checkOpen(t, b); alloc > allocBound(len(b)) {
			t.Fatalf("Open allocated %d bytes for %d bytes of input", alloc, len(b))
		}
	})
}

// maxEdits is the longest edit list (or raw stream) FuzzOpen and
// FuzzDemuxer take: two packets, 94 edits, short enough to minimize in
// well under a second; longer inputs are skipped, so they find no coverage
// and are never minimized.
const maxEdits = 2 * tsLen

// openBases are the streams FuzzOpen damages: 24 packets from the start of
// each cutBases stream, and 24 packets of H.264 + AAC whose first PSI comes
// after its first keyframe.
func openBases(t testing.TB) [][]byte {
	var out [][]byte
	for _, b := range cutBases(t) {
		out = append(out, b[:min(len(b), 24*tsLen)])
	}
	late := withoutPSI(readFile(t, "h264_aac.ts")[:48*tsLen], 20)
	return append(out, late[:24*tsLen])
}

// damage returns a copy of b with edits applied. Each edit is four bytes:
// an operation, a 16-bit position scaled to the stream (for the packet
// operations: a packet scaled from the first byte, and an offset) and a
// value. The operations overwrite a byte, flip a
// bit, insert a byte, delete a run of bytes, cut the stream, overwrite one
// of a packet's first 24 bytes (its header, adaptation field, PES or
// section header), repeat a packet and drop packets.
func damage(b, edits []byte) []byte {
	return testutil.ApplyEdits(b, edits, func(b []byte, e testutil.Edit) []byte {
		v := e.Value
		pk := int(e.Hi) * (len(b) / tsLen) >> 8 * tsLen // a packet start, if any
		switch e.Op % 8 {
		case 5:
			if j := pk + int(e.Lo%24); j < len(b) {
				b[j] = v
			}
		case 6:
			if pk+tsLen <= len(b) {
				b = slices.Insert(b, int(v)*len(b)>>8, b[pk:pk+tsLen]...)
			}
		case 7:
			b = slices.Delete(b, pk, min(pk+tsLen*(1+int(v%8)), len(b)))
		}
		return b
	})
}

// allocBound is the most Open may allocate for n bytes of input in the fuzz
// targets: the read window, a page of index per track and small buffers,
// and the plain reference index the tests keep; anything near it is
// allocation driven by values in the input.
func allocBound(n int) uint64 { return 4<<20 + 16*uint64(n) }

// checkOpen opens b and checks the outcome as FuzzOpen describes. It
// returns the bytes the demuxer allocated.
func checkOpen(t *testing.T, b []byte) uint64 {
	// runtime/metrics, unlike runtime.ReadMemStats, does not stop the
	// world; its count may lag by the unused part of a span per size class,
	// far below allocBound's slack.
	m := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(m)
	a0 := m[0].Value.Uint64()
	src, d, err := open(context.Background(), bytes.NewReader(b), int64(len(b)), "fuzz", &Options{MaxSampleSize: 1 << 20}, true)
	metrics.Read(m)
	alloc := m[0].Value.Uint64() - a0
	if err != nil {
		if !isFormatErr(err) {
			t.Fatalf("error without position: %v", err)
		}
		return alloc
	}
	checkIndex(t, src, d)
	for _, tr := range src.Tracks {
		ss := samplesOf(tr)
		if len(ss) == 0 || tr.SampleEntry == nil || tr.Codec == "" || tr.Timescale == 0 {
			t.Fatalf("incomplete track %s", tr)
		}
		var buf []byte
		for i := range ss {
			s := &ss[i]
			if i > 0 && s.DecodeTime <= ss[i-1].DecodeTime {
				t.Fatalf("%s sample %d: decode time not increasing", tr, i+1)
			}
			if s.Duration == 0 {
				t.Fatalf("%s sample %d: duration 0", tr, i+1)
			}
			buf, err = tr.Data.AppendSample(buf[:0], s)
			if err != nil {
				t.Fatalf("%s sample %d: %v", tr, i+1, err)
			}
			if len(buf) != int(s.Size) {
				t.Fatalf("%s sample %d: %d bytes, Size %d", tr, i+1, len(buf), s.Size)
			}
		}
	}
	return alloc
}

// cutBases are the streams FuzzCut cuts up: the test files' first 300
// packets, aligned and rewritten as muxers in the wild write them.
func cutBases(t testing.TB) [][]byte {
	const n = 300 * tsLen
	h264 := readFile(t, "h264_aac.ts")[:n]
	hevc := readFile(t, "hevc_ac3.ts")[:n]
	unaligned := splitPES(t, h264, videoPID)
	unalign(pesOf(unaligned, videoPID), func(i int) int { return []int{-300, 2, -17, 1}[i%4] })
	ptsOnly := splitPES(t, hevc, videoPID)
	for _, e := range pesOf(ptsOnly, videoPID) {
		e.dts = -1
	}
	mt := readMP4(t, "opus.mp4")["soun"]
	opus := opusTS(mt, 312, 2, 3)
	return [][]byte{h264, hevc, buildTS(unaligned), buildTS(ptsOnly), withoutPSI(h264, 150), opus[:min(len(opus), n)]}
}

// FuzzCut feeds the demuxer real streams (cutBases) cut, spliced and
// reordered where the fuzzer says: a start or an end at a packet or at a
// PES start, packets dropped, swapped, repeated, a run of another stream
// spliced in, the last packet cut short. Each command is three bytes: the
// operation and two positions scaled to the stream. The demuxer must not
// panic, must allocate a bounded amount, and must either fail with a
// typed error or return a consistent source (checkOpen: increasing decode
// times, every sample readable with its size, the compact index equal to
// the plain one).
func FuzzCut(f *testing.F) {
	bases := cutBases(f)
	for i := range bases {
		f.Add(uint8(i), []byte{})
		f.Add(uint8(i), []byte{0, 40, 0, 1, 200, 0})
		f.Add(uint8(i), []byte{6, 30, 0, 3, 10, 90, 5, 100, 20, 7, 255, 99})
		f.Add(uint8(i), []byte{2, 60, 7, 4, 5, 70, 6, 120, 1})
	}
	f.Fuzz(func(t *testing.T, which uint8, ops []byte) {
		src := bases[int(which)%len(bases)]
		ps := pkts(src)
		cutBytes := -1
		for k := 0; len(ops) >= 3 && k < 12 && len(ps) > 0; k, ops = k+1, ops[3:] {
			pos := func(x byte) int { return int(x) * len(ps) / 256 }
			i, j := pos(ops[1]), pos(ops[2])
			switch ops[0] % 8 {
			case 0: // join mid-stream
				ps = ps[i:]
			case 1: // end early
				ps = ps[:i+1]
			case 2: // lose packets
				ps = append(ps[:i:i], ps[min(i+1+int(ops[2]%16), len(ps)):]...)
			case 3: // reorder
				ps = append([][]byte(nil), ps...)
				ps[i], ps[j] = ps[j], ps[i]
			case 4: // repeat a packet elsewhere
				ps = append(ps[:j:j], append([][]byte{ps[i]}, ps[j:]...)...)
			case 5: // splice in a run of another stream
				other := pkts(bases[int(ops[1])%len(bases)])
				a := int(ops[2]) * len(other) / 256
				run := other[a:min(a+1+int(ops[1]%64), len(other))]
				ps = append(ps[:i:i], append(append([][]byte(nil), run...), ps[i:]...)...)
			case 6: // start or end at the next PES start of a PID
				for q := i; q < len(ps); q++ {
					if ps[q][1]&0x40 != 0 && pidOf(ps[q]) >= 0x100 {
						if ops[2]&1 == 0 {
							ps = ps[q:]
						} else {
							ps = ps[:q]
						}
						break
					}
				}
			case 7: // cut the last packet short
				cutBytes = int(ops[1]) * tsLen / 256
			}
		}
		b := join(ps)
		if cutBytes >= 0 && len(b) >= tsLen {
			b = b[:len(b)-tsLen+cutBytes]
		}
		if alloc := checkOpen(t, b); alloc > allocBound(len(b)) {
			t.Fatalf("Open allocated %d bytes for %d bytes of input", alloc, len(b))
		}
	})
}

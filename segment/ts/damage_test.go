package ts

import (
	"bytes"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/cmafkit/cmafkit/segment"
)

// pkts splits a 188-byte-packet TS into packets (sharing memory with b).
func pkts(b []byte) [][]byte {
	var out [][]byte
	for i := 0; i+tsLen <= len(b); i += tsLen {
		out = append(out, b[i:i+tsLen])
	}
	return out
}

func join(ps [][]byte) []byte {
	var out []byte
	for _, p := range ps {
		out = append(out, p...)
	}
	return out
}

func pidOf(p []byte) uint16 { return uint16(p[1]&0x1f)<<8 | uint16(p[2]) }

// pesHeader returns the PES header inside a PUSI packet, or nil.
func pesHeader(p []byte) []byte {
	h := parseHeader(p)
	if !h.pusi || !h.hasPay || h.pid == 0 || h.pid >= 0x1000 {
		return nil
	}
	b := p[h.payload:]
	if len(b) < 9 || b[0] != 0 || b[1] != 0 || b[2] != 1 {
		return nil
	}
	return b
}

func writeTS(b []byte, v int64) {
	v &= 1<<33 - 1
	b[0] = b[0]&0xF0 | byte(v>>29)&0x0E | 1
	b[1] = byte(v >> 22)
	b[2] = byte(v>>14) | 1
	b[3] = byte(v >> 7)
	b[4] = byte(v<<1) | 1
}

// shift adds delta (mod 2^33) to every PTS, DTS and PCR in packets[from:].
func shift(ps [][]byte, from int, delta int64) {
	for _, p := range ps[from:] {
		if p[3]&0x20 != 0 && p[4] > 0 && p[5]&0x10 != 0 { // PCR
			base := int64(p[6])<<25 | int64(p[7])<<17 | int64(p[8])<<9 | int64(p[9])<<1 | int64(p[10]>>7)
			base = (base + delta) & (1<<33 - 1)
			p[6], p[7], p[8], p[9] = byte(base>>25), byte(base>>17), byte(base>>9), byte(base>>1)
			p[10] = p[10]&0x7F | byte(base<<7)
		}
		if h := pesHeader(p); h != nil {
			if h[7]&0x80 != 0 {
				v, _ := readTS(h[9:14])
				writeTS(h[9:14], v+delta)
			}
			if h[7]&0x40 != 0 {
				v, _ := readTS(h[14:19])
				writeTS(h[14:19], v+delta)
			}
		}
	}
}

// sameSamples checks that two sources have the same tracks and samples
// (Offset excepted when ignoreOffset) with the same payloads.
func sameSamples(t *testing.T, want, got *Source, ignoreOffset bool) {
	t.Helper()
	if len(want.Tracks) != len(got.Tracks) {
		t.Fatalf("%d tracks, want %d", len(got.Tracks), len(want.Tracks))
	}
	for i, wt := range want.Tracks {
		gt := got.Tracks[i]
		if gt.ID != wt.ID || gt.Codec != wt.Codec || gt.PresentationOffset != wt.PresentationOffset || gt.Duration != wt.Duration {
			t.Errorf("track %s (offset %d, duration %d), want %s (offset %d, duration %d)", gt, gt.PresentationOffset, gt.Duration, wt, wt.PresentationOffset, wt.Duration)
		}
		gss, wss := samplesOf(gt), samplesOf(wt)
		if len(gss) != len(wss) {
			t.Fatalf("%s: %d samples, want %d", gt, len(gss), len(wss))
		}
		wp, gp := payloads(t, wt), payloads(t, gt)
		for j := range wss {
			ws, gs := wss[j], gss[j]
			if ignoreOffset {
				ws.Offset, gs.Offset = 0, 0
			}
			if ws != gs {
				t.Fatalf("%s sample %d: %+v, want %+v", gt, j+1, gs, ws)
			}
			if !bytes.Equal(wp[j], gp[j]) {
				t.Fatalf("%s sample %d: payload differs", gt, j+1)
			}
		}
	}
}

// subset checks that every sample of damaged equals the clean sample with the
// same decode time (same payload, size, sync, composition offset), and
// returns how many samples each track lost.
func subset(t *testing.T, clean, damaged *Source) map[uint32]int {
	t.Helper()
	lost := map[uint32]int{}
	for _, dt := range damaged.Tracks {
		var ct *segment.Track
		for _, c := range clean.Tracks {
			if c.ID == dt.ID {
				ct = c
			}
		}
		if ct == nil {
			t.Fatalf("damaged file has an extra track %s", dt)
		}
		if dt.PresentationOffset != ct.PresentationOffset {
			t.Errorf("%s: presentation offset %d, clean %d", dt, dt.PresentationOffset, ct.PresentationOffset)
		}
		css, dss := samplesOf(ct), samplesOf(dt)
		byTime := map[uint64]int{}
		for i, s := range css {
			byTime[s.DecodeTime] = i
		}
		cp, dp := payloads(t, ct), payloads(t, dt)
		for i, s := range dss {
			j, ok := byTime[s.DecodeTime]
			if !ok {
				t.Fatalf("%s sample %d: decode time %d not in the clean file", dt, i+1, s.DecodeTime)
			}
			c := css[j]
			if s.Size != c.Size || s.Sync != c.Sync || s.CompositionOffset != c.CompositionOffset || !bytes.Equal(dp[i], cp[j]) {
				t.Fatalf("%s sample %d differs from clean sample %d", dt, i+1, j+1)
			}
		}
		lost[dt.ID] = len(css) - len(dss)
	}
	return lost
}

// firstPacket returns the index of the first packet at or after from that
// satisfies ok.
func firstPacket(t *testing.T, ps [][]byte, from int, ok func(p []byte) bool) int {
	t.Helper()
	for i := from; i < len(ps); i++ {
		if ok(ps[i]) {
			return i
		}
	}
	t.Fatal("no such packet")
	return -1
}

func isPUSI(pid uint16) func([]byte) bool {
	return func(p []byte) bool { return pidOf(p) == pid && p[1]&0x40 != 0 }
}

func isCont(pid uint16) func([]byte) bool {
	return func(p []byte) bool { return pidOf(p) == pid && p[1]&0x40 == 0 }
}

func TestPTSWrap(t *testing.T) {
	clean := readFile(t, "h264_aac.ts")
	ref := mustOpen(t, clean, "clean")
	b := bytes.Clone(clean)
	ps := pkts(b)
	// Make the 33-bit clock wrap 2 s after the first DTS (126000).
	shift(ps, 0, 1<<33-126000-2*clock)
	wrapped := false
	var last int64 = -1
	for _, p := range ps {
		if h := pesHeader(p); h != nil && pidOf(p) == 256 {
			v, _ := readTS(h[9:14])
			wrapped = wrapped || last > v+1<<32
			last = v
		}
	}
	if !wrapped {
		t.Fatal("test input does not wrap")
	}
	src := mustOpen(t, b, "wrapped")
	sameSamples(t, ref, src, false)
	if src.Stats.Discontinuities != 0 {
		t.Errorf("wrap taken for a discontinuity: %+v", src.Stats)
	}
}

func TestDiscontinuity(t *testing.T) {
	clean := readFile(t, "h264_aac.ts")
	ref := mustOpen(t, clean, "clean")
	for _, signalled := range []bool{true, false} {
		b := bytes.Clone(clean)
		ps := pkts(b)
		// A video PES start with an adaptation field (it carries the PCR) in the middle.
		k := firstPacket(t, ps, len(ps)/2, func(p []byte) bool { return isPUSI(256)(p) && p[3]&0x20 != 0 && p[4] > 0 })
		if signalled {
			ps[k][5] |= 0x80
		}
		shift(ps, k, 3600*clock) // the new time base is an hour later
		src := mustOpen(t, b, "disc")
		sameSamples(t, ref, src, false)
		if src.Stats.Discontinuities == 0 {
			t.Errorf("signalled=%v: no discontinuity counted", signalled)
		}
	}
}

func TestDamageRecovered(t *testing.T) {
	clean := readFile(t, "h264_aac.ts")
	ref := mustOpen(t, clean, "clean")
	mid := len(clean) / tsLen / 2

	t.Run("garbage between packets", func(t *testing.T) {
		ps := pkts(bytes.Clone(clean))
		garbage := bytes.Repeat([]byte{0x47, 0x11, 0x00}, 33)
		b := append(join(ps[:mid]), garbage...)
		b = append(b, join(ps[mid:])...)
		src := mustOpen(t, b, "garbage")
		sameSamples(t, ref, src, true)
		if st := src.Stats; st.Resyncs != 1 || st.SkippedBytes != int64(len(garbage)) {
			t.Errorf("stats %+v", st)
		}
	})
	t.Run("leading garbage and M2TS", func(t *testing.T) {
		var b []byte
		b = append(b, "not a packet"...)
		for _, p := range pkts(clean) {
			b = append(b, 0, 0, 0, 0)
			b = append(b, p...)
		}
		src := mustOpen(t, b, "m2ts")
		sameSamples(t, ref, src, true)
	})
	t.Run("duplicate packet", func(t *testing.T) {
		ps := pkts(bytes.Clone(clean))
		k := firstPacket(t, ps, mid, isCont(256))
		ps = append(ps[:k+1], ps[k:]...)
		src := mustOpen(t, join(ps), "dup")
		sameSamples(t, ref, src, true)
		if src.Stats.Duplicates != 1 {
			t.Errorf("stats %+v", src.Stats)
		}
		// The sample around the duplicate is read through explicit runs
		// (and mustOpen checked those against the reference index).
		if x := src.Tracks[0].Index.(*index); len(x.runs) == 0 {
			t.Error("no sample with explicit runs")
		}
	})
	t.Run("lost video packet", func(t *testing.T) {
		ps := pkts(bytes.Clone(clean))
		k := firstPacket(t, ps, mid, isCont(256))
		src := mustOpen(t, join(append(ps[:k:k], ps[k+1:]...)), "cc")
		lost := subset(t, ref, src)
		if st := src.Stats; st.CCErrors != 1 || st.DroppedPES != 1 {
			t.Errorf("stats %+v", st)
		}
		// The damaged frame and the rest of its GOP are gone, nothing else.
		vs := samplesOf(ref.Tracks[0])
		var damaged int
		for i := range vs {
			if vs[i].Offset > int64(k*tsLen) {
				damaged = i - 1
				break
			}
		}
		next := damaged
		for next < len(vs) && (next == damaged || !vs[next].Sync) {
			next++
		}
		if lost[256] != next-damaged || lost[257] != 0 {
			t.Errorf("lost %v, want %d video samples", lost, next-damaged)
		}
	})
	t.Run("bad sync bytes", func(t *testing.T) {
		ps := pkts(bytes.Clone(clean))
		for _, k := range []int{mid, mid + 300, mid + 600} {
			ps[k][0] = 0x46
		}
		src := mustOpen(t, join(ps), "sync")
		lost := subset(t, ref, src)
		if st := src.Stats; st.Resyncs != 3 || st.SkippedBytes != 3*tsLen || st.CCErrors == 0 {
			t.Errorf("stats %+v", st)
		}
		if lost[256]+lost[257] == 0 {
			t.Error("nothing lost")
		}
	})
	t.Run("transport error indicator", func(t *testing.T) {
		ps := pkts(bytes.Clone(clean))
		k := firstPacket(t, ps, mid, isCont(257))
		ps[k][1] |= 0x80
		src := mustOpen(t, join(ps), "tei")
		lost := subset(t, ref, src)
		if st := src.Stats; st.TEIPackets != 1 || st.CCErrors != 1 {
			t.Errorf("stats %+v", st)
		}
		if lost[257] == 0 || lost[256] != 0 {
			t.Errorf("lost %v", lost)
		}
	})
	t.Run("truncated PES", func(t *testing.T) {
		// Cut the last packet of an audio PES and renumber the continuity
		// counters, so only PES_packet_length tells that bytes are missing.
		ps := pkts(bytes.Clone(clean))
		k := firstPacket(t, ps, mid, isPUSI(257))
		next := firstPacket(t, ps, k+1, isPUSI(257))
		cut := k
		for i := k; i < next; i++ {
			if pidOf(ps[i]) == 257 {
				cut = i
			}
		}
		if cut == k {
			t.Skip("audio PES in one packet")
		}
		for _, p := range ps[cut+1:] {
			if pidOf(p) == 257 {
				p[3] = p[3]&0xF0 | (p[3]-1)&0x0F
			}
		}
		src := mustOpen(t, join(append(ps[:cut:cut], ps[cut+1:]...)), "pes")
		lost := subset(t, ref, src)
		if st := src.Stats; st.DroppedPES != 1 || st.CCErrors != 0 {
			t.Errorf("stats %+v", st)
		}
		if lost[257] != 1 || lost[256] != 0 {
			t.Errorf("lost %v, want 1 audio frame", lost)
		}
	})
	t.Run("truncated file", func(t *testing.T) {
		b := clean[:len(clean)-1000]
		src := mustOpen(t, b, "cut")
		lost := subset(t, ref, src)
		if st := src.Stats; st.TruncatedPackets != 1 {
			t.Errorf("stats %+v", st)
		}
		if lost[256]+lost[257] == 0 {
			t.Error("nothing lost")
		}
	})
	t.Run("random damage", func(t *testing.T) {
		rng := rand.New(rand.NewSource(1))
		for round := 0; round < 20; round++ {
			b := bytes.Clone(clean)
			for i := 0; i < 10; i++ {
				b[rng.Intn(len(b))] = byte(rng.Intn(256))
			}
			src, err := openBytes(t, b, "random")
			if err != nil {
				if !isFormatErr(err) {
					t.Fatalf("error is not a FormatError: %v", err)
				}
				continue
			}
			for _, tr := range src.Tracks {
				ss := samplesOf(tr)
				for i := range ss {
					d, err := tr.Data.AppendSample(nil, &ss[i])
					if err == nil && len(d) != int(ss[i].Size) {
						t.Fatalf("sample %d: %d bytes, Size %d", i+1, len(d), ss[i].Size)
					}
				}
			}
		}
	})
}

func TestRejected(t *testing.T) {
	clean := readFile(t, "h264_aac.ts")
	for _, c := range []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, segment.ErrMalformed},
		{"not TS", bytes.Repeat([]byte("hello world "), 100), segment.ErrMalformed},
		{"no PMT", func() []byte {
			var out [][]byte
			for _, p := range pkts(clean) {
				if pidOf(p) != 0x1000 {
					out = append(out, p)
				}
			}
			return join(out)
		}(), segment.ErrNoTracks},
		{"one packet", clean[:tsLen], segment.ErrNoTracks},
		{"scrambled", func() []byte {
			b := bytes.Clone(clean)
			for _, p := range pkts(b) {
				if pidOf(p) == 256 {
					p[3] |= 0x80
				}
			}
			return b
		}(), segment.ErrUnsupportedCodec},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := openBytes(t, c.in, c.name)
			var fe *segment.FormatError
			if !errors.Is(err, c.want) || !errors.As(err, &fe) || fe.Source != c.name {
				t.Fatalf("err = %v, want a FormatError wrapping %v", err, c.want)
			}
		})
	}
}

func TestSampleReaderErrors(t *testing.T) {
	src := mustOpen(t, readFile(t, "h264_aac.ts"), "x")
	v := src.Tracks[0]
	s := samplesOf(v)[3]
	s.Offset++
	if _, err := v.Data.AppendSample(nil, &s); !errors.Is(err, segment.ErrMalformed) {
		t.Errorf("foreign sample: %v", err)
	}
	// A file that shrank after indexing.
	b := readFile(t, "h264_aac.ts")
	src = mustOpen(t, b, "shrunk")
	tr := src.Tracks[1]
	short := &Source{}
	_ = short
	rd := tr.Data.(*sampleReader)
	rd2 := *rd
	rd2.r = bytes.NewReader(b[:len(b)/2])
	last := samplesOf(tr)[len(samplesOf(tr))-1]
	if _, err := rd2.AppendSample(nil, &last); !errors.Is(err, segment.ErrTruncated) {
		t.Errorf("shrunk input: %v", err)
	}
}

func TestEAC3(t *testing.T) {
	out := filepath.Join(t.TempDir(), "eac3.ts")
	ffmpeg(t, "-i", filepath.Join(testdata, "eac3.mp4"), "-c", "copy", "-f", "mpegts", out)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	src := mustOpen(t, b, "eac3.ts")
	ref := readMP4(t, "eac3.mp4")
	a := trackOf(t, src, segment.KindAudio)
	compareTrack(t, a, ref["soun"])
	got := a.SampleEntry.(interface{ Type() string })
	if got.Type() != "ec-3" || a.Codec != "ec-3" || a.Channels != 6 || a.SampleRate != 48000 {
		t.Errorf("track %s", describe(a))
	}
	if ge, we := encodeBox(t, a.SampleEntry), encodeBox(t, ref["soun"].entry); !bytes.Contains(we, dec3Of(t, ge)) {
		t.Errorf("dec3 %x not in the MP4's sample entry %x", dec3Of(t, ge), we)
	}
}

// dec3Of returns the dec3 box bytes inside an encoded sample entry.
func dec3Of(t *testing.T, entry []byte) []byte {
	i := bytes.Index(entry, []byte("dec3"))
	if i < 4 {
		t.Fatal("no dec3")
	}
	n := int(entry[i-4])<<24 | int(entry[i-3])<<16 | int(entry[i-2])<<8 | int(entry[i-1])
	return entry[i-4 : i-4+n]
}

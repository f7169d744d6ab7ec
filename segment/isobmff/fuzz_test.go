package isobmff_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"runtime"
	"testing"
	"time"

	"github.com/Eyevinn/mp4ff/mp4"

	"github.com/cmafkit/cmafkit/internal/emsg"
	"github.com/cmafkit/cmafkit/scte35"
	"github.com/cmafkit/cmafkit/segment"
	"github.com/cmafkit/cmafkit/segment/cmaf"
)

// maxFuzzInput caps the MP4s the fuzz targets try: the seeds are a few
// KiB, and edits that make one much larger only slow each execution.
const maxFuzzInput = 16 << 10

// maxFuzzSegments caps the segments written per track by fuzzOpen: a
// mutated duration can ask for millions of (padding) segments, which is
// legitimate work for a real input, and the first and last few exercise
// the writer as much as all of them.
const maxFuzzSegments = 4

// fuzzOpen is open for the fuzz targets: it opens b and writes the init
// segment and the first and last maxFuzzSegments segments of every track.
// Any error is an acceptable outcome; a panic or a hang is not.
func fuzzOpen(b []byte) error {
	src, err := segment.Open(context.Background(), bytes.NewReader(b), int64(len(b)), "fuzz.mp4", nil)
	if err != nil {
		return err
	}
	plan, err := segment.PlanSegments(src.Tracks, 0)
	if err != nil {
		return err
	}
	for _, tr := range src.Tracks {
		sw, err := cmaf.NewWriter(tr, plan, cmaf.Options{})
		if err != nil {
			return err
		}
		if err := cmaf.WriteInit(&bytes.Buffer{}, tr, nil); err != nil {
			return err
		}
		n := sw.Len()
		for i := 0; i < n; i++ {
			if i == maxFuzzSegments && n-maxFuzzSegments > i {
				i = n - maxFuzzSegments
			}
			if _, err := sw.WriteSegment(context.Background(), &bytes.Buffer{}, i); err != nil {
				return err
			}
		}
	}
	return nil
}

// fuzzSeed returns the test file name cut down to a fuzz seed of a few KiB
// with the same structure: the same boxes and sample entries, but only the
// first three samples of each track and, for video, its first four sync
// samples (so a change of in-band parameter sets stays in), each sample
// shrunk by shrinkSample. Progressive files stay progressive (with moov
// where it was), fragmented ones keep their init segment and get one
// fragment. The seed must open and package cleanly.
func fuzzSeed(tb testing.TB, name string) []byte {
	tb.Helper()
	raw := readTestFile(tb, name)
	f, err := mp4.DecodeFile(bytes.NewReader(raw))
	if err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	var out []byte
	if f.IsFragmented() {
		out = fragmentedSeed(tb, name, f)
	} else {
		out = progressiveSeed(tb, name, f, raw)
	}
	if err := open(out); err != nil {
		tb.Fatalf("%s: the %d-byte fuzz seed does not package: %v", name, len(out), err)
	}
	if len(out) > maxFuzzInput {
		tb.Fatalf("%s: the fuzz seed has %d bytes, over the %d the targets try", name, len(out), maxFuzzInput)
	}
	return out
}

// seedSamples returns the 1-based numbers of the samples a seed keeps.
func seedSamples(n int, sync func(int) bool, video bool) []int {
	var keep []int
	syncs := 0
	for i := 1; i <= n; i++ {
		isSync := video && sync(i)
		if i <= 3 || isSync && syncs < 4 {
			keep = append(keep, i)
		}
		if isSync {
			syncs++
		}
		if i > 3 && (!video || syncs >= 4) {
			break
		}
	}
	return keep
}

// shrinkSample cuts a sample to a few dozen bytes. For NAL-unit formats
// (nalLen is the length field size) it keeps the NAL unit structure: small
// non-VCL units (parameter sets, short SEI) whole, others cut to their
// first bytes (the slice header), each with its length field rewritten.
func shrinkSample(b []byte, nalLen int, vcl func(hdr []byte) bool) []byte {
	if nalLen == 0 {
		return b[:min(len(b), 48)]
	}
	var out []byte
	for len(b) >= nalLen {
		var n uint64
		for _, c := range b[:nalLen] {
			n = n<<8 | uint64(c)
		}
		if n > uint64(len(b)-nalLen) || n == 0 {
			break
		}
		nalu := b[nalLen : nalLen+int(n)]
		b = b[nalLen+int(n):]
		if vcl(nalu) || len(nalu) > 64 {
			nalu = nalu[:min(len(nalu), 24)]
		}
		var hdr [8]byte
		binary.BigEndian.PutUint64(hdr[:], uint64(len(nalu)))
		out = append(out, hdr[8-nalLen:]...)
		out = append(out, nalu...)
	}
	return out
}

// sampleShape returns the NAL length field size of a sample entry (0 when
// samples are not NAL units) and a test for VCL NAL unit headers.
func sampleShape(entry mp4.Box) (int, func([]byte) bool) {
	if v, ok := entry.(*mp4.VisualSampleEntryBox); ok {
		switch {
		case v.AvcC != nil: // mp4ff keeps no avcC length size; ffmpeg writes 4
			return 4, func(h []byte) bool { t := h[0] & 0x1f; return t >= 1 && t <= 5 }
		case v.HvcC != nil:
			return int(v.HvcC.LengthSizeMinusOne) + 1, func(h []byte) bool { return (h[0]>>1)&0x3f < 32 }
		}
	}
	return 0, nil
}

// progressiveSeed rewrites the sample tables of f (decoded from raw) for
// the kept samples, all in one chunk per track, and lays out ftyp, moov
// and mdat in the order of the original.
func progressiveSeed(tb testing.TB, name string, f *mp4.File, raw []byte) []byte {
	tb.Helper()
	moovFirst := bytes.Index(raw, []byte("moov")) < bytes.Index(raw, []byte("mdat"))
	type trackData struct {
		stco *mp4.StcoBox
		co64 *mp4.Co64Box
		data []byte
	}
	var tracks []trackData
	var movieDur uint64
	for _, trak := range f.Moov.Traks {
		stbl := trak.Mdia.Minf.Stbl
		n := int(trak.GetNrSamples())
		video := trak.Mdia.Hdlr.HandlerType == "vide"
		keep := seedSamples(n, func(i int) bool { return stbl.Stss == nil || stbl.Stss.IsSyncSample(uint32(i)) }, video)
		nalLen, vcl := sampleShape(stbl.Stsd.Children[0])
		var (
			data               []byte
			sizes, durs, syncs []uint32
			cttsCounts         []uint32
			cttsOffsets        []int32
			sdtp               []mp4.SdtpEntry
			mediaDur           uint64
		)
		for k, nr := range keep {
			rs, err := trak.GetRangesForSampleInterval(uint32(nr), uint32(nr))
			if err != nil || len(rs) != 1 {
				tb.Fatalf("%s: sample %d: %v", name, nr, err)
			}
			s := shrinkSample(raw[rs[0].Offset:rs[0].Offset+rs[0].Size], nalLen, vcl)
			data = append(data, s...)
			sizes = append(sizes, uint32(len(s)))
			durs = append(durs, stbl.Stts.GetDur(uint32(nr)))
			mediaDur += uint64(durs[k])
			if stbl.Stss != nil && stbl.Stss.IsSyncSample(uint32(nr)) {
				syncs = append(syncs, uint32(k+1))
			}
			if stbl.Ctts != nil {
				cttsCounts = append(cttsCounts, 1)
				cttsOffsets = append(cttsOffsets, stbl.Ctts.GetCompositionTimeOffset(uint32(nr)))
			}
			if stbl.Sdtp != nil {
				sdtp = append(sdtp, stbl.Sdtp.Entries[nr-1])
			}
		}
		stbl.Stts.SampleCount, stbl.Stts.SampleTimeDelta = nil, nil
		for _, d := range durs {
			stbl.Stts.SampleCount = append(stbl.Stts.SampleCount, 1)
			stbl.Stts.SampleTimeDelta = append(stbl.Stts.SampleTimeDelta, d)
		}
		if stbl.Ctts != nil {
			stbl.Ctts.EndSampleNr, stbl.Ctts.SampleOffset = []uint32{0}, nil
			if err := stbl.Ctts.AddSampleCountsAndOffset(cttsCounts, cttsOffsets); err != nil {
				tb.Fatal(err)
			}
		}
		if stbl.Stss != nil {
			stbl.Stss.SampleNumber = syncs
		}
		if stbl.Sdtp != nil {
			stbl.Sdtp.Entries = sdtp
		}
		for _, sbgp := range stbl.Sbgps { // one run covering the kept samples
			if len(sbgp.SampleCounts) > 0 {
				sbgp.SampleCounts = []uint32{uint32(len(keep))}
				sbgp.GroupDescriptionIndices = sbgp.GroupDescriptionIndices[:1]
			}
		}
		stbl.Stsz.SampleUniformSize, stbl.Stsz.SampleNumber, stbl.Stsz.SampleSize = 0, uint32(len(sizes)), sizes
		stbl.Stsc.Entries = []mp4.StscEntry{{FirstChunk: 1, SamplesPerChunk: uint32(len(keep)), FirstSampleNr: 1}}
		stbl.Stsc.SetSingleSampleDescriptionID(1)
		if stbl.Stco != nil {
			stbl.Stco.ChunkOffset = []uint32{0}
		}
		if stbl.Co64 != nil {
			stbl.Co64.ChunkOffset = []uint64{0}
		}
		trak.Mdia.Mdhd.Duration = mediaDur
		dur := mediaDur * uint64(f.Moov.Mvhd.Timescale) / uint64(trak.Mdia.Mdhd.Timescale)
		trak.Tkhd.Duration = dur
		if trak.Edts != nil {
			for _, elst := range trak.Edts.Elst {
				for i := range elst.Entries {
					elst.Entries[i].SegmentDuration = min(elst.Entries[i].SegmentDuration, dur)
				}
			}
		}
		movieDur = max(movieDur, dur)
		tracks = append(tracks, trackData{stbl.Stco, stbl.Co64, data})
	}
	f.Moov.Mvhd.Duration = movieDur

	var mdat []byte
	for _, t := range tracks {
		mdat = append(mdat, t.data...)
	}
	dataStart := f.Ftyp.Size() + 8
	if moovFirst {
		dataStart += f.Moov.Size()
	}
	off := dataStart
	for _, t := range tracks {
		if t.stco != nil {
			t.stco.ChunkOffset[0] = uint32(off)
		} else {
			t.co64.ChunkOffset[0] = off
		}
		off += uint64(len(t.data))
	}
	var buf bytes.Buffer
	if err := f.Ftyp.Encode(&buf); err != nil {
		tb.Fatal(err)
	}
	if moovFirst {
		if err := f.Moov.Encode(&buf); err != nil {
			tb.Fatal(err)
		}
	}
	buf.Write(binary.BigEndian.AppendUint32(nil, uint32(8+len(mdat))))
	buf.WriteString("mdat")
	buf.Write(mdat)
	if !moovFirst {
		if err := f.Moov.Encode(&buf); err != nil {
			tb.Fatal(err)
		}
	}
	return buf.Bytes()
}

// fragmentedSeed keeps the init segment of f and builds one fragment from
// the kept samples of its first fragment.
func fragmentedSeed(tb testing.TB, name string, f *mp4.File) []byte {
	tb.Helper()
	frag := f.Segments[0].Fragments[0]
	var ids []uint32
	for _, trex := range f.Init.Moov.Mvex.Trexs {
		ids = append(ids, trex.TrackID)
	}
	out, err := mp4.CreateMultiTrackFragment(1, ids)
	if err != nil {
		tb.Fatal(err)
	}
	for i, trex := range f.Init.Moov.Mvex.Trexs {
		ss, err := frag.GetFullSamples(trex)
		if err != nil {
			tb.Fatalf("%s: %v", name, err)
		}
		nalLen, vcl := sampleShape(f.Init.Moov.Traks[i].Mdia.Minf.Stbl.Stsd.Children[0])
		video := f.Init.Moov.Traks[i].Mdia.Hdlr.HandlerType == "vide"
		for _, nr := range seedSamples(len(ss), func(i int) bool { return ss[i-1].IsSync() }, video) {
			s := ss[nr-1]
			s.Data = shrinkSample(s.Data, nalLen, vcl)
			s.Size = uint32(len(s.Data))
			if err := out.AddFullSampleToTrack(s, trex.TrackID); err != nil {
				tb.Fatal(err)
			}
		}
	}
	var buf bytes.Buffer
	if err := f.Init.Encode(&buf); err != nil {
		tb.Fatal(err)
	}
	if err := out.Encode(&buf); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// TestOpenSmallInputAllocatesLittle opens a 2 KB MP4 of two tracks: the
// moov reader and the sample-table cursors must size their read windows to
// the box and the tables, not allocate 64 KiB each (850 KB in all, which
// made opening a small file, and so each fuzz execution, slow).
func TestOpenSmallInputAllocatesLittle(t *testing.T) {
	b := fuzzSeed(t, "ladder_360p.mp4")
	least := uint64(1 << 62)
	for range 3 { // the least of three, in case something else allocates meanwhile
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		src, err := segment.Open(context.Background(), bytes.NewReader(b), int64(len(b)), "small.mp4", nil)
		runtime.ReadMemStats(&after)
		if err != nil {
			t.Fatal(err)
		}
		if len(src.Tracks) != 2 {
			t.Fatalf("%d tracks, want 2", len(src.Tracks))
		}
		least = min(least, after.TotalAlloc-before.TotalAlloc)
	}
	if least > 100<<10 {
		t.Errorf("opening a %d-byte MP4 allocates %d KiB, want under 100", len(b), least>>10)
	}
}

// TestOpenSPSWithHugeHRDCount opens an MP4 whose avcC SPS has a VUI with
// cpb_cnt_minus1 = 1<<20: mp4ff's SPS parser, which reads the colour
// description, loops and allocates that many HRD entries (131 MiB here;
// a 22-byte SPS can ask for 1<<40 and exhaust memory). Open must cost what
// any small file costs.
func TestOpenSPSWithHugeHRDCount(t *testing.T) {
	// Baseline 320x240, VUI with NAL HRD parameters only (see internal/avcsps).
	hugeHRD := []byte{0x67, 0x42, 0xc0, 0x1e, 0xda, 0x05, 0x07, 0xe8, 0x20, 0x00, 0x01, 0x00, 0x00, 0x10, 0x08}
	seed := fuzzSeed(t, "ladder_360p.mp4")
	f, err := mp4.DecodeFile(bytes.NewReader(seed))
	if err != nil {
		t.Fatal(err)
	}
	var sps []byte
	for _, trak := range f.Moov.Traks {
		if v, ok := trak.Mdia.Minf.Stbl.Stsd.Children[0].(*mp4.VisualSampleEntryBox); ok && v.AvcC != nil {
			sps = v.AvcC.SPSnalus[0]
		}
	}
	if len(sps) < len(hugeHRD) {
		t.Fatalf("SPS of %d bytes", len(sps))
	}
	// Same length, so that nothing else moves; mp4ff ignores the padding.
	b := bytes.Replace(seed, sps, append(hugeHRD, make([]byte, len(sps)-len(hugeHRD))...), 1)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err = segment.Open(context.Background(), bytes.NewReader(b), int64(len(b)), "hrd.mp4", nil)
	runtime.ReadMemStats(&after)
	if a := after.TotalAlloc - before.TotalAlloc; a > 4<<20 {
		t.Errorf("opening a %d-byte MP4 allocates %d MiB (err %v)", len(b), a>>20, err)
	}
}

// maxFuzzEdits caps the edit list of the MP4 fuzz targets. The Go fuzzer
// minimizes every input that finds new coverage by trying to remove each
// range of its bytes (quadratic in its length, up to a minute each), so
// the fuzzed value has to stay small even though an MP4 cannot.
const maxFuzzEdits = 64

// applyEdits returns seed changed by edits, a list of records: a 16-bit
// offset (taken modulo the length so far plus one), a count of bytes to
// delete there (255: all the rest), a count of bytes to insert, and those
// bytes. A record cut short ends the list. The fuzzer mutates the short
// edit list while each execution sees a whole MP4, and an input that
// finds new coverage stays small enough to minimize in milliseconds.
func applyEdits(dst, seed, edits []byte) []byte {
	b := append(dst[:0], seed...)
	for len(edits) >= 4 {
		off := int(binary.BigEndian.Uint16(edits)) % (len(b) + 1)
		del, n := int(edits[2]), int(edits[3])
		edits = edits[4:]
		if n > len(edits) {
			break
		}
		ins := edits[:n]
		edits = edits[n:]
		end := len(b)
		if del != 255 {
			end = min(len(b), off+del)
		}
		tail := append([]byte(nil), b[end:]...)
		b = append(append(b[:off], ins...), tail...)
	}
	return b
}

// TestApplyEdits checks the edit records of the MP4 fuzz targets.
func TestApplyEdits(t *testing.T) {
	seed := []byte("0123456789")
	for _, c := range []struct {
		edits []byte
		want  string
	}{
		{nil, "0123456789"},
		{[]byte{0, 2, 3, 2, 'a', 'b'}, "01ab56789"},         // replace 3 bytes by 2
		{[]byte{0, 4, 255, 0}, "0123"},                      // truncate
		{[]byte{0, 21, 0, 1, 'x'}, "0123456789x"},           // offset 21 is 21 mod 11 = 10: append
		{[]byte{0, 0, 0, 1, 'x', 0, 1, 1, 0}, "x123456789"}, // insert, then delete what followed
		{[]byte{0, 0, 0, 5, 'x'}, "0123456789"},             // cut short: ignored
	} {
		if got := string(applyEdits(nil, seed, c.edits)); got != c.want {
			t.Errorf("% x: %q, want %q", c.edits, got, c.want)
		}
	}
	if string(seed) != "0123456789" {
		t.Error("the seed changed")
	}
}

// fuzzMP4 runs fuzzOpen on the seeds changed by fuzzed edit lists: any
// outcome but a panic, a hang or a huge allocation is fine.
func fuzzMP4(f *testing.F, seeds [][]byte) {
	for i := range seeds {
		f.Add(uint8(i), []byte{})
	}
	var buf []byte
	f.Fuzz(func(t *testing.T, which uint8, edits []byte) {
		if len(edits) > maxFuzzEdits {
			return
		}
		buf = applyEdits(buf, seeds[int(which)%len(seeds)], edits)
		if len(buf) > maxFuzzInput {
			return
		}
		// A hang is a failure too: crash the worker, and the fuzzer keeps the input.
		wd := time.AfterFunc(5*time.Second, func() { panic("one MP4 fuzz input took over 5 s") })
		defer wd.Stop()
		_ = fuzzOpen(buf)
	})
}

// FuzzOpen feeds MP4 and fragmented MP4 files, changed by fuzzed edits,
// through indexing and segment writing.
func FuzzOpen(f *testing.F) {
	var seeds [][]byte
	for _, name := range []string{"ladder_360p.mp4", "moov_end.mp4", "fragmented.mp4", "opus.mp4", "av1.mp4", "hevc_ac3.mp4", "eac3.mp4", "wvtt.mp4", "ladder_360p_text.mp4", "tx3g.mp4"} {
		seeds = append(seeds, fuzzSeed(f, name))
	}
	// Moofs without samples (every trun renamed): an old crasher.
	seeds = append(seeds, bytes.ReplaceAll(fuzzSeed(f, "fragmented.mp4"), []byte("trun"), []byte("toun")))
	seeds = append(seeds, withEmsg(fuzzSeed(f, "fragmented.mp4")))
	fuzzMP4(f, seeds)
}

// FuzzParameterSets feeds avc3/hev1 files, changed by fuzzed edits, through
// opening (where the in-band parameter sets are scanned) and segment
// writing (where they are stripped).
func FuzzParameterSets(f *testing.F) {
	var seeds [][]byte
	for _, name := range []string{"avc3.mp4", "hev1.mp4", "avc3_change.mp4"} {
		seeds = append(seeds, fuzzSeed(f, name))
	}
	fuzzMP4(f, seeds)
}

// withEmsg puts SCTE-35 emsg boxes (version 0 and 1) before each of the
// first two moof boxes of a fragmented MP4.
func withEmsg(b []byte) []byte {
	pts := uint64(90000)
	sec, err := (&scte35.Section{SAPType: 3, Tier: 0xFFF, Command: &scte35.TimeSignal{SpliceTime: &pts}}).Encode()
	if err != nil {
		panic(err)
	}
	boxes := [][]byte{
		emsg.Append(nil, &emsg.Message{Version: 0, Scheme: emsg.SchemeSCTE35, Timescale: 1000, PresentationTimeDelta: 10, Data: sec}),
		emsg.Append(nil, &emsg.Message{Version: 1, Scheme: emsg.SchemeSCTE35, Timescale: 90000, PresentationTime: 90000, Data: sec}),
	}
	var out []byte
	n := 0
	for off := 0; off+8 <= len(b); {
		size := int(binary.BigEndian.Uint32(b[off:]))
		if size < 8 || off+size > len(b) {
			return append(out, b[off:]...)
		}
		if string(b[off+4:off+8]) == "moof" && n < len(boxes) {
			out = append(out, boxes[n]...)
			n++
		}
		out = append(out, b[off:off+size]...)
		off += size
	}
	return out
}

// TestEmsgSeedCues checks the fuzz seed's emsg boxes become cues: version
// 1 at its presentation time (1 s), version 0 10 ms after the start of the
// first fragment, in time order, each with its section.
func TestEmsgSeedCues(t *testing.T) {
	b := withEmsg(readTestFile(t, "fragmented.mp4"))
	src, err := segment.Open(context.Background(), bytes.NewReader(b), int64(len(b)), "emsg.mp4", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if len(src.Cues) != 2 {
		t.Fatalf("%d cues, want 2: %+v", len(src.Cues), src.Cues)
	}
	var ref *segment.Track
	for _, tr := range src.Tracks {
		if ref == nil || tr.Kind == segment.KindVideo && ref.Kind != segment.KindVideo {
			ref = tr
		}
	}
	zero := time.Duration(ref.PresentationOffset) * time.Second / time.Duration(ref.Timescale)
	if want := time.Second - zero; src.Cues[1].Time != want {
		t.Errorf("version 1 cue at %v, want %v", src.Cues[1].Time, want)
	}
	if src.Cues[0].Time >= src.Cues[1].Time || len(src.Cues[0].Section) == 0 {
		t.Errorf("cues %+v", src.Cues)
	}
}

package ts

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/cmafkit/cmafkit/internal/testutil"
	"github.com/cmafkit/cmafkit/segment"
	"github.com/cmafkit/cmafkit/segment/cmaf"
)

// Streams as muxers in the wild write them, made from the test files by
// rewriting their PES packets (remux_test.go).

const (
	videoPID = 0x100 // ffmpeg's PIDs in the test files
	audioPID = 0x101
	pmtPID   = 0x1000
)

// TestRemuxIdentity checks the rewriter the tests below rely on: split and
// packetised again, a stream indexes to the same samples.
func TestRemuxIdentity(t *testing.T) {
	for _, name := range []string{"h264_aac.ts", "hevc_ac3.ts"} {
		t.Run(name, func(t *testing.T) {
			raw := readFile(t, name)
			want := mustOpen(t, raw, name)
			got := mustOpen(t, buildTS(splitPES(t, raw, videoPID, audioPID)), name)
			sameSamples(t, want, got, true)
		})
	}
}

// unalign moves the boundaries of aligned video PES packets (each one access
// unit) so that they no longer start with an access unit: PES i+1 starts
// cut(i) bytes before (negative) or after (positive, at most 3: inside the
// start code) the start of access unit i+1, the bytes moving with the
// neighbouring PES; at most half an access unit moves. The timestamps stay
// with their PES: they belong to the first access unit starting in it. It
// returns where each access unit starts in its PES.
func unalign(ps []*tsPES, cut func(i int) int) []int {
	starts := make([]int, len(ps))
	for i := 0; i+1 < len(ps); i++ {
		a, b := ps[i], ps[i+1]
		switch k := cut(i); {
		case k < 0:
			k = min(-k, (len(a.data)-starts[i])/2)
			b.data = append(bytes.Clone(a.data[len(a.data)-k:]), b.data...)
			a.data = a.data[:len(a.data)-k]
			starts[i+1] = k
		case k > 0:
			k = min(k, 3, len(b.data)/2)
			a.data = append(a.data, b.data[:k]...)
			b.data = b.data[k:]
		}
	}
	return starts
}

// TestUnalignedPES: video PES packets that start with the tail of the
// previous access unit (as Apple's segmenter writes them), with a start
// code cut by the PES boundary, an access unit split over two PES packets
// (the second without PTS), and a PES that carries only the end of an
// access unit but repeats the next one's timestamps (as shaka-player's
// hls-ts-audio-muxed-in-video/main.ts does). The samples must be exactly
// those of the aligned original: the same bytes, times and flags. The
// packaged video must decode without an error.
func TestUnalignedPES(t *testing.T) {
	for _, name := range []string{"h264_aac.ts", "hevc_ac3.ts"} {
		t.Run(name, func(t *testing.T) {
			raw := readFile(t, name)
			want := mustOpen(t, raw, name)
			items := splitPES(t, raw, videoPID)
			vps := pesOf(items, videoPID)
			starts := unalign(vps, func(i int) int { return []int{-600, -1, 2, -37, 3, -180, 1, -4000}[i%8] })
			// Split PES 5 in two after its access unit's start, the second
			// part without timestamps; and give PES 9's end a PES of its
			// own with PES 10's timestamps.
			var out []tsItem
			for _, it := range items {
				out = append(out, it)
				if it.pes == nil || it.pes.pid != videoPID {
					continue
				}
				for _, k := range []int{5, 9} {
					if e := it.pes; e == vps[k] {
						half := starts[k] + (len(e.data)-starts[k])/2
						tail := &tsPES{pid: videoPID, streamID: e.streamID, pts: -1, dts: -1, data: e.data[half:]}
						e.data = e.data[:half]
						if k == 9 {
							tail.pts, tail.dts = vps[10].pts, vps[10].dts
						}
						out = append(out, tsItem{pes: tail})
					}
				}
			}
			got := mustOpen(t, buildTS(out), name)
			sameSamples(t, want, got, true)
			if got.Stats.DroppedSamples != 0 || got.Stats.DerivedDTS != 0 || got.Stats.UntimedSamples != 0 {
				t.Errorf("stats %+v", got.Stats)
			}
			v := trackOf(t, got, segment.KindVideo)
			if n, w := packagedFrames(t, v), packagedFrames(t, trackOf(t, want, segment.KindVideo)); n != w {
				t.Errorf("packaged video decodes to %d frames, the aligned original to %d", n, w)
			}
		})
	}
}

// TestPESWithSeveralAccessUnits: two pictures in one PES (one PTS): the
// second one is a sample of its own, timed from the first (one frame later,
// with the same composition offset).
func TestPESWithSeveralAccessUnits(t *testing.T) {
	raw := readFile(t, "h264_aac.ts")
	want := mustOpen(t, raw, "h264_aac.ts")
	items := splitPES(t, raw, videoPID)
	vps := pesOf(items, videoPID)
	dts := func(e *tsPES) int64 {
		if e.dts < 0 {
			return e.pts
		}
		return e.dts
	}
	// Two frames that such interpolation times exactly: the same
	// composition offset and the same decode-time step as the frame before.
	j := 40
	for ; j+1 < len(vps); j++ {
		a, b := vps[j], vps[j+1]
		if dts(b)-dts(a) == dts(a)-dts(vps[j-1]) && b.pts-dts(b) == a.pts-dts(a) {
			break
		}
	}
	if j+1 >= len(vps) {
		t.Fatal("no two frames with the same composition offset")
	}
	vps[j].data = append(vps[j].data, vps[j+1].data...)
	var out []tsItem
	for _, it := range items {
		if it.pes != vps[j+1] {
			out = append(out, it)
		}
	}
	got := mustOpen(t, buildTS(out), "joined")
	sameSamples(t, want, got, true)
	if got.Stats.UntimedSamples != 1 {
		t.Errorf("UntimedSamples %d, want 1", got.Stats.UntimedSamples)
	}
}

// presentations returns the presentation times of tr's samples relative to
// its presentation offset, in decode order, and the durations.
func presentations(tr *segment.Track) (pt []int64, dur []uint32) {
	for _, s := range samplesOf(tr) {
		pt = append(pt, s.PresentationTime()-tr.PresentationOffset)
		dur = append(dur, s.Duration)
	}
	return pt, dur
}

// TestPTSOnlyBFrames: B-frames in PES packets that have a PTS but no DTS
// (so the DTS would equal the PTS and go backwards). The decode times are
// derived from the presentation order: strictly increasing, each the
// sorted PTS of its position, so every sample lasts as long as in the
// original and is presented at the same time; only the decode timeline is
// shifted (by the original's B-frame delay).
func TestPTSOnlyBFrames(t *testing.T) {
	for _, name := range []string{"h264_aac.ts", "hevc_ac3.ts"} {
		t.Run(name, func(t *testing.T) {
			raw := readFile(t, name)
			want := mustOpen(t, raw, name)
			items := splitPES(t, raw, videoPID)
			for _, e := range pesOf(items, videoPID) {
				e.dts = -1
			}
			got := mustOpen(t, buildTS(items), name)
			wt, gt := trackOf(t, want, segment.KindVideo), trackOf(t, got, segment.KindVideo)
			wpt, wdur := presentations(wt)
			gpt, gdur := presentations(gt)
			if !slices.Equal(gpt, wpt) {
				t.Errorf("presentation times differ from the original's")
			}
			if !slices.Equal(gdur, wdur) {
				t.Errorf("durations differ from the original's: %v..., want %v...", gdur[:min(8, len(gdur))], wdur[:min(8, len(wdur))])
			}
			gs := samplesOf(gt)
			sorted := slices.Clone(gpt)
			slices.Sort(sorted)
			for i, s := range gs {
				if d := int64(s.DecodeTime) - int64(gs[0].DecodeTime); d != sorted[i]-sorted[0] {
					t.Fatalf("sample %d: decode time %d after the first, want the sorted PTS %d", i+1, d, sorted[i]-sorted[0])
				}
			}
			if got.Stats.DerivedDTS == 0 {
				t.Error("Stats.DerivedDTS is 0")
			}
			if n, w := packagedFrames(t, gt), packagedFrames(t, wt); n != w {
				t.Errorf("packaged video decodes to %d frames, the original to %d", n, w)
			}
		})
	}
}

// TestBadDTSRecovered: a stream whose DTS repeats now and then (a PES
// without an access unit start repeating the next one's timestamps, as
// shaka-player's hls-ts-audio-muxed-in-video/main.ts has; seen here
// through a PES whose DTS equals the one before) loses nothing and keeps
// the original's timing everywhere else.
func TestBadDTSRecovered(t *testing.T) {
	raw := readFile(t, "h264_aac.ts")
	want := mustOpen(t, raw, "h264_aac.ts")
	items := splitPES(t, raw, videoPID)
	vps := pesOf(items, videoPID)
	const bad = 20
	vps[bad].dts = vps[bad-1].dts
	got := mustOpen(t, buildTS(items), "bad-dts")
	wt, gt := trackOf(t, want, segment.KindVideo), trackOf(t, got, segment.KindVideo)
	ws, gs := samplesOf(wt), samplesOf(gt)
	if len(gs) != len(ws) {
		t.Fatalf("%d samples, want %d", len(gs), len(ws))
	}
	for i := range ws {
		if i == bad-1 || i == bad {
			continue // the repaired one and the one before it, whose duration it sets
		}
		if gs[i].DecodeTime != ws[i].DecodeTime || gs[i].Duration != ws[i].Duration || gs[i].CompositionOffset != ws[i].CompositionOffset {
			t.Fatalf("sample %d: %+v, want %+v", i+1, gs[i], ws[i])
		}
	}
	if got.Stats.DerivedDTS != 1 {
		t.Errorf("DerivedDTS %d, want 1", got.Stats.DerivedDTS)
	}
}

// withoutPSI returns the packets of b with every PAT and PMT packet before
// packet n removed: the first PMT arrives after n packets of the streams.
func withoutPSI(b []byte, n int) []byte {
	var out [][]byte
	for i, p := range pkts(b) {
		if i < n && (pidOf(p) == 0 || pidOf(p) == pmtPID) {
			continue
		}
		out = append(out, p)
	}
	return join(out)
}

// TestPMTLate: a stream joined mid-way (or cut from one) whose first PMT
// comes after its first keyframe. The packets before it are held back and
// read once the PMT says what they are, so nothing is lost.
func TestPMTLate(t *testing.T) {
	raw := readFile(t, "h264_aac.ts")
	want := mustOpen(t, raw, "h264_aac.ts")
	got := mustOpen(t, withoutPSI(raw, 400), "late")
	sameSamples(t, want, got, true)
	if got.Stats.HeldPackets < 300 || got.Stats.UnheldPackets != 0 {
		t.Errorf("held %d, dropped %d", got.Stats.HeldPackets, got.Stats.UnheldPackets)
	}
}

// TestPMTLateBeyondBound: past the hold-back bound the oldest packets are
// dropped, counted and reported; what is kept is sound.
func TestPMTLateBeyondBound(t *testing.T) {
	raw := readFile(t, "h264_aac.ts")
	clean := mustOpen(t, raw, "h264_aac.ts")
	var logs strings.Builder
	log := slog.New(slog.NewTextHandler(&logs, nil))
	late := withoutPSI(raw, 1200)
	src, d, err := open(context.Background(), bytes.NewReader(late), int64(len(late)), "late", &Options{Logger: log, maxHeld: 500}, true)
	if err != nil {
		t.Fatal(err)
	}
	checkIndex(t, src, d)
	if src.Stats.UnheldPackets == 0 || !strings.Contains(logs.String(), "dropping the oldest held-back packets") {
		t.Errorf("UnheldPackets %d; log:\n%s", src.Stats.UnheldPackets, logs.String())
	}
	// The video track is the clean one from a later keyframe on.
	ct, gt := trackOf(t, clean, segment.KindVideo), trackOf(t, src, segment.KindVideo)
	cs, gs := samplesOf(ct), samplesOf(gt)
	lost := len(cs) - len(gs)
	if lost <= 0 || len(gs) == 0 {
		t.Fatalf("%d video samples of %d kept", len(gs), len(cs))
	}
	cp, gp := payloads(t, ct), payloads(t, gt)
	for i, s := range gs {
		c := cs[lost+i]
		if !bytes.Equal(gp[i], cp[lost+i]) || s.Sync != c.Sync || s.CompositionOffset != c.CompositionOffset ||
			s.DecodeTime-gs[0].DecodeTime != c.DecodeTime-cs[lost].DecodeTime {
			t.Fatalf("sample %d differs from the clean sample %d", i+1, lost+i+1)
		}
	}
}

// captureLog is a slog handler that keeps the records (for checking warnings).
type captureLog struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (c *captureLog) Enabled(context.Context, slog.Level) bool { return true }
func (c *captureLog) Handle(_ context.Context, r slog.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.recs = append(c.recs, r.Clone())
	return nil
}
func (c *captureLog) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *captureLog) WithGroup(string) slog.Handler      { return c }

// warnings returns each warning as its message and attributes.
func (c *captureLog) warnings() []map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []map[string]string
	for _, r := range c.recs {
		if r.Level < slog.LevelWarn {
			continue
		}
		m := map[string]string{"msg": r.Message}
		r.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value.String(); return true })
		out = append(out, m)
	}
	return out
}

// TestUnsupportedStreamsWarn: every elementary stream the PMT lists and
// that is not packaged gets a warning naming its PID and stream type.
func TestUnsupportedStreamsWarn(t *testing.T) {
	raw := readFile(t, "h264_aac.ts")
	var ps [][]byte
	for _, p := range pkts(raw) {
		if pidOf(p) != 0 && pidOf(p) != pmtPID {
			ps = append(ps, p)
		}
	}
	reg := func(s string) []byte { return append([]byte{0x05, 4}, s...) }
	psi := patPMT(0,
		pmtStream{typ: stH264, pid: videoPID},
		pmtStream{typ: stADTS, pid: audioPID},
		pmtStream{typ: stPriv, pid: 0x102, desc: reg("XYZW")},
		pmtStream{typ: 0x03, pid: 0x103},
		pmtStream{typ: 0x15, pid: 0x104, desc: reg("ID3 ")},
		pmtStream{typ: stPriv, pid: 0x105, desc: reg("Opus")}, // Opus without a channel configuration: read as stereo
		pmtStream{typ: stPriv, pid: 0x106, desc: append(reg("Opus"), 0x7F, 2, 0x80, 0x81)},
	)
	c := &captureLog{}
	b := join(append(psi, ps...))
	src, err := Open(context.Background(), bytes.NewReader(b), int64(len(b)), "streams", &Options{Logger: slog.New(c)})
	if err != nil {
		t.Fatal(err)
	}
	if len(src.Tracks) != 2 {
		t.Errorf("%d tracks", len(src.Tracks))
	}
	warned := map[string]string{}
	for _, w := range c.warnings() {
		if w["pid"] != "" && w["stream_type"] != "" {
			warned[w["pid"]] = w["stream_type"]
		}
	}
	for pid, st := range map[string]string{"258": "0x06", "259": "0x03", "260": "0x15", "262": "0x06"} {
		if warned[pid] != st {
			t.Errorf("PID %s: warning with stream_type %q, want %q (warnings: %v)", pid, warned[pid], st, c.warnings())
		}
	}
}

// opusTS builds a transport stream carrying the Opus packets of mt (read
// from an MP4) as Opus access units of "Opus in MPEG-2 TS": control
// headers with au_size, the MP4's pre-skip as start_trim of the first
// access unit, perPES access units per PES packet.
func opusTS(mt *mp4Track, preSkip, channels, perPES int) []byte {
	var items []tsItem
	for _, p := range patPMT(0, pmtStream{typ: stPriv, pid: audioPID, desc: []byte{0x05, 4, 'O', 'p', 'u', 's', 0x7F, 2, 0x80, byte(channels)}}) {
		items = append(items, tsItem{raw: p})
	}
	var e *tsPES
	for i, pkt := range mt.data {
		if i%perPES == 0 {
			e = &tsPES{pid: audioPID, streamID: 0xBD, dts: -1,
				pts: 90000 + int64(mt.dts[i]-mt.dts[0])*90000/int64(mt.timescale)}
			items = append(items, tsItem{pes: e})
		}
		flags := byte(0xE0)
		if i == 0 && preSkip > 0 {
			flags |= 0x10
		}
		hdr := []byte{0x7F, flags}
		for n := len(pkt); ; n -= 255 {
			hdr = append(hdr, byte(min(n, 255)))
			if n < 255 {
				break
			}
		}
		if i == 0 && preSkip > 0 {
			hdr = append(hdr, byte(preSkip>>8), byte(preSkip))
		}
		e.data = append(append(e.data, hdr...), pkt...)
	}
	return buildTS(items)
}

// TestOpus: Opus in MPEG-TS becomes an Opus track: every packet as a
// sample with its duration from the TOC, the start trim as dOps PreSkip
// and as the presentation offset (the edit list trims it), the channel
// configuration from the PMT. The reference is the MP4 the packets come
// from.
func TestOpus(t *testing.T) {
	mt := readMP4(t, "opus.mp4")["soun"]
	dops := mt.entry.(*mp4.AudioSampleEntryBox).Dops
	if dops == nil || dops.PreSkip == 0 {
		t.Fatal("opus.mp4 has no dOps with a pre-skip")
	}
	for _, perPES := range []int{1, 5} {
		b := opusTS(mt, int(dops.PreSkip), int(dops.OutputChannelCount), perPES)
		src := mustOpen(t, b, "opus.ts")
		tr := trackOf(t, src, segment.KindAudio)
		checkOpusTrack(t, tr, mt, dops)
	}
}

// checkOpusTrack compares an Opus track read from a TS with the MP4 track
// its packets came from.
func checkOpusTrack(t *testing.T, tr *segment.Track, mt *mp4Track, dops *mp4.DopsBox) {
	t.Helper()
	if tr.Codec != "opus" || tr.Timescale != 48000 || tr.Channels != int(dops.OutputChannelCount) || tr.SampleRate != 48000 {
		t.Fatalf("%s: timescale %d, %d channels, rate %d", tr, tr.Timescale, tr.Channels, tr.SampleRate)
	}
	e, ok := tr.SampleEntry.(*mp4.AudioSampleEntryBox)
	if !ok || e.Type() != "Opus" || e.Dops == nil {
		t.Fatalf("%s: sample entry %v", tr, tr.SampleEntry)
	}
	if e.Dops.PreSkip != dops.PreSkip || e.Dops.OutputChannelCount != dops.OutputChannelCount || e.Dops.ChannelMappingFamily != dops.ChannelMappingFamily {
		t.Errorf("dOps %+v, the MP4's %+v", e.Dops, dops)
	}
	if tr.PresentationOffset != int64(dops.PreSkip) {
		t.Errorf("presentation offset %d, want the pre-skip %d", tr.PresentationOffset, dops.PreSkip)
	}
	ss := samplesOf(tr)
	data := payloads(t, tr)
	if len(ss) != len(mt.data) {
		t.Fatalf("%d samples, the MP4 has %d", len(ss), len(mt.data))
	}
	for i := range ss {
		if !bytes.Equal(data[i], mt.data[i]) {
			t.Fatalf("sample %d differs", i+1)
		}
		if ss[i].DecodeTime-ss[0].DecodeTime != mt.dts[i]-mt.dts[0] {
			t.Fatalf("sample %d: decode time %d, MP4 %d", i+1, ss[i].DecodeTime-ss[0].DecodeTime, mt.dts[i]-mt.dts[0])
		}
		if i+1 < len(ss) && uint64(ss[i].Duration) != mt.dts[i+1]-mt.dts[i] {
			t.Fatalf("sample %d: duration %d", i+1, ss[i].Duration)
		}
	}
}

// TestOpusFFmpeg: ffmpeg's MPEG-TS muxer (several access units per PES, the
// encoder's padding as start_trim) reads back as the MP4 it came from, and
// the packaged track decodes without an error.
func TestOpusFFmpeg(t *testing.T) {
	testutil.NeedTool(t, "ffmpeg")
	dir := t.TempDir()
	f := filepath.Join(dir, "opus.ts")
	ffmpeg(t, "-i", filepath.Join(testdata, "opus.mp4"), "-c", "copy", "-f", "mpegts", f)
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	mt := readMP4(t, "opus.mp4")["soun"]
	src := mustOpen(t, b, "opus.ts")
	tr := trackOf(t, src, segment.KindAudio)
	checkOpusTrack(t, tr, mt, mt.entry.(*mp4.AudioSampleEntryBox).Dops)
	if errs := decodeErrors(t, writeCMAF(t, tr, dir)); errs != "" {
		t.Errorf("ffmpeg decoding the packaged track:\n%s", errs)
	}
}

// writeCMAF writes tr as CMAF (init segment and 2 s media segments,
// concatenated) into dir and returns the file name.
func writeCMAF(t *testing.T, tr *segment.Track, dir string) string {
	t.Helper()
	plan, err := segment.PlanSegments([]*segment.Track{tr}, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := cmaf.WriteInit(&b, tr, nil); err != nil {
		t.Fatal(err)
	}
	sw, err := cmaf.NewWriter(tr, plan, cmaf.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < sw.Len(); i++ {
		if _, err := sw.WriteSegment(context.Background(), &b, i); err != nil {
			t.Fatal(err)
		}
	}
	f := filepath.Join(dir, "out.mp4")
	if err := os.WriteFile(f, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// decodeErrors decodes f with ffmpeg and returns what it reports as errors.
func decodeErrors(t *testing.T, f string) string {
	t.Helper()
	bin := testutil.NeedTool(t, "ffmpeg")
	out, err := exec.Command(bin, "-hide_banner", "-v", "error", "-i", f, "-f", "null", "-").CombinedOutput()
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatal(err)
		}
	}
	return string(out)
}

// TestParseOpus checks the Opus control header against headers built field
// by field (au_size across the 255 boundaries, both trims, a control
// extension), and the packet durations against RFC 6716's TOC table.
func TestParseOpus(t *testing.T) {
	toc := []byte{0xFC, 0xFF, 0xFE} // config 31 (CELT 20 ms), code 0: 960 samples
	for _, size := range []int{1, 254, 255, 256, 509, 510, 511, 1000} {
		for flags := byte(0); flags < 8; flags++ {
			h := []byte{0x7F, 0xE0 | flags<<2}
			for n := size; ; n -= 255 {
				h = append(h, byte(min(n, 255)))
				if n < 255 {
					break
				}
			}
			trim := 0
			if flags&4 != 0 {
				trim = 300 + size
				h = append(h, 0xE0|byte(trim>>8), byte(trim)) // reserved bits set
			}
			if flags&2 != 0 {
				h = append(h, 0, 17)
			}
			if flags&1 != 0 {
				h = append(h, 3, 9, 9, 9)
			}
			au := append(bytes.Clone(h), toc...)
			au = append(au, make([]byte, size)...)[:len(h)+size]
			fh, st := parseOpus(au)
			if st != frameOK || fh.hdrLen != len(h) || fh.size != len(h)+size || fh.trim != trim || fh.samples != 960 {
				t.Errorf("size %d flags %03b: %+v %v, want header %d, trim %d", size, flags, fh, st, len(h), trim)
			}
			if _, st := parseOpus(au[:len(h)-1]); st != frameNeedMore {
				t.Errorf("size %d flags %03b: a cut header is %v", size, flags, st)
			}
		}
	}
	if _, st := parseOpus([]byte{0x7F, 0xE0, 0}); st != frameInvalid {
		t.Errorf("au_size 0: %v", st)
	}
	for _, c := range []struct {
		p    []byte
		want int
	}{
		{[]byte{0 << 3}, 480},        // SILK NB 10 ms
		{[]byte{3<<3 | 1}, 2 * 2880}, // SILK NB 60 ms, two frames
		{[]byte{11<<3 | 2}, 2 * 2880},
		{[]byte{12 << 3}, 480}, // hybrid SWB 10 ms
		{[]byte{15 << 3}, 960}, // hybrid FB 20 ms
		{[]byte{16 << 3}, 120}, // CELT NB 2.5 ms
		{[]byte{16<<3 | 3, 48}, 5760},
		{[]byte{16<<3 | 3, 49}, 0}, // over 120 ms
		{[]byte{31<<3 | 3, 0}, 0},  // no frame
		{[]byte{31<<3 | 3}, 0},     // frame count missing
		{[]byte{}, 0},
	} {
		if got := opusSamples(c.p); got != c.want {
			t.Errorf("opusSamples(%x) = %d, want %d", c.p, got, c.want)
		}
	}
}

// TestCutInLastPES: an input that ends inside a video PES (a cut file, a
// recording stopped mid-packet) loses that PES's access unit, and only
// it: the access units still waiting for their decode time when the
// input ends are indexed like the others.
func TestCutInLastPES(t *testing.T) {
	raw := readFile(t, "h264_aac.ts")
	clean := mustOpen(t, raw, "h264_aac.ts")
	ps := pkts(raw)
	// The video PES starting 20 PES before the end; cut 100 bytes into its
	// second packet.
	var starts []int
	for i, p := range ps {
		if pidOf(p) == videoPID && p[1]&0x40 != 0 {
			starts = append(starts, i)
		}
	}
	m := len(starts) - 20
	cut := (starts[m]+1)*tsLen + 100
	got := mustOpen(t, raw[:cut], "cut")
	ct, gt := trackOf(t, clean, segment.KindVideo), trackOf(t, got, segment.KindVideo)
	cs, gs := samplesOf(ct), samplesOf(gt)
	if len(gs) != m {
		t.Fatalf("%d video samples, want the %d before the cut PES", len(gs), m)
	}
	cp, gp := payloads(t, ct), payloads(t, gt)
	for i := range gs {
		g, c := gs[i], cs[i]
		if i == len(gs)-1 {
			g.Duration, c.Duration = 0, 0 // the last one lasts as long as the one before
		}
		if g != c || !bytes.Equal(gp[i], cp[i]) {
			t.Fatalf("sample %d: %+v, want %+v", i+1, g, c)
		}
	}
}

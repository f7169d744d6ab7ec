package ts

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/internal/testutil"
	"github.com/cmafkit/cmafkit/segment/cmaf"

	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/cmafkit/cmafkit/segment"
)

// inBandParamSets returns, per sample, the parameter-set NAL units (VPS,
// SPS, PPS) left in the samples of a video track.
func inBandParamSets(t *testing.T, tr *segment.Track) [][][]byte {
	t.Helper()
	hevc := strings.HasPrefix(tr.Codec, "hvc1") || strings.HasPrefix(tr.Codec, "hev1")
	var out [][][]byte
	var buf []byte
	sc := tr.Scan(0, tr.SampleCount())
	for sc.Next() {
		var err error
		buf, err = tr.Data.AppendSample(buf[:0], sc.Sample())
		if err != nil {
			t.Fatal(err)
		}
		var ps [][]byte
		for p := 0; p+5 <= len(buf); {
			n := int(binary.BigEndian.Uint32(buf[p:]))
			if p+4+n > len(buf) || n < 1 {
				t.Fatalf("%s sample %d: bad NAL unit length %d", tr, sc.Index()+1, n)
			}
			nal := buf[p+4 : p+4+n]
			if typ := nal[0] & 0x1f; !hevc && (typ == 7 || typ == 8) {
				ps = append(ps, bytes.Clone(nal))
			}
			if typ := nal[0] >> 1 & 0x3f; hevc && typ >= 32 && typ <= 34 {
				ps = append(ps, bytes.Clone(nal))
			}
			p += 4 + n
		}
		out = append(out, ps)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// packagedFrames writes the track as CMAF (init segment and 2 s media
// segments, concatenated) and returns the number of frames ffprobe decodes
// from it; ffprobe must report no error.
func packagedFrames(t *testing.T, tr *segment.Track) int {
	t.Helper()
	testutil.NeedTool(t, "ffprobe")
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
	f := filepath.Join(t.TempDir(), "out.mp4")
	if err := os.WriteFile(f, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return probeFrames(t, f)
}

// probeFrames returns the number of video frames ffprobe decodes from file
// f; ffprobe must report no error.
func probeFrames(t *testing.T, f string) int {
	t.Helper()
	ffprobe := testutil.NeedTool(t, "ffprobe")
	cmd := exec.Command(ffprobe, "-v", "error", "-count_frames", "-select_streams", "v:0",
		"-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", f)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("ffprobe %s: %v\n%s", f, err, stderr.Bytes())
	}
	// The stream's line (a TS adds an empty program section after it).
	first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	n, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil {
		t.Fatalf("ffprobe output %q: %v", out, err)
	}
	return n
}

// TestParameterSetsOutOfBand: the test TS files repeat their parameter
// sets in band at every keyframe; the tracks get avc1/hvc1 sample entries
// that hold them (hvcC arrays complete) and no sample keeps a copy, and the
// packaged track decodes to the source's frame count.
func TestParameterSetsOutOfBand(t *testing.T) {
	for _, c := range []struct{ ts, mp4, entry string }{
		{"h264_aac.ts", "ladder_360p.mp4", "avc1"},
		{"hevc_ac3.ts", "hevc_ac3.mp4", "hvc1"},
	} {
		t.Run(c.ts, func(t *testing.T) {
			raw := readFile(t, c.ts)
			var logs bytes.Buffer
			src, err := Open(context.Background(), bytes.NewReader(raw), int64(len(raw)), c.ts,
				&Options{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
			if err != nil {
				t.Fatal(err)
			}
			v := trackOf(t, src, segment.KindVideo)
			vse := v.SampleEntry.(*mp4.VisualSampleEntryBox)
			if vse.Type() != c.entry || !strings.HasPrefix(v.Codec, c.entry+".") {
				t.Errorf("sample entry %s, codec %s; want %s", vse.Type(), v.Codec, c.entry)
			}
			if logs.Len() > 0 {
				t.Errorf("warnings: %s", logs.String())
			}
			var entryPS [][]byte
			if vse.AvcC != nil {
				entryPS = append(append(entryPS, vse.AvcC.SPSnalus...), vse.AvcC.PPSnalus...)
			}
			if vse.HvcC != nil {
				for _, a := range vse.HvcC.NaluArrays {
					if typ := a.NaluType(); typ >= 32 && typ <= 34 {
						if a.Complete() != 1 {
							t.Errorf("hvcC array of NAL type %d has array_completeness 0", typ)
						}
						entryPS = append(entryPS, a.Nalus...)
					}
				}
			}
			if len(entryPS) == 0 {
				t.Fatal("no parameter sets in the sample entry")
			}
			// The source repeats them in band at keyframes (the PPS, a few
			// bytes, is found whole in the TS packets; a longer SPS may
			// straddle two packets).
			if n := bytes.Count(raw, entryPS[len(entryPS)-1]); n < 2 {
				t.Errorf("the TS carries the last parameter set %d times; the test needs in-band repeats", n)
			}
			for i, ps := range inBandParamSets(t, v) {
				if len(ps) > 0 {
					t.Fatalf("sample %d keeps %d parameter sets in band", i+1, len(ps))
				}
			}
			want := sourceFrames(t, c.mp4)
			if got := packagedFrames(t, v); got != want || got != v.SampleCount() {
				t.Errorf("packaged track decodes to %d frames, source MP4 %d, samples %d", got, want, v.SampleCount())
			}
		})
	}
}

// sourceFrames returns the number of video frames ffprobe decodes from a
// test-data file.
func sourceFrames(t *testing.T, name string) int {
	t.Helper()
	return probeFrames(t, filepath.Join(testdata, name))
}

// joinTS makes a TS whose video changes its parameter sets halfway: two
// MP4 files (paths, or ffmpeg encoding arguments that are run first)
// joined by ffmpeg's concat demuxer and remuxed to TS in one go, so that
// timestamps and continuity counters run on across the join.
func joinTS(t *testing.T, parts ...[]string) []byte {
	t.Helper()
	dir := t.TempDir()
	var list strings.Builder
	for i, p := range parts {
		f := p[0]
		if len(p) > 1 {
			f = filepath.Join(dir, fmt.Sprintf("%d.mp4", i))
			ffmpeg(t, append(append([]string{}, p...), f)...)
		}
		abs, err := filepath.Abs(f)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&list, "file '%s'\n", abs)
	}
	lf, out := filepath.Join(dir, "list.txt"), filepath.Join(dir, "joined.ts")
	if err := os.WriteFile(lf, []byte(list.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	ffmpeg(t, "-f", "concat", "-safe", "0", "-i", lf, "-map", "0:v", "-c", "copy", "-f", "mpegts", out)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// joinHEVC makes a TS of two raw HEVC encodes (320x180, then 256x144, with
// their parameter sets at every IRAP picture) concatenated as Annex B. No
// B-frames: a raw stream has no timestamps of its own.
func joinHEVC(t *testing.T) []byte {
	t.Helper()
	dir := t.TempDir()
	var annexB []byte
	for i, size := range []string{"320x180", "256x144"} {
		f := filepath.Join(dir, fmt.Sprintf("%d.hevc", i))
		ffmpeg(t, "-f", "lavfi", "-i", "testsrc2=size="+size+":rate=25:duration=2", "-c:v", "libx265", "-preset", "ultrafast",
			"-x265-params", "keyint=25:min-keyint=25:scenecut=0:bframes=0:repeat-headers=1:log-level=error", "-pix_fmt", "yuv420p", f)
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		annexB = append(annexB, b...)
	}
	in, out := filepath.Join(dir, "joined.hevc"), filepath.Join(dir, "joined.ts")
	if err := os.WriteFile(in, annexB, 0o644); err != nil {
		t.Fatal(err)
	}
	ffmpeg(t, "-f", "hevc", "-framerate", "25", "-i", in, "-c", "copy", "-f", "mpegts", out)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestParameterSetChange: when the parameter sets change mid-stream (a
// resolution change, or an SPS/PPS re-sent with other content at the same
// resolution), the track keeps an avc3/hev1 sample entry with a warning
// naming the change and its time, samples from the change on carry their
// parameter sets in band (those before do not), and the packaged track
// decodes completely.
func TestParameterSetChange(t *testing.T) {
	x264 := func(size, profile string) []string {
		return []string{"-f", "lavfi", "-i", "testsrc2=size=" + size + ":rate=25:duration=2", "-c:v", "libx264", "-preset", "veryfast",
			"-profile:v", profile, "-g", "25", "-bf", "2", "-x264-params", "repeat-headers=1", "-pix_fmt", "yuv420p"}
	}
	file := func(name string) []string { return []string{filepath.Join(testdata, name)} }
	for _, c := range []struct {
		name          string
		join          func() []byte
		entry, change string
		at            string
		frames        int
	}{
		{"resolution", func() []byte { return joinTS(t, file("ladder_360p.mp4"), file("ladder_720p.mp4")) }, "avc3.64001e", "changes the resolution from 640x360 to 1280x720", "8.0", 480},
		{"profile", func() []byte { return joinTS(t, x264("320x180", "high"), x264("320x180", "main")) }, "avc3.6400", "SPS 0 re-sent with other content", "2.0", 100},
		{"hevc-resolution", func() []byte { return joinHEVC(t) }, "hev1.1.", "changes the resolution from 320x180 to 256x144", "2.0", 100},
	} {
		t.Run(c.name, func(t *testing.T) {
			raw := c.join()
			joined := filepath.Join(t.TempDir(), "joined.ts")
			if err := os.WriteFile(joined, raw, 0o644); err != nil {
				t.Fatal(err)
			}
			if n := probeFrames(t, joined); n != c.frames {
				t.Fatalf("ffprobe decodes %d frames from the joined TS itself, want %d", n, c.frames)
			}
			var logs bytes.Buffer
			src, err := Open(context.Background(), bytes.NewReader(raw), int64(len(raw)), "joined.ts",
				&Options{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
			if err != nil {
				t.Fatal(err)
			}
			v := trackOf(t, src, segment.KindVideo)
			vse := v.SampleEntry.(*mp4.VisualSampleEntryBox)
			if !strings.HasPrefix(v.Codec, c.entry) || vse.Type() != v.Codec[:4] {
				t.Errorf("sample entry %s, codec %s; want %s…", vse.Type(), v.Codec, c.entry)
			}
			if vse.HvcC != nil {
				for _, a := range vse.HvcC.NaluArrays {
					if a.Complete() != 0 {
						t.Errorf("hev1 hvcC array of NAL type %d claims array_completeness 1", a.NaluType())
					}
				}
			}
			l := logs.String()
			if !strings.Contains(l, "parameter sets change mid-stream") || !strings.Contains(l, c.change) || !strings.Contains(l, "time="+c.at) {
				t.Errorf("warning does not name the change (%q) and its time (%s): %s", c.change, c.at, l)
			}
			// Before the change no sample carries parameter sets; from it on
			// every sync sample does.
			ss := samplesOf(v)
			changed := false
			for i, ps := range inBandParamSets(t, v) {
				if len(ps) > 0 && !changed {
					changed = true
					if float64(ss[i].DecodeTime-ss[0].DecodeTime)/float64(v.Timescale) < 1 {
						t.Errorf("parameter sets in band from sample %d, before the change", i+1)
					}
				}
				if changed && ss[i].Sync && len(ps) == 0 {
					t.Errorf("sync sample %d after the change has no parameter set in band", i+1)
				}
			}
			if !changed {
				t.Error("no parameter set in band after the change")
			}
			if got := packagedFrames(t, v); got != c.frames || v.SampleCount() != c.frames {
				t.Errorf("packaged track decodes to %d frames, %d samples; want %d", got, v.SampleCount(), c.frames)
			}
		})
	}
}

package packager_test

import (
	"context"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/internal/testutil"
	"github.com/cmafkit/cmafkit/internal/tscue"
	"github.com/cmafkit/cmafkit/manifest"
	"github.com/cmafkit/cmafkit/packager"
	"github.com/cmafkit/cmafkit/scte35"
	"github.com/cmafkit/cmafkit/segment"
	"github.com/cmafkit/cmafkit/storage"
)

// TestCueList packages the test ladder (keyframes every 2.002 s) with a
// cue list: a break at 2.002 s announcing 4.004 s cuts segments at its
// start and at its synthesised return, and both manifests signal it.
func TestCueList(t *testing.T) {
	list, err := packager.ReadCueList(strings.NewReader(`[{"time": 2.002, "duration": 4.004, "kind": "out"}]`))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	res, err := packager.Run(context.Background(), packager.Job{
		Inputs: ladderInputs(), SegmentDuration: 4 * time.Second, Storage: storage.Dir(dir),
		Cues: list, CueOptions: packager.CueOptions{HLSCueTags: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	cues := res.Presentation.Periods[0].Cues
	if len(cues) != 2 || cues[0].Kind != manifest.CueOut || cues[1].Kind != manifest.CueIn || cues[0].ID != cues[1].ID ||
		cues[0].Start != 2002*time.Millisecond || cues[1].Start != 6006*time.Millisecond || cues[0].Duration != 4004*time.Millisecond {
		t.Fatalf("cues %+v", cues)
	}
	for i, c := range cues {
		sec, err := scte35.Parse(c.SCTE35)
		if err != nil {
			t.Fatalf("cue %d: synthesised section: %v", i, err)
		}
		si, ok := sec.Command.(*scte35.SpliceInsert)
		if !ok || si.OutOfNetwork != (i == 0) || si.SpliceTime == nil || scte35.Duration(*si.SpliceTime) != c.Start {
			t.Errorf("cue %d: section %+v", i, sec.Command)
		}
		if i == 0 && (si.BreakDuration == nil || scte35.Duration(si.BreakDuration.Duration) != 4004*time.Millisecond) {
			t.Errorf("out without its break duration: %+v", si)
		}
	}
	// Every video and audio representation has segments starting at the
	// cues (audio within half a frame plus the 1024 priming samples its
	// edit list removes, which the model's segment times include).
	for _, set := range res.Presentation.Periods[0].Sets {
		for _, r := range set.Representations {
			for _, c := range cues {
				if !startsAt(r, c.Start, 35*time.Millisecond) {
					t.Errorf("%s: no segment starts at %v: %+v", r.ID, c.Start, r.Segments)
				}
			}
		}
	}
	testutil.ValidateMPD(t, filepath.Join(dir, "manifest.mpd"))
	mpd, _ := os.ReadFile(filepath.Join(dir, "manifest.mpd"))
	if !strings.Contains(string(mpd), `<Event presentationTime="180180" duration="360360" id="1">`) {
		t.Errorf("MPD without the break's event:\n%s", mpd)
	}
	pl, err := os.ReadFile(filepath.Join(dir, "video_720p_avc.m3u8"))
	if err != nil {
		t.Fatal(err)
	}
	// The date range comes right before the segment that starts at the cue.
	want := "#EXT-X-DATERANGE:ID=\"cue-1\",START-DATE=\"1970-01-01T00:00:02.002Z\",PLANNED-DURATION=4.004,SCTE35-OUT=0x"
	if i := strings.Index(string(pl), want); i < 0 || !strings.Contains(string(pl[i:]), "#EXT-X-CUE-OUT:4.004\n#EXTINF:4.004,\nvideo_720p_avc/seg-2.m4s") {
		t.Errorf("playlist:\n%s", pl)
	}
	if !strings.Contains(string(pl), "#EXT-X-PROGRAM-DATE-TIME:1970-01-01T00:00:00.000Z\n") || !strings.Contains(string(pl), "#EXT-X-CUE-IN\n") {
		t.Errorf("playlist without PROGRAM-DATE-TIME or CUE-IN:\n%s", pl)
	}
}

// TestCueWithoutKeyframe: a cue where the video has no keyframe fails the
// job naming the cue and the nearest keyframe, unless NearestKeyframe.
func TestCueWithoutKeyframe(t *testing.T) {
	job := packager.Job{
		Inputs: ladderInputs(), SegmentDuration: 4 * time.Second, Storage: storage.Dir(t.TempDir()),
		Cues: []packager.Cue{{Time: 3 * time.Second, Kind: manifest.CueSignal}},
	}
	_, err := packager.Run(context.Background(), job)
	var ce *segment.CueCutError
	if !errors.Is(err, segment.ErrCueNotOnSyncSample) || !errors.As(err, &ce) || ce.At != 3*time.Second || ce.Nearest != 2002*time.Millisecond {
		t.Fatalf("got %v, want a CueCutError at 3s, nearest 2.002s", err)
	}
	job.CueOptions.NearestKeyframe = true
	res, err := packager.Run(context.Background(), job)
	if err != nil {
		t.Fatal(err)
	}
	// The cut is at the keyframe; the cue keeps its time.
	if c := res.Presentation.Periods[0].Cues; len(c) != 1 || c[0].Start != 3*time.Second {
		t.Errorf("cues %+v", c)
	}
	if r := res.Presentation.Periods[0].Sets[0].Representations[0]; !startsAt(r, 2002*time.Millisecond, 0) {
		t.Errorf("%s: no cut at 2.002 s", r.ID)
	}
}

func TestReadCueListErrors(t *testing.T) {
	for _, in := range []string{
		`{}`, `[{"duration": 3}]`, `[{"time": -1}]`, `[{"time": 1, "kind": "middle"}]`,
		`[{"time": 1, "scte35": "not base64!"}]`, `[{"time": 1, "scte35": "/DAWAAAAAAAAAP/wBQb+AA2/JAAAO1qQgQ=="}]`, // bad CRC
		`[{"time": 1, "colour": "red"}]`,
	} {
		if _, err := packager.ReadCueList(strings.NewReader(in)); !errors.Is(err, packager.ErrCueList) {
			t.Errorf("%s: got %v, want ErrCueList", in, err)
		}
	}
}

func startsAt(r manifest.Representation, at, tol time.Duration) bool {
	for _, s := range r.Segments {
		d := manifest.TicksToDuration(s.Start, r.Timescale) - manifest.TicksToDuration(r.PresentationTimeOffset, r.Timescale) - at
		if d <= tol && d >= -tol {
			return true
		}
	}
	return false
}

// TestTSCues packages an MPEG-TS whose SCTE-35 PID carries a break from
// 2 s to 4 s (keyframes every second, target 3 s): segments start at both
// splice points and the input's sections reach HLS and DASH unchanged.
func TestTSCues(t *testing.T) {
	ffmpeg := testutil.NeedTool(t, "ffmpeg")
	dir := t.TempDir()
	src := filepath.Join(dir, "in.ts")
	cmd := exec.Command(ffmpeg, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=30",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "6", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "30", "-keyint_min", "30",
		"-sc_threshold", "0", "-c:a", "aac", "-f", "mpegts", src)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	clean, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	// Splice on the video's keyframes 2 s and 4 s after its first frame;
	// the output's zero is the earliest sample (the audio's, here).
	p0, _ := tscue.MinPTS(clean, -1)
	v0, _ := tscue.MinPTS(clean, 0x100)
	lead := time.Duration(v0-p0) * time.Second / scte35.Ticks
	section := func(out bool, at time.Duration) []byte {
		pts := uint64(v0) + uint64(at/time.Millisecond)*90
		si := &scte35.SpliceInsert{EventID: 9, OutOfNetwork: out, ProgramSplice: true, SpliceTime: &pts}
		if out {
			si.BreakDuration = &scte35.BreakDuration{AutoReturn: true, Duration: 2 * scte35.Ticks}
		}
		b, err := (&scte35.Section{SAPType: 3, Tier: 0xFFF, Command: si}).Encode()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	out, in := section(true, 2*time.Second), section(false, 4*time.Second)
	b, err := tscue.AddSCTE35(clean, 0x1F0, []tscue.Insert{{After: 20, Section: out}, {After: 30, Section: out}, {After: 100, Section: in}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(src, b, 0o644); err != nil {
		t.Fatal(err)
	}
	outDir := filepath.Join(dir, "out")
	res, err := packager.Run(context.Background(), packager.Job{
		Inputs: []packager.Input{{Path: src}}, SegmentDuration: 3 * time.Second, Storage: storage.Dir(outDir),
	})
	if err != nil {
		t.Fatal(err)
	}
	cues := res.Presentation.Periods[0].Cues
	if len(cues) != 2 || cues[0].ID != "splice-9" || cues[1].ID != "splice-9" || cues[0].Start != lead+2*time.Second || cues[1].Start != lead+4*time.Second ||
		cues[0].Duration != 2*time.Second || !cues[0].Planned {
		t.Fatalf("cues %+v", cues)
	}
	// Video segments start at the cues to the frame; audio ones within
	// half a frame plus the start delay that the model's segment times
	// include (the edit list removes it; 45 ms here).
	for _, set := range res.Presentation.Periods[0].Sets {
		tol := time.Millisecond
		if set.ContentType == segment.KindAudio {
			tol = 60 * time.Millisecond
		}
		for _, r := range set.Representations {
			for _, c := range cues {
				if !startsAt(r, c.Start, tol) {
					t.Errorf("%s: no segment starts at %v: %+v", r.ID, c.Start, r.Segments)
				}
			}
		}
	}
	testutil.ValidateMPD(t, filepath.Join(outDir, "manifest.mpd"))
	for _, o := range res.Objects {
		if !strings.HasSuffix(o.Name, ".m3u8") || o.Name == "master.m3u8" || strings.HasSuffix(o.Name, "_iframes.m3u8") {
			continue
		}
		pl, _ := os.ReadFile(filepath.Join(outDir, o.Name))
		if !strings.Contains(string(pl), `SCTE35-OUT=0x`+strings.ToUpper(hex.EncodeToString(out))) ||
			!strings.Contains(string(pl), `SCTE35-IN=0x`+strings.ToUpper(hex.EncodeToString(in))) {
			t.Errorf("%s without the input's sections:\n%s", o.Name, pl)
		}
	}
}

package packager_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/internal/testutil"
	"github.com/cmafkit/cmafkit/manifest"
	"github.com/cmafkit/cmafkit/packager"
	"github.com/cmafkit/cmafkit/scte35"
	"github.com/cmafkit/cmafkit/segment"
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
		Inputs: ladderInputs(), SegmentDuration: 4 * time.Second, Storage: packager.Dir(dir),
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
					t.Errorf("%s: no segment starts at %v", r.ID, c.Start)
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
		Inputs: ladderInputs(), SegmentDuration: 4 * time.Second, Storage: packager.Dir(t.TempDir()),
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

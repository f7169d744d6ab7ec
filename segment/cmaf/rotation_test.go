package cmaf_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/cmafkit/cmafkit/internal/testutil"
	"github.com/cmafkit/cmafkit/segment"
	"github.com/cmafkit/cmafkit/segment/cmaf"
	"github.com/cmafkit/cmafkit/segment/internal/mp4fixture"
)

// withMatrix returns b (an MP4 whose first tkhd is version 0) with that
// tkhd's matrix set to m.
func withMatrix(t *testing.T, b []byte, m [9]int32) []byte {
	t.Helper()
	b = append([]byte(nil), b...)
	o := mp4fixture.BoxAt(t, b, "tkhd")
	if b[o+8] != 0 {
		t.Fatal("tkhd version 1")
	}
	// size, type, version/flags, times, track_ID, reserved, duration, reserved[2], layer, group, volume, reserved
	p := o + 8 + 4 + 20 + 16
	for i, v := range m {
		binary.BigEndian.PutUint32(b[p+4*i:], uint32(v))
	}
	return b
}

// ffprobeRotation returns the rotation ffprobe reports for the first video
// stream of file (its display matrix side data), "" when there is none.
func ffprobeRotation(t *testing.T, ffprobe, file string) string {
	t.Helper()
	out, err := exec.Command(ffprobe, "-v", "error", "-select_streams", "v:0", "-show_entries", "stream_side_data=rotation", "-of", "default=nw=1:nk=1", file).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe %s: %v\n%s", file, err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestRotationCarried: the tkhd matrix of a rotated (or mirrored) video
// reaches the output's track header unchanged, a warning says the
// manifests cannot signal it, and ffprobe reads the same rotation from the
// packaged track as from the source.
func TestRotationCarried(t *testing.T) {
	const one = 0x10000
	cases := []struct {
		name    string
		m       [9]int32
		rot     int
		mirror  bool
		message string
	}{
		// A phone's portrait video: 90° clockwise, moved back into view.
		{"90 clockwise", [9]int32{0, one, 0, -one, 0, 0, 360 * one, 0, 0x40000000}, 90, false, "rotated 90° clockwise"},
		{"90 counterclockwise", [9]int32{0, -one, 0, one, 0, 0, 0, 640 * one, 0x40000000}, 270, false, "rotated 90° counterclockwise"},
		{"180", [9]int32{-one, 0, 0, 0, -one, 0, 640 * one, 360 * one, 0x40000000}, 180, false, "rotated 180°"},
		{"mirrored", [9]int32{-one, 0, 0, 0, one, 0, 640 * one, 0, 0x40000000}, 0, true, "mirrored"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel() // most of the time is spent waiting for ffprobe
			in := withMatrix(t, mp4fixture.Testdata(t, "ladder_360p.mp4"), c.m)
			var logs bytes.Buffer
			src, err := segment.Open(context.Background(), bytes.NewReader(in), int64(len(in)), "rot.mp4",
				&segment.OpenOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			v := src.Tracks[0]
			if v.Kind != segment.KindVideo || v.Matrix != c.m {
				t.Fatalf("track %s matrix %v, want %v", v, v.Matrix, c.m)
			}
			if rot, mirror := v.Rotation(); rot != c.rot || mirror != c.mirror {
				t.Errorf("Rotation() = %d, %v, want %d, %v", rot, mirror, c.rot, c.mirror)
			}
			if !strings.Contains(logs.String(), "display matrix") || !strings.Contains(logs.String(), c.message) || !strings.Contains(logs.String(), "manifests cannot signal it") {
				t.Errorf("no warning naming %q: %q", c.message, logs.String())
			}
			if a := src.Tracks[1]; a.Matrix != ([9]int32{}) {
				t.Errorf("audio track has matrix %v", a.Matrix)
			}
			plan, err := segment.PlanSegments(src.Tracks[:1], 2*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			init, segs, _ := writeTrack(t, v, plan, cmaf.Options{})
			f, err := mp4.DecodeFile(bytes.NewReader(init))
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Init.Moov.Trak.Tkhd.Matrix; got != c.m {
				t.Errorf("output tkhd matrix %v, want the source's %v", got, c.m)
			}
			if w, h := f.Init.Moov.Trak.Tkhd.Width, f.Init.Moov.Trak.Tkhd.Height; w>>16 != 640 || h>>16 != 360 {
				t.Errorf("output tkhd size %dx%d, want the size before the transform, 640x360", w>>16, h>>16)
			}

			ffprobe, err := exec.LookPath("ffprobe")
			if err != nil {
				if testutil.InCI() {
					t.Fatal("ffprobe is required in CI")
				}
				t.Log("ffprobe not installed: output not probed")
				return
			}
			dir := t.TempDir()
			srcFile, outFile := filepath.Join(dir, "in.mp4"), filepath.Join(dir, "out.mp4")
			if err := os.WriteFile(srcFile, in, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(outFile, append(init, bytes.Join(segs, nil)...), 0o644); err != nil {
				t.Fatal(err)
			}
			want := ffprobeRotation(t, ffprobe, srcFile)
			if want == "" && !c.mirror {
				t.Fatalf("ffprobe sees no rotation in the source")
			}
			if got := ffprobeRotation(t, ffprobe, outFile); got != want {
				t.Errorf("ffprobe: output rotation %q, source %q", got, want)
			}
		})
	}
}

// TestNoRotation: an identity matrix leaves Matrix zero and the output's
// tkhd at the identity, with no warning.
func TestNoRotation(t *testing.T) {
	src, logs := openLogged(t, "ladder_360p.mp4")
	if src.Tracks[0].Matrix != ([9]int32{}) || strings.Contains(logs, "display matrix") {
		t.Fatalf("matrix %v, logs %q", src.Tracks[0].Matrix, logs)
	}
	var b bytes.Buffer
	if err := cmaf.WriteInit(&b, src.Tracks[0], nil); err != nil {
		t.Fatal(err)
	}
	f, err := mp4.DecodeFile(&b)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Init.Moov.Trak.Tkhd.Matrix; got != mp4.UnityMatrix() {
		t.Errorf("output matrix %v", got)
	}
}

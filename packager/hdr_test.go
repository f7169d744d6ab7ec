package packager_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cmafkit/cmafkit/internal/testutil"
	"github.com/cmafkit/cmafkit/packager"
)

// TestHDRSignalling packages HDR sources made by ffmpeg and checks that the
// colour reaches both manifests: VIDEO-RANGE in HLS and the CICP descriptors
// of DASH-IF IOP in DASH (essential for PQ, supplemental for HLG), read from
// the colr box of an MP4, from the SPS VUI of an MP4 without colr, and from
// the SPS VUI of MPEG-TS.
func TestHDRSignalling(t *testing.T) {
	ffmpeg := testutil.NeedTool(t, "ffmpeg")
	src := t.TempDir()
	for _, tc := range []struct {
		name, file, vcodec, trc string
		stripColr               bool
		wantRange, wantProp     string
		wantTransfer            string
	}{
		{name: "pq-hevc-colr", file: "pq.mp4", vcodec: "libx265", trc: "smpte2084", wantRange: "PQ", wantProp: "EssentialProperty", wantTransfer: "16"},
		{name: "pq-avc-vui-only", file: "pq-vui.mp4", vcodec: "libx264", trc: "smpte2084", stripColr: true, wantRange: "PQ", wantProp: "EssentialProperty", wantTransfer: "16"},
		{name: "hlg-avc-ts", file: "hlg.ts", vcodec: "libx264", trc: "arib-std-b67", wantRange: "HLG", wantProp: "SupplementalProperty", wantTransfer: "18"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := filepath.Join(src, tc.file)
			args := []string{"-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=2",
				"-c:v", tc.vcodec, "-g", "25", "-color_primaries", "bt2020", "-color_trc", tc.trc, "-colorspace", "bt2020nc"}
			if tc.vcodec == "libx265" {
				args = append(args, "-pix_fmt", "yuv420p10le", "-tag:v", "hvc1", "-x265-params", "log-level=error")
			} else {
				args = append(args, "-pix_fmt", "yuv420p")
			}
			if out, err := exec.Command(ffmpeg, append(args, in)...).CombinedOutput(); err != nil {
				t.Fatalf("ffmpeg: %v\n%s", err, out)
			}
			if tc.stripColr {
				b, err := os.ReadFile(in)
				if err != nil {
					t.Fatal(err)
				}
				i := bytes.Index(b, []byte("colr"))
				if i < 0 {
					t.Fatal("ffmpeg wrote no colr box to strip")
				}
				copy(b[i:], "free") // the sample entry keeps its size; the colour is left in the SPS VUI only
				if err := os.WriteFile(in, b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			dir := runJob(t, packager.Job{Inputs: []packager.Input{{Path: in}}})
			mpd, err := os.ReadFile(filepath.Join(dir, "manifest.mpd"))
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{
				`<` + tc.wantProp + ` schemeIdUri="urn:mpeg:mpegB:cicp:ColourPrimaries" value="9">`,
				`<` + tc.wantProp + ` schemeIdUri="urn:mpeg:mpegB:cicp:TransferCharacteristics" value="` + tc.wantTransfer + `">`,
				`<` + tc.wantProp + ` schemeIdUri="urn:mpeg:mpegB:cicp:MatrixCoefficients" value="9">`,
			} {
				if !strings.Contains(string(mpd), want) {
					t.Errorf("MPD lacks %s:\n%s", want, mpd)
				}
			}
			m3u8, err := os.ReadFile(filepath.Join(dir, "master.m3u8"))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(m3u8), "VIDEO-RANGE="+tc.wantRange+",") {
				t.Errorf("multivariant playlist lacks VIDEO-RANGE=%s:\n%s", tc.wantRange, m3u8)
			}
		})
	}
}

package packager_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Eyevinn/mp4ff/mp4"
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

// TestDolbyVisionSignalling packages Dolby Vision sources: profile 8.1 (an
// hvc1 track with a dvvC box, an HDR10 base layer) must keep hvc1 in CODECS
// and name the Dolby layer as SUPPLEMENTAL-CODECS and
// @scte214:supplementalCodecs; profile 5 (a dvh1 sample entry) is known by
// its Dolby codec string alone. The configuration box must reach the init
// segment.
func TestDolbyVisionSignalling(t *testing.T) {
	ffmpeg := testutil.NeedTool(t, "ffmpeg")
	base := filepath.Join(t.TempDir(), "hdr10.mp4")
	if out, err := exec.Command(ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=2",
		"-c:v", "libx265", "-pix_fmt", "yuv420p10le", "-tag:v", "hvc1", "-x265-params", "log-level=error:keyint=25",
		"-color_primaries", "bt2020", "-color_trc", "smpte2084", "-colorspace", "bt2020nc", base).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	for _, tc := range []struct {
		name                         string
		profile                      byte
		entry                        string
		wantCodecs, wantSupplemental string
	}{
		{name: "profile8.1", profile: 8, entry: "hvc1", wantCodecs: "hvc1.2.4.L60.90", wantSupplemental: "dvh1.08.01/db1p"},
		{name: "profile5", profile: 5, entry: "dvh1", wantCodecs: "dvh1.05.01"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := withDolbyVision(t, base, tc.profile, tc.entry)
			dir := runJob(t, packager.Job{Inputs: []packager.Input{{Path: in}}})
			m3u8, err := os.ReadFile(filepath.Join(dir, "master.m3u8"))
			if err != nil {
				t.Fatal(err)
			}
			want := `CODECS="` + tc.wantCodecs + `",`
			if tc.wantSupplemental != "" {
				want += `SUPPLEMENTAL-CODECS="` + tc.wantSupplemental + `",`
			}
			if !strings.Contains(string(m3u8), want+"RESOLUTION=320x180,FRAME-RATE=25.000,VIDEO-RANGE=PQ") {
				t.Errorf("multivariant playlist lacks %sRESOLUTION=…,VIDEO-RANGE=PQ:\n%s", want, m3u8)
			}
			mpd, err := os.ReadFile(filepath.Join(dir, "manifest.mpd"))
			if err != nil {
				t.Fatal(err)
			}
			wantMPD := `codecs="` + tc.wantCodecs + `"`
			if c, _, ok := strings.Cut(tc.wantSupplemental, "/"); ok {
				wantMPD += ` scte214:supplementalCodecs="` + c + `"`
			}
			if !strings.Contains(string(mpd), wantMPD) {
				t.Errorf("MPD lacks %s:\n%s", wantMPD, mpd)
			}
			init, err := os.ReadFile(filepath.Join(dir, "video_180p_"+map[bool]string{true: "hevc", false: "dvh1"}[tc.entry == "hvc1"], "init.mp4"))
			if err != nil {
				entries, _ := os.ReadDir(dir)
				t.Fatalf("%v (output has %v)", err, entries)
			}
			if !bytes.Contains(init, []byte("dvvC")) && !bytes.Contains(init, []byte("dvcC")) {
				t.Error("the init segment lost the Dolby Vision configuration box")
			}
		})
	}
}

// withDolbyVision copies an HEVC MP4 (moov after mdat, as ffmpeg writes it,
// so a bigger moov moves no sample) with a Dolby Vision configuration of
// the given profile (level 1, RPU and base layer, base compatible with
// HDR10) added to its sample entry, renamed to entry.
func withDolbyVision(t *testing.T, src string, profile byte, entry string) string {
	t.Helper()
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mf, err := mp4.DecodeFile(f)
	if err != nil {
		t.Fatal(err)
	}
	if mf.Moov == nil || len(mf.Children) == 0 || mf.Children[len(mf.Children)-1] != mf.Moov {
		t.Fatal("the HEVC source's moov is not last")
	}
	vse := mf.Moov.Trak.Mdia.Minf.Stbl.Stsd.HvcX
	compat := byte(1)
	if profile == 5 {
		compat = 0
	}
	vse.AddChild(mp4.CreateDoViConfigurationBox(1, 0, profile, 1, true, false, true, compat))
	var b bytes.Buffer
	if err := mf.Encode(&b); err != nil {
		t.Fatal(err)
	}
	out := b.Bytes()
	if entry != "hvc1" {
		i := bytes.Index(out, []byte("hvc1"))
		copy(out[i:], entry)
	}
	p := filepath.Join(t.TempDir(), "dv.mp4")
	if err := os.WriteFile(p, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

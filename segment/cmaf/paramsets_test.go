package cmaf_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/internal/testutil"
	"github.com/cmafkit/cmafkit/segment/cmaf"

	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/cmafkit/cmafkit/segment"
)

// openLogged opens a test file and returns what was logged at warning level.
func openLogged(t *testing.T, name string) (*segment.Source, string) {
	t.Helper()
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	src, err := segment.OpenFile(context.Background(), filepath.Join("..", "..", "testdata", name), &segment.OpenOptions{Logger: log})
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	t.Cleanup(func() { src.Close() })
	return src, logs.String()
}

// nalTypes lists the NAL unit types of a length-prefixed (4 bytes) sample.
func nalTypes(t *testing.T, b []byte, hevc bool) []int {
	t.Helper()
	var out []int
	for len(b) >= 5 {
		n := int(b[0])<<24 | int(b[1])<<16 | int(b[2])<<8 | int(b[3])
		if n > len(b)-4 || n < 1 {
			t.Fatalf("bad NAL length %d", n)
		}
		if hevc {
			out = append(out, int(b[4]>>1&0x3f))
		} else {
			out = append(out, int(b[4]&0x1f))
		}
		b = b[4+n:]
	}
	return out
}

// TestParameterSetsConverted: avc3/hev1 inputs with identical parameter sets
// repeated at every keyframe become avc1/hvc1 tracks without in-band copies
// (hvc1 arrays marked complete), the codec string follows, the round trip
// holds and ffprobe decodes every frame of the packaged output.
func TestParameterSetsConverted(t *testing.T) {
	ffprobe := testutil.NeedTool(t, "ffprobe")
	for _, tc := range []struct {
		file, entry string
		hevc        bool
		psTypes     []int
	}{
		{"avc3.mp4", "avc1", false, []int{7, 8}},
		{"hev1.mp4", "hvc1", true, []int{32, 33, 34}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			src, logs := openLogged(t, tc.file)
			if logs != "" {
				t.Errorf("unexpected warnings: %s", logs)
			}
			tr := src.Tracks[0]
			if got := tr.SampleEntry.Type(); got != tc.entry {
				t.Fatalf("sample entry %s, want %s", got, tc.entry)
			}
			if !strings.HasPrefix(tr.Codec, tc.entry+".") {
				t.Errorf("codec %q does not follow the sample entry %s", tr.Codec, tc.entry)
			}
			vse := tr.SampleEntry.(*mp4.VisualSampleEntryBox)
			if tc.hevc {
				for _, a := range vse.HvcC.NaluArrays {
					if typ := int(a.NaluType()); typ >= 32 && typ <= 34 && (a.Complete() != 1 || len(a.Nalus) == 0) {
						t.Errorf("hvcC array of type %d: complete=%d, %d NAL units", typ, a.Complete(), len(a.Nalus))
					}
				}
				if n := len(vse.HvcC.GetNalusForType(33)); n != 1 {
					t.Errorf("%d SPS in hvcC, want 1", n)
				}
			} else if len(vse.AvcC.SPSnalus) != 1 || len(vse.AvcC.PPSnalus) != 1 {
				t.Errorf("avcC has %d SPS and %d PPS, want 1 and 1", len(vse.AvcC.SPSnalus), len(vse.AvcC.PPSnalus))
			}
			// No sample carries parameter sets any more; sizes agree with the index.
			syncs := 0
			for i, s := range allSamples(t, tr) {
				b, err := tr.Data.AppendSample(nil, &s)
				if err != nil {
					t.Fatalf("sample %d: %v", i, err)
				}
				if len(b) != int(s.Size) {
					t.Fatalf("sample %d: %d bytes, index says %d", i, len(b), s.Size)
				}
				for _, typ := range nalTypes(t, b, tc.hevc) {
					for _, ps := range tc.psTypes {
						if typ == ps {
							t.Fatalf("sample %d still carries NAL type %d", i, typ)
						}
					}
				}
				if s.Sync {
					syncs++
				}
			}
			if syncs != 2 {
				t.Errorf("%d sync samples, want 2", syncs)
			}
			plan, err := segment.PlanSegments(src.Tracks, 2*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			init, segs, infos := writeTrack(t, tr, plan, cmaf.Options{})
			checkRoundTrip(t, tr, init, segs, infos)
			if !bytes.Contains(init, []byte(tc.entry)) {
				t.Errorf("init segment has no %s sample entry", tc.entry)
			}
			file := filepath.Join(t.TempDir(), "out.mp4")
			if err := os.WriteFile(file, bytes.Join(append([][]byte{init}, segs...), nil), 0o644); err != nil {
				t.Fatal(err)
			}
			if frames, _ := ffprobeStream(t, ffprobe, file); frames != tr.SampleCount() {
				t.Errorf("ffprobe decodes %d frames, want %d", frames, tr.SampleCount())
			}
		})
	}
}

// TestParameterSetsChange: an avc3 stream whose SPS changes mid-stream
// (320x180 High, then 256x144 Main) stays avc3 with its in-band parameter
// sets, with a warning naming the sample and time; it still decodes.
func TestParameterSetsChange(t *testing.T) {
	ffprobe := testutil.NeedTool(t, "ffprobe")
	src, logs := openLogged(t, "avc3_change.mp4")
	tr := src.Tracks[0]
	if got := tr.SampleEntry.Type(); got != "avc3" || !strings.HasPrefix(tr.Codec, "avc3.") {
		t.Fatalf("sample entry %s codec %s, want avc3 kept", got, tr.Codec)
	}
	for _, want := range []string{"level=WARN", "keeping avc3", "parameter sets change in-band", "sample=51", "time=2s"} {
		if !strings.Contains(logs, want) {
			t.Errorf("warning %q lacks %q", logs, want)
		}
	}
	plan, err := segment.PlanSegments(src.Tracks, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	init, segs, infos := writeTrack(t, tr, plan, cmaf.Options{})
	checkRoundTrip(t, tr, init, segs, infos)
	if !bytes.Contains(init, []byte("avc3")) {
		t.Error("init segment lost the avc3 sample entry")
	}
	file := filepath.Join(t.TempDir(), "out.mp4")
	if err := os.WriteFile(file, bytes.Join(append([][]byte{init}, segs...), nil), 0o644); err != nil {
		t.Fatal(err)
	}
	if frames, _ := ffprobeStream(t, ffprobe, file); frames != tr.SampleCount() {
		t.Errorf("ffprobe decodes %d frames, want %d", frames, tr.SampleCount())
	}
}

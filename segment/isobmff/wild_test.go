package isobmff_test

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/cmafkit/cmafkit/segment"
	"github.com/cmafkit/cmafkit/segment/internal/mp4fixture"
)

// openBytes opens b as an MP4 and fails the test on error.
func openBytes(t *testing.T, b []byte, name string) *segment.Source {
	t.Helper()
	src, err := segment.Open(t.Context(), bytes.NewReader(b), int64(len(b)), name, nil)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// TestSampleEntryWithoutSize: a visual sample entry whose width and height
// are 0 (mp4parser's h264-sample.mp4) takes the picture size from its SPS,
// for H.264 and HEVC, instead of ending in the manifest writer's "video
// representation without resolution".
func TestSampleEntryWithoutSize(t *testing.T) {
	for _, c := range []struct{ file, entry string }{{"ladder_360p.mp4", "avc1"}, {"hevc_ac3.mp4", "hvc1"}} {
		b := bytes.Clone(mp4fixture.Testdata(t, c.file))
		stsd := mp4fixture.BoxAt(t, b, "stsd")
		at := stsd + mp4fixture.BoxAt(t, b[stsd:], c.entry) // not a brand in ftyp
		// VisualSampleEntry: header, 6 reserved, data reference index,
		// 16 bytes pre_defined/reserved, then width and height.
		binary.BigEndian.PutUint32(b[at+32:], 0)
		src := openBytes(t, b, c.file)
		v := src.Tracks[0]
		if v.Kind != segment.KindVideo || v.Width != 640 || v.Height != 360 {
			t.Errorf("%s: %s track %dx%d, want video 640x360 from the SPS", c.file, v.Kind, v.Width, v.Height)
		}
	}
}

// TestQuickTimeSoundEntry: a QuickTime sound description version 1 keeps
// its esds inside a wave box (iPhone recordings; ffmpeg's mov muxer writes
// it too). The track is read as AAC, and its sample entry is the ISO
// version-0 mp4a with the esds directly inside that a CMAF init carries,
// instead of a refusal "mp4a without esds".
func TestQuickTimeSoundEntry(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("no ffmpeg")
	}
	f := filepath.Join(t.TempDir(), "qt.mov")
	if out, err := exec.Command("ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=d=1:sample_rate=44100", "-ac", "2", "-c:a", "aac", "-f", "mov", f).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte("wave")) {
		t.Fatal("ffmpeg wrote no wave box: the fixture does not test anything")
	}
	a := openBytes(t, b, "qt.mov").Tracks[0]
	e, ok := a.SampleEntry.(*mp4.AudioSampleEntryBox)
	if !ok || a.Codec != "mp4a.40.2" || a.Channels != 2 || a.SampleRate != 44100 {
		t.Fatalf("track %s %s %d ch %d Hz, want AAC-LC stereo 44100 Hz", a.Kind, a.Codec, a.Channels, a.SampleRate)
	}
	if e.QuickTimeVersion != 0 || e.Wave != nil || e.Esds == nil {
		t.Errorf("sample entry version %d, wave %v, esds %v: want version 0 with esds and no wave", e.QuickTimeVersion, e.Wave != nil, e.Esds != nil)
	}
	var buf bytes.Buffer
	if err := e.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(buf.Bytes(), []byte("wave")) || !bytes.Contains(buf.Bytes(), []byte("esds")) {
		t.Errorf("encoded sample entry % x", buf.Bytes())
	}
}

package isobmff_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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

// TestEmptyTrackSkipped: a track without samples beside usable ones
// (androidx's sample_empty_track.mp4: H.264, an empty H.264 track, AAC) is
// skipped with a warning naming it; the other tracks are read. (An init
// segment alone is still refused: TestInitWithoutSegments.)
func TestEmptyTrackSkipped(t *testing.T) {
	f, err := mp4.DecodeFile(bytes.NewReader(mp4fixture.Testdata(t, "moov_end.mp4")))
	if err != nil {
		t.Fatal(err)
	}
	// A copy of the video track (the media data comes before the moov,
	// whose growth moves no sample) with empty sample tables.
	var buf bytes.Buffer
	if err := f.Moov.Traks[0].Encode(&buf); err != nil {
		t.Fatal(err)
	}
	box, err := mp4.DecodeBox(0, bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	empty := box.(*mp4.TrakBox)
	empty.Tkhd.TrackID = f.Moov.Mvhd.NextTrackID
	f.Moov.Mvhd.NextTrackID++
	stbl := empty.Mdia.Minf.Stbl
	stbl.Stts.SampleCount, stbl.Stts.SampleTimeDelta = nil, nil
	stbl.Stsc.Entries = nil
	stbl.Stsz.SampleNumber, stbl.Stsz.SampleSize, stbl.Stsz.SampleUniformSize = 0, nil, 0
	stbl.Stco.ChunkOffset = nil
	if stbl.Stss != nil {
		stbl.Stss.SampleNumber = nil
	}
	if stbl.Ctts != nil {
		stbl.Ctts.EndSampleNr, stbl.Ctts.SampleOffset = []uint32{0}, nil
	}
	f.Moov.AddChild(empty)
	buf.Reset()
	if err := f.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	opts := &segment.OpenOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	src, err := segment.Open(t.Context(), bytes.NewReader(buf.Bytes()), int64(buf.Len()), "empty.mp4", opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(src.Tracks) != 2 || src.Tracks[0].SampleCount() != 240 || src.Tracks[1].SampleCount() != 376 {
		t.Errorf("%d tracks, want the video (240 samples) and audio (376)", len(src.Tracks))
	}
	if !strings.Contains(logs.String(), "skipping track without samples") || !strings.Contains(logs.String(), "track=3") {
		t.Errorf("no warning about track 3:\n%s", logs.String())
	}
}

// TestAVCSampleEntriesMP4ffRefuses: valid AVC sample entries mp4ff cannot
// decode. An nclx colr of 18 bytes, without its full-range byte (androidx's
// sample_18byte_nclx_colr.mp4), is dropped with a warning and the track
// read; an avcC with 2-byte NAL unit lengths (sample_2_byte_NAL_length.mp4)
// is refused as an unsupported codec saying so, not as malformed input.
func TestAVCSampleEntriesMP4ffRefuses(t *testing.T) {
	f, err := mp4.DecodeFile(bytes.NewReader(mp4fixture.Testdata(t, "moov_end.mp4")))
	if err != nil {
		t.Fatal(err)
	}
	colr, err := mp4.DecodeUnknown(mp4.BoxHeader{Name: "colr", Size: 18, Hdrlen: 8}, 0, bytes.NewReader([]byte("nclx\x00\x01\x00\x01\x00\x01")))
	if err != nil {
		t.Fatal(err)
	}
	avc1 := f.Moov.Traks[0].Mdia.Minf.Stbl.Stsd.Children[0].(*mp4.VisualSampleEntryBox)
	avc1.Children = append(avc1.Children, colr) // the media data comes first: no offset moves
	var buf bytes.Buffer
	if err := f.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	opts := &segment.OpenOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	src, err := segment.Open(t.Context(), bytes.NewReader(buf.Bytes()), int64(buf.Len()), "colr.mp4", opts)
	if err != nil {
		t.Fatalf("18-byte colr: %v", err)
	}
	if v := src.Tracks[0]; v.Kind != segment.KindVideo || v.SampleCount() != 240 || !strings.Contains(logs.String(), "ignoring a colr box") {
		t.Errorf("18-byte colr: %s track, %d samples, log:\n%s", v.Kind, v.SampleCount(), logs.String())
	}

	b := bytes.Clone(mp4fixture.Testdata(t, "ladder_360p.mp4"))
	avcC := mp4fixture.BoxAt(t, b, "avcC")
	b[avcC+12] = 0xfc | 1 // lengthSizeMinusOne
	_, err = segment.Open(t.Context(), bytes.NewReader(b), int64(len(b)), "nal2.mp4", nil)
	if !errors.Is(err, segment.ErrUnsupportedCodec) || !strings.Contains(err.Error(), "2-byte NAL unit lengths") {
		t.Errorf("2-byte NAL lengths: %v, want ErrUnsupportedCodec naming them", err)
	}
}

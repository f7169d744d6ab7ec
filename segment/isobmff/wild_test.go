package isobmff_test

import (
	"bytes"
	"encoding/binary"
	"testing"

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

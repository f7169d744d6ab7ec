package ts

import (
	"bytes"
	"testing"

	"github.com/cmafkit/cmafkit/segment"
)

// TestOpenLeadingJunk: an MPEG-TS that does not start on a packet (a
// recording cut mid-packet, or junk in front as in androidx's
// ts/sample_with_junk) is recognised by segment.Open as MPEG-TS and reads
// the same tracks as the whole stream; an MP4 box holding TS packets is not
// taken for TS.
func TestOpenLeadingJunk(t *testing.T) {
	raw := readFile(t, "h264_aac.ts")
	junk := make([]byte, 155)
	for i := range junk {
		junk[i] = byte(i)
	}
	for name, b := range map[string][]byte{
		"cut":  raw[100:],
		"junk": append(junk, raw...),
	} {
		src, err := segment.Open(t.Context(), bytes.NewReader(b), int64(len(b)), name, nil)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if src.Format != "MPEG-TS" || len(src.Tracks) != 2 {
			t.Errorf("%s: format %q, %d tracks; want MPEG-TS, 2", name, src.Format, len(src.Tracks))
		}
	}
	mp4 := append([]byte{0, 0, 0x10, 0, 'f', 't', 'y', 'p'}, raw[:4000]...)
	if isTS(mp4) {
		t.Error("an ftyp box holding TS packets taken for MPEG-TS")
	}
}

package tsmux_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/internal/testutil"
	"github.com/cmafkit/cmafkit/segment"
	"github.com/cmafkit/cmafkit/segment/cmaf"
	"github.com/cmafkit/cmafkit/segment/tsmux"
)

// packedTag parses the ID3v2.4 tag a packed audio segment starts with
// (RFC 8216 3.4) and returns the timestamp of its transportStreamTimestamp
// PRIV frame and the bytes after the tag.
func packedTag(t *testing.T, b []byte) (int64, []byte) {
	t.Helper()
	if len(b) < 10 || string(b[:3]) != "ID3" || b[3] != 4 || b[5] != 0 {
		t.Fatalf("no ID3v2.4 tag without flags: % x", b[:min(len(b), 10)])
	}
	size := func(p []byte) int {
		n := 0
		for _, c := range p[:4] {
			if c&0x80 != 0 {
				t.Fatalf("size % x is not synchsafe", p[:4])
			}
			n = n<<7 | int(c)
		}
		return n
	}
	tag := size(b[6:])
	if 10+tag > len(b) {
		t.Fatalf("tag of %d bytes in a segment of %d", tag, len(b))
	}
	frames, rest := b[10:10+tag], b[10+tag:]
	if len(frames) < 10 || string(frames[:4]) != "PRIV" || size(frames[4:]) != len(frames)-10 {
		t.Fatalf("want one PRIV frame filling the tag: % x", frames)
	}
	owner, data, ok := bytes.Cut(frames[10:], []byte{0})
	if !ok || string(owner) != tsmux.PackedAudioOwner || len(data) != 8 {
		t.Fatalf("PRIV owner %q, %d data bytes; want %q and 8", owner, len(data), tsmux.PackedAudioOwner)
	}
	ts := binary.BigEndian.Uint64(data)
	if ts>>33 != 0 {
		t.Fatalf("timestamp %#x wider than 33 bits", ts)
	}
	return int64(ts), rest
}

// TestPackedAudio writes the AAC, AC-3 and E-AC-3 tracks of the test
// files as packed audio: each segment is the ID3 tag with the PTS its TS
// segment starts with, then exactly the frames of the TS segment's PES
// payload (ADTS for AAC); ffprobe reads each segment as the raw format
// (AAC: with the timestamp tag), and ffmpeg decodes each without error.
// Video is refused.
func TestPackedAudio(t *testing.T) {
	testutil.NeedTool(t, "ffmpeg")
	for _, c := range []struct{ file, ext, format string }{
		{"ladder_720p.mp4", ".aac", "aac"}, {"hevc_ac3.mp4", ".ac3", "ac3"}, {"eac3.mp4", ".ec3", "eac3"},
	} {
		t.Run(c.file, func(t *testing.T) {
			src, err := segment.OpenFile(context.Background(), filepath.Join("../../testdata", c.file), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			p, err := segment.PlanSegments(src.Tracks, 2*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			for _, tr := range src.Tracks {
				m, err := tsmux.New(tr)
				if err != nil {
					t.Fatal(err)
				}
				ext, err := m.PackedAudioExtension()
				if tr.Kind == segment.KindVideo {
					if !errors.Is(err, tsmux.ErrUnsupported) || !strings.Contains(err.Error(), "packed audio") {
						t.Errorf("%s: %v, want ErrUnsupported naming packed audio", tr, err)
					}
					continue
				}
				if err != nil || ext != c.ext {
					t.Fatalf("%s: extension %q %v, want %s", tr, ext, err, c.ext)
				}
				ts := muxTrack(t, tr, p)
				sw, err := cmaf.NewWriter(tr, p, cmaf.Options{})
				if err != nil {
					t.Fatal(err)
				}
				dir := t.TempDir()
				// In reverse: packed audio segments are independent.
				for i := sw.Len() - 1; i >= 0; i-- {
					_, ss, err := sw.Samples(i)
					if err != nil {
						t.Fatal(err)
					}
					var b bytes.Buffer
					if err := m.WritePackedAudio(context.Background(), &b, ss); err != nil {
						t.Fatal(err)
					}
					at, frames := packedTag(t, b.Bytes())
					if want := minPTS(t, ts[i]); at != want {
						t.Errorf("%s segment %d: ID3 timestamp %d, want the TS segment's first PTS %d", tr, i+1, at, want)
					}
					if want := pesPayload(t, ts[i]); !bytes.Equal(frames, want) {
						t.Errorf("%s segment %d: %d bytes of frames, want the TS PES payload's %d", tr, i+1, len(frames), len(want))
					}
					name := filepath.Join(dir, "seg-"+strconv.Itoa(i+1)+ext)
					if err := os.WriteFile(name, b.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
					// ffmpeg's raw AC-3 demuxer skips the tag without
					// reporting it; its HLS demuxer reads the timestamp of
					// every format (see the packager's TestHLSPackedAudio).
					out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "format=format_name:format_tags", "-of", "default=nw=1", name).CombinedOutput()
					if err != nil || !strings.Contains(string(out), "format_name="+c.format+"\n") ||
						c.format == "aac" && !strings.Contains(string(out), "id3v2_priv."+tsmux.PackedAudioOwner+"=") {
						t.Errorf("%s: ffprobe: %v\n%s", name, err, out)
					}
					if msg, err := exec.Command("ffmpeg", "-v", "error", "-i", name, "-f", "null", "-").CombinedOutput(); err != nil || len(msg) > 0 {
						t.Errorf("%s: ffmpeg: %v: %s", name, err, msg)
					}
				}
			}
		})
	}
}

// pesPayload returns the payload of the PES packets of a one-stream TS
// segment, joined: the elementary stream.
func pesPayload(t *testing.T, ts []byte) []byte {
	t.Helper()
	var pes []byte
	for off := 0; off+188 <= len(ts); off += 188 {
		p := ts[off : off+188]
		pid := int(p[1]&0x1F)<<8 | int(p[2])
		if pid == 0 || pid == 0x1000 || p[3]&0x10 == 0 {
			continue
		}
		body := p[4:]
		if p[3]&0x20 != 0 {
			body = body[1+int(body[0]):]
		}
		if p[1]&0x40 != 0 { // PES header: 9 bytes and its header data
			body = body[9+int(body[8]):]
		}
		pes = append(pes, body...)
	}
	return pes
}

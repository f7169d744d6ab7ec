package packager_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/internal/emsg"
	"github.com/cmafkit/cmafkit/internal/testutil"
	"github.com/cmafkit/cmafkit/manifest"
	"github.com/cmafkit/cmafkit/packager"
	"github.com/cmafkit/cmafkit/scte35"
	"github.com/cmafkit/cmafkit/segment"
	_ "github.com/cmafkit/cmafkit/segment/isobmff"
	"github.com/cmafkit/cmafkit/storage"
)

// TestEmsgCues packages a fragmented MP4 (a fragment per keyframe, one a
// second) whose SCTE-35 emsg boxes mark a break from 2 s (version 1, an
// absolute time) to 4 s (version 0, a delta from the next fragment), plus
// an emsg of another scheme and one whose section has a bad CRC: segments
// start at both splice points and the sections reach HLS and DASH.
func TestEmsgCues(t *testing.T) {
	ffmpeg := testutil.NeedTool(t, "ffmpeg")
	dir := t.TempDir()
	src := filepath.Join(dir, "in.mp4")
	cmd := exec.Command(ffmpeg, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=30",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "6", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "30", "-keyint_min", "30",
		"-sc_threshold", "0", "-bf", "0", "-c:a", "aac", "-movflags", "frag_keyframe+empty_moov+default_base_moof", src)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	clean, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	s, err := segment.OpenFile(context.Background(), src, nil)
	if err != nil {
		t.Fatal(err)
	}
	var vts uint32
	for _, tr := range s.Tracks {
		if tr.Kind == segment.KindVideo {
			vts = tr.Timescale
		}
	}
	s.Close()
	// The fragments' offsets and the video's decode time at each (its
	// first traf), which is a keyframe's presentation time (no B-frames).
	var moofs []int
	var starts []uint64
	for off := 0; off+8 <= len(clean); {
		n := int(binary.BigEndian.Uint32(clean[off:]))
		if n < 8 || off+n > len(clean) {
			t.Fatalf("box at %d: size %d", off, n)
		}
		if string(clean[off+4:off+8]) == "moof" {
			moofs = append(moofs, off)
			i := bytes.Index(clean[off:off+n], []byte("tfdt"))
			if i < 0 {
				t.Fatal("moof without tfdt")
			}
			d := clean[off+i+4:]
			if d[0] == 1 {
				starts = append(starts, binary.BigEndian.Uint64(d[4:]))
			} else {
				starts = append(starts, uint64(binary.BigEndian.Uint32(d[4:])))
			}
		}
		off += n
	}
	if len(moofs) < 6 {
		t.Fatalf("%d fragments, want a fragment a second", len(moofs))
	}
	at := func(i int) time.Duration { return time.Duration(starts[i]) * time.Second / time.Duration(vts) }
	section := func(out bool, pts uint64) []byte {
		si := &scte35.SpliceInsert{EventID: 5, OutOfNetwork: out, ProgramSplice: true, SpliceTime: &pts}
		if out {
			si.BreakDuration = &scte35.BreakDuration{AutoReturn: true, Duration: 2 * scte35.Ticks}
		}
		b, err := (&scte35.Section{SAPType: 3, Tier: 0xFFF, Command: si}).Encode()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	out, in := section(true, 2*scte35.Ticks), section(false, 4*scte35.Ticks)
	badCRC := bytes.Clone(out)
	badCRC[len(badCRC)-1] ^= 1
	// Boxes to put before the n-th moof (from 0).
	before := map[int][]byte{
		1: emsg.Append(emsg.Append(nil, &emsg.Message{Version: 1, Scheme: emsg.SchemeSCTE35, Timescale: vts,
			PresentationTime: starts[2], Duration: 2 * vts, ID: 1, Data: out}),
			&emsg.Message{Version: 1, Scheme: "urn:example:other", Timescale: 1000, ID: 2, Data: []byte("x")}),
		3: emsg.Append(nil, &emsg.Message{Version: 1, Scheme: emsg.SchemeSCTE35, Timescale: 1000, PresentationTime: 3000, ID: 3, Data: badCRC}),
		4: emsg.Append(nil, &emsg.Message{Version: 0, Scheme: emsg.SchemeSCTE35, Timescale: 1000, PresentationTimeDelta: 0, ID: 4, Data: in}),
	}
	var b []byte
	prev := 0
	for i, off := range moofs {
		b = append(append(b, clean[prev:off]...), before[i]...)
		prev = off
	}
	b = append(b, clean[prev:]...)
	if err := os.WriteFile(src, b, 0o644); err != nil {
		t.Fatal(err)
	}
	outDir := filepath.Join(dir, "out")
	res, err := packager.Run(context.Background(), packager.Job{
		Inputs: []packager.Input{{Path: src}}, SegmentDuration: 3 * time.Second, Storage: storage.Dir(outDir),
	})
	if err != nil {
		t.Fatal(err)
	}
	pd := res.Presentation.Periods[0]
	cues := pd.Cues
	if len(cues) != 2 || cues[0].Kind != manifest.CueOut || cues[1].Kind != manifest.CueIn || cues[0].ID != cues[1].ID ||
		!bytes.Equal(cues[0].SCTE35, out) || !bytes.Equal(cues[1].SCTE35, in) {
		t.Fatalf("cues %+v", cues)
	}
	const frame = 33 * time.Millisecond
	t.Logf("fragments at %v %v %v; cues %v, %v", at(0), at(2), at(4), cues[0].Start, cues[1].Start)
	for _, set := range pd.Sets {
		for _, r := range set.Representations {
			if set.ContentType != segment.KindVideo {
				continue
			}
			for i, c := range cues {
				want := []time.Duration{at(2), at(4)}[i]
				if d := c.Start - want; d < -frame || d > frame {
					t.Errorf("cue %d at %v, want %v", i, c.Start, want)
				}
				if !startsAt(r, c.Start, time.Millisecond) {
					t.Errorf("%s: no segment starts at %v: %+v (pto %d)", r.ID, c.Start, r.Segments, r.PresentationTimeOffset)
				}
			}
		}
	}
	testutil.ValidateMPD(t, filepath.Join(outDir, "manifest.mpd"))
	mpd, _ := os.ReadFile(filepath.Join(outDir, "manifest.mpd"))
	if !bytes.Contains(mpd, []byte("urn:scte:scte35:2014:xml+bin")) {
		t.Errorf("MPD without the EventStream:\n%s", mpd)
	}
	for _, o := range res.Objects {
		if !strings.HasSuffix(o.Name, ".m3u8") || o.Name == "master.m3u8" || strings.HasSuffix(o.Name, "_iframes.m3u8") {
			continue
		}
		pl, _ := os.ReadFile(filepath.Join(outDir, o.Name))
		if !strings.Contains(string(pl), `SCTE35-OUT=0x`+strings.ToUpper(hex.EncodeToString(out))) ||
			!strings.Contains(string(pl), `SCTE35-IN=0x`+strings.ToUpper(hex.EncodeToString(in))) {
			t.Errorf("%s without the input's sections:\n%s", o.Name, pl)
		}
	}
}

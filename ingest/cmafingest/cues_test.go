package cmafingest

import (
	"bytes"
	"context"
	"encoding/binary"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/internal/emsg"
	"github.com/cmafkit/cmafkit/internal/testutil"
	"github.com/cmafkit/cmafkit/live"
	"github.com/cmafkit/cmafkit/manifest"
	"github.com/cmafkit/cmafkit/scte35"
	"github.com/cmafkit/cmafkit/segment"
)

// TestEmsgCues posts the ladder's tracks with SCTE-35 emsg boxes in the
// video: a break opened by a version 0 box (delta 0: at its fragment's
// start) and closed by a version 1 box sent a segment ahead, plus a box of
// another scheme and a section with a bad CRC. The channel cuts segments at
// both splice points and signals them in HLS and in the dynamic MPD.
func TestEmsgCues(t *testing.T) {
	t.Parallel()
	tracks := ladderTracks(t)
	r := newRig(t, Options{})
	var video cmafTrack
	for _, tr := range tracks {
		if tr.kind == segment.KindVideo {
			video = tr
		}
	}
	if len(video.segs) < 4 {
		t.Fatalf("%d video segments", len(video.segs))
	}
	// The earliest presentation time of video segment i, and the timescale.
	earliest := func(i int) (int64, uint32) {
		b := append(bytes.Clone(video.header), video.segs[i]...)
		src, err := segment.Open(context.Background(), bytes.NewReader(b), int64(len(b)), "seg", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		tr := src.Tracks[0]
		ss, err := tr.AppendSamples(nil, 0, tr.SampleCount())
		if err != nil {
			t.Fatal(err)
		}
		e := ss[0].PresentationTime()
		for _, s := range ss {
			e = min(e, s.PresentationTime())
		}
		return e, tr.Timescale
	}
	section := func(out bool) []byte {
		pts := uint64(0) // the times that count are the emsg's
		si := &scte35.SpliceInsert{EventID: 3, OutOfNetwork: out, ProgramSplice: true, SpliceTime: &pts}
		if out {
			si.BreakDuration = &scte35.BreakDuration{AutoReturn: true, Duration: 2 * scte35.Ticks}
		}
		b, err := (&scte35.Section{SAPType: 3, Tier: 0xFFF, Command: si}).Encode()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	out, in := section(true), section(false)
	bad := bytes.Clone(in)
	bad[len(bad)-1] ^= 1
	e3, ts := earliest(3)
	boxes := map[int][]byte{
		1: emsg.Append(nil, &emsg.Message{Version: 0, Scheme: "urn:example:other", Timescale: 1000, Data: []byte("x")}),
		2: emsg.Append(emsg.Append(nil, &emsg.Message{Version: 0, Scheme: emsg.SchemeSCTE35, Timescale: 1000, Duration: 2000, ID: 1, Data: out}),
			&emsg.Message{Version: 1, Scheme: emsg.SchemeSCTE35, Timescale: ts, PresentationTime: uint64(e3), ID: 2, Data: in}),
		3: emsg.Append(nil, &emsg.Message{Version: 0, Scheme: emsg.SchemeSCTE35, Timescale: 1000, ID: 3, Data: bad}),
	}
	// emsg boxes go after the styp, before the moof.
	with := func(i int, seg []byte) []byte {
		if boxes[i] == nil {
			return seg
		}
		n := binary.BigEndian.Uint32(seg)
		return append(append(bytes.Clone(seg[:n]), boxes[i]...), seg[n:]...)
	}
	names := map[segment.Kind]string{segment.KindVideo: "v", segment.KindAudio: "a"}
	for _, tr := range tracks {
		if code, msg := r.put("k/Streams("+names[tr.kind]+")", tr.header); code != http.StatusOK {
			t.Fatalf("header: %d %s", code, msg)
		}
	}
	for i := 0; ; i++ {
		more := false
		for _, tr := range tracks {
			if i >= len(tr.segs) {
				continue
			}
			more = true
			seg := tr.segs[i]
			if tr.kind == segment.KindVideo {
				seg = with(i, seg)
			}
			if i == len(tr.segs)-1 {
				seg = lastSegment(t, seg)
			}
			if code, msg := r.put("k/Streams("+names[tr.kind]+")", seg); code != http.StatusOK {
				t.Fatalf("segment %d: %d %s", i, code, msg)
			}
		}
		if !more {
			break
		}
	}
	r.waitEvent(live.PublisherGone, 1, 5*time.Second)
	st := r.ch.Stats()
	if st.Cues != 2 || st.BadCues != 1 {
		t.Errorf("channel took %d cues and refused %d, want 2 and 1 (the bad CRC) (stats %+v)", st.Cues, st.BadCues, st)
	}
	mpd, err := os.ReadFile(filepath.Join(r.dir, live.DASHName))
	if err != nil {
		t.Fatal(err)
	}
	pd := r.ch.Presentation().Periods[0]
	if len(pd.Cues) != 2 || pd.Cues[0].Kind != manifest.CueOut || pd.Cues[1].Kind != manifest.CueIn ||
		!bytes.Equal(pd.Cues[0].SCTE35, out) || !bytes.Equal(pd.Cues[1].SCTE35, in) {
		t.Fatalf("cues %+v", pd.Cues)
	}
	for _, set := range pd.Sets {
		if set.ContentType != segment.KindVideo {
			continue
		}
		r0 := set.Representations[0]
		starts := map[time.Duration]bool{}
		for _, s := range r0.Segments {
			starts[manifest.TicksToDuration(s.Start, r0.Timescale)-manifest.TicksToDuration(r0.PresentationTimeOffset, r0.Timescale)] = true
		}
		for _, c := range pd.Cues {
			if !starts[c.Start] {
				t.Errorf("no video segment starts at cue %v: %+v", c.Start, r0.Segments)
			}
		}
		if d := pd.Cues[1].Start - pd.Cues[0].Start; d < 1900*time.Millisecond || d > 2100*time.Millisecond {
			t.Errorf("break of %v, want a segment's (2.002 s)", d)
		}
	}
	if !bytes.Contains(mpd, []byte("urn:scte:scte35:2014:xml+bin")) || !bytes.Contains(mpd, []byte(`type="dynamic"`)) {
		t.Errorf("dynamic MPD without the EventStream:\n%s", mpd)
	}
	testutil.ValidateMPDBytes(t, "emsg.mpd", mpd)
	pl, err := os.ReadFile(filepath.Join(r.dir, "video0.m3u8"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(pl), "SCTE35-OUT=0x") || !strings.Contains(string(pl), "SCTE35-IN=0x") {
		t.Errorf("playlist without the cues:\n%s", pl)
	}
}

package tsin

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/internal/testutil"
	"github.com/cmafkit/cmafkit/internal/tscue"
	"github.com/cmafkit/cmafkit/live"
	"github.com/cmafkit/cmafkit/manifest"
	"github.com/cmafkit/cmafkit/scte35"
	"github.com/cmafkit/cmafkit/segment"
	"github.com/cmafkit/cmafkit/storage"
)

// cueTS returns a 6 s TS (25 fps, a keyframe every second, 2 B-frames) with
// SCTE-35 sections on PID 0x1F0: a break from 2 s (12 ms after the
// keyframe: within half a frame) to 4 s after the first video frame, sent
// ahead of time and repeated, and bad cues: a bad CRC, a truncated
// section, a splice in the past and a break inside the first. It returns
// the stream, the good sections and the first video PTS.
func cueTS(t *testing.T) (b, out, in []byte) {
	t.Helper()
	clean, err := os.ReadFile(makeTS(t, 6, "-keyint_min", "25", "-sc_threshold", "0"))
	if err != nil {
		t.Fatal(err)
	}
	v0, ok := tscue.MinPTS(clean, 0x100)
	if !ok {
		t.Fatal("no video PTS on PID 0x100")
	}
	section := func(out bool, at time.Duration, id uint32) []byte {
		pts := uint64(v0) + uint64(at/time.Millisecond)*90
		si := &scte35.SpliceInsert{EventID: id, OutOfNetwork: out, ProgramSplice: true, SpliceTime: &pts}
		if out {
			si.BreakDuration = &scte35.BreakDuration{AutoReturn: true, Duration: 2 * scte35.Ticks}
		}
		b, err := (&scte35.Section{SAPType: 3, Tier: 0xFFF, Command: si}).Encode()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	out, in = section(true, 2012*time.Millisecond, 7), section(false, 4*time.Second, 7)
	badCRC := bytes.Clone(out)
	badCRC[len(badCRC)-1] ^= 0xFF
	truncated := bytes.Clone(in[:len(in)-6])
	truncated[2] = byte(len(truncated) - 3) // a length that agrees, a body cut short
	n := len(clean) / 188
	b, err = tscue.AddSCTE35(clean, 0x1F0, []tscue.Insert{
		{After: 60, Section: out}, {After: 70, Section: out}, {After: 80, Section: in},
		{After: 90, Section: badCRC}, {After: 100, Section: truncated},
		{After: 110, Section: section(true, 3*time.Second, 8)},              // inside the break
		{After: n * 3 / 4, Section: section(true, 500*time.Millisecond, 9)}, // past
	})
	if err != nil {
		t.Fatal(err)
	}
	return b, out, in
}

// TestLiveCues feeds a TS with SCTE-35 to a live channel: a segment is cut
// at each splice point, the cues reach the HLS playlists and the dynamic MPD
// within a frame of their splice time, and the bad cues are counted and
// skipped while the stream goes on.
func TestLiveCues(t *testing.T) {
	b, out, in := cueTS(t)
	dir := t.TempDir()
	ch := &live.Channel{Storage: storage.Dir(dir), Window: -1, SegmentDuration: 3 * time.Second,
		HLSInterstitials: &manifest.Interstitials{AssetList: "https://ads.example/list.json?break={id}"}}
	s, mpd := feed(t, ch, dir, b)
	pres := ch.Presentation()
	st := ch.Stats()
	t.Logf("channel stats %+v, demuxer stats %+v", st, s.Stats())
	if s.Stats().BadCues != 2 {
		t.Errorf("demuxer counted %d bad sections, want 2 (bad CRC, truncated)", s.Stats().BadCues)
	}
	if st.Cues != 2 || st.BadCues != 2 {
		t.Errorf("channel took %d cues and refused %d, want 2 and 2 (a break inside a break, a splice in the past)", st.Cues, st.BadCues)
	}
	if len(pres.Periods) != 1 {
		t.Fatalf("%d periods", len(pres.Periods))
	}
	pd := pres.Periods[0]
	if len(pd.Cues) != 2 || pd.Cues[0].Kind != manifest.CueOut || pd.Cues[1].Kind != manifest.CueIn || pd.Cues[0].ID != pd.Cues[1].ID ||
		!bytes.Equal(pd.Cues[0].SCTE35, out) || !bytes.Equal(pd.Cues[1].SCTE35, in) || pd.Cues[0].Duration != 2*time.Second {
		t.Fatalf("cues %+v", pd.Cues)
	}
	const frame = 40 * time.Millisecond
	for _, set := range pd.Sets {
		for _, r := range set.Representations {
			starts := map[time.Duration]bool{}
			var first time.Duration
			for i, sg := range r.Segments {
				st := manifest.TicksToDuration(sg.Start, r.Timescale) - manifest.TicksToDuration(r.PresentationTimeOffset, r.Timescale)
				if i == 0 {
					first = st
				}
				starts[st] = true
			}
			for ci, c := range pd.Cues {
				want := []time.Duration{2012 * time.Millisecond, 4 * time.Second}[ci]
				if set.ContentType == segment.KindVideo {
					if !starts[c.Start] {
						t.Errorf("%s: no segment starts at cue %v", r.ID, c.Start)
					}
					if d := c.Start - first - want; d < -frame || d > frame {
						t.Errorf("%s: cue %d at %v after the first frame, want %v within a frame", r.ID, ci, c.Start-first, want)
					}
					continue
				}
				near := false
				for st := range starts {
					near = near || st-c.Start < frame && c.Start-st < frame
				}
				if !near {
					t.Errorf("%s: no segment starts within a frame of cue %v", r.ID, c.Start)
				}
			}
		}
	}
	// HLS: one date range, opened with SCTE35-OUT and closed with
	// SCTE35-IN and the DURATION that happened, before the segments the
	// cues fall in.
	for _, rep := range []string{"video0", "audio0"} {
		pl, err := os.ReadFile(filepath.Join(dir, rep+".m3u8"))
		if err != nil {
			t.Fatal(err)
		}
		text := string(pl)
		if !strings.Contains(text, "SCTE35-OUT=0x"+strings.ToUpper(hex.EncodeToString(out))) ||
			!strings.Contains(text, "SCTE35-IN=0x"+strings.ToUpper(hex.EncodeToString(in))) ||
			!strings.Contains(text, "PLANNED-DURATION=2") {
			t.Errorf("%s without the cues:\n%s", rep, text)
		}
		if rep == "video0" {
			checkDateRanges(t, text, pd.Cues)
		}
		if want := `CLASS="com.apple.hls.interstitial",START-DATE=`; strings.Count(text, want) != 1 ||
			!strings.Contains(text, `X-ASSET-LIST="https://ads.example/list.json?break=`+pd.Cues[0].ID+`"`) {
			t.Errorf("%s without the break's interstitial:\n%s", rep, text)
		}
	}
	// DASH: an EventStream with the sections, at the cue times; the MPD
	// validates.
	if !bytes.Contains(mpd, []byte(`type="dynamic"`)) || !bytes.Contains(mpd, []byte(`schemeIdUri="urn:scte:scte35:2014:xml+bin"`)) {
		t.Errorf("MPD without a dynamic EventStream:\n%s", mpd)
	}
	for _, c := range pd.Cues {
		pt := fmt.Sprintf(`presentationTime="%d"`, (c.Start*scte35.Ticks+time.Second/2)/time.Second)
		if !bytes.Contains(mpd, []byte(pt)) {
			t.Errorf("MPD without an event %s:\n%s", pt, mpd)
		}
	}
	testutil.ValidateMPDBytes(t, "live-cues.mpd", mpd)
}

// feed writes b to ch through a Session in odd-sized writes and returns the
// session and the last MPD, still dynamic (the channel is not closed).
func feed(t *testing.T, ch *live.Channel, dir string, b []byte) (*Session, []byte) {
	t.Helper()
	ctx := context.Background()
	pub, err := ch.Publish(ctx, "ts")
	if err != nil {
		t.Fatal(err)
	}
	s := NewSession(ctx, pub, nil)
	for p := b; len(p) > 0; {
		k := min(len(p), 7*188+13)
		if _, err := s.Write(p[:k]); err != nil {
			t.Fatal(err)
		}
		p = p[k:]
	}
	if err := s.Close(nil); err != nil {
		t.Fatal(err)
	}
	mpd, err := os.ReadFile(filepath.Join(dir, live.DASHName))
	if err != nil {
		t.Fatal(err)
	}
	return s, mpd
}

// TestLiveCuesWindow checks that cues leave the manifests with the
// segments they fall in (a break's start stays while its return is in the
// window: HLS writes the return as the break's date range), and that the
// DASH events keep their ids.
func TestLiveCuesWindow(t *testing.T) {
	b, _, in := cueTS(t)
	for _, tc := range []struct {
		window time.Duration
		cues   int
	}{{2 * time.Second, 2}, {time.Second, 0}} {
		t.Run(tc.window.String(), func(t *testing.T) {
			dir := t.TempDir()
			ch := &live.Channel{Storage: storage.Dir(dir), Window: tc.window, SegmentDuration: time.Second}
			_, mpd := feed(t, ch, dir, b)
			pd := ch.Presentation().Periods[0]
			pl, err := os.ReadFile(filepath.Join(dir, "video0.m3u8"))
			if err != nil {
				t.Fatal(err)
			}
			testutil.ValidateMPDBytes(t, "window.mpd", mpd)
			if len(pd.Cues) != tc.cues {
				t.Fatalf("cues in the window %+v, want %d", pd.Cues, tc.cues)
			}
			if tc.cues == 0 {
				if bytes.Contains(mpd, []byte("<EventStream")) || strings.Contains(string(pl), "DATERANGE") {
					t.Errorf("cues stay after their segments left:\n%s\n%s", mpd, pl)
				}
				return
			}
			if !bytes.Equal(pd.Cues[1].SCTE35, in) || !bytes.Contains(mpd, []byte(`id="1"`)) || !bytes.Contains(mpd, []byte(`id="2"`)) {
				t.Errorf("cues %+v, MPD:\n%s", pd.Cues, mpd)
			}
			if strings.Contains(string(pl), "SCTE35-OUT") || !strings.Contains(string(pl), "SCTE35-IN") {
				t.Errorf("playlist keeps the break's start or lost its return:\n%s", pl)
			}
			checkDateRanges(t, string(pl), pd.Cues[1:])
		})
	}
}

// checkDateRanges checks that each date range tag of a media playlist is
// written before the segment its cue starts: the break's at its
// START-DATE, the return (the same ID, with DURATION) at START-DATE plus
// DURATION, within a millisecond of the segment's program date time.
func checkDateRanges(t *testing.T, text string, cues []manifest.Cue) {
	t.Helper()
	pdtRe := regexp.MustCompile(`#EXT-X-PROGRAM-DATE-TIME:(\S+)`)
	startRe := regexp.MustCompile(`#EXT-X-DATERANGE:.*START-DATE="([^"]+)"(?:,DURATION=([0-9.]+))?`)
	lines := strings.Split(text, "\n")
	found := 0
	for i, l := range lines {
		m := startRe.FindStringSubmatch(l)
		if m == nil || !strings.Contains(l, "SCTE35-") {
			continue // not a cue's (an interstitial's)
		}
		start, err := time.Parse(time.RFC3339Nano, m[1])
		if err != nil {
			t.Fatal(err)
		}
		if m[2] != "" {
			d, err := time.ParseDuration(m[2] + "s")
			if err != nil {
				t.Fatal(err)
			}
			start = start.Add(d)
		}
		for _, n := range lines[i+1:] {
			if p := pdtRe.FindStringSubmatch(n); p != nil {
				pdt, err := time.Parse(time.RFC3339Nano, p[1])
				if err != nil {
					t.Fatal(err)
				}
				if d := start.Sub(pdt); d < -time.Millisecond || d > time.Millisecond {
					t.Errorf("date range at %v before a segment at %v", start, pdt)
				}
				found++
				break
			}
			if strings.HasPrefix(n, "#EXTINF") {
				t.Errorf("date range %q before a segment without a program date time", l)
				break
			}
		}
	}
	if found != len(cues) {
		t.Errorf("%d date ranges placed, want %d:\n%s", found, len(cues), text)
	}
}

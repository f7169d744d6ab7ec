package packager_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/internal/cctest"
	"github.com/cmafkit/cmafkit/internal/playertest"
	"github.com/cmafkit/cmafkit/internal/testutil"
	"github.com/cmafkit/cmafkit/manifest"
	"github.com/cmafkit/cmafkit/packager"
	"github.com/cmafkit/cmafkit/segment"
	"github.com/cmafkit/cmafkit/storage"
)

// captionedFile writes the video of a test-data file with caption data in
// its SEI (see cctest) to a file in a temporary directory: queue(i, s) may
// queue captions before frame i.
func captionedFile(t testing.TB, file string, queue func(i int, s *cctest.Stream)) string {
	t.Helper()
	src, err := segment.OpenFile(context.Background(), filepath.Join("..", "testdata", file), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var video *segment.Track
	for _, tr := range src.Tracks {
		if tr.Kind == segment.KindVideo {
			video = tr
		}
	}
	var s cctest.Stream
	cc := s.Frames(video.SampleCount(), queue)
	b, err := cctest.Remux(context.Background(), video, false, func(i int) [][]byte {
		nal, err := cctest.SEI(cc[i], false)
		if err != nil {
			t.Fatal(err)
		}
		return [][]byte{nal}
	})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), strings.TrimSuffix(file, ".mp4")+"_cc.mp4")
	if err := os.WriteFile(out, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// captionScript queues pop-on captions on CC1 ("CAPTION ONE" from about
// 0.5 s to 2.5 s, "CAPTION TWO" from 3 s to 5 s), on CC3 and, when
// service708, a CEA-708 service 1 block.
func captionScript(cc3, service708 bool) func(int, *cctest.Stream) {
	return func(i int, s *cctest.Stream) {
		switch i {
		case 5:
			s.PopOn(1, "CAPTION ONE")
			if cc3 {
				s.PopOn(3, "SUBTITULO")
			}
			if service708 {
				s.Service(1, []byte("HI"))
			}
		case 75:
			s.Erase(1)
		case 80:
			s.PopOn(1, "CAPTION TWO")
		case 150:
			s.Erase(1)
		}
	}
}

func readOut(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// checkContains reports each wanted line missing from text.
func checkContains(t *testing.T, name, text string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("%s lacks %s\n%s", name, w, text)
		}
	}
}

// TestCaptionsSignalled: CEA-608/708 captions in the video's SEI are found
// and signalled in both manifests, with the languages the job gives
// (others "und"); the video segments still carry them. Before captions
// were detected the playlist said CLOSED-CAPTIONS=NONE and the MPD nothing.
func TestCaptionsSignalled(t *testing.T) {
	in := captionedFile(t, "ladder_360p.mp4", captionScript(true, true))
	dir := runJob(t, packager.Job{
		Inputs:   []packager.Input{{Path: in}},
		Captions: packager.CaptionOptions{Languages: map[string]string{"cc1": "eng", "SERVICE1": "eng"}},
	})
	master := readOut(t, dir, "master.m3u8")
	checkContains(t, "master.m3u8", master,
		`#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID="cc",NAME="CC1",LANGUAGE="eng",DEFAULT=NO,AUTOSELECT=YES,INSTREAM-ID="CC1"`,
		`#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID="cc",NAME="CC3",LANGUAGE="und",DEFAULT=NO,AUTOSELECT=YES,INSTREAM-ID="CC3"`,
		`#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID="cc",NAME="SERVICE1",LANGUAGE="eng",DEFAULT=NO,AUTOSELECT=YES,INSTREAM-ID="SERVICE1"`,
		`VIDEO-RANGE=SDR,CLOSED-CAPTIONS="cc"`)
	if strings.Contains(master, "CLOSED-CAPTIONS=NONE") {
		t.Errorf("master.m3u8 says CLOSED-CAPTIONS=NONE:\n%s", master)
	}
	mpd := readOut(t, dir, "manifest.mpd")
	checkContains(t, "manifest.mpd", mpd,
		`<Accessibility schemeIdUri="urn:scte:dash:cc:cea-608:2015" value="CC1=eng;CC3=und"></Accessibility>`,
		`<Accessibility schemeIdUri="urn:scte:dash:cc:cea-708:2015" value="1=lang:eng"></Accessibility>`)
	testutil.ValidateMPD(t, filepath.Join(dir, "manifest.mpd"))

	// The captions are still in the packaged video: its init segment and
	// media segments, concatenated, are a fragmented MP4 in which the same
	// services are found.
	var frag []byte
	for _, name := range []string{"init.mp4", "seg-1.m4s", "seg-2.m4s", "seg-3.m4s", "seg-4.m4s"} {
		frag = append(frag, readOut(t, filepath.Join(dir, "video_360p_avc"), name)...)
	}
	src, err := segment.Open(context.Background(), bytes.NewReader(frag), int64(len(frag)), "out.mp4", nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := segment.DetectCaptions(context.Background(), src.Tracks[0], 0)
	if err != nil || !slices.Equal(got.CEA608, []int{1, 3}) || !slices.Equal(got.CEA708, []int{1}) {
		t.Errorf("captions in the output video: %+v, %v", got, err)
	}
}

// TestCaptionsTS: captions are found in MPEG-TS input too: shaka-player's
// captions-test.ts (CC1 and CEA-708 service 1), and the captioned MP4
// remuxed to MPEG-TS by FFmpeg.
func TestCaptionsTS(t *testing.T) {
	dir := runJob(t, packager.Job{Inputs: []packager.Input{{Path: "../testdata/captions/captions-test.ts"}}})
	checkContains(t, "master.m3u8", readOut(t, dir, "master.m3u8"),
		`INSTREAM-ID="CC1"`, `INSTREAM-ID="SERVICE1"`, `CLOSED-CAPTIONS="cc"`)
	checkContains(t, "manifest.mpd", readOut(t, dir, "manifest.mpd"), `value="CC1=und"`, `value="1=lang:und"`)
	testutil.ValidateMPD(t, filepath.Join(dir, "manifest.mpd"))

	ffmpeg := testutil.NeedTool(t, "ffmpeg")
	in := captionedFile(t, "ladder_360p.mp4", captionScript(true, false))
	ts := strings.TrimSuffix(in, ".mp4") + ".ts"
	if out, err := exec.Command(ffmpeg, "-v", "error", "-i", in, "-c", "copy", "-f", "mpegts", ts).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	dir = runJob(t, packager.Job{Inputs: []packager.Input{{Path: ts}}})
	master := readOut(t, dir, "master.m3u8")
	checkContains(t, "master.m3u8", master, `INSTREAM-ID="CC1"`, `INSTREAM-ID="CC3"`)
	if strings.Contains(master, "SERVICE") {
		t.Errorf("a CEA-708 service signalled without 708 data:\n%s", master)
	}
}

// TestCaptionsLadder: a video set signals only the services all its
// renditions carry, and warns about the others.
func TestCaptionsLadder(t *testing.T) {
	var logs bytes.Buffer
	dir := t.TempDir()
	_, err := packager.Run(context.Background(), packager.Job{
		Inputs: []packager.Input{
			{Path: captionedFile(t, "ladder_720p.mp4", captionScript(true, false))},
			{Path: captionedFile(t, "ladder_360p.mp4", captionScript(false, false))},
		},
		SegmentDuration: 2 * time.Second,
		Storage:         storage.Dir(dir),
		Logger:          slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatal(err)
	}
	master := readOut(t, dir, "master.m3u8")
	if !strings.Contains(master, `INSTREAM-ID="CC1"`) || strings.Contains(master, `INSTREAM-ID="CC3"`) || strings.Count(master, `CLOSED-CAPTIONS="cc"`) != 2 {
		t.Errorf("want CC1 only, on both variants:\n%s", master)
	}
	if l := logs.String(); !strings.Contains(l, "service=CC3") || !strings.Contains(l, "video_360p_avc") {
		t.Errorf("no warning naming CC3 and the 360p rendition: %s", l)
	}
}

// TestCaptionsOptions: a service named in Languages is signalled when the
// video carries caption data (here only padding so far), and not for video
// without any; a negative Scan turns signalling off; a bad service or
// language is refused before anything is written.
func TestCaptionsOptions(t *testing.T) {
	langs := map[string]string{"CC2": "fra"}
	padding := captionedFile(t, "ladder_360p.mp4", func(int, *cctest.Stream) {})
	dir := runJob(t, packager.Job{Inputs: []packager.Input{{Path: padding}}, Captions: packager.CaptionOptions{Languages: langs}})
	checkContains(t, "master.m3u8", readOut(t, dir, "master.m3u8"), `LANGUAGE="fra",DEFAULT=NO,AUTOSELECT=YES,INSTREAM-ID="CC2"`)

	dir = runJob(t, packager.Job{Inputs: []packager.Input{{Path: "../testdata/ladder_360p.mp4"}}, Captions: packager.CaptionOptions{Languages: langs}})
	checkContains(t, "master.m3u8", readOut(t, dir, "master.m3u8"), "CLOSED-CAPTIONS=NONE")

	in := captionedFile(t, "ladder_360p.mp4", captionScript(true, true))
	dir = runJob(t, packager.Job{Inputs: []packager.Input{{Path: in}}, Captions: packager.CaptionOptions{Scan: -1}})
	checkContains(t, "master.m3u8", readOut(t, dir, "master.m3u8"), "CLOSED-CAPTIONS=NONE")
	if mpd := readOut(t, dir, "manifest.mpd"); strings.Contains(mpd, "urn:scte") {
		t.Errorf("captions signalled with Scan < 0:\n%s", mpd)
	}

	for _, bad := range []map[string]string{{"CC5": "eng"}, {"T1": "eng"}, {"CC1": "en;g"}, {"SERVICE2": ""}, {"cc1": "eng", "CC1": "spa"}} {
		out := t.TempDir()
		_, err := packager.Run(context.Background(), packager.Job{
			Inputs: []packager.Input{{Path: in}}, Storage: storage.Dir(out),
			Captions: packager.CaptionOptions{Languages: bad},
		})
		if !errors.Is(err, manifest.ErrCaptions) {
			t.Errorf("Languages %v: %v, want ErrCaptions", bad, err)
		}
		if ents, _ := os.ReadDir(out); len(ents) != 0 {
			t.Errorf("Languages %v: wrote %d objects", bad, len(ents))
		}
	}
}

var textTrackLine = regexp.MustCompile(`^(\w+) "(.*)" lang=(\S*) mode=(\w+) cues=(\d+)$`)

// TestCaptionsPlayers: the players find the captions through our
// signalling. Shaka Player (HLS and DASH) lists the CC1 rendition as a
// text track in English, shows it when selected, and displays a caption of
// the source; hls.js makes the captions it decodes a text track named and
// labelled as the CC1 rendition says (it names them "English"/"en"
// without one); dash.js makes text tracks of the Accessibility
// descriptor's channels.
func TestCaptionsPlayers(t *testing.T) {
	if testing.Short() {
		t.Skip("player test")
	}
	in := captionedFile(t, "ladder_360p.mp4", captionScript(true, true))
	dir := runJob(t, packager.Job{Inputs: []packager.Input{{Path: in}}, Captions: packager.CaptionOptions{Languages: map[string]string{"CC1": "eng"}}})
	for _, m := range []string{"master.m3u8", "manifest.mpd"} {
		for _, p := range playertest.Players(m) {
			t.Run(m+"/"+string(p), func(t *testing.T) {
				t.Parallel()
				o := playertest.Options{Dir: dir, Manifest: m, Player: p, NoSeek: true, Log: t.Logf}
				if p == playertest.Shaka {
					o.TextLanguage = "en"
				}
				res := playertest.Play(t, context.Background(), o)
				tracks := map[string]string{} // kind, label, lang -> cue count
				for _, tt := range res.TextTracks {
					if f := textTrackLine.FindStringSubmatch(tt); f != nil {
						tracks[f[1]+" "+f[2]+" "+f[3]] = f[5]
					}
				}
				switch p {
				case playertest.Shaka:
					shown := false
					for _, s := range res.ShownTexts {
						shown = shown || cueText(s) == "CAPTION ONE" || cueText(s) == "CAPTION TWO"
					}
					if !strings.Contains(res.TextTrack, "application/cea-608") || !shown {
						t.Errorf("selected %q, shown %q; want the CEA-608 track and a caption of the source", res.TextTrack, res.ShownTexts)
					}
				case playertest.HLSJS:
					if n, ok := tracks["captions CC1 eng"]; !ok || n == "0" {
						t.Errorf("text tracks %q; want captions \"CC1\" in eng with cues", res.TextTracks)
					}
				case playertest.DashJS:
					if _, ok := tracks["captions CC1 en"]; !ok {
						t.Errorf("text tracks %q; want captions \"CC1\" in en", res.TextTracks)
					}
				}
				if t.Failed() {
					t.Log(res.Report())
				}
			})
		}
	}
}

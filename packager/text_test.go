package packager_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/internal/testutil"

	"github.com/cmafkit/cmafkit/internal/playertest"
	"github.com/cmafkit/cmafkit/packager"
	"github.com/cmafkit/cmafkit/segment"
	"github.com/cmafkit/cmafkit/segment/webvtt"
	"github.com/cmafkit/cmafkit/storage"
)

// textInputs: the 360p rung, a wvtt MP4 (English), the stpp track of the
// 360p rung with TTML (English), a .vtt side file (German), and an Opus
// file whose tx3g track must be skipped (its audio is kept).
func textInputs() []packager.Input {
	return []packager.Input{
		{Path: "../testdata/ladder_360p.mp4"},
		{Path: "../testdata/wvtt.mp4"},
		{Path: "../testdata/ladder_360p_text.mp4", Kinds: []segment.Kind{segment.KindText}},
		{Path: "../testdata/subtitles_en.vtt", Language: "de", Label: "Deutsch"},
	}
}

// TestTextGolden packages the text inputs and keeps the manifests and the
// WebVTT segments as golden files under testdata/text; it checks that the
// WebVTT segments parse, that DASH lists wvtt and stpp (not text/vtt) and
// HLS lists WebVTT and stpp (not wvtt).
func TestTextGolden(t *testing.T) {
	dir := t.TempDir()
	res, err := packager.Run(context.Background(), packager.Job{
		Inputs:          textInputs(),
		SegmentDuration: 2 * time.Second,
		Storage:         storage.Dir(dir),
	})
	if err != nil {
		t.Fatal(err)
	}
	testutil.ValidateMPDs(t, dir)
	var vtts int
	for _, o := range res.Objects {
		ext := filepath.Ext(o.Name)
		if ext != ".m3u8" && ext != ".mpd" && ext != ".vtt" {
			continue
		}
		if ext == ".m3u8" && !strings.HasPrefix(o.Name, "text_") && o.Name != "master.m3u8" {
			continue // audio and video playlists are covered by the ladder goldens
		}
		got, err := os.ReadFile(filepath.Join(dir, o.Name))
		if err != nil {
			t.Fatal(err)
		}
		if ext == ".vtt" {
			vtts++
			if _, err := webvtt.Parse(bytes.NewReader(got)); err != nil {
				t.Errorf("%s: %v", o.Name, err)
			}
		}
		compareGoldenFile(t, filepath.Join("testdata", "text", o.Name), got)
	}
	if vtts != 8 {
		t.Errorf("%d WebVTT segments, want 4 for each of the two WebVTT renditions", vtts)
	}
	mpd, _ := os.ReadFile(filepath.Join(dir, "manifest.mpd"))
	for _, want := range []string{`codecs="wvtt"`, `codecs="stpp.ttml.im1t"`, `contentType="text"`, `mimeType="application/mp4"`, `value="subtitle"`} {
		if !bytes.Contains(mpd, []byte(want)) {
			t.Errorf("MPD lacks %s", want)
		}
	}
	if bytes.Contains(mpd, []byte("text/vtt")) {
		t.Error("MPD lists segmented WebVTT")
	}
	m3u8, _ := os.ReadFile(filepath.Join(dir, "master.m3u8"))
	for _, want := range []string{`TYPE=SUBTITLES`, `LANGUAGE="de"`, `LANGUAGE="eng"`, `stpp.ttml.im1t`, `SUBTITLES="subs"`} {
		if !bytes.Contains(m3u8, []byte(want)) {
			t.Errorf("multivariant playlist lacks %s", want)
		}
	}
	if bytes.Contains(m3u8, []byte("wvtt")) {
		t.Error("multivariant playlist lists wvtt in fMP4")
	}
}

// TestTextHLSOnly: with HLS only, wvtt tracks become WebVTT segments and no
// CMAF wvtt segments are written.
func TestTextHLSOnly(t *testing.T) {
	dir := t.TempDir()
	res, err := packager.Run(context.Background(), packager.Job{
		Inputs:          textInputs()[:2],
		SegmentDuration: 2 * time.Second,
		Formats:         packager.HLS,
		Storage:         storage.Dir(dir),
	})
	if err != nil {
		t.Fatal(err)
	}
	testutil.ValidateMPDs(t, dir)
	for _, o := range res.Objects {
		if strings.HasPrefix(o.Name, "text_eng_wvtt/") {
			t.Errorf("wrote %s for HLS only", o.Name)
		}
	}
}

// TestTextSkipsTx3g: an input whose only text track is tx3g packages its
// audio and logs a warning.
func TestTextSkipsTx3g(t *testing.T) {
	var logs bytes.Buffer
	res, err := packager.Run(context.Background(), packager.Job{
		Inputs:  []packager.Input{{Path: "../testdata/tx3g.mp4"}},
		Storage: storage.Dir(t.TempDir()),
		Logger:  slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatal(err)
	}
	sets := res.Presentation.Periods[0].Sets
	if len(sets) != 1 || sets[0].ContentType != "audio" {
		t.Errorf("sets %+v, want the audio only", sets)
	}
	if !strings.Contains(logs.String(), `skipping text track with unsupported codec`) || !strings.Contains(logs.String(), "tx3g") {
		t.Errorf("no warning about the tx3g track: %s", logs.String())
	}
}

func compareGoldenFile(t *testing.T, golden string, got []byte) {
	t.Helper()
	if testutil.Update() {
		if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(want, got) {
		t.Errorf("%s differs from the output; regenerate with -update and review the diff", golden)
	}
}

// TestTextPlayers plays the text presentation in shaka-player (HLS, DASH),
// hls.js and dash.js with a subtitle track selected and made visible through
// each player's API, for every text format the manifest offers: WebVTT
// (text segments in HLS, wvtt in DASH) and IMSC1 (stpp) in both. Each cue
// of subtitles_en.vtt (from which the stpp track was made too) must reach
// the player's showing text track with its source start time (±0.1 s), and
// each must be displayed (an active cue) while the presentation plays to
// its end.
func TestTextPlayers(t *testing.T) {
	if testing.Short() {
		t.Skip("player test")
	}
	want := sourceCues(t, "../testdata/subtitles_en.vtt")
	dir := runJob(t, packager.Job{Inputs: textInputs()})
	type run struct {
		manifest string
		player   playertest.Player
		lang     string
		format   playertest.TextFormat
		dir      string // the text rendition's directory
	}
	var runs []run
	for _, m := range []string{"master.m3u8", "manifest.mpd"} {
		for _, p := range playertest.Players(m) {
			webvtt := "text_eng_webvtt/"
			if m == "manifest.mpd" {
				webvtt = "text_eng_wvtt/"
			}
			runs = append(runs, run{m, p, "en", playertest.TextWebVTT, webvtt}, run{m, p, "en", playertest.TextIMSC1, "text_eng_stpp/"})
		}
	}
	// The German rendition is the .vtt side file (the same cues).
	runs = append(runs, run{"master.m3u8", playertest.HLSJS, "de", playertest.TextWebVTT, "text_de_webvtt/"},
		run{"manifest.mpd", playertest.DashJS, "de", playertest.TextWebVTT, "text_de_wvtt/"})
	for _, r := range runs {
		t.Run(fmt.Sprintf("%s/%s/%s-%s", r.manifest, r.player, r.lang, r.format), func(t *testing.T) {
			t.Parallel()
			res := playertest.Play(t, context.Background(), playertest.Options{
				Dir: dir, Manifest: r.manifest, Player: r.player,
				TextLanguage: r.lang, TextFormat: r.format,
				// Play to the end so that every cue, the last at 7.0-7.8 s, is shown.
				MinPlay: 10 * time.Second,
			})
			// The selected rendition, and only it, was streamed and shows.
			var fetched []string
			for _, p := range res.Requests {
				if strings.HasPrefix(p, "text_") && !strings.HasSuffix(p, ".m3u8") {
					if d, _, _ := strings.Cut(p, "/"); !slices.Contains(fetched, d+"/") {
						fetched = append(fetched, d+"/")
					}
				}
			}
			if len(fetched) != 1 || fetched[0] != r.dir {
				t.Errorf("text segments fetched from %v, want %s only", fetched, r.dir)
			}
			var showing int
			for _, tt := range res.TextTracks {
				if strings.Contains(tt, "mode=showing") {
					showing++
				}
			}
			if showing != 1 {
				t.Errorf("%d text tracks showing, want 1: %v", showing, res.TextTracks)
			}
			checkCues(t, res, want)
			// HLS WebVTT segments repeat a cue that crosses a boundary with
			// its whole timing (RFC 8216 3.5), so the players, which drop
			// the repeats, hold exactly the source cues.
			if r.manifest == "master.m3u8" && r.format == playertest.TextWebVTT {
				var got, exp []string
				for _, c := range res.Cues {
					got = append(got, fmt.Sprintf("%.3f-%.3f %s", c.Start, c.End, cueText(c.Text)))
				}
				for _, c := range want {
					exp = append(exp, fmt.Sprintf("%.3f-%.3f %s", c.Start, c.End, c.Text))
				}
				if !slices.Equal(got, exp) {
					t.Errorf("cues on the text track:\n%s\nwant the source cues:\n%s", strings.Join(got, "\n"), strings.Join(exp, "\n"))
				}
			}
		})
	}
}

// sourceCues reads the cues of a WebVTT file, with their texts normalized
// by cueText.
func sourceCues(t *testing.T, path string) []playertest.Cue {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := webvtt.Parse(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var cues []playertest.Cue
	for _, c := range doc.Cues {
		cues = append(cues, playertest.Cue{Start: c.Start.Seconds(), End: c.End.Seconds(), Text: cueText(c.Text)})
	}
	if len(cues) == 0 {
		t.Fatalf("%s has no cues", path)
	}
	return cues
}

var cueMarkup = regexp.MustCompile(`<[^>]*>`)

// cueText drops WebVTT markup (<b>, <c.x>, <v Name>) and folds line breaks
// and runs of spaces, so that cue texts compare across WebVTT and TTML.
func cueText(s string) string {
	return strings.Join(strings.Fields(cueMarkup.ReplaceAllString(s, "")), " ")
}

// checkCues asserts that every wanted cue is on the player's text track with
// its start time (±0.1 s) and was displayed. A player cue may hold several
// source cues: dash.js makes one cue per interval in which the rendered
// TTML document does not change, so "Second cue" starts in the cue that
// also shows "Hello world".
func checkCues(t *testing.T, res *playertest.Result, want []playertest.Cue) {
	t.Helper()
	var shown []string
	for _, s := range res.ShownTexts {
		shown = append(shown, cueText(s))
	}
	for _, w := range want {
		found := false
		for _, c := range res.Cues {
			if strings.Contains(cueText(c.Text), w.Text) && math.Abs(c.Start-w.Start) <= 0.1 {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("cue %q at %.3f s is not on the text track", w.Text, w.Start)
		}
		// Displayed alone or together with an overlapping cue.
		if !slices.ContainsFunc(shown, func(s string) bool { return strings.Contains(s, w.Text) }) {
			t.Errorf("cue %q was never displayed", w.Text)
		}
	}
	if t.Failed() {
		t.Logf("%s", res.Report())
	}
}

// TestTextFFmpeg: video and audio decode completely through the HLS
// playlist, and ffmpeg reads every cue of each WebVTT rendition through its
// media playlist (FFmpeg 5.1 does not open SUBTITLES renditions from a
// multivariant playlist).
func TestTextFFmpeg(t *testing.T) {
	dir := runJob(t, packager.Job{Inputs: textInputs()})
	for _, s := range playertest.FFmpegDecode(t, filepath.Join(dir, "master.m3u8")) {
		if s.Type == "video" && s.Frames != 240 {
			t.Errorf("%d video frames through HLS, want 240", s.Frames)
		}
	}
	ffmpeg := testutil.NeedTool(t, "ffmpeg")
	for _, pl := range []string{"text_eng_webvtt.m3u8", "text_de_webvtt.m3u8"} {
		out, err := exec.Command(ffmpeg, "-v", "error", "-i", filepath.Join(dir, pl), "-f", "webvtt", "-").Output()
		if err != nil {
			t.Fatalf("ffmpeg %s: %v", pl, err)
		}
		doc, err := webvtt.Parse(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("%s: ffmpeg output: %v\n%s", pl, err, out)
		}
		var texts []string
		for _, c := range doc.Cues {
			if !slices.Contains(texts, c.Text) {
				texts = append(texts, c.Text)
			}
		}
		if len(texts) != 4 || doc.Cues[0].Start != 500*time.Millisecond || doc.Cues[len(doc.Cues)-1].End != 7800*time.Millisecond {
			t.Errorf("%s: ffmpeg reads %d cues with %d distinct texts from %v to %v; want the 4 texts of subtitles_en.vtt from 0.5 s to 7.8 s:\n%s",
				pl, len(doc.Cues), len(texts), doc.Cues[0].Start, doc.Cues[len(doc.Cues)-1].End, out)
		}
	}
}

// TestTextNaming: the WebVTT template is checked like the media template
// ($Number$ or $Time$, no $Bandwidth$), in single-file mode too, since
// WebVTT segments are separate files there as well; without HLS it is not
// used.
func TestTextNaming(t *testing.T) {
	for _, c := range []struct {
		name    string
		webvtt  string
		single  bool
		formats packager.Format
		ok      bool
	}{
		{"no number", "$RepresentationID$.vtt", false, 0, false},
		{"no number single-file", "$RepresentationID$.vtt", true, 0, false},
		{"bandwidth", "$RepresentationID$/$Bandwidth$-$Number$.vtt", false, 0, false},
		{"time", "subs/$RepresentationID$-$Time$.vtt", true, 0, true},
		{"DASH only", "$RepresentationID$.vtt", false, packager.DASH, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := packager.Run(context.Background(), packager.Job{
				Inputs:     textInputs()[:2],
				SingleFile: c.single,
				Formats:    c.formats,
				Naming:     packager.Naming{WebVTT: c.webvtt},
				Storage:    storage.Dir(t.TempDir()),
			})
			if c.ok != (err == nil) || err != nil && !strings.Contains(err.Error(), c.webvtt) {
				t.Errorf("err = %v, want ok=%v", err, c.ok)
			}
		})
	}
}

// TestTextSingleFile: in single-file mode the wvtt track for DASH is one
// file with a sidx like the others, and the HLS WebVTT rendition is one
// WebVTT document per segment (see Job.SingleFile), listed without byte
// ranges.
func TestTextSingleFile(t *testing.T) {
	dir := t.TempDir()
	res, err := packager.Run(context.Background(), packager.Job{
		Inputs:          textInputs()[:2],
		SegmentDuration: 2 * time.Second,
		SingleFile:      true,
		Storage:         storage.Dir(dir),
	})
	if err != nil {
		t.Fatal(err)
	}
	testutil.ValidateMPDs(t, dir)
	var names []string
	for _, o := range res.Objects {
		if strings.HasPrefix(o.Name, "text_") {
			names = append(names, o.Name)
		}
	}
	want := []string{"text_eng_webvtt.m3u8", "text_eng_webvtt/seg-1.vtt", "text_eng_webvtt/seg-2.vtt", "text_eng_webvtt/seg-3.vtt", "text_eng_webvtt/seg-4.vtt", "text_eng_wvtt.mp4"}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("text objects %v, want %v", names, want)
	}
	pl, err := os.ReadFile(filepath.Join(dir, "text_eng_webvtt.m3u8"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(pl, []byte("BYTERANGE")) || bytes.Count(pl, []byte(".vtt\n")) != 4 {
		t.Errorf("WebVTT playlist:\n%s", pl)
	}
	mpd, _ := os.ReadFile(filepath.Join(dir, "manifest.mpd"))
	if !bytes.Contains(mpd, []byte("<BaseURL>text_eng_wvtt.mp4</BaseURL>")) {
		t.Errorf("MPD does not list the single wvtt file:\n%s", mpd)
	}
}

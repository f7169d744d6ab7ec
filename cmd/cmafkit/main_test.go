package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cmafkit/cmafkit/drm"
	"github.com/cmafkit/cmafkit/internal/testutil"
)

func TestPackageEmbeddedSample(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"package", "-o", dir}, &out, &errb); err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	for _, name := range []string{"master.m3u8", "manifest.mpd", "video_720p_avc/init.mp4", "video_360p_avc/seg-2.m4s", "audio_und_aac_2ch/seg-1.m4s"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Error(err)
		}
	}
	testutil.ValidateMPD(t, filepath.Join(dir, "manifest.mpd"))
	if !strings.Contains(out.String(), "master.m3u8") || !strings.Contains(errb.String(), "built-in sample") {
		t.Errorf("stdout %q stderr %q", out.String(), errb.String())
	}
	// Not a terminal: plain progress lines, no carriage-return bar.
	if strings.Contains(errb.String(), "[===") {
		t.Errorf("progress bar written to a non-terminal: %q", errb.String())
	}
}

func TestPackageQuietAndErrors(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"package", "-q", "--hls", "-o", dir, "../../testdata/ladder_360p.mp4"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if out.Len() != 0 || errb.Len() != 0 {
		t.Errorf("-q wrote output: %q %q", out.String(), errb.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "manifest.mpd")); !os.IsNotExist(err) {
		t.Errorf("--hls wrote a DASH manifest")
	}
	// A missing input and bad flags fail with one clear error and a usage exit code.
	err := run(context.Background(), []string{"package", "-q", "-o", dir, "nope.mp4"}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "nope.mp4") || exitCode(err) != 1 {
		t.Errorf("missing input: %v (exit %d)", err, exitCode(err))
	}
	err = run(context.Background(), []string{"package", "--tracks", "bogus"}, &out, &errb)
	if exitCode(err) != 2 {
		t.Errorf("bad --tracks: %v (exit %d)", err, exitCode(err))
	}
	err = run(context.Background(), []string{"package", "--encryption", "cenc"}, &out, &errb)
	if exitCode(err) != 2 || !strings.Contains(err.Error(), "--key") {
		t.Errorf("encryption without key: %v", err)
	}
	if err := run(context.Background(), []string{"package", "--help"}, &out, &errb); !errors.Is(err, flag.ErrHelp) || exitCode(err) != 0 {
		t.Errorf("--help: %v", err)
	}
}

func TestInspectJSON(t *testing.T) {
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"inspect", "--json", "../../testdata/ladder_720p.mp4", "../../testdata/h264_aac.ts"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	var reps []fileReport
	if err := json.Unmarshal(out.Bytes(), &reps); err != nil {
		t.Fatal(err)
	}
	if len(reps) != 2 || reps[1].Format != "MPEG-TS" || !reps[0].Packageable {
		t.Fatalf("%+v", reps)
	}
	v := reps[0].Tracks[0]
	if v.Codec != "avc1.64001f" || v.Width != 1280 || v.FrameRate != "30000/1001" || v.Keyframes != 4 || v.GOPMax < 2.0 || v.GOPMax > 2.01 {
		t.Errorf("video track %+v", v)
	}
	// Keyframes 2 s apart are too sparse for 1 s segments: reported, still packageable.
	out.Reset()
	if err := run(context.Background(), []string{"inspect", "--segment-duration", "1s", "../../testdata/ladder_720p.mp4"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "keyframes up to 2.00 s apart") {
		t.Errorf("sparse keyframes not reported:\n%s", out.String())
	}
}

// TestPackageKeyRotation: --crypto-period 1 with two keys alternates them per
// segment, and the HLS media playlist announces each change (with ClearKey,
// signaled by default when --drm is not given).
func TestPackageKeyRotation(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	k1, k2 := "00112233445566778899aabbccddeeff", "ffeeddccbbaa99887766554433221100"
	args := []string{"package", "-q", "--hls", "-o", dir, "--segment-duration", "2s", "--encryption", "cbcs",
		"--key", k1 + ":0123456789abcdef0123456789abcdef," + k2 + ":fedcba9876543210fedcba9876543210",
		"--crypto-period", "1", "../../testdata/ladder_360p.mp4"}
	if err := run(context.Background(), args, &out, &errb); err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	pl, err := os.ReadFile(filepath.Join(dir, "video_360p_avc.m3u8"))
	if err != nil {
		t.Fatal(err)
	}
	// 8 s in 2 s segments: four crypto periods, keys k1 k2 k1 k2.
	var kids []string
	for _, line := range strings.Split(string(pl), "\n") {
		if strings.HasPrefix(line, "#EXT-X-KEY:") && strings.Contains(line, "clearkey") {
			i := strings.Index(line, "URI=")
			kids = append(kids, line[i:])
		}
	}
	if len(kids) != 4 || kids[0] != kids[2] || kids[1] != kids[3] || kids[0] == kids[1] {
		t.Fatalf("ClearKey EXT-X-KEY lines per period: %q\n%s", kids, pl)
	}
	err = run(context.Background(), []string{"package", "--crypto-period", "2"}, &out, &errb)
	if exitCode(err) != 2 {
		t.Errorf("--crypto-period without --encryption: %v", err)
	}
}

// TestPackageFixedIV: --iv with cenc and --key (one key for every track) would
// reuse the AES-CTR keystream between the audio and the video track, so the
// job is refused with drm.ErrIVReuse; the same flags with cbcs (whose
// constant IV is part of the scheme), and cenc without --iv, package.
func TestPackageFixedIV(t *testing.T) {
	const key = "00112233445566778899aabbccddeeff:0123456789abcdef0123456789abcdef"
	for _, c := range []struct {
		scheme, iv string
		refuse     bool
	}{
		{"cenc", "0011223344556677", true},
		{"cenc", "00112233445566778899aabbccddeeff", true},
		{"cbcs", "00112233445566778899aabbccddeeff", false},
		{"cenc", "", false},
	} {
		dir := t.TempDir()
		args := []string{"package", "-q", "-o", dir, "--segment-duration", "2s", "--encryption", c.scheme, "--key", key}
		if c.iv != "" {
			args = append(args, "--iv", c.iv)
		}
		var out, errb bytes.Buffer
		err := run(context.Background(), append(args, "../../testdata/ladder_360p.mp4"), &out, &errb)
		_, statErr := os.Stat(filepath.Join(dir, "master.m3u8"))
		if !c.refuse {
			if err != nil || statErr != nil {
				t.Errorf("%s --iv %q: %v, master playlist: %v", c.scheme, c.iv, err, statErr)
			}
			continue
		}
		if !errors.Is(err, drm.ErrIVReuse) || exitCode(err) != 1 {
			t.Errorf("%s --iv %q: %v (exit %d), want drm.ErrIVReuse", c.scheme, c.iv, err, exitCode(err))
			continue
		}
		for _, w := range []string{"track 1 (video", "track 2 (audio", "00112233-4455-6677-8899-aabbccddeeff", "(--iv, drm.Config.IV) out"} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s --iv %q: error %q does not mention %q", c.scheme, c.iv, err, w)
			}
		}
		if statErr == nil {
			t.Errorf("%s --iv %q: master playlist written by a refused job", c.scheme, c.iv)
		}
	}
}

// TestPackageCaptions: --cc-lang names the languages of the caption
// services found in the video, --cc-scan 0 turns their signalling off, and
// malformed values are usage errors.
func TestPackageCaptions(t *testing.T) {
	const in = "../../testdata/captions/captions-test.ts"
	dir := t.TempDir()
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"package", "-q", "-o", dir, "--cc-lang", "cc1=eng", in}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	master, _ := os.ReadFile(filepath.Join(dir, "master.m3u8"))
	if !strings.Contains(string(master), `LANGUAGE="eng",DEFAULT=NO,AUTOSELECT=YES,INSTREAM-ID="CC1"`) || !strings.Contains(string(master), `INSTREAM-ID="SERVICE1"`) {
		t.Errorf("master.m3u8:\n%s", master)
	}
	dir = t.TempDir()
	if err := run(context.Background(), []string{"package", "-q", "-o", dir, "--cc-scan", "0", in}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if master, _ := os.ReadFile(filepath.Join(dir, "master.m3u8")); !strings.Contains(string(master), "CLOSED-CAPTIONS=NONE") {
		t.Errorf("--cc-scan 0:\n%s", master)
	}
	for _, c := range []struct {
		arg  string
		exit int
	}{{"CC1", 2}, {"=eng", 2}, {"CC1=eng,cc1=spa", 2}, {"CC9=eng", 1}, {"CC1=e n", 1}} {
		err := run(context.Background(), []string{"package", "-q", "-o", t.TempDir(), "--cc-lang", c.arg, in}, &out, &errb)
		if err == nil || exitCode(err) != c.exit {
			t.Errorf("--cc-lang %s: %v (exit %d), want exit %d", c.arg, err, exitCode(err), c.exit)
		}
	}
}

// TestPackageTextOnly: text alone cannot make an HLS presentation; the
// error says so and points at --dash, which works.
func TestPackageTextOnly(t *testing.T) {
	const in = "../../testdata/subtitles_en.vtt"
	var out, errb bytes.Buffer
	dir := t.TempDir()
	err := run(context.Background(), []string{"package", "-q", "-o", dir, in}, &out, &errb)
	if err == nil || exitCode(err) != 1 || !strings.Contains(err.Error(), "only text tracks") || !strings.Contains(err.Error(), "--dash") {
		t.Errorf("text only: %v (exit %d)", err, exitCode(err))
	}
	if err := run(context.Background(), []string{"package", "-q", "--dash", "-o", dir, in}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "manifest.mpd")); err != nil {
		t.Error(err)
	}
}

// TestServeCommand runs `cmafkit serve` on a free loopback port: it listens
// on 127.0.0.1 by default, serves manifests to requests naming it and
// refuses other Host names unless --allow-host names them.
func TestServeCommand(t *testing.T) {
	var help bytes.Buffer
	if err := run(context.Background(), []string{"serve", "--help"}, &help, &help); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("serve --help: %v", err)
	}
	if !strings.Contains(help.String(), `(default "127.0.0.1:8080")`) {
		t.Errorf("serve does not listen on 127.0.0.1 by default:\n%s", help.String())
	}
	if err := run(context.Background(), []string{"serve", "--allow-host", "a b", t.TempDir()}, &help, &help); exitCode(err) != 2 {
		t.Errorf("--allow-host with a space: %v", err)
	}

	dir := t.TempDir()
	for name, data := range map[string]string{"master.m3u8": "#EXTM3U\n", ".env": "SECRET=1"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--allow-host", "media.test,other.test:1", dir}, pw, io.Discard)
		pw.Close()
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	br := bufio.NewReader(pr)
	line, err := br.ReadString('\n')
	go io.Copy(io.Discard, br) // the manifest list that follows
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(line, "http://")
	hostport, _, _ := strings.Cut(rest, "/")
	_, port, err := net.SplitHostPort(hostport)
	if err != nil || !strings.HasPrefix(hostport, "127.0.0.1:") {
		t.Fatalf("serve printed %q", line)
	}
	for _, c := range []struct {
		path, host string
		want       int
	}{
		{"/master.m3u8", hostport, 200},
		{"/master.m3u8", "localhost:" + port, 200},
		{"/master.m3u8", "media.test:" + port, 200},
		{"/master.m3u8", "other.test:1", 200},
		{"/master.m3u8", "other.test:" + port, 403},
		{"/master.m3u8", "evil.test:" + port, 403},
		{"/master.m3u8", "[::1]:" + port, 403}, // not where it listens
		{"/.env", hostport, 404},
	} {
		req, err := http.NewRequest(http.MethodGet, "http://"+hostport+c.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = c.host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("GET %s with Host %s: status %d, want %d", c.path, c.host, resp.StatusCode, c.want)
		}
	}
}

// TestPackageFairPlayURI: the placeholders the help names are those the
// library replaces, a template with another {…} is refused naming it, and
// the expanded URI reaches the playlists.
func TestPackageFairPlayURI(t *testing.T) {
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"package", "--help"}, &out, &errb); !errors.Is(err, flag.ErrHelp) {
		t.Fatal(err)
	}
	help := out.String() + errb.String()
	for _, p := range drm.FairPlayURIPlaceholders() {
		if !strings.Contains(help, p) {
			t.Errorf("--help does not name the placeholder %s", p)
		}
	}
	const key = "00112233445566778899aabbccddeeff:0123456789abcdef0123456789abcdef"
	base := []string{"package", "-q", "--hls", "--segment-duration", "2s", "--encryption", "cbcs", "--key", key, "--drm", "fairplay"}
	err := run(context.Background(), append(base, "-o", t.TempDir(), "--fairplay-uri", "skd://fps.example/{kid}", "../../testdata/ladder_360p.mp4"), &out, &errb)
	if exitCode(err) != 2 || !strings.Contains(err.Error(), "{kid}") || !strings.Contains(err.Error(), "--fairplay-uri") {
		t.Errorf("--fairplay-uri with {kid}: %v (exit %d), want a usage error naming {kid}", err, exitCode(err))
	}
	dir := t.TempDir()
	if err := run(context.Background(), append(base, "-o", dir, "--fairplay-uri", "skd://fps.example/{KID_UUID}?h={KID}", "../../testdata/ladder_360p.mp4"), &out, &errb); err != nil {
		t.Fatal(err)
	}
	pl, err := os.ReadFile(filepath.Join(dir, "video_360p_avc.m3u8"))
	if err != nil {
		t.Fatal(err)
	}
	if want := `URI="skd://fps.example/00112233-4455-6677-8899-aabbccddeeff?h=00112233445566778899aabbccddeeff"`; !strings.Contains(string(pl), want) {
		t.Errorf("playlist lacks %s:\n%s", want, pl)
	}
}

// TestPackageSmooth checks that --smooth alone writes the Smooth Streaming
// client manifest and fragments and no HLS or DASH, and with --dash both.
func TestPackageSmooth(t *testing.T) {
	for _, c := range []struct {
		flags []string
		mpd   bool
	}{{[]string{"--smooth"}, false}, {[]string{"--smooth", "--dash"}, true}} {
		dir := t.TempDir()
		var out, errb bytes.Buffer
		args := append(append([]string{"package", "-q"}, c.flags...), "-o", dir, "../../testdata/ladder_360p.mp4")
		if err := run(context.Background(), args, &out, &errb); err != nil {
			t.Fatalf("%v: %v", c.flags, err)
		}
		if _, err := os.Stat(filepath.Join(dir, "smooth", "Manifest")); err != nil {
			t.Errorf("%v: no smooth/Manifest: %v", c.flags, err)
		}
		frags, _ := filepath.Glob(filepath.Join(dir, "smooth", "QualityLevels(*)", "Fragments(*)"))
		if len(frags) == 0 {
			t.Errorf("%v: no fragments", c.flags)
		}
		if _, err := os.Stat(filepath.Join(dir, "master.m3u8")); !os.IsNotExist(err) {
			t.Errorf("%v wrote HLS", c.flags)
		}
		if _, err := os.Stat(filepath.Join(dir, "manifest.mpd")); (err == nil) != c.mpd {
			t.Errorf("%v: manifest.mpd written %v, want %v", c.flags, err == nil, c.mpd)
		}
	}
}

// TestPackagePackedAudio: --hls-packed-audio with TS segments writes the
// audio rendition as .aac packed audio; without TS it is a combination
// the packager refuses by name.
func TestPackagePackedAudio(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"package", "-q", "--hls", "--hls-segment-type", "ts", "--hls-packed-audio", "-o", dir, "../../testdata/ladder_360p.mp4"}, &out, &errb); err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	aac, _ := filepath.Glob(filepath.Join(dir, "audio_*", "seg-*.aac"))
	ts, _ := filepath.Glob(filepath.Join(dir, "video_*", "seg-*.ts"))
	if len(aac) == 0 || len(ts) == 0 {
		t.Errorf("%d .aac and %d .ts segments, want both", len(aac), len(ts))
	}
	err := run(context.Background(), []string{"package", "-q", "--hls", "--hls-packed-audio", "-o", t.TempDir(), "../../testdata/ladder_360p.mp4"}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "packed audio with fMP4") {
		t.Errorf("--hls-packed-audio with fMP4: %v, want the combination named", err)
	}
}

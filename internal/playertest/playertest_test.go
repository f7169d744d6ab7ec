package playertest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Eyevinn/mp4ff/mp4"
)

// The harness's own tests play outputs that ffmpeg makes from the test-data
// ladder (DASH, and HLS with fMP4 segments), so that they exercise the players
// and the checks independently of cmafkit's packager.

const source = "../../testdata/ladder_360p.mp4"

const (
	testKID = "0123456789abcdef0123456789abcdef"
	testKey = "00112233445566778899aabbccddeeff"
)

var (
	fixtureOnce sync.Once
	fixtureDir  string
	fixtureErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if fixtureDir != "" {
		os.RemoveAll(fixtureDir)
	}
	os.Exit(code)
}

// fixtures makes, once per test binary, a tree with
//
//	dash/manifest.mpd         clear DASH (SegmentTemplate + SegmentTimeline)
//	hls/master.m3u8           clear HLS, fMP4, separate audio rendition
//	enc/dash/manifest.mpd     the same DASH encrypted with CENC (cenc) and signalled for ClearKey
//	enc/hls/master.m3u8       the same HLS encrypted with CENC, EXT-X-KEY for Shaka and hls.js
func fixtures(t *testing.T) string {
	t.Helper()
	for _, tool := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(tool); err != nil {
			require(t, fmt.Errorf("%w: %s", ErrUnavailable, tool))
		}
	}
	fixtureOnce.Do(func() {
		dir, err := os.MkdirTemp("", "playertest-fixtures-")
		if err != nil {
			fixtureErr = err
			return
		}
		fixtureDir = dir
		for _, sub := range []string{"", "enc"} {
			if err := ffmpegDASH(filepath.Join(dir, sub, "dash")); err != nil {
				fixtureErr = err
				return
			}
			if err := ffmpegHLS(filepath.Join(dir, sub, "hls")); err != nil {
				fixtureErr = err
				return
			}
		}
		fixtureErr = encryptFixtures(filepath.Join(dir, "enc"))
	})
	if fixtureErr != nil {
		t.Fatal(fixtureErr)
	}
	return fixtureDir
}

func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

func ffmpegDASH(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return run("ffmpeg", "-nostdin", "-v", "error", "-i", source, "-map", "0", "-c", "copy",
		"-f", "dash", "-seg_duration", "2", "-use_template", "1", "-use_timeline", "1",
		filepath.Join(dir, "manifest.mpd"))
}

func ffmpegHLS(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return run("ffmpeg", "-nostdin", "-v", "error", "-i", source, "-map", "0:v", "-map", "0:a", "-c", "copy",
		"-f", "hls", "-hls_segment_type", "fmp4", "-hls_time", "2", "-hls_playlist_type", "vod",
		"-master_pl_name", "master.m3u8", "-var_stream_map", "v:0,agroup:aud a:0,agroup:aud,default:yes",
		"-hls_segment_filename", filepath.Join(dir, "seg_%v_%03d.m4s"),
		"-hls_fmp4_init_filename", "init_%v.mp4",
		filepath.Join(dir, "media_%v.m3u8"))
}

// encryptFixtures encrypts the segments under dir in place with mp4ff (ffmpeg
// 5.1 writes no senc in fragments, so it cannot make playable CENC) and adds
// ClearKey signalling to the manifests.
func encryptFixtures(dir string) error {
	key, _ := hex.DecodeString(testKey)
	kid, _ := hex.DecodeString(testKID)
	tracks := map[string]string{ // init segment → glob of its media segments
		"dash/init-stream0.m4s": "dash/chunk-stream0-*.m4s",
		"dash/init-stream1.m4s": "dash/chunk-stream1-*.m4s",
		"hls/init_0.mp4":        "hls/seg_0_*.m4s",
		"hls/init_1.mp4":        "hls/seg_1_*.m4s",
	}
	for init, glob := range tracks {
		segs, _ := filepath.Glob(filepath.Join(dir, glob))
		if len(segs) == 0 {
			return fmt.Errorf("no segments match %s", glob)
		}
		sort.Strings(segs)
		if err := encryptTrack(filepath.Join(dir, init), segs, key, kid); err != nil {
			return err
		}
	}

	// DASH: CENC and ClearKey ContentProtection in every AdaptationSet, so
	// that dash.js knows the KID before the init segment arrives.
	mpdPath := filepath.Join(dir, "dash", "manifest.mpd")
	mpd, err := os.ReadFile(mpdPath)
	if err != nil {
		return err
	}
	uuid := testKID[0:8] + "-" + testKID[8:12] + "-" + testKID[12:16] + "-" + testKID[16:20] + "-" + testKID[20:]
	cp := `<ContentProtection schemeIdUri="urn:mpeg:dash:mp4protection:2011" value="cenc" cenc:default_KID="` + uuid + `"/>` +
		`<ContentProtection schemeIdUri="urn:uuid:e2719d58-a985-b3c9-781a-b030af78d30e" value="ClearKey1.0"/>`
	s := strings.Replace(string(mpd), `xmlns="urn:mpeg:dash:schema:mpd:2011"`, `xmlns="urn:mpeg:dash:schema:mpd:2011" xmlns:cenc="urn:mpeg:cenc:2013"`, 1)
	s = regexp.MustCompile(`(<AdaptationSet[^>]*>)`).ReplaceAllString(s, "${1}"+cp)
	if err := os.WriteFile(mpdPath, []byte(s), 0o644); err != nil {
		return err
	}

	// HLS: one EXT-X-KEY per key format. Shaka reads "identity" (the key
	// itself at URI); hls.js reads org.w3.clearkey (KID in KEYID) and asks
	// the license server.
	if err := os.WriteFile(filepath.Join(dir, "hls", "identity.key"), key, 0o644); err != nil {
		return err
	}
	tags := `#EXT-X-KEY:METHOD=SAMPLE-AES-CTR,URI="identity.key",KEYFORMAT="identity"` + "\n" +
		`#EXT-X-KEY:METHOD=SAMPLE-AES-CTR,URI="data:text/plain;base64,` + base64.StdEncoding.EncodeToString(kid) +
		`",KEYID=0x` + strings.ToUpper(testKID) + `,KEYFORMAT="org.w3.clearkey",KEYFORMATVERSIONS="1"` + "\n"
	for _, name := range []string{"media_0.m3u8", "media_1.m3u8"} {
		p := filepath.Join(dir, "hls", name)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out := strings.Replace(string(b), "#EXT-X-MAP:", tags+"#EXT-X-MAP:", 1)
		if out == string(b) {
			return fmt.Errorf("%s: no EXT-X-MAP", p)
		}
		if err := os.WriteFile(p, []byte(out), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func encryptTrack(initPath string, segPaths []string, key, kid []byte) error {
	iv := []byte{0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7}
	kidUUID, err := mp4.NewUUIDFromString(hex.EncodeToString(kid))
	if err != nil {
		return err
	}
	initFile, err := decodeMP4(initPath)
	if err != nil {
		return err
	}
	if initFile.Init == nil {
		return fmt.Errorf("%s: no init segment", initPath)
	}
	// A W3C common-system pssh makes Chromium fire "encrypted" with the KID,
	// which hls.js needs to open a ClearKey session.
	pssh, err := mp4.NewPsshBox(mp4.UUID_W3C_COMMON, []string{hex.EncodeToString(kid)}, nil)
	if err != nil {
		return err
	}
	ipd, err := mp4.InitProtect(initFile.Init, key, iv, "cenc", kidUUID, []*mp4.PsshBox{pssh})
	if err != nil {
		return fmt.Errorf("%s: %w", initPath, err)
	}
	var buf bytes.Buffer
	if err := initFile.Init.Encode(&buf); err != nil {
		return err
	}
	if err := os.WriteFile(initPath, buf.Bytes(), 0o644); err != nil {
		return err
	}
	for _, p := range segPaths {
		f, err := decodeMP4(p)
		if err != nil {
			return err
		}
		buf.Reset()
		for _, seg := range f.Segments {
			enc, err := ipd.NewFragmentEncryptor(key, iv)
			if err != nil {
				return err
			}
			for _, frag := range seg.Fragments {
				if err := enc.EncryptFragment(frag); err != nil {
					return fmt.Errorf("%s: %w", p, err)
				}
			}
			iv = enc.IV()
			// The segment's sidx sizes no longer hold once senc is added;
			// players do not need it with SegmentTemplate or HLS.
			seg.Sidx, seg.Sidxs = nil, nil
			if err := seg.Encode(&buf); err != nil {
				return err
			}
		}
		if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func decodeMP4(p string) (*mp4.File, error) {
	fh, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	f, err := mp4.DecodeFile(fh)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return f, nil
}

// copyTree copies the fixture subtree src into a fresh directory, so that a
// test can break it without affecting others.
func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestPlayersFor(t *testing.T) {
	if got := Players("out/master.m3u8"); len(got) != 2 || got[0] != Shaka || got[1] != HLSJS {
		t.Errorf("Players(.m3u8) = %v", got)
	}
	if got := Players("DASH"); len(got) != 2 || got[0] != Shaka || got[1] != DashJS {
		t.Errorf("Players(DASH) = %v", got)
	}
	if got := Players("x.mp4"); got != nil {
		t.Errorf("Players(.mp4) = %v", got)
	}
}

// TestPlay plays the clear fixtures with every player that supports them.
func TestPlay(t *testing.T) {
	t.Parallel()
	dir := fixtures(t)
	for _, manifest := range []string{"hls/master.m3u8", "dash/manifest.mpd"} {
		for _, p := range Players(manifest) {
			t.Run(string(p)+"/"+manifest, func(t *testing.T) {
				t.Parallel()
				res := Play(t, context.Background(), Options{Dir: dir, Manifest: manifest, Player: p})
				// Play already enforced these; checking the numbers here makes
				// sure the Result carries what the page measured.
				if res.Reached < 6 || res.Frames <= 0 || res.ResumedAt <= res.SeekedAt || len(res.Errors) != 0 {
					t.Errorf("inconsistent result:\n%s", res.Report())
				}
				if res.SeekTarget < 3.9 || res.SeekTarget > 4.1 {
					t.Errorf("seek target %.3f, want the middle of the 8 s presentation", res.SeekTarget)
				}
				if res.PlayerVersion == "" {
					t.Errorf("no player version")
				}
			})
		}
	}
}

// TestPlayDetectsBrokenStream removes one video segment: every player must
// report a failure rather than pass.
func TestPlayDetectsBrokenStream(t *testing.T) {
	t.Parallel()
	require(t, Available())
	src := fixtures(t)
	broken := copyTree(t, src)
	for _, f := range []string{"dash/chunk-stream0-00002.m4s", "hls/seg_0_001.m4s"} {
		if err := os.Remove(filepath.Join(broken, f)); err != nil {
			t.Fatal(err)
		}
	}
	for _, manifest := range []string{"hls/master.m3u8", "dash/manifest.mpd"} {
		for _, p := range Players(manifest) {
			t.Run(string(p)+"/"+manifest, func(t *testing.T) {
				t.Parallel()
				res, err := Run(context.Background(), Options{Dir: broken, Manifest: manifest, Player: p, StepTimeout: 10 * time.Second})
				if !errors.Is(err, ErrPlayback) {
					t.Fatalf("Run on a stream with a missing segment: err = %v, want ErrPlayback\n%s", err, report(res))
				}
				t.Logf("failed as expected after %s: %v", res.Elapsed.Round(time.Millisecond), err)
			})
		}
	}
}

func report(r *Result) string {
	if r == nil {
		return "(no result)"
	}
	return r.Report()
}

// TestPlayClearKey plays CENC-encrypted fixtures with keys given inline and
// through the built-in license server, each player once.
func TestPlayClearKey(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(fixtures(t), "enc")
	keys := map[string]string{testKID: testKey}
	cases := []struct {
		manifest    string
		player      Player
		licenseOnly bool
	}{
		{"dash/manifest.mpd", Shaka, false},
		{"dash/manifest.mpd", DashJS, true},
		{"hls/master.m3u8", HLSJS, true},
		// The other player and key delivery pairs play cmafkit's own
		// output in packager's TestEncryptedPlayers.
	}
	for _, c := range cases {
		name := fmt.Sprintf("%s/%s/licenseOnly=%v", c.player, c.manifest, c.licenseOnly)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			res := Play(t, context.Background(), Options{
				Dir: dir, Manifest: c.manifest, Player: c.player, ClearKeys: keys, LicenseOnly: c.licenseOnly,
				MinPlay: 3 * time.Second,
			})
			if c.licenseOnly && res.LicenseCalls == 0 {
				t.Errorf("license-only run made no license request")
			}
		})
	}
}

// TestPlayClearKeyNeedsKey shows that the encrypted fixture is really
// encrypted: without keys, and with a wrong key, playback fails.
func TestPlayClearKeyNeedsKey(t *testing.T) {
	t.Parallel()
	require(t, Available())
	dir := filepath.Join(fixtures(t), "enc")
	t.Run("no keys", func(t *testing.T) {
		t.Parallel()
		res, err := Run(context.Background(), Options{Dir: dir, Manifest: "dash/manifest.mpd", Player: Shaka, StepTimeout: 10 * time.Second})
		if !errors.Is(err, ErrPlayback) {
			t.Fatalf("err = %v, want ErrPlayback\n%s", err, report(res))
		}
	})
	t.Run("unknown KID", func(t *testing.T) {
		t.Parallel()
		res, err := Run(context.Background(), Options{
			Dir: dir, Manifest: "dash/manifest.mpd", Player: DashJS, StepTimeout: 10 * time.Second,
			ClearKeys: map[string]string{"ffffffffffffffffffffffffffffffff": testKey}, LicenseOnly: true,
		})
		if !errors.Is(err, ErrPlayback) {
			t.Fatalf("err = %v, want ErrPlayback\n%s", err, report(res))
		}
	})
}

func TestRunOptionErrors(t *testing.T) {
	require(t, Available())
	ctx := context.Background()
	if _, err := Run(ctx, Options{Dir: t.TempDir(), Manifest: "m.mpd", Player: "vlc"}); err == nil || errors.Is(err, ErrPlayback) {
		t.Errorf("unknown player: %v", err)
	}
	if _, err := Run(ctx, Options{Manifest: "m.mpd"}); err == nil {
		t.Errorf("missing Dir accepted")
	}
	if _, err := Run(ctx, Options{Dir: t.TempDir(), Manifest: "../m.mpd"}); err == nil {
		t.Errorf("manifest outside Dir accepted")
	}
	if _, err := Run(ctx, Options{Dir: t.TempDir(), Manifest: "m.mpd", ClearKeys: map[string]string{"xyz": testKey}}); err == nil {
		t.Errorf("bad KID accepted")
	}
	if _, err := Run(ctx, Options{Dir: t.TempDir(), Manifest: "m.mpd", TextFormat: TextIMSC1}); err == nil || errors.Is(err, ErrPlayback) {
		t.Errorf("TextFormat without TextLanguage: %v", err)
	}
	if _, err := Run(ctx, Options{Dir: t.TempDir(), Manifest: "m.mpd", TextLanguage: "en", TextFormat: "srt"}); err == nil || errors.Is(err, ErrPlayback) {
		t.Errorf("unknown text format: %v", err)
	}
}

// TestPlayTextMissing asks every player for a subtitle track the fixtures do
// not have: the run must fail rather than pass without cues. (The packager's
// TestTextPlayers shows the positive side on cmafkit output.)
func TestPlayTextMissing(t *testing.T) {
	t.Parallel()
	require(t, Available())
	dir := fixtures(t)
	for _, manifest := range []string{"hls/master.m3u8", "dash/manifest.mpd"} {
		for _, p := range Players(manifest) {
			t.Run(string(p)+"/"+manifest, func(t *testing.T) {
				t.Parallel()
				res, err := Run(context.Background(), Options{Dir: dir, Manifest: manifest, Player: p, TextLanguage: "en", MinPlay: 2 * time.Second, NoSeek: true, StepTimeout: 10 * time.Second})
				if !errors.Is(err, ErrPlayback) {
					t.Fatalf("err = %v, want ErrPlayback\n%s", err, report(res))
				}
				if len(res.Cues) != 0 {
					t.Errorf("cues %v from a presentation without text", res.Cues)
				}
				t.Logf("failed as expected: %v", err)
			})
		}
	}
}

func TestFFmpegDecode(t *testing.T) {
	t.Parallel()
	dir := fixtures(t)
	src := FFmpegDecode(t, source)
	// ffmpeg's DASH and HLS muxers copy every packet and write no edit list,
	// so each output stream decodes to the source's packet count.
	want := map[string]int{}
	for _, s := range src {
		want[s.Type] = s.Packets
		if s.Frames <= 0 || s.Frames > s.Packets {
			t.Errorf("source %s: %d frames from %d packets", s.Type, s.Frames, s.Packets)
		}
	}
	if len(want) != 2 || want["video"] == 0 || want["audio"] == 0 {
		t.Fatalf("source streams %+v: want one video and one audio", src)
	}
	for _, m := range []string{"dash/manifest.mpd", "hls/master.m3u8"} {
		streams := FFmpegDecode(t, filepath.Join(dir, m))
		got := map[string]int{}
		for _, s := range streams {
			got[s.Type] += s.Frames
		}
		if got["video"] != want["video"] || got["audio"] != want["audio"] {
			t.Errorf("%s: decoded %v, want %v", m, got, want)
		}
	}

	// Over HTTP too, through the same handler as the players.
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	defer srv.Close()
	streams := FFmpegDecode(t, srv.URL+"/dash/manifest.mpd")
	if len(streams) != 2 || streams[0].Frames+streams[1].Frames != want["video"]+want["audio"] {
		t.Errorf("over HTTP: %+v", streams)
	}

	// A missing segment must show up as fewer frames or an error.
	broken := copyTree(t, filepath.Join(dir, "hls"))
	if err := os.Remove(filepath.Join(broken, "seg_0_001.m4s")); err != nil {
		t.Fatal(err)
	}
	got, err := Decode(context.Background(), filepath.Join(broken, "master.m3u8"))
	if err == nil {
		for _, s := range got {
			if s.Type == "video" && s.Frames == want["video"] {
				t.Errorf("a missing segment went unnoticed: %+v", got)
			}
		}
	}
}

func TestClearKeyLicenseHandler(t *testing.T) {
	keys, err := parseClearKeys(map[string]string{"01234567-89ab-cdef-0123-456789abcdef": testKey})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ClearKeyLicenseHandler(keys))
	defer srv.Close()
	kid, _ := hex.DecodeString(testKID)
	post := func(body string) (*http.Response, []byte) {
		t.Helper()
		resp, err := http.Post(srv.URL, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return resp, b.Bytes()
	}
	resp, b := post(`{"kids":["` + base64.RawURLEncoding.EncodeToString(kid) + `","AAAAAAAAAAAAAAAAAAAAAA"],"type":"temporary"}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	var lic struct {
		Keys []struct{ Kty, KID, K string }
		Type string
	}
	if err := json.Unmarshal(b, &lic); err != nil {
		t.Fatal(err)
	}
	wantKey, _ := hex.DecodeString(testKey)
	if len(lic.Keys) != 1 || lic.Keys[0].Kty != "oct" || lic.Type != "temporary" ||
		lic.Keys[0].KID != base64.RawURLEncoding.EncodeToString(kid) || lic.Keys[0].K != base64.RawURLEncoding.EncodeToString(wantKey) {
		t.Errorf("license %s", b)
	}
	if resp, _ := post(`{"kids":["AAAAAAAAAAAAAAAAAAAAAA"]}`); resp.StatusCode != http.StatusForbidden {
		t.Errorf("unknown KID: status %d", resp.StatusCode)
	}
	if resp, _ := post(`not json`); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("bad request: status %d", resp.StatusCode)
	}
	if _, err := parseClearKeys(map[string]string{testKID: "short"}); err == nil {
		t.Errorf("short key accepted")
	}
}

// TestCheckLive checks the Go-side verdict of a live run, which a page bug
// reporting ok without evidence must not pass.
func TestCheckLive(t *testing.T) {
	opts := Options{Live: true, MinPlay: 10 * time.Second}
	good := Result{OK: true, Phase: "done", IsLive: true, WallPlayed: 10, MediaPlayed: 9.5, Frames: 280, Latency: 8}
	if err := good.check(opts); err != nil {
		t.Fatalf("good run refused: %v", err)
	}
	for name, mod := range map[string]func(r *Result){
		"not live":     func(r *Result) { r.IsLive = false },
		"too slow":     func(r *Result) { r.MediaPlayed = 4.5 },
		"too fast":     func(r *Result) { r.MediaPlayed = 12.5 },
		"stall":        func(r *Result) { r.Stalls = 1 },
		"short":        func(r *Result) { r.WallPlayed, r.MediaPlayed = 5, 5 },
		"no frames":    func(r *Result) { r.Frames = 0 },
		"page error":   func(r *Result) { r.Errors = []string{"x"} },
		"not complete": func(r *Result) { r.Phase = "playing live" },
	} {
		r := good
		mod(&r)
		if err := r.check(opts); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

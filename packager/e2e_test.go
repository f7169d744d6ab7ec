package packager_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/drm"
	"github.com/cmafkit/cmafkit/internal/playertest"
	"github.com/cmafkit/cmafkit/internal/testutil"
	"github.com/cmafkit/cmafkit/packager"
	"github.com/cmafkit/cmafkit/storage"
)

func ladderInputs() []packager.Input {
	return []packager.Input{{Path: "../testdata/ladder_720p.mp4"}, {Path: "../testdata/ladder_360p.mp4"}}
}

func runJob(t *testing.T, job packager.Job) string {
	t.Helper()
	dir := t.TempDir()
	job.Storage = storage.Dir(dir)
	if job.SegmentDuration == 0 {
		job.SegmentDuration = 2 * time.Second
	}
	if _, err := packager.Run(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	testutil.ValidateMPDs(t, dir)
	return dir
}

// playAll plays both manifests of dir in every player that supports them.
func playAll(t *testing.T, dir string, opts playertest.Options) {
	for _, m := range []string{"master.m3u8", "manifest.mpd"} {
		for _, p := range playertest.Players(m) {
			o := opts
			o.Dir, o.Manifest, o.Player, o.Log = dir, m, p, t.Logf
			t.Run(fmt.Sprintf("%s/%s", m, p), func(t *testing.T) {
				t.Parallel()
				playertest.Play(t, context.Background(), o)
			})
		}
	}
}

// checkDecode decodes every rendition through both manifests with ffmpeg and
// compares frame counts with the sources.
func checkDecode(t *testing.T, dir string) {
	t.Helper()
	src := playertest.FFmpegDecode(t, "../testdata/ladder_720p.mp4")
	var wantVideo, wantAudio int
	for _, s := range src {
		switch s.Type {
		case "video":
			wantVideo = s.Frames
		case "audio":
			wantAudio = s.Packets
		}
	}
	for _, m := range []string{"master.m3u8", "manifest.mpd"} {
		streams := playertest.FFmpegDecode(t, filepath.Join(dir, m))
		var videos int
		for _, s := range streams {
			switch s.Type {
			case "video":
				videos++
				got := s.Frames
				if m == "manifest.mpd" {
					// FFmpeg 5.1's DASH demuxer derives the last frame's dts from
					// the trun v1 negative composition offsets one frame early, so
					// its decoder drops that frame as non-monotonic, and its
					// multi-stream packet count misses it too. Read the stream's
					// packets on their own instead (the same files decode
					// completely via HLS and as one file).
					got = countPackets(t, filepath.Join(dir, m), fmt.Sprintf("v:%d", videos-1))
				}
				if got != wantVideo {
					t.Errorf("%s: %dx%d video gives %d frames, source has %d", m, s.Width, s.Height, got, wantVideo)
				}
			case "audio":
				if s.Packets != wantAudio {
					t.Errorf("%s: audio has %d packets, source has %d", m, s.Packets, wantAudio)
				}
			}
		}
		if videos != 2 {
			t.Errorf("%s: %d video streams, want the 2 renditions", m, videos)
		}
	}
}

// countPackets lists the packets of one stream of input with ffprobe.
func countPackets(t *testing.T, input, stream string) int {
	t.Helper()
	abs, err := filepath.Abs(input)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", stream, "-show_entries", "packet=size", "-of", "csv=p=0", abs).Output()
	if err != nil {
		t.Fatalf("ffprobe %s %s: %v", input, stream, err)
	}
	return strings.Count(string(out), "\n")
}

// TestPlayers packages the test ladder and plays it in shaka-player, hls.js
// and dash.js in headless Chromium, and decodes it with ffmpeg.
func TestPlayers(t *testing.T) {
	if testing.Short() {
		t.Skip("player tests take a minute")
	}
	for _, single := range []bool{false, true} {
		t.Run(fmt.Sprintf("single-file=%v", single), func(t *testing.T) {
			dir := runJob(t, packager.Job{Inputs: ladderInputs(), SingleFile: single})
			checkDecode(t, dir)
			playAll(t, dir, playertest.Options{})
		})
	}
}

// TestEncryptedPlayers encrypts with cenc and cbcs, signals ClearKey, and
// plays the result; with LicenseOnly the players must find the KIDs from our
// signalling and fetch the key from a license server. The rotation runs
// change the key every segment (four crypto periods).
func TestEncryptedPlayers(t *testing.T) {
	if testing.Short() {
		t.Skip("player tests take a minute")
	}
	type playCase struct {
		manifest    string
		player      playertest.Player
		licenseOnly bool
		hlsjsKeyIDs bool
	}
	plain := []playCase{
		// Shaka has no ClearKey license path for HLS (below): inline keys.
		{"master.m3u8", playertest.Shaka, false, false},
		// Only a license URL: the KIDs must come from our signalling. These
		// runs decrypt the same segments in the same players as runs with
		// the keys inline would, and check the signalling besides.
		{"manifest.mpd", playertest.Shaka, true, false},
		{"manifest.mpd", playertest.DashJS, true, false},
		// hls.js always asks the license server (no inline keys); it reads
		// the KID from the org.w3.clearkey EXT-X-KEY URI.
		{"master.m3u8", playertest.HLSJS, true, false},
		// Not here: shaka-player 5.2 given only a ClearKey license URL for
		// HLS. Its HLS parser maps KEYFORMAT identity, Widevine, PlayReady,
		// FairPlay and WisePlay but not org.w3.clearkey
		// (lib/hls/hls_parser.js), so it finds no ClearKey DRM info and
		// stops with error 6001; it plays the same HLS with inline keys.
	}
	rotation := []playCase{
		// From the license server: shaka follows the pssh boxes in the
		// moofs (the MPD names no key under rotation, see package dash).
		{"manifest.mpd", playertest.Shaka, true, false},
		// hls.js reads each period's KID from its EXT-X-KEY; it needs the
		// keyids generateRequest filter (see playertest.Options.HLSJSKeyIDs).
		{"master.m3u8", playertest.HLSJS, true, true},
		// With every key given inline: the seig KID switches decrypt.
		{"manifest.mpd", playertest.Shaka, false, false},
		{"master.m3u8", playertest.Shaka, false, false},
		{"manifest.mpd", playertest.DashJS, false, false},
		// Not here: dash.js 5.2.1 from a license server. With no key named in
		// the MPD it takes the init segment's common pssh, selects its W3C
		// ClearKey key system and calls generateRequest("keyids", <pssh box>),
		// which Chromium rejects with a TypeError (ProtectionModel
		// createKeySession uses "keyids" for every ClearKey session that has
		// init data); it never reads moof pssh for another key system either.
	}
	const periods = 4 // 8 s of media in 2 s segments, a new key every segment
	var rotKeys []drm.ContentKey
	for p := range periods {
		kid := drm.MustParseKID(fmt.Sprintf("00112233445566778899aabbccddee%02x", p))
		key, err := drm.ParseKey(fmt.Sprintf("0123456789abcdef0123456789abcd%02x", p))
		if err != nil {
			t.Fatal(err)
		}
		rotKeys = append(rotKeys, drm.ContentKey{KID: kid, Key: key})
	}
	kid := drm.MustParseKID("00112233445566778899aabbccddeeff")
	key, err := drm.ParseKey("0123456789abcdef0123456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	for _, scheme := range []drm.Scheme{drm.SchemeCENC, drm.SchemeCBCS} {
		for _, rotate := range []bool{false, true} {
			name, keys, cases, period := string(scheme), []drm.ContentKey{{KID: kid, Key: key}}, plain, 0
			if rotate {
				name, keys, cases, period = name+"/rotation", rotKeys, rotation, 1
			}
			t.Run(name, func(t *testing.T) {
				dir := runJob(t, packager.Job{Inputs: ladderInputs(), Formats: packager.HLS | packager.DASH, Encryption: &drm.Config{
					Scheme:           scheme,
					Keys:             &drm.StaticKeys{Default: keys},
					CryptoPeriod:     period,
					SignalingOptions: drm.SignalingOptions{Systems: []drm.System{drm.ClearKey, drm.Widevine, drm.PlayReady}},
				}})
				clearKeys := map[string]string{}
				for _, k := range keys {
					clearKeys[k.KID.Hex()] = hex.EncodeToString(k.Key.Secret())
				}
				if rotate {
					checkRotation(t, dir, rotKeys)
				}
				for _, c := range cases {
					o := playertest.Options{Dir: dir, Manifest: c.manifest, Player: c.player, ClearKeys: clearKeys,
						LicenseOnly: c.licenseOnly, HLSJSKeyIDs: c.hlsjsKeyIDs, Log: t.Logf}
					t.Run(fmt.Sprintf("%s/%s/license-only=%v", c.manifest, c.player, c.licenseOnly), func(t *testing.T) {
						t.Parallel()
						res := playertest.Play(t, context.Background(), o)
						// With rotation a licensed run fetches the key of every
						// crypto period (the players buffer the whole 8 s).
						if rotate && (c.licenseOnly || c.player == playertest.HLSJS) && len(res.LicenseKIDs) != periods {
							t.Errorf("license server gave keys %v, want all %d periods", res.LicenseKIDs, periods)
						}
					})
				}
			})
		}
	}
}

// checkRotation checks the signalling of key rotation in the packaged
// output: each crypto period's ClearKey EXT-X-KEY before its segment in the
// media playlists, and an MPD that names no key.
func checkRotation(t *testing.T, dir string, keys []drm.ContentKey) {
	t.Helper()
	pl, err := os.ReadFile(filepath.Join(dir, "video_720p_avc.m3u8"))
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, line := range strings.Split(string(pl), "\n") {
		if strings.HasPrefix(line, "#EXT-X-KEY:") && strings.Contains(line, `KEYFORMAT="org.w3.clearkey"`) {
			seen = append(seen, line)
		}
	}
	if len(seen) != len(keys) {
		t.Fatalf("%d ClearKey EXT-X-KEY tags, want one per crypto period (%d):\n%s", len(seen), len(keys), pl)
	}
	for i, k := range keys {
		// hls.js reads the KID from the data URI (see package hls).
		if !strings.Contains(seen[i], `URI="data:text/plain;base64,`+base64.StdEncoding.EncodeToString(k.KID[:])+`"`) {
			t.Errorf("crypto period %d: %s, want KID %s", i, seen[i], k.KID)
		}
	}
	mpd, err := os.ReadFile(filepath.Join(dir, "manifest.mpd"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(mpd), "default_KID") || strings.Contains(string(mpd), "cenc:pssh") {
		t.Errorf("MPD names a key under rotation:\n%s", mpd)
	}
}

// TestTSInputPlayers packages MPEG-TS input and plays it like MP4 input.
func TestTSInputPlayers(t *testing.T) {
	if testing.Short() {
		t.Skip("player tests take a minute")
	}
	dir := runJob(t, packager.Job{Inputs: []packager.Input{{Path: "../testdata/h264_aac.ts"}}})
	for _, s := range playertest.FFmpegDecode(t, filepath.Join(dir, "master.m3u8")) {
		if s.Type == "video" && s.Frames != 240 {
			t.Errorf("TS input: %d video frames via HLS, want 240", s.Frames)
		}
	}
	for _, c := range []struct {
		manifest string
		player   playertest.Player
	}{{"master.m3u8", playertest.Shaka}, {"master.m3u8", playertest.HLSJS}, {"manifest.mpd", playertest.DashJS}} {
		o := playertest.Options{Dir: dir, Manifest: c.manifest, Player: c.player, Log: t.Logf}
		t.Run(fmt.Sprintf("%s/%s", c.manifest, c.player), func(t *testing.T) {
			t.Parallel()
			playertest.Play(t, context.Background(), o)
		})
	}
}

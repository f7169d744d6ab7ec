package packager_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cmafkit/cmafkit/drm"
	"github.com/cmafkit/cmafkit/internal/playertest"
	"github.com/cmafkit/cmafkit/packager"
	"github.com/cmafkit/cmafkit/segment/tsmux"
	"github.com/cmafkit/cmafkit/storage"
)

// TestHLSSegmentTS packages the ladder with MPEG-TS segments for HLS:
// media playlists list .ts segments without EXT-X-MAP at version 3, DASH
// stays CMAF, both decode with ffmpeg without error and with the source's
// frame counts, and the continuity counters of each rendition run on
// across its segments. Without -short hls.js plays the TS output.
func TestHLSSegmentTS(t *testing.T) {
	dir := runJob(t, packager.Job{Inputs: ladderInputs(), HLSSegmentType: packager.HLSSegmentTS})
	playlists, err := filepath.Glob(filepath.Join(dir, "*_*.m3u8"))
	if err != nil || len(playlists) != 3 {
		t.Fatalf("media playlists %v (%v), want 3 (two videos, one audio)", playlists, err)
	}
	for _, pl := range playlists {
		b, err := os.ReadFile(pl)
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		if strings.Contains(text, "EXT-X-MAP") || !strings.Contains(text, "#EXT-X-VERSION:3\n") {
			t.Errorf("%s: want version 3 without EXT-X-MAP:\n%s", pl, text)
		}
		var segs []string
		for _, line := range strings.Split(text, "\n") {
			if line != "" && !strings.HasPrefix(line, "#") {
				segs = append(segs, line)
			}
		}
		if len(segs) < 2 {
			t.Fatalf("%s: %d segments", pl, len(segs))
		}
		var joined []byte
		for _, s := range segs {
			if !strings.HasSuffix(s, ".ts") {
				t.Errorf("%s lists %s, want .ts segments", pl, s)
			}
			b, err := os.ReadFile(filepath.Join(dir, s))
			if err != nil {
				t.Fatal(err)
			}
			joined = append(joined, b...)
		}
		checkTSContinuity(t, pl, joined)
	}
	mpd, err := os.ReadFile(filepath.Join(dir, "manifest.mpd"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(mpd), ".m4s") || strings.Contains(string(mpd), ".ts\"") {
		t.Errorf("DASH does not list CMAF segments:\n%s", mpd)
	}
	if msg, err := exec.Command("ffmpeg", "-v", "error", "-i", filepath.Join(dir, "master.m3u8"), "-map", "0", "-f", "null", "-").CombinedOutput(); err != nil || len(msg) > 0 {
		t.Errorf("ffmpeg decoding master.m3u8: %v: %s", err, msg)
	}
	checkDecode(t, dir)
	if testing.Short() {
		return
	}
	playertest.Play(t, context.Background(), playertest.Options{Dir: dir, Manifest: "master.m3u8", Player: playertest.HLSJS, Log: t.Logf})
}

// TestHLSSegmentTSOnly writes HLS alone with TS segments: no CMAF object
// at all.
func TestHLSSegmentTSOnly(t *testing.T) {
	dir := runJob(t, packager.Job{Inputs: ladderInputs()[:1], Formats: packager.HLS, HLSSegmentType: packager.HLSSegmentTS})
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && (strings.HasSuffix(path, ".m4s") || strings.HasSuffix(path, ".mp4")) {
			t.Errorf("CMAF object %s written for HLS with TS segments", path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if msg, err := exec.Command("ffmpeg", "-v", "error", "-i", filepath.Join(dir, "master.m3u8"), "-map", "0", "-f", "null", "-").CombinedOutput(); err != nil || len(msg) > 0 {
		t.Errorf("ffmpeg decoding master.m3u8: %v: %s", err, msg)
	}
}

// TestHLSSegmentTSRefused checks the combinations TS segments do not
// support yet, and unknown segment types, are refused by name before
// anything is written.
func TestHLSSegmentTSRefused(t *testing.T) {
	aesKey, err := drm.ParseKey("00112233445566778899aabbccddeeff")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		job  packager.Job
		want string
	}{
		{"encrypted", packager.Job{HLSSegmentType: packager.HLSSegmentTS, Encryption: &drm.Config{Scheme: drm.SchemeCBCS, Keys: &drm.StaticKeys{Default: []drm.ContentKey{{KID: drm.MustParseKID("00112233445566778899aabbccddeeff"), Key: aesKey}}}}}, "encryption"},
		{"single-file", packager.Job{HLSSegmentType: packager.HLSSegmentTS, SingleFile: true}, "single-file"},
		{"unknown", packager.Job{HLSSegmentType: "mkv"}, "mkv"},
		{"aes-128-fmp4", packager.Job{HLSAES128: &packager.AES128Key{Key: aesKey}}, "AES-128 with fMP4"},
		{"sample-aes-fmp4", packager.Job{HLSSampleAES: &packager.AES128Key{Key: aesKey}}, "SAMPLE-AES of MPEG-TS with fMP4"},
		{"aes-128-and-sample-aes", packager.Job{HLSSegmentType: packager.HLSSegmentTS, HLSAES128: &packager.AES128Key{Key: aesKey}, HLSSampleAES: &packager.AES128Key{Key: aesKey}}, "AES-128 and SAMPLE-AES"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			c.job.Inputs, c.job.Storage = ladderInputs()[:1], storage.Dir(dir)
			_, err := packager.Run(context.Background(), c.job)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error naming %q", err, c.want)
			}
			if c.name != "unknown" && !errors.Is(err, packager.ErrCombination) {
				t.Errorf("%v does not wrap ErrCombination", err)
			}
			if ents, _ := os.ReadDir(dir); len(ents) > 0 {
				t.Errorf("%d objects written", len(ents))
			}
		})
	}
}

// checkTSContinuity checks that the continuity counter of every PID goes
// up by one with each packet that carries payload.
func checkTSContinuity(t *testing.T, name string, ts []byte) {
	t.Helper()
	if len(ts)%188 != 0 {
		t.Fatalf("%s: %d bytes, not whole packets", name, len(ts))
	}
	last := map[int]int{}
	for off := 0; off < len(ts); off += 188 {
		p := ts[off : off+188]
		if p[0] != 0x47 {
			t.Fatalf("%s: no sync byte at %d", name, off)
		}
		if p[3]&0x10 == 0 {
			continue
		}
		pid, cc := int(p[1]&0x1F)<<8|int(p[2]), int(p[3]&0xF)
		if prev, ok := last[pid]; ok && cc != (prev+1)&0xF {
			t.Fatalf("%s: PID %#x: continuity counter %d after %d at byte %d", name, pid, cc, prev, off)
		}
		last[pid] = cc
	}
}

// TestHLSAES128 encrypts the TS segments with AES-128: the playlists name
// the key, each segment decrypts (CBC, IV the media sequence number, PKCS7)
// to the segment of a clear run, ffmpeg decodes the output without error,
// and without -short hls.js plays it with the key the packager wrote.
func TestHLSAES128(t *testing.T) {
	key, err := drm.ParseKey("00112233445566778899aabbccddeeff")
	if err != nil {
		t.Fatal(err)
	}
	in := ladderInputs()[:1]
	clear := runJob(t, packager.Job{Inputs: in, Formats: packager.HLS, HLSSegmentType: packager.HLSSegmentTS})
	dir := runJob(t, packager.Job{Inputs: in, Formats: packager.HLS, HLSSegmentType: packager.HLSSegmentTS, HLSAES128: &packager.AES128Key{Key: key}})
	if b, err := os.ReadFile(filepath.Join(dir, packager.DefaultAES128KeyName)); err != nil || !bytes.Equal(b, key.Secret()) {
		t.Fatalf("key object %x (%v), want the key", b, err)
	}
	block, err := aes.NewCipher(key.Secret())
	if err != nil {
		t.Fatal(err)
	}
	playlists, _ := filepath.Glob(filepath.Join(dir, "*_*.m3u8"))
	if len(playlists) != 2 {
		t.Fatalf("media playlists %v, want 2", playlists)
	}
	for _, pl := range playlists {
		b, err := os.ReadFile(pl)
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		if !strings.Contains(text, "#EXT-X-KEY:METHOD=AES-128,URI=\"aes-128.key\"\n") || !strings.Contains(text, "#EXT-X-MEDIA-SEQUENCE:1\n") {
			t.Fatalf("%s: no AES-128 key or sequence 1:\n%s", pl, text)
		}
		seq := uint64(1)
		for _, line := range strings.Split(text, "\n") {
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			enc, err := os.ReadFile(filepath.Join(dir, line))
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(filepath.Join(clear, line))
			if err != nil {
				t.Fatal(err)
			}
			if len(enc)%16 != 0 || len(enc) <= len(want) {
				t.Fatalf("%s: %d bytes encrypted from %d", line, len(enc), len(want))
			}
			var iv [16]byte
			binary.BigEndian.PutUint64(iv[8:], seq)
			dec := make([]byte, len(enc))
			cipher.NewCBCDecrypter(block, iv[:]).CryptBlocks(dec, enc)
			pad := int(dec[len(dec)-1])
			if pad < 1 || pad > 16 || !bytes.Equal(dec[:len(dec)-pad], want) {
				t.Errorf("%s (sequence %d) does not decrypt to the clear segment", line, seq)
			}
			seq++
		}
	}
	if msg, err := exec.Command("ffmpeg", "-v", "error", "-allowed_extensions", "ALL", "-i", filepath.Join(dir, "master.m3u8"), "-map", "0", "-f", "null", "-").CombinedOutput(); err != nil || len(msg) > 0 {
		t.Errorf("ffmpeg decoding master.m3u8: %v: %s", err, msg)
	}
	if testing.Short() {
		return
	}
	playertest.Play(t, context.Background(), playertest.Options{Dir: dir, Manifest: "master.m3u8", Player: playertest.HLSJS, Log: t.Logf})
}

// TestHLSSegmentTSWebVTT checks that with TS segments the WebVTT segments
// map cue time zero to the muxer's timestamp offset, the PTS of the first
// frame, rather than to PTS 0 (which would show every cue 1.4 s early).
func TestHLSSegmentTSWebVTT(t *testing.T) {
	dir := runJob(t, packager.Job{Inputs: []packager.Input{{Path: "../testdata/ladder_360p.mp4"}, {Path: "../testdata/wvtt.mp4"}},
		Formats: packager.HLS, HLSSegmentType: packager.HLSSegmentTS})
	vtts, _ := filepath.Glob(filepath.Join(dir, "*", "*.vtt"))
	if len(vtts) == 0 {
		t.Fatal("no WebVTT segments")
	}
	want := fmt.Sprintf("X-TIMESTAMP-MAP=MPEGTS:%d,LOCAL:00:00:00.000\n", tsmux.TimestampOffset)
	for _, v := range vtts {
		b, err := os.ReadFile(v)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), want) {
			t.Errorf("%s has no %q:\n%.200s", v, want, b)
		}
	}
}

// TestHLSPackedAudio writes the ladder's audio rendition as packed audio
// next to TS video: the audio playlist lists .aac segments without
// EXT-X-MAP, each starting with the ID3 timestamp tag; the multivariant
// playlist still signals AAC; ffprobe, through the HLS playlist (which
// reads the ID3 timestamps), finds audio and video starting where the
// all-TS output starts them; ffmpeg decodes it without error; and
// without -short hls.js plays it.
func TestHLSPackedAudio(t *testing.T) {
	dir := runJob(t, packager.Job{Inputs: ladderInputs(), Formats: packager.HLS, HLSSegmentType: packager.HLSSegmentTS, HLSPackedAudio: true})
	ts := runJob(t, packager.Job{Inputs: ladderInputs(), Formats: packager.HLS, HLSSegmentType: packager.HLSSegmentTS})
	pl, err := os.ReadFile(filepath.Join(dir, "audio_und_aac_2ch.m3u8"))
	if err != nil {
		t.Fatal(err)
	}
	segs := 0
	for _, line := range strings.Split(string(pl), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		segs++
		if !strings.HasSuffix(line, ".aac") {
			t.Errorf("audio playlist lists %s, want .aac segments", line)
		}
		b, err := os.ReadFile(filepath.Join(dir, line))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte("ID3\x04")) || !bytes.Contains(b[:80], []byte(tsmux.PackedAudioOwner+"\x00")) {
			t.Errorf("%s does not start with the ID3 timestamp tag: % x", line, b[:min(len(b), 16)])
		}
	}
	if segs < 2 || strings.Contains(string(pl), "EXT-X-MAP") {
		t.Errorf("audio playlist: %d segments, want several without EXT-X-MAP:\n%s", segs, pl)
	}
	master, err := os.ReadFile(filepath.Join(dir, "master.m3u8"))
	if err != nil || !strings.Contains(string(master), "mp4a.40.2") {
		t.Errorf("master.m3u8 does not signal AAC (%v):\n%s", err, master)
	}
	starts := func(dir string) string {
		out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=codec_type,start_time", "-of", "csv=p=0", filepath.Join(dir, "master.m3u8")).CombinedOutput()
		if err != nil {
			t.Fatalf("ffprobe: %v: %s", err, out)
		}
		return string(out)
	}
	got, want := starts(dir), starts(ts)
	t.Logf("start times, packed audio: %q; TS: %q", got, want)
	if got != want || !strings.Contains(got, "audio,1.378667") || !strings.Contains(got, "video,1.400000") {
		t.Errorf("start times with packed audio %q, want the TS output's %q (audio 1.378667: one AAC frame of priming before video's 1.4)", got, want)
	}
	if msg, err := exec.Command("ffmpeg", "-v", "error", "-i", filepath.Join(dir, "master.m3u8"), "-map", "0", "-f", "null", "-").CombinedOutput(); err != nil || len(msg) > 0 {
		t.Errorf("ffmpeg decoding master.m3u8: %v: %s", err, msg)
	}
	if testing.Short() {
		return
	}
	playertest.Play(t, context.Background(), playertest.Options{Dir: dir, Manifest: "master.m3u8", Player: playertest.HLSJS, Log: t.Logf})
}

// TestHLSTSRefusesCodecs: tracks MPEG-TS segments or packed audio cannot
// carry are refused before anything is written, naming the combination.
func TestHLSTSRefusesCodecs(t *testing.T) {
	for _, c := range []struct {
		name, file string
		packed     bool
		want       []string
	}{
		{"AV1", "av1.mp4", false, []string{"MPEG-TS segments", "av01"}},
		{"Opus packed", "opus.mp4", true, []string{"packed audio", "Opus"}},
		{"packed fMP4", "ladder_360p.mp4", true, []string{"packed audio with fMP4"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			typ := packager.HLSSegmentTS
			if c.name == "packed fMP4" {
				typ = packager.HLSSegmentFMP4
			}
			_, err := packager.Run(context.Background(), packager.Job{Inputs: []packager.Input{{Path: filepath.Join("..", "testdata", c.file)}},
				HLSSegmentType: typ, HLSPackedAudio: c.packed, Storage: storage.Dir(dir)})
			if !errors.Is(err, packager.ErrCombination) {
				t.Fatalf("got %v, want ErrCombination", err)
			}
			for _, w := range c.want {
				if !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(w)) {
					t.Errorf("%v does not name %q", err, w)
				}
			}
			if ents, _ := os.ReadDir(dir); len(ents) > 0 {
				t.Errorf("%d objects written", len(ents))
			}
		})
	}
}

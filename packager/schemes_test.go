package packager_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/cmafkit/cmafkit/drm"
	"github.com/cmafkit/cmafkit/internal/testutil"
	"github.com/cmafkit/cmafkit/packager"
	"github.com/cmafkit/cmafkit/storage"
)

// TestDASHSchemesCENSCBC1 packages the ladder with cens and cbc1 for DASH:
// the MPD (kept as a golden file, fixed key and IV) names the scheme in its
// mp4protection descriptor and validates, every init segment carries the
// scheme in schm with the tenc the scheme asks for, and where Bento4's
// mp4decrypt is available it decrypts every representation back to the
// samples of a clear run, bit-exact.
func TestDASHSchemesCENSCBC1(t *testing.T) {
	key, err := drm.ParseKey("0102030405060708090a0b0c0d0e0f10")
	if err != nil {
		t.Fatal(err)
	}
	ck := drm.ContentKey{KID: drm.MustParseKID("c0ffee00c0ffee00c0ffee00c0ffee00"), Key: key}
	audioKey, err := drm.ParseKey("1112131415161718191a1b1c1d1e1f20")
	if err != nil {
		t.Fatal(err)
	}
	// Its own key for audio: a fixed cens IV shared under one key would
	// reuse keystream (drm.IVReuseError).
	ak := drm.ContentKey{KID: drm.MustParseKID("a0d10000a0d10000a0d10000a0d10000"), Key: audioKey}
	in := ladderInputs()[:1]
	clear := runJob(t, packager.Job{Inputs: in, Formats: packager.DASH})
	for _, scheme := range []drm.Scheme{drm.SchemeCENS, drm.SchemeCBC1} {
		t.Run(string(scheme), func(t *testing.T) {
			iv, err := drm.ParseIV("00112233445566778899aabbccddeeff")
			if err != nil {
				t.Fatal(err)
			}
			if scheme == drm.SchemeCENS {
				iv = iv[:8]
			}
			dir := runJob(t, packager.Job{Inputs: in, Formats: packager.DASH, Encryption: &drm.Config{
				Scheme: scheme, Keys: &drm.StaticKeys{Default: []drm.ContentKey{ck}, ByClass: map[drm.TrackClass][]drm.ContentKey{drm.ClassAudio: {ak}}}, IV: iv,
				SignalingOptions: drm.SignalingOptions{Systems: []drm.System{drm.Widevine, drm.ClearKey}}}})
			mpd, err := os.ReadFile(filepath.Join(dir, "manifest.mpd"))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(mpd), `schemeIdUri="urn:mpeg:dash:mp4protection:2011" value="`+string(scheme)+`"`) {
				t.Fatalf("MPD has no mp4protection descriptor of %s:\n%s", scheme, mpd)
			}
			goldenFile(t, filepath.Join("testdata", "schemes", string(scheme)+".mpd"), mpd)
			inits, _ := filepath.Glob(filepath.Join(dir, "*", "init.mp4"))
			if len(inits) != 2 {
				t.Fatalf("init segments %v, want 2", inits)
			}
			for _, p := range inits {
				checkSchemeInit(t, p, scheme)
			}
			tool := mp4decryptPath()
			if tool == "" {
				t.Log("Bento4 mp4decrypt not found (CMAFKIT_MP4DECRYPT, PATH or /tmp/bento4-build): not decrypting the output with it")
				return
			}
			for _, p := range inits {
				rep := filepath.Base(filepath.Dir(p))
				got := decryptRep(t, tool, dir, rep, ck, ak)
				want := repSamples(t, clear, rep, nil)
				if len(got) != len(want) || len(got) == 0 {
					t.Fatalf("%s: %d samples decrypted, %d clear", rep, len(got), len(want))
				}
				for i := range got {
					if !bytes.Equal(got[i], want[i]) {
						t.Fatalf("%s: sample %d differs after mp4decrypt", rep, i+1)
					}
				}
			}
		})
	}
}

// TestSchemeCombinationsRefused checks that cens and cbc1 are refused with
// HLS (no METHOD), with FairPlay and PlayReady, and with MPEG-TS segments,
// each with an error naming the combination, before anything is written.
func TestSchemeCombinationsRefused(t *testing.T) {
	key, err := drm.ParseKey("0102030405060708090a0b0c0d0e0f10")
	if err != nil {
		t.Fatal(err)
	}
	keys := &drm.StaticKeys{Default: []drm.ContentKey{{KID: drm.MustParseKID("c0ffee00c0ffee00c0ffee00c0ffee00"), Key: key}}}
	for _, scheme := range []drm.Scheme{drm.SchemeCENS, drm.SchemeCBC1} {
		for _, c := range []struct {
			name string
			job  packager.Job
			want string
			is   error
		}{
			{"hls", packager.Job{}, "HLS with " + string(scheme), packager.ErrCombination},
			{"hls-only", packager.Job{Formats: packager.HLS}, "no method for " + string(scheme), packager.ErrCombination},
			{"ts", packager.Job{HLSSegmentType: packager.HLSSegmentTS}, "MPEG-TS segments and " + string(scheme), packager.ErrCombination},
			{"fairplay", packager.Job{Formats: packager.DASH, Encryption: &drm.Config{Scheme: scheme, Keys: keys, SignalingOptions: drm.SignalingOptions{Systems: []drm.System{drm.FairPlay}}}}, "FairPlay", drm.ErrUnsupportedScheme},
			{"playready", packager.Job{Formats: packager.DASH, Encryption: &drm.Config{Scheme: scheme, Keys: keys, SignalingOptions: drm.SignalingOptions{Systems: []drm.System{drm.PlayReady}}}}, "PlayReady", drm.ErrUnsupportedScheme},
			{"smooth", packager.Job{Formats: packager.Smooth}, "Smooth Streaming with " + string(scheme), packager.ErrCombination},
		} {
			t.Run(string(scheme)+"/"+c.name, func(t *testing.T) {
				dir := t.TempDir()
				job := c.job
				job.Inputs, job.Storage = ladderInputs()[:1], storage.Dir(dir)
				if job.Encryption == nil {
					job.Encryption = &drm.Config{Scheme: scheme, Keys: keys}
				}
				_, err := packager.Run(context.Background(), job)
				if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, c.is) {
					t.Fatalf("got %v, want an error naming %q wrapping %v", err, c.want, c.is)
				}
				if ents, _ := os.ReadDir(dir); len(ents) > 0 {
					t.Errorf("%d objects written", len(ents))
				}
			})
		}
	}
}

// goldenFile compares got with the golden file p (written with -update).
func goldenFile(t *testing.T, p string, got []byte) {
	t.Helper()
	if testutil.Update() {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file; regenerate with -update and review the diff", p)
	}
}

// checkSchemeInit checks the protection of an init segment: schm names
// scheme; tenc is version 1 with the 1:9 pattern for cens video (0:0 for
// audio) and version 0 for cbc1, with per-sample IVs (8 bytes for cens, as
// configured; 16 for cbc1) and no constant IV.
func checkSchemeInit(t *testing.T, p string, scheme drm.Scheme) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	f, err := mp4.DecodeFile(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	stsd := f.Init.Moov.Trak.Mdia.Minf.Stbl.Stsd
	var sinf *mp4.SinfBox
	video := false
	switch se := stsd.Children[0].(type) {
	case *mp4.VisualSampleEntryBox:
		sinf, video = se.Sinf, true
	case *mp4.AudioSampleEntryBox:
		sinf = se.Sinf
	}
	if sinf == nil || sinf.Schm == nil || sinf.Schi == nil || sinf.Schi.Tenc == nil {
		t.Fatalf("%s: no sinf/schm/tenc", p)
	}
	if sinf.Schm.SchemeType != string(scheme) {
		t.Fatalf("%s: schm %q, want %q", p, sinf.Schm.SchemeType, scheme)
	}
	tenc := sinf.Schi.Tenc
	want := "v0 0:0 iv16"
	switch {
	case scheme == drm.SchemeCENS && video:
		want = "v1 1:9 iv8"
	case scheme == drm.SchemeCENS:
		want = "v1 0:0 iv8"
	}
	got := fmt.Sprintf("v%d %d:%d iv%d", tenc.Version, tenc.DefaultCryptByteBlock, tenc.DefaultSkipByteBlock, tenc.DefaultPerSampleIVSize)
	if got != want || len(tenc.DefaultConstantIV) != 0 {
		t.Fatalf("%s: tenc %s constant IV %x, want %s and none", p, got, tenc.DefaultConstantIV, want)
	}
}

// mp4decryptPath returns Bento4's mp4decrypt, or "" without it.
func mp4decryptPath() string {
	if p := os.Getenv("CMAFKIT_MP4DECRYPT"); p != "" {
		return p
	}
	if p, err := exec.LookPath("mp4decrypt"); err == nil {
		return p
	}
	if st, err := os.Stat("/tmp/bento4-build/mp4decrypt"); err == nil && st.Mode().IsRegular() {
		return "/tmp/bento4-build/mp4decrypt"
	}
	return ""
}

// decryptRep concatenates the init segment and media segments of a
// representation, decrypts them with mp4decrypt and returns the samples.
func decryptRep(t *testing.T, tool, dir, rep string, keys ...drm.ContentKey) [][]byte {
	t.Helper()
	var all []byte
	for _, name := range repFiles(t, dir, rep) {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	tmp := t.TempDir()
	in, out := filepath.Join(tmp, "enc.mp4"), filepath.Join(tmp, "dec.mp4")
	if err := os.WriteFile(in, all, 0o644); err != nil {
		t.Fatal(err)
	}
	var args []string
	for _, k := range keys {
		args = append(args, "--key", fmt.Sprintf("%s:%x", k.KID.Hex(), k.Key.Secret()))
	}
	if msg, err := exec.Command(tool, append(args, in, out)...).CombinedOutput(); err != nil {
		t.Fatalf("mp4decrypt %s: %v: %s", rep, err, msg)
	}
	return repSamples(t, "", "", []string{out})
}

// repFiles lists the init segment and then the media segments of a
// representation in order.
func repFiles(t *testing.T, dir, rep string) []string {
	t.Helper()
	segs, _ := filepath.Glob(filepath.Join(dir, rep, "seg-*.m4s"))
	if len(segs) == 0 {
		t.Fatalf("%s: no segments", rep)
	}
	names := []string{filepath.Join(dir, rep, "init.mp4")}
	for i := 1; i <= len(segs); i++ {
		names = append(names, filepath.Join(dir, rep, fmt.Sprintf("seg-%d.m4s", i)))
	}
	return names
}

// repSamples returns the sample payloads of the files (default: the
// representation rep of dir), read as one fragmented MP4.
func repSamples(t *testing.T, dir, rep string, files []string) [][]byte {
	t.Helper()
	if files == nil {
		files = repFiles(t, dir, rep)
	}
	var all []byte
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	f, err := mp4.DecodeFile(bytes.NewReader(all))
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, seg := range f.Segments {
		for _, frag := range seg.Fragments {
			ss, err := frag.GetFullSamples(nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range ss {
				out = append(out, s.Data)
			}
		}
	}
	return out
}

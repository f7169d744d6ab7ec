package drm

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/Eyevinn/mp4ff/mp4"
)

// mp4decrypt returns the path of Bento4's mp4decrypt: $CMAFKIT_MP4DECRYPT,
// mp4decrypt on PATH, or the build of ../shared/tools/build-peers.sh in
// /tmp/bento4-build. The test is skipped without it (CI does not build
// Bento4).
func mp4decrypt(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CMAFKIT_MP4DECRYPT"); p != "" {
		return p
	}
	if p, err := exec.LookPath("mp4decrypt"); err == nil {
		return p
	}
	if p := "/tmp/bento4-build/mp4decrypt"; fileExists(p) {
		return p
	}
	t.Skip("Bento4 mp4decrypt not found (set CMAFKIT_MP4DECRYPT, or build it with shared/tools/build-peers.sh)")
	return ""
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// TestBento4Decrypts protects whole tracks with each scheme, writes them as
// one fragmented MP4 (init + fragments) and has Bento4's mp4decrypt, an
// implementation independent of ours, decrypt them: every sample must come
// back bit-exact, and the sample entry must be the clear codec again.
func TestBento4Decrypts(t *testing.T) {
	tool := mp4decrypt(t)
	ctx := context.Background()
	cases := []caseSpec{
		{"ladder_720p.mp4", "vide", "avc1"},
		{"ladder_720p.mp4", "soun", "mp4a"},
		{"hevc_ac3.mp4", "vide", "hvc1"},
		{"slices4.mp4", "vide", "avc1"}, // four slices a picture: four protected ranges a sample
	}
	for _, mc := range cases {
		ct := loadTrack(t, mc.file, mc.handler)
		for _, scheme := range []Scheme{SchemeCENC, SchemeCBCS, SchemeCENS, SchemeCBC1} {
			for _, iv := range []IV{nil, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 0xf0}} {
				if scheme == SchemeCBCS && iv == nil {
					continue // cbcs: constant IV of 16 bytes, random; the same code path
				}
				ivName := "random-iv"
				if iv != nil {
					ivName = "iv16"
				}
				name := fmt.Sprintf("%s/%s/%s/%s", mc.file, mc.codec, scheme, ivName)
				t.Run(name, func(t *testing.T) {
					if scheme == SchemeCENS && mc.file == "slices4.mp4" {
						// Bento4 1.6.0's AP4_PatternStreamCipher carries the
						// pattern position from one subsample to the next;
						// ISO/IEC 23001-7 §9.6.1 applies the pattern "over the
						// protected range of a Subsample" (a partial pattern
						// is truncated at its end), as GPAC's decrypter and
						// Shaka Packager do and so do we. Samples with one
						// protected range (one slice) agree either way.
						t.Skip("Bento4 continues the cens pattern across subsamples, against ISO/IEC 23001-7 §9.6.1")
					}
					if scheme == SchemeCBCS && mc.handler == "soun" {
						// cbcs audio has no senc (constant IV, whole samples),
						// and mp4decrypt 1.6.0 then leaves the samples as they are.
						t.Skip("mp4decrypt does not decrypt cbcs samples without sample auxiliary information")
					}
					bento4RoundTrip(ctx, t, tool, ct, mc, scheme, iv)
				})
			}
		}
	}
}

// protectedFile returns the track ct protected with scheme as one
// fragmented MP4 (init segment, then a fragment a segment), and the key.
// With scheme "" it is the same file left clear.
func protectedFile(ctx context.Context, t *testing.T, ct *clearTrack, mc caseSpec, scheme Scheme, iv IV) ([]byte, ContentKey) {
	t.Helper()
	key := videoKey
	if mc.handler == "soun" {
		key = audioKey
	}
	cfg := Config{Scheme: scheme, Keys: &StaticKeys{Default: []ContentKey{key}}, IV: iv,
		SignalingOptions: SignalingOptions{Systems: []System{Widevine, ClearKey}}}
	init := mp4.CreateEmptyInit()
	src := ct.init.Moov.Trak
	nt := init.AddEmptyTrack(src.Mdia.Mdhd.Timescale, map[string]string{"vide": "video", "soun": "audio"}[mc.handler], "und")
	nt.Mdia.Minf.Stbl.Stsd.AddChild(ct.entry)
	nt.Tkhd.Width, nt.Tkhd.Height = src.Tkhd.Width, src.Tkhd.Height
	var tp *TrackProtector
	if scheme != "" {
		var err error
		if tp, err = NewTrackProtector(ctx, cfg, init); err != nil {
			t.Fatal(err)
		}
		if err := tp.ProtectInit(init); err != nil {
			t.Fatal(err)
		}
	}
	var file bytes.Buffer
	file.Write(encodeInit(t, init))
	var seq uint32
	first := 0
	for si, seg := range ct.segments() {
		for _, f := range buildFragments(t, &seq, seg, 1) {
			if tp != nil {
				if err := tp.ProtectFragment(ctx, f, si, first); err != nil {
					t.Fatal(err)
				}
			}
			first += int(f.Moof.Traf.Trun.SampleCount())
			file.Write(encodeFragment(t, f))
		}
	}
	return file.Bytes(), key
}

func bento4RoundTrip(ctx context.Context, t *testing.T, tool string, ct *clearTrack, mc caseSpec, scheme Scheme, iv IV) {
	file, key := protectedFile(ctx, t, ct, mc, scheme, iv)
	dir := t.TempDir()
	in, out := filepath.Join(dir, "enc.mp4"), filepath.Join(dir, "dec.mp4")
	if err := os.WriteFile(in, file, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, tool, "--key", fmt.Sprintf("%s:%x", key.KID.Hex(), key.Key.Secret()), in, out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mp4decrypt: %v\n%s", err, msg)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := mp4.DecodeFile(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("decrypted file: %v", err)
	}
	if got := dec.Init.Moov.Trak.Mdia.Minf.Stbl.Stsd.Children[0].Type(); got != mc.codec {
		t.Fatalf("decrypted sample entry %q, want %q", got, mc.codec)
	}
	k := 0
	for _, seg := range dec.Segments {
		for _, f := range seg.Fragments {
			samples, err := f.GetFullSamples(nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range samples {
				if k >= len(ct.samples) {
					t.Fatalf("more than %d samples after decryption", len(ct.samples))
				}
				if !bytes.Equal(s.Data, ct.samples[k].Data) {
					t.Fatalf("sample %d of %d differs after mp4decrypt (%d bytes differ)", k+1, len(ct.samples), diffBytes(s.Data, ct.samples[k].Data))
				}
				k++
			}
		}
	}
	if k != len(ct.samples) {
		t.Fatalf("mp4decrypt gave %d samples, want %d", k, len(ct.samples))
	}
}

package live_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/cmafkit/cmafkit/drm"
	"github.com/cmafkit/cmafkit/drm/cpix"
	"github.com/cmafkit/cmafkit/internal/testutil"
	"github.com/cmafkit/cmafkit/live"
	"github.com/cmafkit/cmafkit/manifest"
	"github.com/cmafkit/cmafkit/segment"
	"github.com/cmafkit/cmafkit/storage"
)

// Test keys: KID:key pairs, used in turn under key rotation.
var liveKeys = []string{
	"00112233445566778899aabbccddeeff:0123456789abcdef0123456789abcdef",
	"ffeeddccbbaa99887766554433221100:fedcba9876543210fedcba9876543210",
}

// encryptedChannel replays testdata/ladder_360p.mp4 as fast as possible
// through a channel with cfg, in sessions publishing sessions one after the
// other (each a new period), and returns the output directory, the last
// presentation and everything the channel logged.
func encryptedChannel(t *testing.T, cfg *drm.Config, sessions int) (string, *manifest.Presentation, string) {
	t.Helper()
	ctx := context.Background()
	src, err := segment.OpenFile(ctx, "../testdata/ladder_360p.mp4", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dir := t.TempDir()
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg.Logger = logger
	var events []string
	ch := &live.Channel{Storage: storage.Dir(dir), Window: -1, Encryption: cfg, Logger: logger,
		OnEvent: func(e live.Event) {
			events = append(events, e.Kind.String(), e.Representation, e.Key, e.Segment.URI, errString(e.Err))
		}}
	for i := range sessions {
		pub, err := ch.Publish(ctx, "enc")
		if err != nil {
			t.Fatal(err)
		}
		// Each session restarts at 0: a timestamp reset.
		if err := live.Replay(ctx, src.Tracks, pub, live.ReplayOptions{}); err != nil {
			t.Fatalf("session %d: %v", i, err)
		}
		pub.Close(nil)
	}
	if err := ch.Close(ctx); err != nil {
		t.Fatal(err)
	}
	p := ch.Presentation()
	if p == nil {
		t.Fatal("nothing packaged")
	}
	if s := ch.Stats(); s.Errors > 0 {
		t.Fatalf("%d errors; log:\n%s", s.Errors, logs.String())
	}
	return dir, p, logs.String() + strings.Join(events, " ")
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func staticKeys(t *testing.T, pairs ...string) *drm.StaticKeys {
	t.Helper()
	keys, err := drm.ParseKeyPairs(strings.Join(pairs, ","))
	if err != nil {
		t.Fatal(err)
	}
	return &drm.StaticKeys{Default: keys}
}

// decrypt decrypts an init segment and media segments with mp4ff's
// decryptor, segs[i] with the AES key (hex) keys[i], or keys[0] when there
// is one, and returns the name of a file holding them decrypted, one after
// the other.
func decrypt(t *testing.T, keys []string, init string, segs ...string) string {
	t.Helper()
	f, err := mp4.ReadMP4File(init)
	if err != nil || f.Init == nil {
		t.Fatalf("%s: %v", init, err)
	}
	di, err := mp4.DecryptInit(f.Init)
	if err != nil {
		t.Fatalf("%s: %v", init, err)
	}
	var out bytes.Buffer
	if err := f.Init.Encode(&out); err != nil {
		t.Fatal(err)
	}
	for i, name := range segs {
		k := keys[0]
		if len(keys) > 1 {
			k = keys[i]
		}
		key, err := hex.DecodeString(k)
		if err != nil {
			t.Fatal(err)
		}
		sf, err := mp4.ReadMP4File(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, seg := range sf.Segments {
			if err := mp4.DecryptSegment(seg, di, key); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if err := seg.Encode(&out); err != nil {
				t.Fatal(err)
			}
		}
	}
	cat := filepath.Join(t.TempDir(), "clear.mp4")
	if err := os.WriteFile(cat, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return cat
}

// decodeErrors returns what ffmpeg reports decoding name (empty: no error).
func decodeErrors(t *testing.T, name string) string {
	t.Helper()
	out, _ := exec.Command("ffmpeg", "-v", "error", "-i", name, "-f", "null", "-").CombinedOutput()
	return string(bytes.TrimSpace(out))
}

// checkNoKeys fails if a key's hex or base64 appears in any stored object
// or in what the channel logged and reported.
func checkNoKeys(t *testing.T, dir, logs string) {
	t.Helper()
	var secrets []string
	for _, p := range liveKeys {
		k := strings.Split(p, ":")[1]
		key, _ := drm.ParseKey(k)
		secrets = append(secrets, k, strings.ToUpper(k), key.String())
		if b, err := hex.DecodeString(k); err == nil {
			secrets = append(secrets, string(b))
		}
	}
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := os.ReadFile(path)
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s contains a content key", path)
			}
		}
		return nil
	})
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("the logs contain a content key:\n%s", logs)
		}
	}
}

// TestLiveEncryption packages a live stream with cenc and cbcs and checks
// that the segments are protected (encv/enca init segments, encrypted
// samples that do not decode in the clear), decrypt with the key to every
// frame of the source, and that the manifests signal the key while no key
// appears in any object or log.
func TestLiveEncryption(t *testing.T) {
	ffprobe := testutil.NeedTool(t, "ffprobe")
	for _, scheme := range []drm.Scheme{drm.SchemeCENC, drm.SchemeCBCS} {
		t.Run(string(scheme), func(t *testing.T) {
			dir, p, logs := encryptedChannel(t, &drm.Config{Scheme: scheme, Keys: staticKeys(t, liveKeys[0])}, 1)
			checkNoKeys(t, dir, logs)
			mpd, _ := os.ReadFile(filepath.Join(dir, live.DASHName))
			if !bytes.Contains(mpd, []byte(`cenc:default_KID="00112233-4455-6677-8899-aabbccddeeff"`)) ||
				!bytes.Contains(mpd, []byte(`value="`+string(scheme)+`"`)) {
				t.Errorf("MPD does not signal %s with the KID:\n%s", scheme, mpd)
			}
			testutil.ValidateMPD(t, filepath.Join(dir, live.DASHName))
			hlsMedia, _ := os.ReadFile(filepath.Join(dir, "video0.m3u8"))
			if !bytes.Contains(hlsMedia, []byte("#EXT-X-KEY:METHOD=SAMPLE-AES")) {
				t.Errorf("HLS media playlist has no key:\n%s", hlsMedia)
			}
			src := map[bool]int{true: 240, false: 376} // video frames, audio frames (see FFmpegDecode)
			for _, set := range p.Periods[0].Sets {
				for _, r := range set.Representations {
					files := []string{filepath.Join(dir, r.Init.URI)}
					for _, s := range r.Segments {
						files = append(files, filepath.Join(dir, s.URI))
					}
					checkProtectedInit(t, files[0], scheme)
					if msg := decodeErrors(t, files[1]); msg == "" {
						t.Errorf("%s: %s decodes without the key", r.ID, files[1])
					}
					n := countFrames(t, ffprobe, decrypt(t, []string{strings.Split(liveKeys[0], ":")[1]}, files[0], files[1:]...))
					if video := r.Width > 0; n < src[video]-1 || n > src[video] {
						t.Errorf("%s: %d frames decrypted and decoded, want %d", r.ID, n, src[video])
					}
				}
			}
		})
	}
}

// checkProtectedInit checks that an init segment's sample entry is encv or
// enca with a tenc of the scheme.
func checkProtectedInit(t *testing.T, name string, scheme drm.Scheme) {
	t.Helper()
	f, err := mp4.ReadMP4File(name)
	if err != nil {
		t.Fatal(err)
	}
	if f.Init == nil {
		t.Fatalf("%s: no init segment", name)
	}
	se := f.Init.Moov.Trak.Mdia.Minf.Stbl.Stsd.Children[0]
	if typ := se.Type(); typ != "encv" && typ != "enca" {
		t.Fatalf("%s: sample entry %s, want encv/enca", name, typ)
	}
	var sinf *mp4.SinfBox
	switch e := se.(type) {
	case *mp4.VisualSampleEntryBox:
		sinf = e.Sinf
	case *mp4.AudioSampleEntryBox:
		sinf = e.Sinf
	}
	if sinf == nil || sinf.Schm == nil || sinf.Schm.SchemeType != string(scheme) {
		t.Fatalf("%s: no sinf with scheme %s", name, scheme)
	}
}

// TestLiveKeyRotation rotates two keys every segment across two publisher
// sessions (the second a new period with timestamps reset): each segment
// decrypts with its crypto period's key and not with the other, crypto
// periods run on across the period boundary, the HLS playlists name each
// period's key where it starts, and the MPD names no key for the whole
// stream (players take the keys from the moofs' pssh boxes).
func TestLiveKeyRotation(t *testing.T) {
	ffprobe := testutil.NeedTool(t, "ffprobe")
	dir, p, logs := encryptedChannel(t, &drm.Config{Scheme: drm.SchemeCENC, CryptoPeriod: 1, Keys: staticKeys(t, liveKeys...)}, 2)
	checkNoKeys(t, dir, logs)
	if len(p.Periods) != 2 {
		t.Fatalf("%d periods, want 2", len(p.Periods))
	}
	mpd, _ := os.ReadFile(filepath.Join(dir, live.DASHName))
	if bytes.Contains(mpd, []byte("default_KID")) {
		t.Errorf("MPD names a default KID under key rotation:\n%s", mpd)
	}
	testutil.ValidateMPD(t, filepath.Join(dir, live.DASHName))
	pl, _ := os.ReadFile(filepath.Join(dir, "video0.m3u8"))
	keys := 0
	for _, line := range strings.Split(string(pl), "\n") {
		if strings.HasPrefix(line, "#EXT-X-KEY:") {
			keys++
		}
	}
	segs := strings.Count(string(pl), "#EXTINF")
	if keys < segs {
		t.Errorf("%d EXT-X-KEY lines for %d segments rotating keys every segment:\n%s", keys, segs, pl)
	}
	// Each period's video segments decrypted with their crypto
	// periods' keys decode to every frame (a segment encrypted with
	// another key would not decode); with the keys swapped they do not.
	total := 0
	for _, per := range p.Periods {
		for _, set := range per.Sets {
			if set.ContentType != segment.KindVideo {
				continue
			}
			r := set.Representations[0]
			var segs, right, wrong []string
			for _, s := range r.Segments {
				total++
				segs = append(segs, filepath.Join(dir, s.URI))
				right = append(right, strings.Split(liveKeys[(s.Number-1)%2], ":")[1])
				wrong = append(wrong, strings.Split(liveKeys[s.Number%2], ":")[1])
			}
			init := filepath.Join(dir, r.Init.URI)
			if n := countFrames(t, ffprobe, decrypt(t, right, init, segs...)); n != 240 {
				t.Errorf("period %s: %d frames decrypted with the periods' keys, want 240", per.ID, n)
			}
			if decodeErrors(t, decrypt(t, wrong, init, segs...)) == "" {
				t.Errorf("period %s decodes with the keys swapped", per.ID)
			}
		}
	}
	if total < 6 {
		t.Errorf("%d video segments, want several per period", total)
	}
}

// TestLiveFixedIVRunsOn packages two sessions (two periods) with a fixed
// cenc IV: the second period's samples must not reuse the first's IVs
// (the same key and IV would reuse the AES-CTR keystream), so the sample
// numbers IVs derive from run on across periods.
func TestLiveFixedIVRunsOn(t *testing.T) {
	iv, _ := drm.ParseIV("0102030405060708")
	dir, p, _ := encryptedChannel(t, &drm.Config{Scheme: drm.SchemeCENC, IV: iv, Keys: &drm.StaticKeys{
		ByClass: map[drm.TrackClass][]drm.ContentKey{drm.ClassAudio: staticKeys(t, liveKeys[1]).Default},
		Default: staticKeys(t, liveKeys[0]).Default}}, 2)
	seen := map[string]string{}
	for _, per := range p.Periods {
		for _, set := range per.Sets {
			r := set.Representations[0]
			for _, s := range r.Segments {
				f, err := mp4.ReadMP4File(filepath.Join(dir, s.URI))
				if err != nil {
					t.Fatal(err)
				}
				for _, frag := range f.Segments[0].Fragments {
					senc := frag.Moof.Traf.Senc
					if senc == nil {
						t.Fatalf("%s: no senc", s.URI)
					}
					if senc.ReadButNotParsed() {
						if err := senc.ParseReadBox(8, frag.Moof.Traf.Saiz); err != nil {
							t.Fatal(err)
						}
					}
					for i, smp := range senc.IVs {
						k := r.ID + " " + hex.EncodeToString(smp)
						if other, ok := seen[k]; ok {
							t.Fatalf("%s sample %d reuses the IV of %s", s.URI, i, other)
						}
						seen[k] = s.URI
					}
				}
			}
		}
	}
}

// TestLiveEncryptionRefused: an unusable configuration refuses publishers,
// and a track whose key cannot be fetched is refused when declared, before
// anything is written in the clear.
func TestLiveEncryptionRefused(t *testing.T) {
	ctx := context.Background()
	ch := &live.Channel{Storage: storage.Dir(t.TempDir()), Encryption: &drm.Config{Scheme: drm.SchemeCENC}}
	if _, err := ch.Publish(ctx, "k"); !errors.Is(err, drm.ErrNoKey) {
		t.Errorf("Publish with a config without keys: %v, want drm.ErrNoKey", err)
	}
	src, err := segment.OpenFile(ctx, "../testdata/ladder_360p.mp4", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dir := t.TempDir()
	// Keys for audio only: the video track has none.
	ch = &live.Channel{Storage: storage.Dir(dir), Encryption: &drm.Config{Scheme: drm.SchemeCBCS,
		Keys: &drm.StaticKeys{ByClass: map[drm.TrackClass][]drm.ContentKey{drm.ClassAudio: staticKeys(t, liveKeys[1]).Default}}}}
	pub, err := ch.Publish(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if err := live.Replay(ctx, src.Tracks, pub, live.ReplayOptions{}); !errors.Is(err, drm.ErrNoKey) {
		t.Errorf("Replay without a video key: %v, want drm.ErrNoKey", err)
	}
	pub.Close(nil)
	ch.Close(ctx)
	if ents, _ := os.ReadDir(dir); len(ents) > 0 {
		t.Errorf("objects written: %v", ents)
	}
}

// TestLiveCPIXRotation takes the keys of two crypto periods from a CPIX
// document (rotating every two segments): each segment decrypts with its
// period's key, and the HLS playlist names both KIDs.
func TestLiveCPIXRotation(t *testing.T) {
	ffprobe := testutil.NeedTool(t, "ffprobe")
	doc, err := cpix.ReadFile("../drm/cpix/testdata/rotation.xml")
	if err != nil {
		t.Fatal(err)
	}
	dir, p, _ := encryptedChannel(t, &drm.Config{Scheme: drm.SchemeCBCS, CryptoPeriod: 2, Keys: doc}, 1)
	pl, _ := os.ReadFile(filepath.Join(dir, "video0.m3u8"))
	// ClearKey's key URI carries the KID in base64.
	for _, kid := range []string{"EREREREREREREREREREREQ==", "MzMzMzMzMzMzMzMzMzMzMw=="} {
		if !strings.Contains(string(pl), kid) {
			t.Errorf("no key %s in\n%s", kid, pl)
		}
	}
	keys := []string{"00112233445566778899aabbccddeeff", "0f0e0d0c0b0a09080706050403020100"}
	for _, set := range p.Periods[0].Sets {
		r := set.Representations[0]
		if len(r.Segments) != 4 {
			t.Fatalf("%s: %d segments, want 4", r.ID, len(r.Segments))
		}
		var segs, periodKeys []string
		for _, s := range r.Segments {
			segs = append(segs, filepath.Join(dir, s.URI))
			periodKeys = append(periodKeys, keys[(s.Number-1)/2])
		}
		if n := countFrames(t, ffprobe, decrypt(t, periodKeys, filepath.Join(dir, r.Init.URI), segs...)); n < 240 {
			t.Errorf("%s: %d frames decoded with the periods' keys", r.ID, n)
		}
	}
}

package packager_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/cmafkit/cmafkit/drm"
	"github.com/cmafkit/cmafkit/packager"
	"github.com/cmafkit/cmafkit/segment"
	"github.com/cmafkit/cmafkit/storage"
)

// TestProtectWithRotation packages the ladder with a new key every segment
// and checks the manifests' signalling of each crypto period (the players
// play it in TestEncryptedPlayers).
func TestProtectWithRotation(t *testing.T) {
	var keys []drm.ContentKey
	for p := range 4 {
		key, err := drm.ParseKey(fmt.Sprintf("%032x", p+1))
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, drm.ContentKey{KID: drm.MustParseKID(fmt.Sprintf("%032x", 0xa0+p)), Key: key})
	}
	for _, scheme := range []drm.Scheme{drm.SchemeCENC, drm.SchemeCBCS} {
		t.Run(string(scheme), func(t *testing.T) {
			protect, err := packager.ProtectWith(drm.Config{Scheme: scheme, Keys: &drm.StaticKeys{Default: keys}, CryptoPeriod: 1,
				SignalingOptions: drm.SignalingOptions{Systems: []drm.System{drm.ClearKey, drm.Widevine}}})
			if err != nil {
				t.Fatal(err)
			}
			dir := runJob(t, packager.Job{Inputs: ladderInputs(), Protect: protect, Formats: packager.HLS | packager.DASH})
			checkRotation(t, dir, keys)
		})
	}
	// A provider without a key for a later period fails the job, naming it.
	protect, err := packager.ProtectWith(drm.Config{Scheme: drm.SchemeCENC, Keys: periodLimited{keys[:2]}, CryptoPeriod: 1})
	if err != nil {
		t.Fatal(err)
	}
	job := packager.Job{Inputs: ladderInputs(), Protect: protect, Storage: storage.Dir(t.TempDir()), SegmentDuration: 2 * time.Second}
	if _, err := packager.Run(t.Context(), job); !errors.Is(err, drm.ErrNoKey) {
		t.Fatalf("Run with keys for 2 of 4 periods: %v, want drm.ErrNoKey", err)
	}
}

// periodLimited serves keys for its first len(keys) crypto periods only.
type periodLimited struct{ keys []drm.ContentKey }

func (p periodLimited) ContentKey(ctx context.Context, req drm.KeyRequest) (drm.ContentKey, error) {
	if req.Period >= len(p.keys) {
		return drm.ContentKey{}, fmt.Errorf("period %d: %w", req.Period, drm.ErrNoKey)
	}
	return p.keys[req.Period], nil
}

// ladderTracks opens the ladder's inputs under the given names (the packager
// names tracks by their input path) and returns video 720p, audio (720p
// input), video 360p and audio (360p input) with their clear init segments.
func ladderTracks(t *testing.T, names ...string) ([]*segment.Track, []*mp4.InitSegment) {
	t.Helper()
	var tracks []*segment.Track
	var inits []*mp4.InitSegment
	for i, p := range []string{"../testdata/ladder_720p.mp4", "../testdata/ladder_360p.mp4"} {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		st, err := f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		src, err := segment.Open(t.Context(), f, st.Size(), names[i], nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(src.Tracks) != 2 || src.Tracks[0].Kind != segment.KindVideo || src.Tracks[1].Kind != segment.KindAudio {
			t.Fatalf("%s: tracks %v, want video and audio", p, src.Tracks)
		}
		for _, tr := range src.Tracks {
			init, err := segment.BuildInit(tr)
			if err != nil {
				t.Fatal(err)
			}
			tracks, inits = append(tracks, tr), append(inits, init)
		}
	}
	return tracks, inits
}

// TestProtectWithRefusesSharedCENCIV: with cenc, two tracks may not encrypt
// with the same key and the same fixed IV (Config.IV or the key's own IV):
// that reuses the AES-CTR keystream. cbcs, random IVs and a key per track
// are accepted.
func TestProtectWithRefusesSharedCENCIV(t *testing.T) {
	ctx := t.Context()
	tracks, inits := ladderTracks(t, "ladder_720p.mp4", "ladder_360p.mp4")
	ck := func(kid string, iv drm.IV) drm.ContentKey {
		key, err := drm.ParseKey("0123456789abcdef0123456789abcdef")
		if err != nil {
			t.Fatal(err)
		}
		return drm.ContentKey{KID: drm.MustParseKID(kid), Key: key, IV: iv}
	}
	const kid = "00112233445566778899aabbccddeeff"
	iv8, iv16 := mustIV(t, "0011223344556677"), mustIV(t, "00112233445566778899aabbccddeeff")
	shared := &drm.StaticKeys{Default: []drm.ContentKey{ck(kid, nil)}}
	byClass := &drm.StaticKeys{ByClass: map[drm.TrackClass][]drm.ContentKey{
		drm.ClassHD: {ck("000000000000000000000000000000a1", nil)}, drm.ClassSD: {ck("000000000000000000000000000000a2", nil)},
		drm.ClassAudio: {ck("000000000000000000000000000000a3", nil)}}}
	for _, c := range []struct {
		name   string
		cfg    drm.Config
		tracks []int // indexes into tracks, protected in this order
		refuse int   // index into c.tracks of the first refused track; -1: none
		keyIV  bool
	}{
		{"cenc/8-byte IV/audio and video share a key", drm.Config{Scheme: drm.SchemeCENC, IV: iv8, Keys: shared}, []int{0, 1}, 1, false},
		{"cenc/16-byte IV/two renditions share a key", drm.Config{Scheme: drm.SchemeCENC, IV: iv16, Keys: shared}, []int{2, 0}, 1, false},
		{"cenc/the key's own IV", drm.Config{Scheme: drm.SchemeCENC, Keys: &drm.StaticKeys{Default: []drm.ContentKey{ck(kid, iv8)}}}, []int{1, 3}, 1, true},
		{"cenc/renditions of one key class", drm.Config{Scheme: drm.SchemeCENC, IV: iv8, Keys: byClass,
			Thresholds: drm.Thresholds{HDMinPixels: 1 << 30}}, []int{1, 0, 2}, 2, false},
		{"cenc/a key per class", drm.Config{Scheme: drm.SchemeCENC, IV: iv8, Keys: byClass}, []int{0, 1, 2}, -1, false},
		{"cenc/the same track again", drm.Config{Scheme: drm.SchemeCENC, IV: iv8, Keys: shared}, []int{0, 0}, -1, false},
		{"cenc/random IVs", drm.Config{Scheme: drm.SchemeCENC, Keys: shared}, []int{0, 1, 2, 3}, -1, false},
		{"cenc/key IV of the wrong size is not used", drm.Config{Scheme: drm.SchemeCENC, Keys: &drm.StaticKeys{Default: []drm.ContentKey{ck(kid, drm.IV{1, 2, 3})}}}, []int{0, 1}, -1, false},
		{"cbcs/constant IV", drm.Config{Scheme: drm.SchemeCBCS, IV: iv16, Keys: shared}, []int{0, 1, 2, 3}, -1, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			protect, err := packager.ProtectWith(c.cfg)
			if err != nil {
				t.Fatal(err)
			}
			for i, ti := range c.tracks {
				prot, info, err := protect(ctx, tracks[ti], inits[ti])
				if c.refuse < 0 || i < c.refuse {
					if err != nil || prot == nil || info == nil {
						t.Fatalf("%s: protector %v, info %v, error %v; want it protected", tracks[ti], prot, info, err)
					}
					continue
				}
				var e *packager.IVReuseError
				if !errors.Is(err, packager.ErrIVReuse) || !errors.As(err, &e) {
					t.Fatalf("%s: error %v, want packager.ErrIVReuse", tracks[ti], err)
				}
				first := tracks[c.tracks[0]]
				if c.name == "cenc/renditions of one key class" {
					first = tracks[c.tracks[1]] // the 720p video, also SD here
				}
				if e.Track != tracks[ti].String() || e.Other != first.String() || e.Period != 0 || e.KeyIV != c.keyIV {
					t.Errorf("error %+v, want track %q, other %q, period 0, key IV %v", e, tracks[ti], first, c.keyIV)
				}
				want := []string{tracks[ti].String(), first.String(), e.KID.String(), "each track its own key"}
				if c.keyIV {
					want = append(want, "explicit IV")
				} else {
					want = append(want, "--iv")
				}
				for _, w := range want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not mention %q", err, w)
					}
				}
				return
			}
		})
	}

	// Tracks of inputs without a name cannot be told apart, so each call is
	// another track: even the same track again is refused.
	unnamed, unnamedInits := ladderTracks(t, "", "")
	protect, err := packager.ProtectWith(drm.Config{Scheme: drm.SchemeCENC, IV: iv8, Keys: shared})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := protect(ctx, unnamed[0], unnamedInits[0]); err != nil {
		t.Fatal(err)
	}
	if _, _, err := protect(ctx, unnamed[0], unnamedInits[0]); !errors.Is(err, packager.ErrIVReuse) {
		t.Errorf("unnamed input protected twice: %v, want packager.ErrIVReuse", err)
	}
}

// rotationKeys gives every class its own first key and one shared key for
// every later crypto period.
type rotationKeys struct {
	first, later map[drm.TrackClass]drm.ContentKey
}

func (r rotationKeys) ContentKey(ctx context.Context, req drm.KeyRequest) (drm.ContentKey, error) {
	m := r.first
	if req.Period > 0 {
		m = r.later
	}
	k, ok := m[req.Class]
	if !ok {
		return drm.ContentKey{}, fmt.Errorf("class %s: %w", req.Class, drm.ErrNoKey)
	}
	return k, nil
}

// TestProtectWithRotationIVReuse: with key rotation the fixed IV applies to
// every crypto period, so two tracks whose later periods share a key are
// refused when the second one reaches that period.
func TestProtectWithRotationIVReuse(t *testing.T) {
	ctx := t.Context()
	tracks, inits := ladderTracks(t, "ladder_720p.mp4", "ladder_360p.mp4")
	key := func(s string) drm.Key {
		k, err := drm.ParseKey(s)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	later := drm.ContentKey{KID: drm.MustParseKID("000000000000000000000000000000b0"), Key: key("000102030405060708090a0b0c0d0e0f")}
	keys := rotationKeys{
		first: map[drm.TrackClass]drm.ContentKey{
			drm.ClassHD:    {KID: drm.MustParseKID("000000000000000000000000000000b1"), Key: key("101112131415161718191a1b1c1d1e1f")},
			drm.ClassAudio: {KID: drm.MustParseKID("000000000000000000000000000000b2"), Key: key("202122232425262728292a2b2c2d2e2f")},
		},
		later: map[drm.TrackClass]drm.ContentKey{drm.ClassHD: later, drm.ClassAudio: later},
	}
	type signaler interface {
		Signaling(ctx context.Context, period int) (drm.Signaling, error)
	}
	for _, iv := range []drm.IV{nil, mustIV(t, "0011223344556677")} {
		protect, err := packager.ProtectWith(drm.Config{Scheme: drm.SchemeCENC, IV: iv, Keys: keys, CryptoPeriod: 1})
		if err != nil {
			t.Fatal(err)
		}
		var sigs []signaler
		for _, i := range []int{0, 1} {
			prot, _, err := protect(ctx, tracks[i], inits[i])
			if err != nil {
				t.Fatalf("IV %v: %s: %v (its first key is its own)", iv, tracks[i], err)
			}
			s, ok := prot.(signaler)
			if !ok {
				t.Fatalf("protector %T has no Signaling", prot)
			}
			sigs = append(sigs, s)
		}
		if _, err := sigs[0].Signaling(ctx, 1); err != nil {
			t.Fatalf("IV %v: %s period 1: %v", iv, tracks[0], err)
		}
		_, err = sigs[1].Signaling(ctx, 1)
		if iv == nil {
			if err != nil {
				t.Errorf("random IVs: %s period 1: %v", tracks[1], err)
			}
			continue
		}
		var e *packager.IVReuseError
		if !errors.As(err, &e) || !errors.Is(err, packager.ErrIVReuse) {
			t.Fatalf("fixed IV: %s period 1: %v, want packager.ErrIVReuse", tracks[1], err)
		}
		if e.Period != 1 || e.KID != later.KID || e.Track != tracks[1].String() || e.Other != tracks[0].String() {
			t.Errorf("error %+v, want period 1, KID %s, track %q, other %q", e, later.KID, tracks[1], tracks[0])
		}
	}
}

// TestRunRefusesSharedCENCIV: a job whose tracks share a key and a fixed
// cenc IV fails with packager.ErrIVReuse and writes no manifest.
func TestRunRefusesSharedCENCIV(t *testing.T) {
	key, err := drm.ParseKey("0123456789abcdef0123456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	protect, err := packager.ProtectWith(drm.Config{Scheme: drm.SchemeCENC, IV: mustIV(t, "0011223344556677"),
		Keys: &drm.StaticKeys{Default: []drm.ContentKey{{KID: drm.MustParseKID("00112233445566778899aabbccddeeff"), Key: key}}}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	_, err = packager.Run(t.Context(), packager.Job{Inputs: ladderInputs(), Protect: protect, Storage: storage.Dir(dir), SegmentDuration: 2 * time.Second})
	if !errors.Is(err, packager.ErrIVReuse) {
		t.Fatalf("Run = %v, want packager.ErrIVReuse", err)
	}
	for name := range storageFiles(t, dir) {
		if strings.HasSuffix(name, ".m3u8") || strings.HasSuffix(name, ".mpd") {
			t.Errorf("manifest %s written by a refused job", name)
		}
	}
}

package drm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// sessionTracks returns video 720p, audio (720p file), video 360p and audio
// (360p file), with their TrackOptions.
func sessionTracks(t *testing.T) ([]*clearTrack, []TrackOptions) {
	var cts []*clearTrack
	var opts []TrackOptions
	for _, f := range []string{"ladder_720p.mp4", "ladder_360p.mp4"} {
		for i, h := range []string{"vide", "soun"} {
			ct := loadTrack(t, f, h)
			cts = append(cts, ct)
			opts = append(opts, TrackOptions{Name: ct.name, ID: fmt.Sprintf("%s/%d", f, i+1), Segments: 4})
		}
	}
	return cts, opts
}

// TestSessionRefusesSharedCENCIV: with cenc, two tracks may not encrypt
// with the same key and the same fixed IV (Config.IV or the key's own IV):
// that reuses the AES-CTR keystream. cbcs, random IVs and a key per track
// are accepted.
func TestSessionRefusesSharedCENCIV(t *testing.T) {
	ctx := t.Context()
	cts, opts := sessionTracks(t)
	ck := func(kid string, iv IV) ContentKey {
		return ContentKey{KID: MustParseKID(kid), Key: mustKey("0123456789abcdef0123456789abcdef"), IV: iv}
	}
	const kid = "00112233445566778899aabbccddeeff"
	iv8, iv16 := IV{0, 1, 2, 3, 4, 5, 6, 7}, IV{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	shared := &StaticKeys{Default: []ContentKey{ck(kid, nil)}}
	byClass := &StaticKeys{ByClass: map[TrackClass][]ContentKey{
		ClassHD: {ck("000000000000000000000000000000a1", nil)}, ClassSD: {ck("000000000000000000000000000000a2", nil)},
		ClassAudio: {ck("000000000000000000000000000000a3", nil)}}}
	for _, c := range []struct {
		name   string
		cfg    Config
		tracks []int // indexes into cts, protected in this order
		refuse int   // index into c.tracks of the first refused track; -1: none
		keyIV  bool
	}{
		{"cenc/8-byte IV/audio and video share a key", Config{Scheme: SchemeCENC, IV: iv8, Keys: shared}, []int{0, 1}, 1, false},
		{"cenc/16-byte IV/two renditions share a key", Config{Scheme: SchemeCENC, IV: iv16, Keys: shared}, []int{2, 0}, 1, false},
		{"cenc/the key's own IV", Config{Scheme: SchemeCENC, Keys: &StaticKeys{Default: []ContentKey{ck(kid, iv8)}}}, []int{1, 3}, 1, true},
		{"cenc/renditions of one key class", Config{Scheme: SchemeCENC, IV: iv8, Keys: byClass,
			Thresholds: Thresholds{HDMinPixels: 1 << 30}}, []int{1, 0, 2}, 2, false},
		{"cenc/a key per class", Config{Scheme: SchemeCENC, IV: iv8, Keys: byClass}, []int{0, 1, 2}, -1, false},
		{"cenc/the same track again", Config{Scheme: SchemeCENC, IV: iv8, Keys: shared}, []int{0, 0}, -1, false},
		{"cenc/random IVs", Config{Scheme: SchemeCENC, Keys: shared}, []int{0, 1, 2, 3}, -1, false},
		{"cenc/key IV of the wrong size is not used", Config{Scheme: SchemeCENC, Keys: &StaticKeys{Default: []ContentKey{ck(kid, IV{1, 2, 3})}}}, []int{0, 1}, -1, false},
		{"cbcs/constant IV", Config{Scheme: SchemeCBCS, IV: iv16, Keys: shared}, []int{0, 1, 2, 3}, -1, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := NewSession(c.cfg)
			if err != nil {
				t.Fatal(err)
			}
			for i, ti := range c.tracks {
				tp, p, err := s.Track(ctx, cts[ti].init, opts[ti])
				if c.refuse < 0 || i < c.refuse {
					if err != nil || tp == nil || p == nil {
						t.Fatalf("%s: protector %v, protection %v, error %v; want it protected", opts[ti].Name, tp, p, err)
					}
					continue
				}
				var e *IVReuseError
				if !errors.Is(err, ErrIVReuse) || !errors.As(err, &e) {
					t.Fatalf("%s: error %v, want ErrIVReuse", opts[ti].Name, err)
				}
				first := opts[c.tracks[0]]
				if c.name == "cenc/renditions of one key class" {
					first = opts[c.tracks[1]] // the 720p video, also SD here
				}
				if e.Track != opts[ti].Name || e.Other != first.Name || e.Period != 0 || e.KeyIV != c.keyIV {
					t.Errorf("error %+v, want track %q, other %q, period 0, key IV %v", e, opts[ti].Name, first.Name, c.keyIV)
				}
				want := []string{opts[ti].Name, first.Name, e.KID.String(), "each track its own key"}
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

	// Tracks without an ID cannot be told apart, so each call is another
	// track: even the same track again is refused.
	s, err := NewSession(Config{Scheme: SchemeCENC, IV: iv8, Keys: shared})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Track(ctx, cts[0].init, TrackOptions{Name: "a"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Track(ctx, cts[0].init, TrackOptions{Name: "a"}); !errors.Is(err, ErrIVReuse) {
		t.Errorf("track without ID protected twice: %v, want ErrIVReuse", err)
	}
}

// rotationKeys gives every class its own first key and one shared key for
// every later crypto period.
type rotationKeys struct {
	first, later map[TrackClass]ContentKey
}

func (r rotationKeys) ContentKey(ctx context.Context, req KeyRequest) (ContentKey, error) {
	m := r.first
	if req.Period > 0 {
		m = r.later
	}
	k, ok := m[req.Class]
	if !ok {
		return ContentKey{}, fmt.Errorf("class %s: %w", req.Class, ErrNoKey)
	}
	return k, nil
}

// TestSessionRotationIVReuse: with key rotation the fixed IV applies to
// every crypto period, so two tracks whose later periods share a key are
// refused, naming the period, before either writes a segment.
func TestSessionRotationIVReuse(t *testing.T) {
	ctx := t.Context()
	cts, opts := sessionTracks(t)
	later := ContentKey{KID: MustParseKID("000000000000000000000000000000b0"), Key: mustKey("000102030405060708090a0b0c0d0e0f")}
	keys := rotationKeys{
		first: map[TrackClass]ContentKey{
			ClassHD:    {KID: MustParseKID("000000000000000000000000000000b1"), Key: mustKey("101112131415161718191a1b1c1d1e1f")},
			ClassAudio: {KID: MustParseKID("000000000000000000000000000000b2"), Key: mustKey("202122232425262728292a2b2c2d2e2f")},
		},
		later: map[TrackClass]ContentKey{ClassHD: later, ClassAudio: later},
	}
	for _, iv := range []IV{nil, {0, 1, 2, 3, 4, 5, 6, 7}} {
		s, err := NewSession(Config{Scheme: SchemeCENC, IV: iv, Keys: keys, CryptoPeriod: 1})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Track(ctx, cts[0].init, opts[0]); err != nil {
			t.Fatalf("IV %v: %s: %v", iv, opts[0].Name, err)
		}
		_, _, err = s.Track(ctx, cts[1].init, opts[1])
		if iv == nil {
			if err != nil {
				t.Errorf("random IVs: %s: %v", opts[1].Name, err)
			}
			continue
		}
		var e *IVReuseError
		if !errors.As(err, &e) || !errors.Is(err, ErrIVReuse) {
			t.Fatalf("fixed IV: %s: %v, want ErrIVReuse", opts[1].Name, err)
		}
		if e.Period != 1 || e.KID != later.KID || e.Track != opts[1].Name || e.Other != opts[0].Name || !strings.Contains(err.Error(), "crypto period 1") {
			t.Errorf("error %+v, want period 1, KID %s, track %q, other %q", e, later.KID, opts[1].Name, opts[0].Name)
		}
	}
}

// TestProtectionKeyPeriods: the key periods of key rotation are computed
// for the track's segments when the protection is asked for, and a
// provider without the key of a later period fails then, naming it.
func TestProtectionKeyPeriods(t *testing.T) {
	ctx := t.Context()
	ct := loadTrack(t, "ladder_720p.mp4", "vide")
	for _, c := range []struct {
		period, segments int
		first            []int
	}{{0, 5, nil}, {1, 4, []int{1, 2, 3}}, {2, 5, []int{2, 4}}, {2, 4, []int{2}}, {3, 1, nil}} {
		tp, err := NewTrackProtector(ctx, Config{Scheme: SchemeCBCS, Keys: &StaticKeys{Default: rotKeys}, CryptoPeriod: c.period,
			SignalingOptions: SignalingOptions{Systems: []System{Widevine, ClearKey}}}, ct.init)
		if err != nil {
			t.Fatal(err)
		}
		p, err := tp.Protection(ctx, c.segments)
		if err != nil {
			t.Fatal(err)
		}
		if p.DefaultKID != rotKeys[0].KID || len(p.KeyPeriods) != len(c.first) || p.Validate() != nil {
			t.Fatalf("period %d, %d segments: %+v", c.period, c.segments, p)
		}
		for i, kp := range p.KeyPeriods {
			if kp.FirstSegment != c.first[i] || kp.KID != rotKeys[(i+1)%len(rotKeys)].KID || len(kp.Systems) != 2 {
				t.Errorf("period %d, %d segments: key period %d %+v", c.period, c.segments, i+1, kp)
			}
			// Widevine's pssh names the crypto period.
			wv, err := ParsePSSH(kp.Systems[0].PSSH)
			if err != nil {
				t.Fatal(err)
			}
			if fields, _ := decodeProtobuf(wv.Data); !hasField(fields, 7, uint64(i+1)) {
				t.Errorf("key period %d: Widevine pssh without crypto_period_index %d", i+1, i+1)
			}
		}
	}
	tp, err := NewTrackProtector(ctx, Config{Scheme: SchemeCENC, Keys: periodKeys(rotKeys[:2]), CryptoPeriod: 1}, ct.init)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tp.Protection(ctx, 4); !errors.Is(err, ErrNoKey) || !strings.Contains(err.Error(), "period 2") {
		t.Errorf("keys for 2 of 4 periods: %v, want ErrNoKey naming period 2", err)
	}
}

// periodKeys serves a key for its first len(keys) crypto periods only.
type periodKeys []ContentKey

func (p periodKeys) ContentKey(ctx context.Context, req KeyRequest) (ContentKey, error) {
	if req.Period >= len(p) {
		return ContentKey{}, fmt.Errorf("period %d: %w", req.Period, ErrNoKey)
	}
	return p[req.Period], nil
}

func hasField(fields []pbField, num int, v uint64) bool {
	for _, f := range fields {
		if f.num == num && f.wire == 0 && f.value == v {
			return true
		}
	}
	return false
}

// TestProtectionGolden keeps the Protection of a track with every DRM
// system as golden JSON, and checks what it holds independently.
func TestProtectionGolden(t *testing.T) {
	ctx := t.Context()
	ct := loadTrack(t, "ladder_720p.mp4", "vide")
	for _, scheme := range []Scheme{SchemeCBCS, SchemeCENC} {
		o := allSystemsOpts
		if scheme == SchemeCENC {
			o.Systems = []System{Widevine, PlayReady, ClearKey}
		}
		tp, err := NewTrackProtector(ctx, Config{Scheme: scheme, Keys: &StaticKeys{Default: []ContentKey{videoKey}}, SignalingOptions: o}, ct.init)
		if err != nil {
			t.Fatal(err)
		}
		p, err := tp.Protection(ctx, 4)
		if err != nil {
			t.Fatal(err)
		}
		j, _ := json.MarshalIndent(p, "", "  ")
		golden(t, "protection_"+string(scheme)+".json", append(j, '\n'))
		if p.Scheme != scheme || p.DefaultKID != videoKey.KID || len(p.KeyPeriods) != 0 || len(p.Systems) != len(o.Systems) {
			t.Fatalf("%+v", p)
		}
		for i, s := range p.Systems {
			// FairPlay, which DASH does not signal, comes last.
			if s.System == FairPlay && i != len(p.Systems)-1 {
				t.Errorf("FairPlay at %d of %d", i, len(p.Systems))
			}
			var box PSSH
			if s.System != FairPlay {
				if box, err = ParsePSSH(s.PSSH); err != nil || box.SystemID != s.System.SystemID() {
					t.Fatalf("%s pssh %+v: %v", s.System, box, err)
				}
			}
			switch s.System {
			case Widevine:
				fields, _ := decodeProtobuf(box.Data)
				if len(fields) != 4 { // key_id, provider, content_id, protection_scheme
					t.Errorf("widevine fields %+v", fields)
				}
			case PlayReady:
				if !bytes.Equal(s.PlayReadyObject, box.Data) || s.LicenseURL != o.PlayReadyLAURL {
					t.Errorf("PlayReady object or license URL %q", s.LicenseURL)
				}
				if _, wh := decodePRO(t, s.PlayReadyObject); wh.Data.LAURL != o.PlayReadyLAURL {
					t.Errorf("LA_URL %q", wh.Data.LAURL)
				}
			case FairPlay:
				if s.PSSH != nil || s.KeyURI != "skd://fps.example/"+videoKey.KID.Hex() {
					t.Errorf("fairplay %+v", s)
				}
			case ClearKey:
				if len(box.KIDs) != 1 || box.KIDs[0] != videoKey.KID || s.LicenseURL != o.ClearKeyLAURL {
					t.Errorf("clearkey %+v", s)
				}
			}
		}
	}
}

// serverKeys serves one key with a key server's signalling attached.
type serverKeys struct{ k ContentKey }

func (s serverKeys) ContentKey(context.Context, KeyRequest) (ContentKey, error) { return s.k, nil }

// TestProtectionKeyServerData: a key server's signalling (CPIX DRMSystem)
// is used as sent, in the init segment and in the Protection for the
// manifests; only what it leaves out is built.
func TestProtectionKeyServerData(t *testing.T) {
	ctx := t.Context()
	ct := loadTrack(t, "ladder_720p.mp4", "vide")
	wv, _ := PSSHBox(1, SystemIDWidevine, []KID{videoKey.KID}, []byte{0x12, 0x10, 1, 2, 3})
	hdr, _ := PlayReadyHeader{Keys: []PlayReadyKey{{KID: videoKey.KID}}, Scheme: SchemeCBCS, LAURL: "https://server.example/pr"}.XML()
	pr, _ := PSSHBox(0, SystemIDPlayReady, nil, PlayReadyObject(hdr))
	k := videoKey
	k.Systems = map[System]SystemData{
		Widevine:  {PSSH: wv, ContentProtectionData: "<cenc:pssh>x</cenc:pssh>", HLSSignalingMedia: "#EXT-X-KEY:A\n", HLSSignalingMaster: "#EXT-X-SESSION-KEY:A\n"},
		PlayReady: {PSSH: pr},
		FairPlay:  {URIExtXKey: "skd://server.example/abc", HLSSignalingMedia: "#EXT-X-KEY:F\n"},
	}
	cfg := Config{Scheme: SchemeCBCS, Keys: serverKeys{k}, SignalingOptions: SignalingOptions{
		Systems: []System{Widevine, PlayReady, FairPlay, ClearKey}, PlayReadyLAURL: "https://ours.example/pr", FairPlayURI: "skd://ours/{KID}"}}
	init := newInit(ct, ct.entry)
	tp, err := NewTrackProtector(ctx, cfg, init)
	if err != nil {
		t.Fatal(err)
	}
	p, err := tp.Protection(ctx, 4)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[System]SystemSignaling{}
	for _, s := range p.Systems {
		byName[s.System] = s
	}
	if s := byName[Widevine]; !bytes.Equal(s.PSSH, wv) || s.ContentProtectionData != "<cenc:pssh>x</cenc:pssh>" || s.HLSMedia != "#EXT-X-KEY:A\n" || s.HLSMultivariant != "#EXT-X-SESSION-KEY:A\n" {
		t.Errorf("Widevine %+v", s)
	}
	// The PlayReady Object is the key server's pssh data, whose LA_URL wins.
	if s := byName[PlayReady]; !bytes.Equal(s.PSSH, pr) || !bytes.Equal(s.PlayReadyObject, PlayReadyObject(hdr)) {
		t.Errorf("PlayReady %+v", s)
	}
	if s := byName[FairPlay]; s.KeyURI != "skd://server.example/abc" || s.HLSMedia != "#EXT-X-KEY:F\n" {
		t.Errorf("FairPlay %+v", s)
	}
	if s := byName[ClearKey]; !bytes.Equal(s.PSSH, ClearKeyPSSH([]KID{videoKey.KID})) {
		t.Errorf("ClearKey %+v", s)
	}
	// The init segment carries the key server's pssh boxes.
	if err := tp.ProtectInit(init); err != nil {
		t.Fatal(err)
	}
	var got [][]byte
	for _, b := range init.Moov.Psshs {
		var buf bytes.Buffer
		if err := b.Encode(&buf); err != nil {
			t.Fatal(err)
		}
		got = append(got, buf.Bytes())
	}
	if len(got) != 3 || !bytes.Equal(got[0], wv) || !bytes.Equal(got[1], pr) {
		t.Errorf("init pssh boxes %x", got)
	}
}

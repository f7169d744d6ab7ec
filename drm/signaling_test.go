package drm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cmafkit/cmafkit/internal/testutil"

	"github.com/Eyevinn/mp4ff/mp4"
)

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if testutil.Update() {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from golden:\n%s", name, got)
	}
}

var allSystemsOpts = SignalingOptions{
	Systems:          []System{Widevine, PlayReady, FairPlay, ClearKey},
	WidevineProvider: "cmafkit", WidevineContentID: []byte("asset-1"),
	PlayReadyLAURL: "https://pr.example/rightsmanager.asmx?cid=1&x=2",
	FairPlayURI:    "skd://fps.example/{KID}",
	ClearKeyLAURL:  "https://ck.example/license",
}

func TestTrackProtectorErrors(t *testing.T) {
	ctx := context.Background()
	ct := loadTrack(t, "ladder_720p.mp4", "vide")
	keys := &StaticKeys{Default: []ContentKey{videoKey}}
	var se *SchemeError
	// FairPlay with cenc.
	_, err := NewTrackProtector(ctx, Config{Scheme: SchemeCENC, Keys: keys, SignalingOptions: SignalingOptions{Systems: []System{FairPlay}}}, newInit(ct, ct.entry))
	if !errors.As(err, &se) || se.System != FairPlay || !errors.Is(err, ErrUnsupportedScheme) {
		t.Fatalf("FairPlay+cenc: %v", err)
	}
	// cbcs for a codec without subsample support (VP9).
	vp9 := &mp4.VisualSampleEntryBox{}
	vp9.SetType("vp09")
	_, err = NewTrackProtector(ctx, Config{Scheme: SchemeCBCS, Keys: keys}, newInit(ct, vp9))
	if !errors.As(err, &se) || se.Codec != "vp09" {
		t.Fatalf("cbcs+vp09: %v", err)
	}
	_, err = NewTrackProtector(ctx, Config{Scheme: SchemeCENC, Keys: keys}, newInit(ct, vp9))
	if !errors.Is(err, ErrUnsupportedCodec) {
		t.Fatalf("cenc+vp09: %v", err)
	}
	// Unknown scheme, no provider, provider without the class.
	if _, err := NewTrackProtector(ctx, Config{Scheme: "cbca", Keys: keys}, newInit(ct, ct.entry)); !errors.Is(err, ErrUnsupportedScheme) {
		t.Fatal(err)
	}
	// cens and cbc1: not with PlayReady or FairPlay, not for AV1, not for a
	// codec without subsamples (cens's pattern needs them).
	for _, s := range []Scheme{SchemeCENS, SchemeCBC1} {
		for _, sys := range []System{PlayReady, FairPlay} {
			_, err := NewTrackProtector(ctx, Config{Scheme: s, Keys: keys, SignalingOptions: SignalingOptions{Systems: []System{Widevine, sys}}}, newInit(ct, ct.entry))
			if !errors.As(err, &se) || se.System != sys || se.Scheme != s {
				t.Fatalf("%s+%s: %v", s, sys, err)
			}
		}
		av1 := &mp4.VisualSampleEntryBox{}
		av1.SetType("av01")
		_, err := NewTrackProtector(ctx, Config{Scheme: s, Keys: keys}, newInit(ct, av1))
		if !errors.As(err, &se) || se.Codec != "av01" || !strings.Contains(err.Error(), string(s)) {
			t.Fatalf("%s+av01: %v", s, err)
		}
	}
	if _, err = NewTrackProtector(ctx, Config{Scheme: SchemeCENS, Keys: keys}, newInit(ct, vp9)); !errors.As(err, &se) || se.Codec != "vp09" {
		t.Fatalf("cens+vp09: %v", err)
	}
	if err := (&Config{Scheme: SchemeCBC1, Keys: keys, IV: make(IV, 8)}).Validate(); err == nil {
		t.Fatal("cbc1 with an 8-byte IV accepted")
	}
	if _, err := NewTrackProtector(ctx, Config{Scheme: SchemeCBCS}, newInit(ct, ct.entry)); !errors.Is(err, ErrNoKey) {
		t.Fatal(err)
	}
	if _, err := NewTrackProtector(ctx, Config{Scheme: SchemeCBCS, Keys: &StaticKeys{ByClass: map[TrackClass][]ContentKey{ClassSD: {videoKey}}}}, newInit(ct, ct.entry)); !errors.Is(err, ErrNoKey) {
		t.Fatalf("720p is HD, only an SD key: %v", err)
	}
	// Fragment problems: wrong track, lazy mdat, double encryption.
	init := newInit(ct, ct.entry)
	tp, err := NewTrackProtector(ctx, Config{Scheme: SchemeCENC, Keys: keys}, init)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := mp4.CreateFragment(1, 7)
	if err := tp.ProtectFragment(ctx, f, 0, 0); !errors.Is(err, ErrMalformed) {
		t.Fatal(err)
	}
	var seq uint32
	f = buildFragments(t, &seq, ct.samples[:3], 1)[0]
	if err := tp.ProtectFragment(ctx, f, 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := tp.ProtectFragment(ctx, f, 0, 0); !errors.Is(err, ErrMalformed) {
		t.Fatalf("second encryption: %v", err)
	}
	lazy, _ := mp4.CreateFragment(2, 1)
	lazy.AddSample(ct.samples[0].Sample, 0)
	if err := tp.ProtectFragment(ctx, lazy, 0, 0); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("lazy mdat: %v", err)
	}
	// A truncated NAL unit is a SampleError naming the sample.
	bad := buildFragments(t, &seq, ct.samples[:2], 1)[0]
	bad.Mdat.Data[len(ct.samples[0].Data)+1] = 0xff
	var sErr *SampleError
	if err := tp.ProtectFragment(ctx, bad, 0, 0); !errors.As(err, &sErr) || sErr.Sample != 2 || !errors.Is(err, ErrMalformed) {
		t.Fatalf("bad NAL length: %v", err)
	}
}

// ExampleTrackProtector_ProtectFragment protects one fragment on its own, as
// a just-in-time origin does when a player asks for segment 6 first: the cenc
// IVs follow from the index of the fragment's first sample (240 here), so no
// earlier fragment has to be encrypted before it, and the bytes are those a
// run over the whole track writes.
func ExampleTrackProtector_ProtectFragment() {
	ctx := context.Background()
	kid := MustParseKID("10000000-1000-1000-1000-100000000001")
	key, _ := ParseKey("3a2a1b68dd2bd9b2eeb25e84c4776668")
	init := mp4.CreateEmptyInit()
	trak := init.AddEmptyTrack(48000, "audio", "und")
	trak.Mdia.Minf.Stbl.Stsd.AddChild(mp4.CreateAudioSampleEntryBox("mp4a", 2, 16, 48000, nil))
	tp, err := NewTrackProtector(ctx, Config{
		Scheme: SchemeCENC,
		Keys:   &StaticKeys{Default: []ContentKey{{KID: kid, Key: key}}},
		IV:     IV{1, 2, 3, 4, 5, 6, 7, 8}, // the IV of the track's first sample
	}, init)
	if err != nil {
		fmt.Println(err)
		return
	}
	f, _ := mp4.CreateFragment(6, 1)
	for range 3 {
		f.AddFullSample(mp4.FullSample{Sample: mp4.Sample{Dur: 1024, Size: 40}, Data: make([]byte, 40)})
	}
	if err := tp.ProtectFragment(ctx, f, 5, 240); err != nil {
		fmt.Println(err)
		return
	}
	for _, iv := range f.Moof.Traf.Senc.IVs {
		fmt.Printf("%x\n", []byte(iv))
	}
	// Output:
	// 01020304050607f8
	// 01020304050607f9
	// 01020304050607fa
}

// ExampleTrackProtector shows the integration: protect the init segment,
// then each fragment, and describe the protection for the manifests.
func ExampleTrackProtector() {
	ctx := context.Background()
	kid := MustParseKID("10000000-1000-1000-1000-100000000001")
	key, _ := ParseKey("3a2a1b68dd2bd9b2eeb25e84c4776668")

	// A clear single-track init segment (normally written by package segment).
	init := mp4.CreateEmptyInit()
	trak := init.AddEmptyTrack(48000, "audio", "und")
	trak.Mdia.Minf.Stbl.Stsd.AddChild(mp4.CreateAudioSampleEntryBox("mp4a", 2, 16, 48000, nil))

	tp, err := NewTrackProtector(ctx, Config{
		Scheme:           SchemeCBCS,
		Keys:             &StaticKeys{Default: []ContentKey{{KID: kid, Key: key}}},
		IV:               IV(bytes.Repeat([]byte{7}, 16)),
		SignalingOptions: SignalingOptions{Systems: []System{FairPlay, ClearKey}, FairPlayURI: "skd://{KID}"},
	}, init)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := tp.ProtectInit(init); err != nil {
		fmt.Println(err)
		return
	}
	f, _ := mp4.CreateFragment(1, 1)
	f.AddFullSample(mp4.FullSample{Sample: mp4.Sample{Dur: 1024, Size: 40}, Data: make([]byte, 40)})
	if err := tp.ProtectFragment(ctx, f, 0, 0); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(init.Moov.Trak.Mdia.Minf.Stbl.Stsd.Children[0].Type())
	fmt.Printf("% x\n", f.Mdat.Data[:4])
	p, err := tp.Protection(ctx, 1) // for manifest/dash and manifest/hls
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(p.Scheme, p.DefaultKID)
	for _, s := range p.Systems {
		fmt.Printf("%s: %d-byte pssh box, key URI %q\n", s.System, len(s.PSSH), s.KeyURI)
	}
	// Output:
	// enca
	// e3 be 78 20
	// cbcs 10000000-1000-1000-1000-100000000001
	// clearkey: 52-byte pssh box, key URI ""
	// fairplay: 0-byte pssh box, key URI "skd://10000000100010001000100000000001"
}

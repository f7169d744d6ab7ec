package drm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/cmafkit/cmafkit/segment"
)

func TestParseKIDForms(t *testing.T) {
	want := KID{0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xa0, 0xb0, 0xc0, 0xd0, 0xe0, 0xf0, 0x01}
	for _, s := range []string{
		"102030405060708090a0b0c0d0e0f001",
		"102030405060708090A0B0C0D0E0F001",
		"10203040-5060-7080-90a0-b0c0d0e0f001",
		"{10203040-5060-7080-90a0-b0c0d0e0f001}",
		"urn:uuid:10203040-5060-7080-90a0-b0c0d0e0f001",
		"ECAwQFBgcICQoLDA0ODwAQ==",
		"ECAwQFBgcICQoLDA0ODwAQ",
	} {
		got, err := ParseKID(s)
		if err != nil || got != want {
			t.Errorf("ParseKID(%q) = %s, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "1020", "10203040-5060-7080-90a0-b0c0d0e0f0zz", "ECAwQFBgcICQoLDA0ODw==", strings.Repeat("a", 33),
		"10203040-5060-7080-90a0-b0c0-d0e0-01", // UUID-shaped with two more dashes: 15 bytes
	} {
		_, err := ParseKID(s)
		var kl *KeyLengthError
		if !errors.Is(err, ErrKeyLength) || !errors.As(err, &kl) || kl.What != "KID" {
			t.Errorf("ParseKID(%q) error %v", s, err)
		}
	}
}

func TestKeyLengthErrors(t *testing.T) {
	if _, err := KeyFromBytes(make([]byte, 15)); !errors.Is(err, ErrKeyLength) {
		t.Fatal(err)
	}
	if _, err := ParseKey("00112233"); !errors.Is(err, ErrKeyLength) {
		t.Fatal(err)
	}
	if _, err := ParseIV("0x0011223344556677"); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseIV("001122"); !errors.Is(err, ErrKeyLength) {
		t.Fatal(err)
	}
	cfg := Config{Scheme: SchemeCBCS, Keys: &StaticKeys{Default: []ContentKey{videoKey}}, IV: IV(make([]byte, 8))}
	var kl *KeyLengthError
	if err := cfg.Validate(); !errors.As(err, &kl) || kl.What != "IV" {
		t.Fatalf("cbcs with 8-byte IV: %v", err)
	}
	if _, err := ParseKeyPairs("11111111111111111111111111111111:0011"); !errors.Is(err, ErrKeyLength) {
		t.Fatal(err)
	}
	ks, err := ParseKeyPairs("11111111111111111111111111111111:00112233445566778899aabbccddeeff, 22222222222222222222222222222222:ffeeddccbbaa99887766554433221100")
	if err != nil || len(ks) != 2 || !ks[1].Key.Equal(audioKey.Key) {
		t.Fatalf("%v %v", ks, err)
	}
}

// TestKeyNeverPrinted checks every common way a key could leak.
func TestKeyNeverPrinted(t *testing.T) {
	k := mustKey("00112233445566778899aabbccddeeff")
	secretForms := []string{"00112233445566778899aabbccddeeff", "00112233", "ABEiM0RVZneImaq7zN3u/w", "[0 17 34", "0x00"}
	ck := ContentKey{KID: videoKey.KID, Key: k}
	var out []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%q", "%d"} {
		out = append(out, fmt.Sprintf(verb, k), fmt.Sprintf(verb, ck), fmt.Sprintf(verb, &ck), fmt.Sprintf(verb, []Key{k}))
	}
	out = append(out, k.String(), k.GoString())
	var logBuf bytes.Buffer
	lg := slog.New(slog.NewJSONHandler(&logBuf, nil))
	lg.Info("key", "key", k, "ck", ck)
	slog.New(slog.NewTextHandler(&logBuf, nil)).Info("key", "key", k, "ck", ck)
	out = append(out, logBuf.String())
	j, err := json.Marshal(struct {
		K  Key
		CK ContentKey
	}{k, ck})
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, string(j))
	_, err = (&StaticKeys{ByClass: map[TrackClass][]ContentKey{ClassHD: {ck}}}).ContentKey(context.Background(), KeyRequest{Class: ClassSD})
	out = append(out, err.Error())
	for _, o := range out {
		for _, f := range secretForms {
			if strings.Contains(o, f) {
				t.Fatalf("secret form %q leaked in %q", f, o)
			}
		}
	}
	if !strings.Contains(logBuf.String(), "[REDACTED]") || !strings.Contains(fmt.Sprintf("%v", ck), "[REDACTED]") {
		t.Fatalf("no redaction marker in %q", logBuf.String())
	}
	if !bytes.Equal(k.Secret(), []byte{0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}) {
		t.Fatal("Secret")
	}
}

func TestRandomMaterial(t *testing.T) {
	a, _ := NewKey()
	b, _ := NewKey()
	if a.Equal(b) || a.IsZero() {
		t.Fatal("random keys equal or unset")
	}
	k1, _ := NewKID()
	k2, _ := NewKID()
	if k1 == k2 || k1[6]>>4 != 4 {
		t.Fatalf("KIDs %s %s", k1, k2)
	}
	iv, err := NewIV(8)
	if err != nil || len(iv) != 8 {
		t.Fatal(err)
	}
	if _, err := NewIV(12); !errors.Is(err, ErrKeyLength) {
		t.Fatal(err)
	}
}

func TestClassifyAndStaticKeys(t *testing.T) {
	var th Thresholds
	for _, tc := range []struct {
		w, h int
		want TrackClass
	}{{640, 360, ClassSD}, {1024, 576, ClassSD}, {1280, 720, ClassHD}, {1920, 1080, ClassHD}, {3840, 2160, ClassUHD}} {
		if got := th.Classify(segment.KindVideo, tc.w, tc.h); got != tc.want {
			t.Errorf("%dx%d: %s, want %s", tc.w, tc.h, got, tc.want)
		}
	}
	if got := (Thresholds{HDMinPixels: 640 * 360}).Classify(segment.KindVideo, 640, 360); got != ClassHD {
		t.Fatal(got)
	}
	if th.Classify(segment.KindAudio, 0, 0) != ClassAudio {
		t.Fatal("audio")
	}
	sk := &StaticKeys{Default: []ContentKey{videoKey}, ByClass: map[TrackClass][]ContentKey{ClassAudio: {audioKey}}}
	k, err := sk.ContentKey(context.Background(), KeyRequest{Class: ClassAudio, Period: 3})
	if err != nil || k.KID != audioKey.KID {
		t.Fatal(k, err)
	}
	k, _ = sk.ContentKey(context.Background(), KeyRequest{Class: ClassUHD})
	if k.KID != videoKey.KID {
		t.Fatal(k)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := sk.ContentKey(ctx, KeyRequest{}); !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if _, err := (&StaticKeys{}).ContentKey(context.Background(), KeyRequest{}); !errors.Is(err, ErrNoKey) {
		t.Fatal(err)
	}
}

func ExampleParseKID() {
	for _, s := range []string{"10000000100010001000100000000001", "10000000-1000-1000-1000-100000000001", "EAAAABAAEAAQABAAAAAAAQ=="} {
		k, err := ParseKID(s)
		fmt.Println(k, err)
	}
	// Output:
	// 10000000-1000-1000-1000-100000000001 <nil>
	// 10000000-1000-1000-1000-100000000001 <nil>
	// 10000000-1000-1000-1000-100000000001 <nil>
}

func ExampleKey() {
	k, _ := ParseKey("00112233445566778899aabbccddeeff")
	fmt.Println(k)
	fmt.Printf("%x %#v\n", k, k)
	// Output:
	// [REDACTED]
	// [REDACTED] drm.Key{[REDACTED]}
}

package drm

import (
	"errors"
	"reflect"
	"testing"
)

// TestKeyPeriod: one crypto period at a time gives what Protection gives
// for a known number of segments, and refuses periods without rotation.
func TestKeyPeriod(t *testing.T) {
	ctx := t.Context()
	ct := loadTrack(t, "ladder_720p.mp4", "vide")
	cfg := Config{Scheme: SchemeCBCS, Keys: &StaticKeys{Default: rotKeys}, CryptoPeriod: 2,
		SignalingOptions: SignalingOptions{Systems: []System{Widevine, ClearKey}}}
	tp, err := NewTrackProtector(ctx, cfg, ct.init)
	if err != nil {
		t.Fatal(err)
	}
	p, err := tp.Protection(ctx, 7)
	if err != nil {
		t.Fatal(err)
	}
	if !tp.Rotates() || len(p.KeyPeriods) != 3 {
		t.Fatalf("Rotates %v, %d key periods", tp.Rotates(), len(p.KeyPeriods))
	}
	for i, want := range p.KeyPeriods {
		got, err := tp.KeyPeriod(ctx, i+1)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("KeyPeriod(%d) = %+v, %v; want %+v", i+1, got, err, want)
		}
	}
	if kp, err := tp.KeyPeriod(ctx, 0); err != nil || kp.KID != p.DefaultKID || kp.FirstSegment != 0 {
		t.Errorf("KeyPeriod(0) = %+v, %v", kp, err)
	}
	cfg.CryptoPeriod = 0
	tp, err = NewTrackProtector(ctx, cfg, ct.init)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tp.KeyPeriod(ctx, 1); !errors.Is(err, ErrMalformed) || tp.Rotates() {
		t.Errorf("KeyPeriod(1) without rotation: %v, want ErrMalformed", err)
	}
}

// TestForgetBefore: a live stream's protector keeps the keys of the
// periods still written (and the default key), not every period's.
func TestForgetBefore(t *testing.T) {
	ctx := t.Context()
	ct := loadTrack(t, "ladder_720p.mp4", "vide")
	keys := periodKeys(nil)
	for i := range 40 {
		k := rotKeys[0]
		k.KID[15] = byte(i)
		keys = append(keys, k)
	}
	tp, err := NewTrackProtector(ctx, Config{Scheme: SchemeCENC, Keys: keys, CryptoPeriod: 1}, ct.init)
	if err != nil {
		t.Fatal(err)
	}
	for p := range 40 {
		kp, err := tp.KeyPeriod(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tp.cipherFor(ContentKey{KID: kp.KID, Key: rotKeys[0].Key}); err != nil {
			t.Fatal(err)
		}
		tp.ForgetBefore(p)
	}
	if len(tp.keys) != 2 || len(tp.ciphers) != 2 {
		t.Errorf("%d keys and %d ciphers held after 40 periods, want 2 (the default and the current)", len(tp.keys), len(tp.ciphers))
	}
	if kp, err := tp.KeyPeriod(ctx, 3); err != nil || kp.KID != keys[3].KID {
		t.Errorf("a forgotten period again: %+v, %v", kp, err)
	}
}

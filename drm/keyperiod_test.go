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

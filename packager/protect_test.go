package packager_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/drm"
	"github.com/cmafkit/cmafkit/packager"
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
	job := packager.Job{Inputs: ladderInputs(), Protect: protect, Storage: packager.Dir(t.TempDir()), SegmentDuration: 2 * time.Second}
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

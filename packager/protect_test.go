package packager_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/drm"
	"github.com/cmafkit/cmafkit/packager"
	"github.com/cmafkit/cmafkit/storage"
)

// TestRotation packages the ladder with a new key every segment
// and checks the manifests' signalling of each crypto period (the players
// play it in TestEncryptedPlayers).
func TestRotation(t *testing.T) {
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
			dir := runJob(t, packager.Job{Inputs: ladderInputs(), Formats: packager.HLS | packager.DASH, Encryption: &drm.Config{
				Scheme: scheme, Keys: &drm.StaticKeys{Default: keys}, CryptoPeriod: 1,
				SignalingOptions: drm.SignalingOptions{Systems: []drm.System{drm.ClearKey, drm.Widevine}}}})
			checkRotation(t, dir, keys)
		})
	}
	// A provider without a key for a later period fails the job, naming
	// the period, before any segment of the track is written.
	dir := t.TempDir()
	job := packager.Job{Inputs: ladderInputs(), Storage: storage.Dir(dir), SegmentDuration: 2 * time.Second, Parallelism: 1,
		Encryption: &drm.Config{Scheme: drm.SchemeCENC, Keys: periodLimited{keys[:2]}, CryptoPeriod: 1}}
	if _, err := packager.Run(t.Context(), job); !errors.Is(err, drm.ErrNoKey) || !strings.Contains(err.Error(), "period 2") {
		t.Fatalf("Run with keys for 2 of 4 periods: %v, want drm.ErrNoKey naming period 2", err)
	}
	if files := storageFiles(t, dir); len(files) != 0 {
		t.Errorf("%d objects written by a job whose first track lacks a key", len(files))
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

// TestRunRefusesSharedCENCIV: a job whose tracks share a key and a fixed
// cenc IV fails with drm.ErrIVReuse and writes no manifest.
func TestRunRefusesSharedCENCIV(t *testing.T) {
	key, err := drm.ParseKey("0123456789abcdef0123456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	enc := &drm.Config{Scheme: drm.SchemeCENC, IV: mustIV(t, "0011223344556677"),
		Keys: &drm.StaticKeys{Default: []drm.ContentKey{{KID: drm.MustParseKID("00112233445566778899aabbccddeeff"), Key: key}}}}
	dir := t.TempDir()
	_, err = packager.Run(t.Context(), packager.Job{Inputs: ladderInputs(), Encryption: enc, Storage: storage.Dir(dir), SegmentDuration: 2 * time.Second})
	if !errors.Is(err, drm.ErrIVReuse) {
		t.Fatalf("Run = %v, want drm.ErrIVReuse", err)
	}
	for name := range storageFiles(t, dir) {
		if strings.HasSuffix(name, ".m3u8") || strings.HasSuffix(name, ".mpd") {
			t.Errorf("manifest %s written by a refused job", name)
		}
	}
}

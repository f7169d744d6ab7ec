package live_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/cmafkit/cmafkit/drm"
	"github.com/cmafkit/cmafkit/live"
	"github.com/cmafkit/cmafkit/segment"
	"github.com/cmafkit/cmafkit/storage"
)

// TestSharedSessionRefusesFixedIVAcrossChannels: two channels encrypting
// with the same keys and a fixed cenc IV (a key per track class, so one
// channel alone is fine) reuse each other's AES-CTR keystream. Each
// channel's own drm session saw only its own tracks; sharing one session
// (Channel.EncryptionSession) makes the second channel's AddTrack fail with
// drm.ErrIVReuse before anything is written, while the first channel's
// publisher may reconnect. With random IVs both channels encrypt.
func TestSharedSessionRefusesFixedIVAcrossChannels(t *testing.T) {
	ctx := context.Background()
	src, err := segment.OpenFile(ctx, "../testdata/ladder_360p.mp4", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	keys := func() *drm.StaticKeys {
		return &drm.StaticKeys{ByClass: map[drm.TrackClass][]drm.ContentKey{drm.ClassAudio: staticKeys(t, liveKeys[1]).Default},
			Default: staticKeys(t, liveKeys[0]).Default}
	}
	iv, err := drm.ParseIV("0102030405060708")
	if err != nil {
		t.Fatal(err)
	}
	publish := func(ch *live.Channel, key string) error {
		pub, err := ch.Publish(ctx, key)
		if err != nil {
			return err
		}
		defer pub.Close(nil)
		return live.Replay(ctx, src.Tracks, pub, live.ReplayOptions{})
	}
	for _, fixed := range []bool{true, false} {
		cfg := &drm.Config{Scheme: drm.SchemeCENC, Keys: keys()}
		if fixed {
			cfg.IV = iv
		}
		sess, err := drm.NewSession(*cfg)
		if err != nil {
			t.Fatal(err)
		}
		dirs := []string{t.TempDir(), t.TempDir()}
		var chs []*live.Channel
		for _, d := range dirs {
			chs = append(chs, &live.Channel{Storage: storage.Dir(d), Window: -1, Encryption: cfg, EncryptionSession: sess})
		}
		if err := publish(chs[0], "a"); err != nil {
			t.Fatalf("fixed IV %v: first channel: %v", fixed, err)
		}
		err = publish(chs[1], "b")
		if fixed {
			var re *drm.IVReuseError
			if !errors.As(err, &re) || !errors.Is(err, drm.ErrIVReuse) {
				t.Fatalf("second channel with the same keys and fixed IV: %v, want a drm.IVReuseError", err)
			}
			t.Logf("refused: %v", err)
			if names, _ := filepath.Glob(filepath.Join(dirs[1], "*", "*")); len(names) != 0 {
				t.Errorf("the refused channel wrote %q", names)
			}
		} else if err != nil {
			t.Fatalf("second channel with random IVs: %v", err)
		}
		// The first channel's publisher comes back: the same tracks,
		// their IVs running on.
		if err := publish(chs[0], "a"); err != nil {
			t.Errorf("fixed IV %v: first channel, second session: %v", fixed, err)
		}
		for i, ch := range chs {
			if err := ch.Close(ctx); err != nil {
				t.Error(err)
			}
			if _, err := os.Stat(filepath.Join(dirs[i], live.DASHName)); (err == nil) != (i == 0 || !fixed) {
				t.Errorf("fixed IV %v, channel %d: MPD stat %v", fixed, i, err)
			}
		}
	}
}

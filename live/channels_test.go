package live_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/cmafkit/cmafkit/internal/testutil"
	"github.com/cmafkit/cmafkit/live"
	"github.com/cmafkit/cmafkit/segment"
	"github.com/cmafkit/cmafkit/storage"
)

// TestChannelsByKey publishes two keys at once through one Channels: each
// gets its own channel under its own prefix with its own manifests; a
// second publisher on a key, a key off the allow-list, an unusable key
// and a publisher after Close are refused.
func TestChannelsByKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src, err := segment.OpenFile(ctx, "../testdata/ladder_360p.mp4", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dir := t.TempDir()
	cs := &live.Channels{
		New: func(key string) (*live.Channel, error) {
			return &live.Channel{Storage: storage.Dir(filepath.Join(dir, key))}, nil
		},
		Allowed: func(key string) bool { return key != "forbidden" },
	}
	var wg sync.WaitGroup
	for _, key := range []string{"one", "two"} {
		pub, err := cs.Publish(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			if err := live.Replay(ctx, src.Tracks, pub, live.ReplayOptions{}); err != nil {
				t.Error(err)
			}
			pub.Close(nil)
		})
	}
	if _, err := cs.Publish(ctx, "one"); !errors.Is(err, live.ErrKeyInUse) {
		t.Errorf("second publisher on a key: %v, want ErrKeyInUse", err)
	}
	for _, key := range []string{"forbidden", "", "..", "a/b", "a b", strings.Repeat("k", live.MaxKeyLen+1)} {
		if _, err := cs.Publish(ctx, key); !errors.Is(err, live.ErrUnknownKey) {
			t.Errorf("key %q: %v, want ErrUnknownKey", key, err)
		}
	}
	wg.Wait()
	if got := cs.Keys(); len(got) != 2 || got[0] != "one" || got[1] != "two" {
		t.Errorf("keys %q", got)
	}
	if err := cs.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.Publish(ctx, "three"); !errors.Is(err, live.ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
	for _, key := range []string{"one", "two"} {
		st := cs.Channel(key).Stats()
		if st.Publishers != 1 || st.Segments == 0 {
			t.Errorf("%s: stats %+v", key, st)
		}
		if _, err := os.Stat(filepath.Join(dir, key, live.HLSName)); err != nil {
			t.Error(err)
		}
		testutil.ValidateMPD(t, filepath.Join(dir, key, live.DASHName))
	}
}

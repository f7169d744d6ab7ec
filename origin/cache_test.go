package origin

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestCacheEvictionUnderWaiters: an entry opened for several waiting
// callers stays open while they use it, even when other entries evict it
// from the cache at once; it is closed by the last release, once.
func TestCacheEvictionUnderWaiters(t *testing.T) {
	c := newTitleCache(100)
	var closed atomic.Int32
	mk := func() *entry { return &entry{cost: 80, onClose: func() { closed.Add(1) }} }
	release := make(chan struct{})
	var wg sync.WaitGroup
	got := make([]*entry, 4)
	for i := range got {
		wg.Go(func() {
			e, err := c.get(t.Context(), "a", func(context.Context) (*entry, error) { <-release; return mk(), nil })
			if err != nil {
				t.Error(err)
			}
			got[i] = e
		})
	}
	time.Sleep(20 * time.Millisecond) // the four are waiting
	// A caller that gives up before the open ends takes no reference.
	ctx, cancel := context.WithCancel(t.Context())
	gaveUp := make(chan error)
	go func() {
		_, err := c.get(ctx, "a", func(context.Context) (*entry, error) { <-release; return mk(), nil })
		gaveUp <- err
	}()
	time.Sleep(20 * time.Millisecond)
	cancel()
	if err := <-gaveUp; err == nil {
		t.Fatal("a cancelled get succeeded")
	}
	close(release)
	wg.Wait()
	// Another title evicts "a" (the budget holds one).
	b, err := c.get(t.Context(), "b", func(context.Context) (*entry, error) { return mk(), nil })
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := c.stats(); n != 1 || closed.Load() != 0 {
		t.Fatalf("%d entries, %d closed: want 1 cached and a still open for its 4 users", n, closed.Load())
	}
	for i, e := range got {
		if e != got[0] {
			t.Fatal("waiters got different entries")
		}
		c.release(e)
		if want := int32(0); i < 3 && closed.Load() != want {
			t.Fatalf("closed after %d of 4 releases", i+1)
		}
	}
	if closed.Load() != 1 {
		t.Errorf("closed %d times after the last release, want 1", closed.Load())
	}
	c.release(b)
}

package origin

import (
	"container/list"
	"context"
	"sync"
)

// titleCache holds opened titles up to a budget of bytes (each entry's
// estimate, see entry.cost), least recently used out first. Concurrent
// gets of one key share one open. An entry evicted while requests use it
// is closed when the last one releases it.
type titleCache struct {
	limit int64

	mu      sync.Mutex
	size    int64
	lru     *list.List // of *entry, most recently used first
	entries map[string]*list.Element
	calls   map[string]*call
}

type call struct {
	done     chan struct{}
	e        *entry
	err      error
	waiters  int  // callers waiting; each gets a reference when it succeeds
	finished bool // e and err are set (under titleCache.mu)
}

func newTitleCache(limit int64) *titleCache {
	return &titleCache{limit: limit, lru: list.New(), entries: map[string]*list.Element{}, calls: map[string]*call{}}
}

// get returns the entry of key, opening it with open when it is not
// cached; the caller releases it. open runs once for concurrent callers,
// with a context of its own: a caller that gives up does not cancel it.
// The entry is referenced for every waiting caller before it enters the
// cache, so eviction cannot close it under them.
func (c *titleCache) get(ctx context.Context, key string, open func(context.Context) (*entry, error)) (*entry, error) {
	c.mu.Lock()
	if el, ok := c.entries[key]; ok {
		e := el.Value.(*entry)
		c.lru.MoveToFront(el)
		e.refs++
		c.mu.Unlock()
		return e, nil
	}
	cl, ok := c.calls[key]
	if !ok {
		cl = &call{done: make(chan struct{})}
		c.calls[key] = cl
		go func() {
			e, err := open(context.WithoutCancel(ctx))
			c.mu.Lock()
			delete(c.calls, key)
			cl.e, cl.err, cl.finished = e, err, true
			if err == nil {
				e.key = key
				e.refs += cl.waiters
				c.add(e)
			}
			c.mu.Unlock()
			close(cl.done)
		}()
	}
	cl.waiters++
	c.mu.Unlock()
	select {
	case <-cl.done:
		return cl.e, cl.err
	case <-ctx.Done():
		c.mu.Lock()
		if !cl.finished {
			cl.waiters--
		} else if cl.err == nil {
			c.releaseLocked(cl.e)
		}
		c.mu.Unlock()
		return nil, ctx.Err()
	}
}

// add inserts e (c.mu held) and evicts the least recently used entries
// over the limit, never e itself.
func (c *titleCache) add(e *entry) {
	e.el = c.lru.PushFront(e)
	c.entries[e.key] = e.el
	c.size += e.cost
	c.evict()
}

func (c *titleCache) evict() {
	for c.size > c.limit && c.lru.Len() > 1 {
		c.remove(c.lru.Back().Value.(*entry))
	}
}

// remove drops e from the cache (c.mu held); it is closed now or by its
// last release.
func (c *titleCache) remove(e *entry) {
	if e.el == nil {
		return
	}
	c.lru.Remove(e.el)
	e.el = nil
	delete(c.entries, e.key)
	c.size -= e.cost
	if e.refs == 0 {
		e.close()
	}
}

// release ends a use of e.
func (c *titleCache) release(e *entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.releaseLocked(e)
}

func (c *titleCache) releaseLocked(e *entry) {
	e.refs--
	if e.refs == 0 && e.el == nil {
		e.close()
	}
}

// grow adds n bytes to the cost of e (manifests kept once rendered).
func (c *titleCache) grow(e *entry, n int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e.cost += n
	if e.el != nil {
		c.size += n
		c.evict()
	}
}

// drop removes the entry of key if it is e (a title whose source changed).
func (c *titleCache) drop(e *entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[e.key]; ok && el.Value == e {
		c.remove(e)
	}
}

// stats returns the number of entries and their total cost.
func (c *titleCache) stats() (entries int, bytes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len(), c.size
}

package live

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
)

// MaxKeyLen bounds a stream key that Channels accepts.
const MaxKeyLen = 128

// CheckKey reports whether key can name a channel's storage prefix and
// URL path: 1 to MaxKeyLen letters, digits, '-', '_', '.' and '~', not
// "." or "..". The error wraps ErrUnknownKey (an ingest refuses the key).
func CheckKey(key string) error {
	if key == "" || len(key) > MaxKeyLen || key == "." || key == ".." {
		return fmt.Errorf("%w: %q is not a usable stream key (1 to %d characters, not . or ..)", ErrUnknownKey, key, MaxKeyLen)
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~') {
			return fmt.Errorf("%w: %q is not a usable stream key (letters, digits, - _ . ~)", ErrUnknownKey, key)
		}
	}
	return nil
}

// Channels packages several live streams in one process: one Channel per
// stream key, made when the key's first publisher arrives and kept (a
// publisher that comes back continues its channel after a
// discontinuity). Its Publish method is the PublisherFunc to hand to
// ingests (RTMP, MPEG-TS, CMAF ingest); each key is refused or admitted on
// its own, so one channel's publishers never affect another's.
type Channels struct {
	// New makes the channel of a key (typically with its own storage
	// prefix, e.g. storage.Dir(filepath.Join(out, key))). Required. The
	// key has passed CheckKey and Allowed.
	New func(key string) (*Channel, error)
	// Allowed, when not nil, is the allow-list: a key for which it
	// returns false is refused with ErrUnknownKey.
	Allowed func(key string) bool

	mu     sync.Mutex
	m      map[string]*Channel
	closed bool
}

// ErrNoChannels refuses a publisher after Channels.Close.
var ErrNoChannels = errors.New("live: channels closed")

// Publish opens a publishing session on key's channel, making the channel
// first if need be. It refuses keys that fail CheckKey or Allowed
// (ErrUnknownKey), a second publisher on a key (ErrKeyInUse) and any
// after Close (ErrClosed). Its signature is a PublisherFunc's.
func (cs *Channels) Publish(ctx context.Context, key string) (Publisher, error) {
	if err := CheckKey(key); err != nil {
		return nil, err
	}
	if cs.Allowed != nil && !cs.Allowed(key) {
		return nil, fmt.Errorf("%w: %q", ErrUnknownKey, key)
	}
	ch, err := cs.channel(key)
	if err != nil {
		return nil, err
	}
	return ch.Publish(ctx, key)
}

func (cs *Channels) channel(key string) (*Channel, error) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.closed {
		return nil, fmt.Errorf("%w: %w", ErrClosed, ErrNoChannels)
	}
	if ch := cs.m[key]; ch != nil {
		return ch, nil
	}
	ch, err := cs.New(key)
	if err != nil {
		return nil, fmt.Errorf("live: channel %q: %w", key, err)
	}
	if cs.m == nil {
		cs.m = map[string]*Channel{}
	}
	cs.m[key] = ch
	return ch, nil
}

// Channel returns the channel of key, nil if no publisher used the key yet.
func (cs *Channels) Channel(key string) *Channel {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.m[key]
}

// Keys returns the keys that have a channel, sorted.
func (cs *Channels) Keys() []string {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	keys := make([]string, 0, len(cs.m))
	for k := range cs.m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Close closes every channel (see Channel.Close) and refuses publishers
// from then on. It returns the channels' errors joined.
func (cs *Channels) Close(ctx context.Context) error {
	cs.mu.Lock()
	cs.closed = true
	chs := make([]*Channel, 0, len(cs.m))
	for _, k := range slices.Sorted(maps.Keys(cs.m)) {
		chs = append(chs, cs.m[k])
	}
	cs.mu.Unlock()
	var errs []error
	for _, ch := range chs {
		if err := ch.Close(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

package live

import "errors"

// Errors an ingest reports to a refused publisher.
var (
	// ErrUnknownKey refuses a stream key that is not on the allow-list.
	ErrUnknownKey = errors.New("live: unknown stream key")
	// ErrKeyInUse refuses a second publisher on a key already publishing.
	ErrKeyInUse = errors.New("live: stream key already publishing")
)

package main

import (
	"fmt"
	"io"
	"path/filepath"
	"sync"

	"github.com/cmafkit/cmafkit/live"
	"github.com/cmafkit/cmafkit/storage"
)

// cmafIngestPath is where the HTTP server takes CMAF ingest:
// cmafIngestPath+KEY/TRACK.
const cmafIngestPath = "/ingest/cmaf/"

// keyChannels returns the channels of the stream keys that publishers push
// (RTMP, MPEG-TS and CMAF ingest): each key's channel, made by newChannel,
// packages into out/KEY/, and its URLs are printed when its first
// publisher arrives (baseURL is the HTTP server's, set once it listens). A
// non-empty allowed is the allow-list.
func keyChannels(out string, newChannel func(storage.Storage) *live.Channel, allowed map[string]bool, baseURL *string, stdout io.Writer) *live.Channels {
	var mu sync.Mutex // stdout
	cs := &live.Channels{New: func(key string) (*live.Channel, error) {
		ch := newChannel(storage.Dir(filepath.Join(out, key)))
		mu.Lock()
		defer mu.Unlock()
		if *baseURL != "" {
			fmt.Fprintf(stdout, "Channel %s:\n  HLS  %s/%s/%s\n  DASH %s/%s/%s\n", key, *baseURL, key, live.HLSName, *baseURL, key, live.DASHName)
		} else {
			fmt.Fprintf(stdout, "Channel %s: %s\n", key, filepath.Join(out, key))
		}
		return ch, nil
	}}
	if len(allowed) > 0 {
		cs.Allowed = func(key string) bool { return allowed[key] }
	}
	return cs
}

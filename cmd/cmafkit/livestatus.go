package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing/fstest"
	"time"

	"github.com/cmafkit/cmafkit/live"
	"github.com/cmafkit/cmafkit/manifest"
)

// liveStatus keeps a one-line status of a live channel on a terminal:
// publishers, ingest bit rate, segments, discontinuities, how far the
// newest segment's end is behind the wall clock, and when a viewer last
// asked for a manifest. Lines written through Guard clear it first; the
// next tick draws it again.
type liveStatus struct {
	mu    sync.Mutex
	w     io.Writer
	shown bool

	publishing atomic.Int64 // publishers connected now
	lastView   atomic.Int64 // unix nanoseconds of the last manifest request; 0: none

	prev   live.Stats
	prevAt time.Time
}

// statusInterval is how often the status line is redrawn.
const statusInterval = time.Second

// run redraws the status of ch until ctx is done, then clears it.
func (s *liveStatus) run(ctx context.Context, ch *live.Channel) {
	t := time.NewTicker(statusInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			s.clear()
			return
		case now := <-t.C:
			s.draw(now, ch.Stats(), ch.Presentation())
		}
	}
}

func (s *liveStatus) draw(now time.Time, st live.Stats, p *manifest.Presentation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var rate float64
	if !s.prevAt.IsZero() {
		if dt := now.Sub(s.prevAt).Seconds(); dt > 0 {
			rate = float64(st.Bytes-s.prev.Bytes) * 8 / dt
		}
	}
	s.prev, s.prevAt = st, now
	var view time.Time
	if n := s.lastView.Load(); n != 0 {
		view = time.Unix(0, n)
	}
	io.WriteString(s.w, clearLine+statusText(now, int(s.publishing.Load()), rate, st, edgeDelay(now, p), view))
	s.shown = true
}

// statusText is the status line. edge < 0: no segment yet.
func statusText(now time.Time, publishing int, bitsPerSecond float64, st live.Stats, edge time.Duration, lastView time.Time) string {
	var b strings.Builder
	state := "waiting for a publisher"
	if publishing > 0 {
		state = "publishing"
	}
	fmt.Fprintf(&b, "live: %s | in %s | %d segments", state, formatRate(bitsPerSecond), st.Segments)
	if st.Discontinuities > 0 {
		fmt.Fprintf(&b, " | %d discontinuities", st.Discontinuities)
	}
	if edge >= 0 {
		fmt.Fprintf(&b, " | edge %.1fs behind", edge.Seconds())
	}
	if lastView.IsZero() {
		b.WriteString(" | no viewer yet")
	} else {
		fmt.Fprintf(&b, " | viewer %s ago", now.Sub(lastView).Round(100*time.Millisecond))
	}
	if n := st.Rejected + st.Errors; n > 0 {
		fmt.Fprintf(&b, " | %d errors", n)
	}
	return b.String()
}

func formatRate(bps float64) string {
	switch {
	case bps >= 1e6:
		return fmt.Sprintf("%.2f Mb/s", bps/1e6)
	case bps >= 1e3:
		return fmt.Sprintf("%.0f kb/s", bps/1e3)
	}
	return fmt.Sprintf("%.0f b/s", bps)
}

// edgeDelay is how far the end of the newest segment is behind now: the
// packaging latency a viewer at the live edge cannot beat. -1 without
// segments.
func edgeDelay(now time.Time, p *manifest.Presentation) time.Duration {
	if p == nil {
		return -1
	}
	var end time.Time
	for _, per := range p.Periods {
		for _, set := range per.Sets {
			for _, r := range set.Representations {
				if n := len(r.Segments); n > 0 && r.Timescale > 0 {
					s := r.Segments[n-1]
					if e := s.ProgramDateTime.Add(time.Duration(s.Duration) * time.Second / time.Duration(r.Timescale)); e.After(end) {
						end = e
					}
				}
			}
		}
	}
	if end.IsZero() {
		return -1
	}
	return max(now.Sub(end), 0)
}

func (s *liveStatus) clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clearLocked()
}

func (s *liveStatus) clearLocked() {
	if s.shown {
		io.WriteString(s.w, clearLine)
		s.shown = false
	}
}

// Guard returns w writing through the status: each write first clears the
// status line (w and the status share the terminal).
func (s *liveStatus) Guard(w io.Writer) io.Writer { return guarded{s, w} }

type guarded struct {
	s *liveStatus
	w io.Writer
}

func (g guarded) Write(b []byte) (int, error) {
	g.s.mu.Lock()
	defer g.s.mu.Unlock()
	g.s.clearLocked()
	return g.w.Write(b)
}

// event counts publishers from the channel's events.
func (s *liveStatus) event(e live.Event) {
	switch e.Kind {
	case live.PublisherConnected:
		s.publishing.Add(1)
	case live.PublisherGone:
		s.publishing.Add(-1)
	}
}

// viewers records when a manifest was last requested from h.
func (s *liveStatus) viewers(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; strings.HasSuffix(p, ".m3u8") || strings.HasSuffix(p, ".mpd") {
			s.lastView.Store(time.Now().UnixNano())
		}
		h.ServeHTTP(w, r)
	})
}

// statusMount and statusName: the preview page's live charts
// (internal/serve/assets/preview.js) read the channel's state as JSON from
// statusMount+statusName, a file the server's mount makes on each request
// (so the served directory's host checks apply).
const (
	statusMount = "/_live/" // not under serve.AssetPrefix, whose files are embedded
	statusName  = "status.json"
)

// channelState is the JSON of statusPath.
type channelState struct {
	Publishing int        `json:"publishing"`
	Stats      live.Stats `json:"stats"`
	// TargetDuration is the maximum segment duration (s).
	TargetDuration float64 `json:"targetDuration"`
	// Renditions are the representations in the window, each with its
	// segments across periods.
	Renditions []renditionState `json:"renditions"`
}

type renditionState struct {
	ID       string         `json:"id"`
	Kind     string         `json:"kind"` // "video" or "audio"
	Segments []segmentState `json:"segments"`
}

type segmentState struct {
	Number   uint64  `json:"number"`
	Start    float64 `json:"start"`    // s since the stream's start
	Duration float64 `json:"duration"` // s
	Bitrate  float64 `json:"bitrate"`  // bit/s
	Period   string  `json:"period"`   // a change is a discontinuity
}

// state describes ch for statusPath.
func (s *liveStatus) state(ch *live.Channel) channelState {
	st := channelState{Publishing: int(s.publishing.Load()), Stats: ch.Stats(), Renditions: []renditionState{}}
	p := ch.Presentation()
	if p == nil {
		return st
	}
	st.TargetDuration = p.TargetDuration.Seconds()
	index := map[string]int{}
	for pi := range p.Periods {
		per := &p.Periods[pi]
		for _, set := range per.Sets {
			for _, r := range set.Representations {
				i, ok := index[r.ID]
				if !ok {
					i = len(st.Renditions)
					index[r.ID] = i
					st.Renditions = append(st.Renditions, renditionState{ID: r.ID, Kind: set.ContentType.String()})
				}
				if r.Timescale == 0 {
					continue
				}
				for _, seg := range r.Segments {
					d := float64(seg.Duration) / float64(r.Timescale)
					ss := segmentState{Number: seg.Number, Duration: d, Period: per.ID,
						Start: seg.ProgramDateTime.Sub(p.AvailabilityStartTime).Seconds()}
					if d > 0 {
						ss.Bitrate = float64(seg.Size) * 8 / d
					}
					st.Renditions[i].Segments = append(st.Renditions[i].Segments, ss)
				}
			}
		}
	}
	return st
}

// mounts returns the serve.Config mounts of the state file: statusName
// under statusMount, made from ch's state when it is opened.
func (s *liveStatus) mounts(ch *live.Channel) map[string]fs.FS {
	return map[string]fs.FS{statusMount: stateFS{s, ch}}
}

type stateFS struct {
	s  *liveStatus
	ch *live.Channel
}

func (f stateFS) Open(name string) (fs.File, error) {
	if name != statusName {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	b, err := json.Marshal(f.s.state(f.ch))
	if err != nil {
		return nil, err
	}
	return fstest.MapFS{statusName: {Data: b, ModTime: time.Now()}}.Open(name)
}

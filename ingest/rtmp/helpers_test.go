package rtmp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/Eyevinn/mp4ff/mp4"

	"github.com/cmafkit/cmafkit/live"
	"github.com/cmafkit/cmafkit/segment"
)

// recSample is a sample a recorder received, with a copy of its payload.
type recSample struct {
	track   int
	s       segment.Sample
	payload []byte
}

// recorder is a live.Publisher that records what it is given.
type recorder struct {
	mu       sync.Mutex
	tracks   []*segment.Track
	samples  []recSample
	discont  int
	closed   bool
	closeErr error
	done     chan struct{}
	first    chan struct{} // closed on the first sample
	onClose  func()
}

func newRecorder() *recorder {
	return &recorder{done: make(chan struct{}), first: make(chan struct{})}
}

func (r *recorder) AddTrack(_ context.Context, t *segment.Track) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, errors.New("recorder: AddTrack after Close")
	}
	r.tracks = append(r.tracks, t)
	return len(r.tracks) - 1, nil
}

func (r *recorder) WriteSample(_ context.Context, track int, s segment.Sample, payload []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return errors.New("recorder: WriteSample after Close")
	}
	if track < 0 || track >= len(r.tracks) {
		return fmt.Errorf("recorder: unknown track %d", track)
	}
	if int(s.Size) != len(payload) {
		return fmt.Errorf("recorder: size %d, payload %d", s.Size, len(payload))
	}
	if len(r.samples) == 0 {
		close(r.first)
	}
	r.samples = append(r.samples, recSample{track, s, bytes.Clone(payload)})
	return nil
}

func (r *recorder) Discontinuity(context.Context) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.discont++
}

func (r *recorder) Close(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		panic("recorder: closed twice")
	}
	r.closed, r.closeErr = true, err
	close(r.done)
	if r.onClose != nil {
		r.onClose()
	}
}

// byKind returns the samples of the tracks of kind k, with the tracks.
func (r *recorder) byKind(k segment.Kind) ([]recSample, []*segment.Track) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []recSample
	var ts []*segment.Track
	for i, t := range r.tracks {
		if t.Kind != k {
			continue
		}
		ts = append(ts, t)
		for _, s := range r.samples {
			if s.track == i {
				out = append(out, s)
			}
		}
	}
	return out, ts
}

// keys is a PublisherFunc with an allow-list that refuses a second
// publisher on a key in use, recording every session.
type keys struct {
	mu      sync.Mutex
	allowed map[string]bool
	busy    map[string]bool
	opened  []*recorder
	opens   chan *recorder
}

func newKeys(allowed ...string) *keys {
	k := &keys{allowed: map[string]bool{}, busy: map[string]bool{}, opens: make(chan *recorder, 16)}
	for _, a := range allowed {
		k.allowed[a] = true
	}
	return k
}

func (k *keys) open(_ context.Context, key string) (live.Publisher, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.allowed[key] {
		return nil, fmt.Errorf("%w: %q", live.ErrUnknownKey, key)
	}
	if k.busy[key] {
		return nil, fmt.Errorf("%w: %q", live.ErrKeyInUse, key)
	}
	k.busy[key] = true
	r := newRecorder()
	r.onClose = func() {
		k.mu.Lock()
		defer k.mu.Unlock()
		delete(k.busy, key)
	}
	k.opened = append(k.opened, r)
	k.opens <- r
	return r, nil
}

// serve starts s on a free 127.0.0.1 port; the returned stop cancels it
// and fails the test unless Serve returns nil within 5 s.
func serve(t *testing.T, s *Server) (addr string, stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if s.Logger == nil {
		s.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Serve: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Errorf("Serve did not return 5 s after its context was cancelled")
			}
		})
	}
	t.Cleanup(stop)
	return ln.Addr().String(), stop
}

// testWriter sends log lines to t.Log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// ffmpegArgs publishes testsrc2 + sine as H.264 + AAC over FLV to url.
func ffmpegArgs(url string, realtime bool, seconds int) []string {
	args := []string{"-hide_banner", "-loglevel", "error", "-nostdin"}
	if realtime {
		args = append(args, "-re")
	}
	args = append(args,
		"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
		"-t", fmt.Sprint(seconds),
		"-c:v", "libx264", "-preset", "ultrafast", "-g", "50", "-pix_fmt", "yuv420p",
		"-c:a", "aac", "-f", "flv", url)
	return args
}

// publish runs ffmpeg to completion (bounded by timeout) and returns its
// error and stderr.
func publish(t *testing.T, ffmpeg string, args []string, timeout time.Duration) (error, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, ffmpeg, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("ffmpeg still running after %v: %s", timeout, stderr.String())
	}
	return err, stderr.String()
}

// writeMP4 writes the recorded tracks of r (first video, first audio)
// into a fragmented MP4 with mp4ff, so that ffmpeg can decode them.
func writeMP4(t *testing.T, r *recorder) string {
	t.Helper()
	init := mp4.CreateEmptyInit()
	var ids []int
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, tr := range r.tracks {
		typ := "video"
		if tr.Kind == segment.KindAudio {
			typ = "audio"
		}
		init.AddEmptyTrack(tr.Timescale, typ, "und")
		trak := init.Moov.Traks[len(init.Moov.Traks)-1]
		trak.Mdia.Minf.Stbl.Stsd.AddChild(tr.SampleEntry)
		ids = append(ids, i)
	}
	var buf bytes.Buffer
	if err := init.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	for n, i := range ids {
		f, err := mp4.CreateFragment(uint32(n+1), uint32(n+1))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range r.samples {
			if s.track != i {
				continue
			}
			flags := mp4.NonSyncSampleFlags
			if s.s.Sync {
				flags = mp4.SyncSampleFlags
			}
			f.AddFullSampleToTrack(mp4.FullSample{
				Sample:     mp4.Sample{Flags: flags, Dur: s.s.Duration, Size: s.s.Size, CompositionTimeOffset: s.s.CompositionOffset},
				DecodeTime: s.s.DecodeTime,
				Data:       s.payload,
			}, uint32(n+1))
		}
		if err := f.Encode(&buf); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(t.TempDir(), "rec.mp4")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

var _ io.Writer = testWriter{}

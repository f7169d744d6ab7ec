package tsin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/cmafkit/cmafkit/internal/testutil"
	"github.com/cmafkit/cmafkit/live"
	"github.com/cmafkit/cmafkit/segment"
	"github.com/cmafkit/cmafkit/segment/ts"
)

// recorder is a live.Publisher that records what it is given.
type recorder struct {
	mu      sync.Mutex
	tracks  []*segment.Track
	samples [][]rec // per track
	events  []string
	closed  bool
	err     error
}

type rec struct {
	s       segment.Sample
	payload []byte
	epoch   int // discontinuities before it
}

func (r *recorder) AddTrack(ctx context.Context, t *segment.Track) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if t.SampleEntry == nil || t.Timescale == 0 {
		return 0, fmt.Errorf("%w: incomplete", live.ErrBadTrack)
	}
	r.tracks = append(r.tracks, t)
	r.samples = append(r.samples, nil)
	r.events = append(r.events, "track")
	return len(r.tracks) - 1, nil
}

func (r *recorder) WriteSample(ctx context.Context, track int, s segment.Sample, payload []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return live.ErrClosed
	}
	if int(s.Size) != len(payload) {
		return fmt.Errorf("size %d, payload %d", s.Size, len(payload))
	}
	r.samples[track] = append(r.samples[track], rec{s: s, payload: bytes.Clone(payload), epoch: r.discs()})
	return nil
}

func (r *recorder) discs() int {
	n := 0
	for _, e := range r.events {
		if e == "disc" {
			n++
		}
	}
	return n
}

func (r *recorder) Discontinuity(ctx context.Context) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, "disc")
}

func (r *recorder) Close(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed, r.err = true, err
}

// trackOf returns the index of the last declared track of kind.
func (r *recorder) trackOf(kind segment.Kind) int {
	for i := len(r.tracks) - 1; i >= 0; i-- {
		if r.tracks[i].Kind == kind {
			return i
		}
	}
	return -1
}

// makeTS encodes seconds of testsrc2 + sine as H.264 + AAC in MPEG-TS.
func makeTS(t testing.TB, seconds int, extra ...string) string {
	t.Helper()
	bin := testutil.NeedTool(t, "ffmpeg")
	out := filepath.Join(t.TempDir(), "in.ts")
	args := []string{"-hide_banner", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=320x240:rate=25:duration=%d", seconds),
		"-f", "lavfi", "-i", fmt.Sprintf("sine=frequency=440:sample_rate=48000:duration=%d", seconds),
		"-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-bf", "2", "-pix_fmt", "yuv420p",
		"-c:a", "aac", "-b:a", "64k"}
	args = append(args, extra...)
	args = append(args, "-f", "mpegts", out)
	if b, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, b)
	}
	return out
}

// vodSamples demuxes path with the VOD demuxer: per kind, samples and payloads.
func vodSamples(t testing.TB, path string) map[segment.Kind][]rec {
	t.Helper()
	src, err := ts.OpenFile(context.Background(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	out := map[segment.Kind][]rec{}
	for _, tr := range src.Tracks {
		ss, err := tr.Index.AppendSamples(nil, 0, tr.Index.Len())
		if err != nil {
			t.Fatal(err)
		}
		for i := range ss {
			p, err := tr.Data.AppendSample(nil, &ss[i])
			if err != nil {
				t.Fatal(err)
			}
			out[tr.Kind] = append(out[tr.Kind], rec{s: ss[i], payload: p})
		}
	}
	return out
}

// chunked is an io.Reader that returns its data in pieces of random size.
type chunked struct {
	b   []byte
	rnd *rand.Rand
}

func (c *chunked) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, errors.New("EOF")
	}
	n := min(len(p), len(c.b), 1+c.rnd.IntN(3000))
	copy(p, c.b[:n])
	c.b = c.b[n:]
	return n, nil
}

// compare checks that got (live) has the VOD samples of want: same
// payloads, sync flags and composition offsets, and decode times that
// differ from the VOD ones by one constant per track. It returns that
// constant in seconds.
func compare(t *testing.T, kind segment.Kind, got []rec, want []rec, timescale uint32) float64 {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d samples, VOD demuxer %d", kind, len(got), len(want))
	}
	if len(got) == 0 {
		t.Fatalf("%s: no samples", kind)
	}
	off := int64(got[0].s.DecodeTime) - int64(want[0].s.DecodeTime)
	for i := range got {
		g, w := got[i], want[i]
		if d := int64(g.s.DecodeTime) - int64(w.s.DecodeTime); d != off {
			t.Fatalf("%s sample %d: decode time %d, VOD %d (offset %d, first %d)", kind, i, g.s.DecodeTime, w.s.DecodeTime, d, off)
		}
		if g.s.CompositionOffset != w.s.CompositionOffset || g.s.Sync != w.s.Sync || g.s.Size != w.s.Size {
			t.Fatalf("%s sample %d: %+v, VOD %+v", kind, i, g.s, w.s)
		}
		if !bytes.Equal(g.payload, w.payload) {
			t.Fatalf("%s sample %d: payload differs (%d bytes, VOD %d)", kind, i, len(g.payload), len(w.payload))
		}
	}
	return float64(off) / float64(timescale)
}

// TestReadMatchesVOD feeds a TS in random-sized pieces through Read and
// compares every sample with the VOD demuxer's reading of the same file.
func TestReadMatchesVOD(t *testing.T) {
	path := makeTS(t, 4)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := vodSamples(t, path)
	r := &recorder{}
	err = Read(context.Background(), &chunked{b: data, rnd: rand.New(rand.NewPCG(1, 2))}, r, nil)
	if err == nil || err.Error() != "tsin: reading ts: EOF" {
		// chunked ends with a plain error, not io.EOF: Read reports it.
		t.Fatalf("Read: %v", err)
	}
	if !r.closed {
		t.Fatal("publisher not closed")
	}
	if len(r.tracks) != 2 || r.events[0] != "track" || r.events[1] != "track" {
		t.Fatalf("tracks %d, events %v", len(r.tracks), r.events)
	}
	if n := r.discs(); n != 0 {
		t.Fatalf("%d discontinuities", n)
	}
	v, a := r.trackOf(segment.KindVideo), r.trackOf(segment.KindAudio)
	if v < 0 || a < 0 {
		t.Fatalf("tracks: %v", r.tracks)
	}
	if c := r.tracks[v].Codec; c[:4] != "avc1" {
		t.Errorf("video codec %q", c)
	}
	if c := r.tracks[a].Codec; c != "mp4a.40.2" {
		t.Errorf("audio codec %q", c)
	}
	ov := compare(t, segment.KindVideo, r.samples[v], want[segment.KindVideo], r.tracks[v].Timescale)
	oa := compare(t, segment.KindAudio, r.samples[a], want[segment.KindAudio], r.tracks[a].Timescale)
	if d := ov - oa; d > 0.001 || d < -0.001 {
		t.Errorf("video and audio shifted differently from the VOD timeline: %.4f s and %.4f s", ov, oa)
	}
}

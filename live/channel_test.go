package live

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/cmafkit/cmafkit/manifest"
	"github.com/cmafkit/cmafkit/segment"
	"github.com/cmafkit/cmafkit/storage"
)

// memStorage is a Storage in memory.
type memStorage struct {
	mu      sync.Mutex
	objs    map[string][]byte
	deleted []string
}

func newMem() *memStorage { return &memStorage{objs: map[string][]byte{}} }

type memObj struct {
	m    *memStorage
	name string
	bytes.Buffer
}

func (o *memObj) Commit() error {
	o.m.mu.Lock()
	defer o.m.mu.Unlock()
	o.m.objs[o.name] = bytes.Clone(o.Bytes())
	return nil
}
func (o *memObj) Abort() error { return nil }

func (m *memStorage) Create(ctx context.Context, name string) (storage.Object, error) {
	if err := storage.CheckName(name); err != nil {
		return nil, err
	}
	return &memObj{m: m, name: name}, nil
}

func (m *memStorage) Delete(ctx context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.objs[name]; !ok {
		return fs.ErrNotExist
	}
	delete(m.objs, name)
	m.deleted = append(m.deleted, name)
	return nil
}

func (m *memStorage) get(name string) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.objs[name]
}

func (m *memStorage) names(prefix string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for n := range m.objs {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// fakeClock is a wall clock a test moves.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

var epoch = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func (f *fakeClock) Now() time.Time  { f.mu.Lock(); defer f.mu.Unlock(); return f.t }
func (f *fakeClock) Set(t time.Time) { f.mu.Lock(); f.t = t; f.mu.Unlock() }

// pacedPub sets the fake clock to each sample's time before passing it on,
// as if the publisher pushed in real time: base + decode time - shift.
type pacedPub struct {
	Publisher
	clk    *fakeClock
	base   time.Time
	shift  time.Duration
	scales []uint32
}

func (p *pacedPub) AddTrack(ctx context.Context, t *segment.Track) (int, error) {
	n, err := p.Publisher.AddTrack(ctx, t)
	if err == nil {
		for len(p.scales) <= n {
			p.scales = append(p.scales, 0)
		}
		p.scales[n] = t.Timescale
	}
	return n, err
}

func (p *pacedPub) WriteSample(ctx context.Context, track int, s segment.Sample, payload []byte) error {
	if track < len(p.scales) && p.scales[track] > 0 {
		if at := p.base.Add(ticksToDur(int64(s.DecodeTime), p.scales[track]) - p.shift); at.After(p.clk.Now()) {
			p.clk.Set(at)
		}
	}
	return p.Publisher.WriteSample(ctx, track, s, payload)
}

func openTracks(t *testing.T, name string) []*segment.Track {
	t.Helper()
	src, err := segment.OpenFile(context.Background(), "../testdata/"+name, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src.Tracks
}

// fileDuration is the longest track of tracks.
func fileDuration(tracks []*segment.Track) time.Duration {
	var d time.Duration
	for _, t := range tracks {
		d = max(d, ticksToDur(int64(t.Duration), t.Timescale))
	}
	return d
}

func newTestChannel(clk *fakeClock, st storage.Storage) (*Channel, *[]Event) {
	var evs []Event
	var mu sync.Mutex
	ch := &Channel{Storage: st, Clock: clk.Now, OnEvent: func(e Event) { mu.Lock(); evs = append(evs, e); mu.Unlock() }}
	return ch, &evs
}

// replayLoops publishes the file loops times back to back on one
// continuous clock through one session, paced on the fake clock.
func replayLoops(t *testing.T, ch *Channel, clk *fakeClock, tracks []*segment.Track, loops int) {
	t.Helper()
	ctx := context.Background()
	pub, err := ch.Publish(ctx, "test")
	if err != nil {
		t.Fatal(err)
	}
	pp := &pacedPub{Publisher: pub, clk: clk, base: clk.Now()}
	if err := Replay(ctx, tracks, pp, ReplayOptions{Loops: loops}); err != nil {
		t.Fatal(err)
	}
	pub.Close(nil)
}

func TestSegmentsAligned(t *testing.T) {
	clk := &fakeClock{t: epoch}
	st := newMem()
	ch, evs := newTestChannel(clk, st)
	tracks := openTracks(t, "ladder_720p.mp4")
	replayLoops(t, ch, clk, tracks, 1)
	closeChannel(t, ch)
	p := ch.Presentation()
	if p == nil || len(p.Periods) != 1 {
		t.Fatalf("presentation %+v: want one period", p)
	}
	if !p.Ended || p.Type != manifest.Live || !p.AvailabilityStartTime.Equal(epoch) {
		t.Errorf("ended %v type %v AST %v", p.Ended, p.Type, p.AvailabilityStartTime)
	}
	var video, audio *manifest.Representation
	for si := range p.Periods[0].Sets {
		for ri := range p.Periods[0].Sets[si].Representations {
			r := &p.Periods[0].Sets[si].Representations[ri]
			switch r.ID {
			case "video0":
				video = r
			case "audio0":
				audio = r
			}
		}
	}
	if video == nil || audio == nil {
		t.Fatalf("representations missing: %+v", p.Periods[0].Sets)
	}
	if len(video.Segments) < 3 || len(video.Segments) != len(audio.Segments) {
		t.Fatalf("%d video and %d audio segments", len(video.Segments), len(audio.Segments))
	}
	frame := manifest.TicksToDuration(1024, audio.Timescale)
	for i, vs := range video.Segments {
		as := audio.Segments[i]
		if vs.Number != as.Number || vs.Number != uint64(i+1) {
			t.Errorf("segment %d: numbers %d and %d", i, vs.Number, as.Number)
		}
		vt, at := manifest.TicksToDuration(vs.Start, video.Timescale), manifest.TicksToDuration(as.Start, audio.Timescale)
		if d := vt - at; d > frame || d < -frame {
			t.Errorf("segment %d: video starts at %v, audio at %v", i+1, vt, at)
		}
		if i < len(video.Segments)-1 {
			if d := manifest.TicksToDuration(vs.Duration, video.Timescale); d < 2*time.Second {
				t.Errorf("segment %d lasts %v, less than the target", i+1, d)
			}
			if next := video.Segments[i+1]; vs.Start+vs.Duration != next.Start {
				t.Errorf("segment %d ends at %d, next starts at %d", i+1, vs.Start+vs.Duration, next.Start)
			}
		}
		if !vs.ProgramDateTime.Equal(epoch.Add(vt)) {
			t.Errorf("segment %d: program date time %v, want %v", i+1, vs.ProgramDateTime, epoch.Add(vt))
		}
		checkSegment(t, st, video, vs, true)
		checkSegment(t, st, audio, as, false)
	}
	var written int
	for _, e := range *evs {
		if e.Kind == SegmentWritten {
			written++
		}
	}
	if s := ch.Stats(); written != 2*len(video.Segments) || s.Segments != int64(written) || s.Discontinuities != 0 {
		t.Errorf("%d segment events, stats %+v", written, s)
	}
	if err := p.Validate(); err != nil {
		t.Error(err)
	}
}

// checkSegment parses a stored segment with mp4ff: its tfdt is the
// reference's start and a video segment starts with a sync sample.
func checkSegment(t *testing.T, st *memStorage, r *manifest.Representation, s manifest.SegmentRef, video bool) {
	t.Helper()
	b := st.get(s.URI)
	if b == nil || uint64(len(b)) != s.Size {
		t.Errorf("%s: %d bytes stored, reference says %d", s.URI, len(b), s.Size)
		return
	}
	f, err := mp4.DecodeFile(bytes.NewReader(b))
	if err != nil || len(f.Segments) != 1 || len(f.Segments[0].Fragments) == 0 {
		t.Errorf("%s: %v", s.URI, err)
		return
	}
	frag := f.Segments[0].Fragments[0]
	traf := frag.Moof.Traf
	if frag.Moof.Mfhd.SequenceNumber != uint32(s.Number) {
		t.Errorf("%s: mfhd sequence %d", s.URI, frag.Moof.Mfhd.SequenceNumber)
	}
	if video {
		samples, err := frag.GetFullSamples(nil)
		if err != nil || len(samples) == 0 || !samples[0].IsSync() {
			t.Errorf("%s: first sample not sync (%v)", s.URI, err)
		}
		if got := traf.Tfdt.BaseMediaDecodeTime(); int64(got)+int64(samples[0].CompositionTimeOffset) != int64(s.Start) {
			t.Errorf("%s: tfdt %d + cto %d, reference start %d", s.URI, got, samples[0].CompositionTimeOffset, s.Start)
		}
	} else if got := traf.Tfdt.BaseMediaDecodeTime(); got != s.Start {
		t.Errorf("%s: tfdt %d, reference start %d", s.URI, got, s.Start)
	}
	if st.get(r.Init.URI) == nil {
		t.Errorf("init %s not stored", r.Init.URI)
	}
}

// closeChannel closes ch. Until the renderers write live manifests, their
// refusal is logged, not failed.
func closeChannel(t *testing.T, ch *Channel) {
	t.Helper()
	if err := ch.Close(context.Background()); errors.Is(err, manifest.ErrUnsupported) || errors.Is(err, manifest.ErrDuplicateID) {
		t.Log(err)
	} else if err != nil {
		t.Fatal(err)
	}
}

func ptrackOf(ch *Channel, rep string) *ptrack {
	if ch.period == nil {
		return nil
	}
	for _, pt := range ch.period.tracks {
		if pt != nil && pt.st.rep == rep {
			return pt
		}
	}
	return nil
}

var _ = fmt.Sprint

func TestWindowSlidesAndDeletes(t *testing.T) {
	clk := &fakeClock{t: epoch}
	st := newMem()
	ch, _ := newTestChannel(clk, st)
	ch.Window = 6 * time.Second
	ch.Grace = 3 * time.Second
	tracks := openTracks(t, "ladder_720p.mp4")
	// Memory: after every segment, each track holds at most about two
	// segments of samples.
	var maxHeld, maxSeg int
	ch.OnEvent = func(e Event) {
		if e.Kind != SegmentWritten {
			return
		}
		maxSeg = max(maxSeg, int(e.Segment.Size))
		ch.mu.Lock()
		if ch.period != nil {
			for _, pt := range ch.period.tracks {
				if pt != nil {
					maxHeld = max(maxHeld, pt.r.heldBytes()+len(pt.st.buf))
				}
			}
		}
		ch.mu.Unlock()
	}
	replayLoops(t, ch, clk, tracks, 6)
	p := ch.Presentation()
	closeChannel(t, ch)
	if p == nil || len(p.Periods) != 1 {
		t.Fatalf("want one period, got %+v", p)
	}
	for _, set := range p.Periods[0].Sets {
		for _, r := range set.Representations {
			if r.Span() > ch.Window+3*time.Second || r.Span() < ch.Window-3*time.Second {
				t.Errorf("%s: window holds %v, want about %v", r.ID, r.Span(), ch.Window)
			}
			if r.Segments[0].Number < 10 {
				t.Errorf("%s: window starts at segment %d", r.ID, r.Segments[0].Number)
			}
			stored := st.names(r.ID + "/seg-")
			// What left the window is deleted once the grace period is
			// over; what stays is stored.
			if len(stored) > len(r.Segments)+3 {
				t.Errorf("%s: %d segments stored, %d in the window", r.ID, len(stored), len(r.Segments))
			}
			for _, s := range r.Segments {
				if st.get(s.URI) == nil {
					t.Errorf("%s in the window but not stored", s.URI)
				}
			}
		}
	}
	if p.TimeShiftBufferDepth != ch.Window || p.DiscontinuitySequence != 0 {
		t.Errorf("time shift buffer %v, discontinuity sequence %d", p.TimeShiftBufferDepth, p.DiscontinuitySequence)
	}
	if s := ch.Stats(); s.Deleted == 0 {
		t.Errorf("nothing deleted: %+v", s)
	}
	if maxHeld == 0 || maxHeld > 3*maxSeg {
		t.Errorf("a track held %d bytes; the largest segment is %d", maxHeld, maxSeg)
	}
}

func TestDiscontinuityOnTimestampReset(t *testing.T) {
	clk := &fakeClock{t: epoch}
	st := newMem()
	ch, evs := newTestChannel(clk, st)
	tracks := openTracks(t, "ladder_720p.mp4")
	ctx := context.Background()
	pub, err := ch.Publish(ctx, "test")
	if err != nil {
		t.Fatal(err)
	}
	pp := &pacedPub{Publisher: pub, clk: clk, base: clk.Now()}
	if err := Replay(ctx, tracks, pp, ReplayOptions{}); err != nil {
		t.Fatal(err)
	}
	// The encoder restarts its clock at zero on the same session (the
	// tracks declared again with the same configuration).
	end := clk.Now()
	pp2 := &pacedPub{Publisher: &redeclared{Publisher: pub}, clk: clk, base: end}
	if err := Replay(ctx, tracks, pp2, ReplayOptions{}); err != nil {
		t.Fatal(err)
	}
	p := ch.Presentation()
	pub.Close(nil)
	if p == nil || len(p.Periods) != 2 {
		t.Fatalf("want two periods, got %+v", p)
	}
	first, second := p.Periods[0].Sets[0].Representations[0], p.Periods[1].Sets[0].Representations[0]
	if first.ID != second.ID {
		t.Errorf("representation %s became %s", first.ID, second.ID)
	}
	last := first.Segments[len(first.Segments)-1]
	if second.Segments[0].Number != last.Number+1 {
		t.Errorf("numbers: %d then %d", last.Number, second.Segments[0].Number)
	}
	firstEnd := manifest.TicksToDuration(last.Start+last.Duration, first.Timescale)
	if p.Periods[1].Start < firstEnd || manifest.TicksToDuration(second.Segments[0].Start+1, second.Timescale) < p.Periods[1].Start {
		t.Errorf("period 2 starts at %v (segment at %v), period 1 ends at %v", p.Periods[1].Start,
			manifest.TicksToDuration(second.Segments[0].Start, second.Timescale), firstEnd)
	}
	if second.Init.URI == first.Init.URI || st.get(second.Init.URI) == nil {
		t.Errorf("init segments %s and %s", first.Init.URI, second.Init.URI)
	}
	var disc int
	for _, e := range *evs {
		if e.Kind == Discontinuity {
			disc++
		}
	}
	if disc != 1 || ch.Stats().Discontinuities != 1 {
		t.Errorf("%d discontinuity events, stats %+v", disc, ch.Stats())
	}
	validateLive(t, p)
}

// validateLive validates p. Live periods repeat their representation IDs
// (an HLS media playlist runs across them); until manifest.Validate
// allows that, a duplicate ID across periods is not counted.
func validateLive(t *testing.T, p *manifest.Presentation) {
	t.Helper()
	err := p.Validate()
	if err == nil {
		return
	}
	for _, pd := range p.Periods {
		seen := map[string]bool{}
		for _, set := range pd.Sets {
			for _, r := range set.Representations {
				if seen[r.ID] {
					t.Errorf("period %s: representation %s twice", pd.ID, r.ID)
				}
				seen[r.ID] = true
			}
		}
	}
	var ve *manifest.ValidationError
	for _, e := range unwrapAll(err) {
		if errors.As(e, &ve) && errors.Is(e, manifest.ErrDuplicateID) && len(p.Periods) > 1 {
			continue
		}
		t.Error(e)
	}
}

func unwrapAll(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, unwrapAll(e)...)
		}
		return out
	}
	return []error{err}
}

// redeclared answers AddTrack with the numbers the session already has, as
// an encoder that goes on with the same tracks.
type redeclared struct {
	Publisher
	n int
}

func (r *redeclared) AddTrack(ctx context.Context, t *segment.Track) (int, error) {
	r.n++
	return r.n - 1, nil
}

func TestSecondPublisherRefusedAndReconnect(t *testing.T) {
	clk := &fakeClock{t: epoch}
	st := newMem()
	ch, _ := newTestChannel(clk, st)
	ctx := context.Background()
	tracks := openTracks(t, "ladder_720p.mp4")
	pub, err := ch.Publish(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.Publish(ctx, "a"); !errors.Is(err, ErrKeyInUse) {
		t.Fatalf("second publisher: %v, want ErrKeyInUse", err)
	}
	pp := &pacedPub{Publisher: pub, clk: clk, base: clk.Now()}
	if err := Replay(ctx, tracks, pp, ReplayOptions{}); err != nil {
		t.Fatal(err)
	}
	pub.Close(errBoom)
	if err := pub.WriteSample(ctx, 0, segment.Sample{Size: 1}, []byte{0}); !errors.Is(err, ErrClosed) {
		t.Errorf("write after close: %v", err)
	}
	// Back 5 s later on the wall clock.
	clk.Set(clk.Now().Add(5 * time.Second))
	gap := clk.Now().Sub(epoch)
	pub, err = ch.Publish(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	pp = &pacedPub{Publisher: pub, clk: clk, base: clk.Now()}
	if err := Replay(ctx, tracks, pp, ReplayOptions{}); err != nil {
		t.Fatal(err)
	}
	pub.Close(nil)
	closeChannel(t, ch)
	p := ch.Presentation()
	if len(p.Periods) != 2 || p.Periods[1].Start != gap {
		t.Fatalf("periods %d, second starts at %v, want %v (the wall clock)", len(p.Periods), p.Periods[1].Start, gap)
	}
	seg := p.Periods[1].Sets[0].Representations[0].Segments[0]
	if !seg.ProgramDateTime.Equal(epoch.Add(gap)) {
		t.Errorf("program date time after the gap %v, want %v", seg.ProgramDateTime, epoch.Add(gap))
	}
	if s := ch.Stats(); s.Publishers != 2 || s.Refused != 1 {
		t.Errorf("stats %+v", s)
	}
	if _, err := ch.Publish(ctx, "a"); !errors.Is(err, ErrClosed) {
		t.Errorf("publish after Close: %v", err)
	}
}

// garbagePub corrupts every 50th sample's size or payload.
type garbagePub struct {
	Publisher
	n, refused int
}

func (g *garbagePub) WriteSample(ctx context.Context, track int, s segment.Sample, payload []byte) error {
	g.n++
	switch g.n % 100 {
	case 50:
		s.Size++ // size and payload disagree
	case 0:
		if track == 0 { // video: lengths that do not add up
			payload = append([]byte{0xff, 0xff, 0xff, 0xff}, payload[4:]...)
		} else {
			g.n--
		}
	}
	err := g.Publisher.WriteSample(ctx, track, s, payload)
	if errors.Is(err, ErrBadSample) {
		var se *SampleError
		if !errors.As(err, &se) || se.Key != "k" || se.Track != track {
			return fmt.Errorf("error %v does not name the session and track", err)
		}
		g.refused++
		return nil
	}
	return err
}

func TestGarbageRefusedChannelGoesOn(t *testing.T) {
	clk := &fakeClock{t: epoch}
	ch, _ := newTestChannel(clk, newMem())
	ctx := context.Background()
	tracks := openTracks(t, "ladder_720p.mp4")
	pub, err := ch.Publish(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	g := &garbagePub{Publisher: &pacedPub{Publisher: pub, clk: clk, base: clk.Now()}}
	if err := Replay(ctx, tracks, g, ReplayOptions{}); err != nil {
		t.Fatal(err)
	}
	pub.Close(nil)
	s := ch.Stats()
	if g.refused < 5 || s.Rejected != int64(g.refused) || s.Segments < 6 {
		t.Errorf("%d refused; stats %+v", g.refused, s)
	}
	if _, err := pub.AddTrack(ctx, &segment.Track{Kind: segment.KindText}); !errors.Is(err, ErrBadTrack) {
		t.Errorf("text track: %v", err)
	}
}

var errBoom = errors.New("boom")

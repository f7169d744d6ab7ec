// Command livebench runs N live channels in one process, each fed by a
// synthetic publisher (live.Replay of a file, looped on one clock, in real
// time), and measures what a live origin host needs to know: whether the
// channels keep up with real time, the CPU and memory each costs, and the
// delay from the arrival of the sample that completes a segment to the
// channel's manifests naming it (segment cut, CMAF writing, encryption,
// storage and manifest rendering and storage, all done inside that one
// WriteSample call before OnEvent reports the segment).
//
//	go run ./bench/livebench -channels 20 -duration 60s -input clip.mp4 [-encryption cenc] [-ingest rtmp] [-dir /dev/shm]
//
// With -ingest rtmp the samples go through the RTMP ingest on 127.0.0.1,
// sent by a Go RTMP client per channel. With -media 2h -speed 0 each channel
// is fed two hours of media as fast as possible on a media clock, and -log
// records RSS and the objects stored over time (the soak).
//
// It prints one Markdown table row, with a verdict per goal of issue 17;
// bench/live.sh makes a 1080p input and runs it for the goal points,
// bench/soak.sh runs the soak. See bench/README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cmafkit/cmafkit/drm"
	"github.com/cmafkit/cmafkit/live"
	"github.com/cmafkit/cmafkit/segment"
	"github.com/cmafkit/cmafkit/storage"
)

// config is what one run measures.
type config struct {
	Channels   int
	Duration   time.Duration // wall clock of the run (Speed > 0)
	Input      string
	Dir        string  // parent of the channels' output directories
	Speed      float64 // 1: real time; 0: as fast as possible, one loop (smoke)
	Encryption string  // "", "cenc" or "cbcs"
	// Ingest is how samples reach the channels: "" (or "direct") through
	// the live.Publisher of Channel.Publish; "rtmp" through the RTMP
	// ingest (ingest/rtmp on 127.0.0.1), each channel's samples sent by a
	// Go RTMP client (gortmplib) in the same process.
	Ingest  string
	Segment time.Duration
	Window  time.Duration
	// Media, when set, is how much media each channel is fed (the source
	// looped as often as needed) instead of Duration of wall clock. With
	// Speed 0 the channels then run on a media clock (their Clock is the
	// first sample's wall time plus the media pushed), so that window
	// trimming and deletion behave as in a real-time stream: the soak.
	Media time.Duration
	// Log, when set, receives one line every Every of wall clock: media
	// pushed, RSS, live heap, and the objects and bytes stored.
	Log   io.Writer
	Every time.Duration
}

// result is what a run measured.
type result struct {
	Channels        int
	Wall            time.Duration
	CPU             time.Duration // user + system of the process during the run
	Segments        int64
	Errors          int64
	MaxLag          time.Duration // the most any publisher fell behind real time
	P50, P99, Max   time.Duration // segment availability delay
	RSSPerChannelMB float64       // (RSS at the end − RSS before) / channels
	HeapPerChannel  float64       // peak live heap (as of each GC) MiB per channel, above the heap before the channels
	MediaSeconds    float64       // media pushed per channel
	BitrateMbps     float64       // payload accepted per channel over MediaSeconds
	CPUPerChannel   float64       // cores one channel keeps busy
	Soak            soakStats     // with config.Log
}

// soakStats sums up the -log samples.
type soakStats struct {
	Samples           int
	RSSFirst, RSSLast float64 // MiB, at the first sample after one window of media, and at the end
	RSSMin, RSSMax    float64 // MiB, over the samples after one window of media
	MaxObjects        int     // most objects stored at once, all channels
	MaxBytes          int64
}

func main() {
	var c config
	flag.IntVar(&c.Channels, "channels", 10, "channels in the process")
	flag.DurationVar(&c.Duration, "duration", 60*time.Second, "how long the channels run")
	flag.StringVar(&c.Input, "input", "testdata/ladder_360p.mp4", "MP4 or MPEG-TS replayed by every channel, looped")
	flag.StringVar(&c.Dir, "dir", os.TempDir(), "where the channels write (a directory each)")
	flag.Float64Var(&c.Speed, "speed", 1, "replay speed (1: real time; 0: as fast as possible, once)")
	flag.StringVar(&c.Encryption, "encryption", "", "encrypt: cenc or cbcs")
	flag.StringVar(&c.Ingest, "ingest", "direct", "how samples arrive: direct (live.Publisher) or rtmp (RTMP ingest on 127.0.0.1, a Go RTMP client per channel)")
	flag.DurationVar(&c.Segment, "segment-duration", 2*time.Second, "target segment duration")
	flag.DurationVar(&c.Window, "window", 30*time.Second, "window")
	flag.DurationVar(&c.Media, "media", 0, "feed this much media per channel (looping the input) instead of -duration; with -speed 0, on a media clock (the soak)")
	logName := flag.String("log", "", "append a sample line (media, RSS, heap, stored objects and bytes) to this file every -every")
	flag.DurationVar(&c.Every, "every", 5*time.Second, "wall-clock interval of the -log lines")
	header := flag.Bool("header", false, "print the table header first")
	flag.Parse()
	ctx := context.Background()
	if *logName != "" {
		f, err := os.OpenFile(*logName, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			fmt.Fprintln(os.Stderr, "livebench:", err)
			os.Exit(1)
		}
		defer f.Close()
		c.Log = f
	}
	r, err := run(ctx, c)
	if err != nil {
		fmt.Fprintln(os.Stderr, "livebench:", err)
		os.Exit(1)
	}
	if *header {
		fmt.Println("| channels | enc | ingest | wall s | CPU cores | cores/channel | max lag ms | delay p50 ms | p99 ms | max ms | RSS MiB/channel | heap MiB/channel | Mb/s/channel | segments | errors | real time | p99 < 5 ms | heap ≤ goal MiB | RSS ≤ goal |")
		fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	}
	ingest := c.Ingest
	if ingest == "" {
		ingest = "direct"
	}
	yes := func(b bool) string {
		if b {
			return "yes"
		}
		return "**no**"
	}
	// The goals of issue 17: channels keep real time (no publisher more
	// than a segment duration behind), p99 delay under 5 ms, and memory
	// per channel at most two segment durations of media plus 1 MiB.
	memGoal := 2*c.Segment.Seconds()*r.BitrateMbps*1e6/8/(1<<20) + 1
	realTime := "n/a"
	if c.Speed == 1 {
		realTime = yes(r.MaxLag < c.Segment)
	}
	enc := c.Encryption
	if enc == "" {
		enc = "clear"
	}
	fmt.Printf("| %d | %s | %s | %.1f | %.2f | %.3f | %d | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %d | %d | %s | %s | %s (%.1f) | %s |\n",
		r.Channels, enc, ingest, r.Wall.Seconds(), r.CPU.Seconds()/r.Wall.Seconds(), r.CPUPerChannel, r.MaxLag.Milliseconds(),
		ms(r.P50), ms(r.P99), ms(r.Max), r.RSSPerChannelMB, r.HeapPerChannel, r.BitrateMbps, r.Segments, r.Errors,
		realTime, yes(r.P99 < 5*time.Millisecond), yes(r.HeapPerChannel <= memGoal), memGoal, yes(r.RSSPerChannelMB <= memGoal))
	if c.Log != nil {
		s := r.Soak
		fmt.Printf("soak: %.0f s of media per channel in %.0f s; RSS after the first window %.1f MiB, min %.1f, max %.1f, at the end %.1f (%d samples); stored at most %d objects, %.1f MiB\n",
			r.MediaSeconds, r.Wall.Seconds(), s.RSSFirst, s.RSSMin, s.RSSMax, s.RSSLast, s.Samples, s.MaxObjects, float64(s.MaxBytes)/(1<<20))
	}
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// timedPublisher measures, for the channel it publishes to, how far the
// replay falls behind real time and how long the WriteSample call that
// completes a segment takes to report it.
type timedPublisher struct {
	live.Publisher
	mu     sync.Mutex
	ts     []uint32
	start  time.Time // wall clock of the first sample
	first  time.Duration
	callAt time.Time // when the current WriteSample began
	maxLag time.Duration
	media  time.Duration
	clock  atomic.Int64  // media pushed, for the media clock (see config.Media)
	gone   chan struct{} // closed when the channel reports its publisher gone
	goneMu sync.Once
	delays []time.Duration
	seen   map[uint64]bool
}

func (p *timedPublisher) AddTrack(ctx context.Context, t *segment.Track) (int, error) {
	n, err := p.Publisher.AddTrack(ctx, t)
	if err == nil {
		p.mu.Lock()
		for len(p.ts) <= n {
			p.ts = append(p.ts, 0)
		}
		p.ts[n] = t.Timescale
		p.mu.Unlock()
	}
	return n, err
}

func (p *timedPublisher) WriteSample(ctx context.Context, track int, s segment.Sample, payload []byte) error {
	now := time.Now()
	p.mu.Lock()
	at := time.Duration(s.DecodeTime) * time.Second / time.Duration(p.ts[track])
	if p.start.IsZero() {
		p.start, p.first = now, at
	}
	p.media = max(p.media, at-p.first)
	p.clock.Store(int64(p.media))
	p.maxLag = max(p.maxLag, now.Sub(p.start)-(at-p.first))
	p.callAt = now
	p.mu.Unlock()
	return p.Publisher.WriteSample(ctx, track, s, payload)
}

// event is the channel's OnEvent: it runs inside the WriteSample call that
// wrote the segment, after the manifests were stored.
func (p *timedPublisher) event(e live.Event) {
	if e.Kind == live.PublisherGone {
		p.goneMu.Do(func() { close(p.gone) })
	}
	if e.Kind != live.SegmentWritten {
		return
	}
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.seen[e.Segment.Number] || p.callAt.IsZero() {
		return
	}
	p.seen[e.Segment.Number] = true
	p.delays = append(p.delays, now.Sub(p.callAt))
}

var testKey = "00112233445566778899aabbccddeeff:0123456789abcdef0123456789abcdef"

func run(ctx context.Context, c config) (*result, error) {
	if c.Channels <= 0 {
		return nil, errors.New("no channels")
	}
	var enc *drm.Config
	if c.Encryption != "" {
		scheme, err := drm.ParseScheme(c.Encryption)
		if err != nil {
			return nil, err
		}
		keys, err := drm.ParseKeyPairs(testKey)
		if err != nil {
			return nil, err
		}
		enc = &drm.Config{Scheme: scheme, Keys: &drm.StaticKeys{Default: keys}}
	}
	work, err := os.MkdirTemp(c.Dir, "livebench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	runtime.GC()
	rss0 := rssMB()
	live0 := liveHeap()
	stopHeap, heapPeak := make(chan struct{}), make(chan uint64, 1)
	go func() { heapPeak <- peakLiveHeap(stopHeap) }()
	cpu0 := cpuTime()
	start := time.Now()
	runCtx, cancel := context.WithTimeout(ctx, c.Duration)
	defer cancel()
	if c.Speed <= 0 || c.Media > 0 {
		runCtx = ctx
	}
	pubs := make([]*timedPublisher, c.Channels)
	chans := make([]*live.Channel, c.Channels)
	var rtmpURL string
	switch c.Ingest {
	case "", "direct":
	case "rtmp":
		// Key N publishes to channel N, through its timedPublisher.
		url, stop, err := startRTMP(ctx, func(ctx context.Context, key string) (live.Publisher, error) {
			i, err := strconv.Atoi(key)
			if err != nil || i < 0 || i >= len(chans) {
				return nil, live.ErrUnknownKey
			}
			pub, err := chans[i].Publish(ctx, key)
			if err != nil {
				return nil, err
			}
			tp := pubs[i]
			tp.mu.Lock()
			tp.Publisher = pub
			tp.mu.Unlock()
			return tp, nil
		})
		if err != nil {
			return nil, err
		}
		defer stop()
		rtmpURL = url
	default:
		return nil, fmt.Errorf("unknown -ingest %q (direct or rtmp)", c.Ingest)
	}
	errs := make([]error, c.Channels)
	var wg sync.WaitGroup
	for i := range c.Channels {
		dir := filepath.Join(work, strconv.Itoa(i))
		if err := os.Mkdir(dir, 0o755); err != nil {
			return nil, err
		}
		src, err := segment.OpenFile(ctx, c.Input, nil)
		if err != nil {
			return nil, err
		}
		defer src.Close()
		tp := &timedPublisher{seen: map[uint64]bool{}, gone: make(chan struct{})}
		ch := &live.Channel{Storage: storage.Dir(dir), SegmentDuration: c.Segment, Window: c.Window, Encryption: enc, OnEvent: tp.event}
		if c.Media > 0 && c.Speed <= 0 {
			t0 := time.Now()
			ch.Clock = func() time.Time { return t0.Add(time.Duration(tp.clock.Load())) }
		}
		pubs[i], chans[i] = tp, ch
		var feed live.Publisher = tp
		if rtmpURL != "" {
			feed = &rtmpPublisher{url: rtmpURL + strconv.Itoa(i)}
		} else {
			pub, err := ch.Publish(ctx, "bench")
			if err != nil {
				return nil, err
			}
			tp.Publisher = pub
		}
		loops := -1
		if c.Speed <= 0 {
			loops = 1
		}
		if c.Media > 0 {
			loops = loopsFor(src.Tracks, c.Media)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Staggered so that the channels do not all cut at once.
			if c.Speed > 0 {
				time.Sleep(time.Duration(i) * c.Segment / time.Duration(c.Channels))
			}
			err := live.Replay(runCtx, src.Tracks, feed, live.ReplayOptions{Speed: c.Speed, Loops: loops})
			if rtmpURL != "" {
				feed.Close(nil)
			}
			if err != nil && runCtx.Err() == nil {
				errs[i] = err
			}
		}()
	}
	var soak soakStats
	stopLog := make(chan struct{})
	logged := make(chan struct{})
	if c.Log != nil {
		go func() {
			defer close(logged)
			soak = logSamples(c, work, pubs, start, stopLog)
		}()
	} else {
		close(logged)
	}
	wg.Wait()
	if rtmpURL != "" {
		// What the clients sent is still being ingested: wait for each
		// session to end.
		for _, tp := range pubs {
			select {
			case <-tp.gone:
			case <-time.After(10 * time.Second):
			}
		}
	}
	close(stopLog)
	<-logged
	wall := time.Since(start)
	cpu := cpuTime() - cpu0
	rss := rssMB()
	close(stopHeap)
	peak := <-heapPeak
	r := &result{Channels: c.Channels, Wall: wall, CPU: cpu, RSSPerChannelMB: (rss - rss0) / float64(c.Channels),
		HeapPerChannel: float64(peak-live0) / (1 << 20) / float64(c.Channels), Soak: soak}
	var all []time.Duration
	var media time.Duration
	var bytes int64
	for i, tp := range pubs {
		if rtmpURL == "" {
			tp.Close(nil)
		}
		if err := chans[i].Close(ctx); err != nil && errs[i] == nil {
			errs[i] = err
		}
		st := chans[i].Stats()
		r.Segments += st.Segments
		r.Errors += st.Errors
		bytes += st.Bytes
		all = append(all, tp.delays...)
		r.MaxLag = max(r.MaxLag, tp.maxLag)
		media += tp.media
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	r.MediaSeconds = media.Seconds() / float64(c.Channels)
	if r.MediaSeconds > 0 {
		r.BitrateMbps = float64(bytes) * 8 / 1e6 / float64(c.Channels) / r.MediaSeconds
	}
	r.CPUPerChannel = cpu.Seconds() / wall.Seconds() / float64(c.Channels)
	slices.Sort(all)
	if n := len(all); n > 0 {
		r.P50, r.P99, r.Max = all[n/2], all[min(n-1, n*99/100)], all[n-1]
	}
	return r, nil
}

// loopsFor is how many loops of tracks make at least media (as live.Replay
// loops: each by the longest track's duration).
func loopsFor(tracks []*segment.Track, media time.Duration) int {
	var loop time.Duration
	for _, t := range tracks {
		if (t.Kind == segment.KindVideo || t.Kind == segment.KindAudio) && t.Timescale > 0 {
			loop = max(loop, time.Duration(float64(t.Duration)/float64(t.Timescale)*float64(time.Second)))
		}
	}
	if loop <= 0 {
		return 1
	}
	return int((media + loop - 1) / loop)
}

// logSamples writes a line to c.Log every c.Every until stop is closed, and
// once more at the end: wall and media seconds (the least any channel
// pushed), RSS and live heap, and the objects and bytes stored under work.
func logSamples(c config, work string, pubs []*timedPublisher, start time.Time, stop <-chan struct{}) soakStats {
	var st soakStats
	fmt.Fprintf(c.Log, "# livebench soak: %d channels, input %s, speed %g, encryption %q, segment %s, window %s, media %s per channel\n",
		c.Channels, c.Input, c.Speed, c.Encryption, c.Segment, c.Window, c.Media)
	fmt.Fprintln(c.Log, "# wall_s media_s rss_mib heap_mib objects bytes")
	tick := time.NewTicker(c.Every)
	defer tick.Stop()
	sample := func() {
		media := time.Duration(-1)
		for _, p := range pubs {
			m := time.Duration(p.clock.Load())
			if media < 0 || m < media {
				media = m
			}
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		rss := rssMB()
		objects, bytes := stored(work)
		fmt.Fprintf(c.Log, "%.1f %.1f %.1f %.1f %d %d\n", time.Since(start).Seconds(), media.Seconds(), rss,
			float64(ms.HeapInuse)/(1<<20), objects, bytes)
		st.MaxObjects = max(st.MaxObjects, objects)
		st.MaxBytes = max(st.MaxBytes, bytes)
		if media >= c.Window {
			if st.Samples == 0 {
				st.RSSFirst, st.RSSMin, st.RSSMax = rss, rss, rss
			}
			st.Samples++
			st.RSSLast = rss
			st.RSSMin, st.RSSMax = min(st.RSSMin, rss), max(st.RSSMax, rss)
		}
	}
	for {
		select {
		case <-stop:
			sample()
			return st
		case <-tick.C:
			sample()
		}
	}
}

// stored counts the files under dir and their bytes.
func stored(dir string) (n int, bytes int64) {
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n++
				bytes += fi.Size()
			}
		}
		return nil
	})
	return n, bytes
}

// liveHeap is the heap live after the last GC (runtime/metrics).
func liveHeap() uint64 {
	m := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(m)
	if m[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return m[0].Value.Uint64()
}

// peakLiveHeap samples liveHeap every 100 ms until stop is closed and
// returns the highest: the live data at its peak, without the garbage
// that HeapInuse or RSS also count.
func peakLiveHeap(stop <-chan struct{}) uint64 {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	peak := liveHeap()
	for {
		select {
		case <-stop:
			return max(peak, liveHeap())
		case <-tick.C:
			peak = max(peak, liveHeap())
		}
	}
}

// cpuTime is the process's user and system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rssMB is the resident set size in MiB (Linux), or 0.
func rssMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

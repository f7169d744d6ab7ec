package tsin

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/internal/testutil"
	"github.com/cmafkit/cmafkit/live"
	"github.com/cmafkit/cmafkit/segment"
	"github.com/cmafkit/cmafkit/storage"
)

// udpRelay forwards the datagrams arriving on in to out, dropping each with
// probability 1/100 (a deterministic sequence from seed), until in is
// closed; it returns how many it forwarded and dropped.
func udpRelay(in *net.UDPConn, out *net.UDPConn, seed uint64) (sent, dropped int) {
	rnd := rand.New(rand.NewPCG(seed, seed+1))
	buf := make([]byte, 64<<10)
	for {
		n, err := in.Read(buf)
		if err != nil {
			return sent, dropped
		}
		if rnd.IntN(100) == 0 {
			dropped++
			continue
		}
		if _, err := out.Write(buf[:n]); err == nil {
			sent++
		}
	}
}

// TestUDPLossChannel is the 1 % loss fault on a whole live channel: ffmpeg
// sends a 12 s TS over UDP on 127.0.0.1 (seven packets a datagram, at
// three times real time), through a relay in the test that drops 1 % of
// the datagrams, to ReadUDP publishing into a live.Channel. The channel
// must stay alive (one publisher session, no error, no rejected sample),
// every MPD it writes must validate, its segments must cover the stream to
// its end without a period break, and ffprobe must decode them (errors in
// the damaged frames are expected; most frames must decode).
func TestUDPLossChannel(t *testing.T) {
	ffmpeg := testutil.NeedTool(t, "ffmpeg")
	ffprobe := testutil.NeedTool(t, "ffprobe")
	t.Parallel()
	const seconds = 12
	path := makeTS(t, seconds)
	want := vodSamples(t, path)

	ingest, err := ListenUDP("udp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	relayIn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	_ = relayIn.SetReadBuffer(4 << 20)
	relayOut, err := net.DialUDP("udp", nil, ingest.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer relayOut.Close()
	type counts struct{ sent, dropped int }
	relayed := make(chan counts, 1)
	go func() {
		s, d := udpRelay(relayIn, relayOut, 7)
		relayed <- counts{s, d}
	}()

	dir := t.TempDir()
	var (
		mu    sync.Mutex
		mpds  [][]byte
		gone  int
		warns []string
	)
	var logs syncBuffer
	ch := &live.Channel{Storage: storage.Dir(dir), SegmentDuration: time.Second, Window: -1,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		OnEvent: func(e live.Event) {
			mu.Lock()
			defer mu.Unlock()
			switch e.Kind {
			case live.SegmentWritten:
				// The MPD as a player would fetch it after this segment.
				if b, err := os.ReadFile(filepath.Join(dir, live.DASHName)); err == nil && (len(mpds) == 0 || !bytes.Equal(mpds[len(mpds)-1], b)) {
					mpds = append(mpds, b)
				}
			case live.PublisherGone:
				gone++
			case live.Warning:
				warns = append(warns, e.Err.Error())
			}
		}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pub, err := ch.Publish(ctx, "udp")
	if err != nil {
		t.Fatal(err)
	}
	read := make(chan error, 1)
	go func() { read <- ReadUDP(ctx, ingest, pub, &Options{Logger: ch.Logger}) }()

	cmd := exec.Command(ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-readrate", "3", "-i", path,
		"-c", "copy", "-f", "mpegts", "udp://"+relayIn.LocalAddr().String()+"?pkt_size=1316")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	// What is in flight reaches the channel (its sample count stops
	// growing); then the stream ends.
	time.Sleep(200 * time.Millisecond)
	relayIn.Close()
	rc := <-relayed
	for last, still, deadline := int64(-1), 0, time.Now().Add(10*time.Second); still < 5 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		if n := ch.Stats().Samples; n != last {
			last, still = n, 0
		} else {
			still++
		}
	}
	mu.Lock()
	if gone != 0 {
		t.Errorf("the publisher went away during the stream")
	}
	mu.Unlock()
	cancel()
	if err := <-read; err != nil {
		t.Errorf("ReadUDP: %v", err)
	}
	if err := ch.Close(context.Background()); err != nil {
		t.Errorf("Close: %v", err)
	}
	st := ch.Stats()
	t.Logf("relay: %d datagrams forwarded, %d dropped; channel %+v", rc.sent, rc.dropped, st)
	if rc.dropped == 0 || rc.dropped*50 > rc.sent+rc.dropped {
		t.Fatalf("the relay dropped %d of %d datagrams, want about 1 %%", rc.dropped, rc.sent+rc.dropped)
	}
	if st.Publishers != 1 || st.Errors != 0 || st.Rejected != 0 || st.Discontinuities != 0 {
		t.Errorf("channel stats %+v: want one session, no error, no rejected sample, no period break", st)
	}
	mu.Lock()
	t.Logf("%d MPD versions, %d warnings: %q", len(mpds), len(warns), warns)
	final, err := os.ReadFile(filepath.Join(dir, live.DASHName))
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range append(mpds, final) {
		testutil.ValidateMPDBytes(t, "v"+strconv.Itoa(i)+".mpd", b)
	}
	mu.Unlock()

	p := ch.Presentation()
	if p == nil || len(p.Periods) != 1 {
		t.Fatalf("presentation %+v: want one period", p)
	}
	for _, set := range p.Periods[0].Sets {
		for _, rep := range set.Representations {
			kind := segment.KindVideo
			if rep.Width == 0 {
				kind = segment.KindAudio
			}
			segs := rep.Segments
			if len(segs) == 0 {
				t.Fatalf("%s: no segments", rep.ID)
			}
			// Contiguous, and reaching the stream's end: the channel did
			// not stall at a loss.
			for i := 1; i < len(segs); i++ {
				if segs[i].Start != segs[i-1].Start+segs[i-1].Duration {
					t.Errorf("%s: segment %d starts at %d, the previous ends at %d", rep.ID, segs[i].Number, segs[i].Start, segs[i-1].Start+segs[i-1].Duration)
				}
			}
			last := segs[len(segs)-1]
			end := float64(last.Start+last.Duration-segs[0].Start) / float64(rep.Timescale)
			if end < seconds-1.5 {
				t.Errorf("%s: segments cover %.2f s of a %d s stream", rep.ID, end, seconds)
			}
			var b []byte
			for _, uri := range append([]string{rep.Init.URI}, segURIs(segs)...) {
				d, err := os.ReadFile(filepath.Join(dir, uri))
				if err != nil {
					t.Fatal(err)
				}
				b = append(b, d...)
			}
			cat := filepath.Join(dir, rep.ID+".mp4")
			if err := os.WriteFile(cat, b, 0o644); err != nil {
				t.Fatal(err)
			}
			n, errs := decodeFrames(t, ffprobe, cat)
			t.Logf("%s: %d segments covering %.2f s; ffprobe decodes %d of the TS's %d frames, %d error lines", rep.ID, len(segs), end, n, len(want[kind]), errs)
			// A lost datagram costs the access unit it hit, and for video
			// what depends on it up to the next keyframe (1 s here).
			if min := len(want[kind]) * map[segment.Kind]int{segment.KindVideo: 50, segment.KindAudio: 90}[kind] / 100; n < min || n > len(want[kind]) {
				t.Errorf("%s: ffprobe decodes %d frames, want %d to %d", rep.ID, n, min, len(want[kind]))
			}
		}
	}
}

// decodeFrames returns how many frames ffprobe decodes in the first stream
// of name and how many error lines it printed; it fails only when ffprobe
// cannot read the file at all.
func decodeFrames(t *testing.T, ffprobe, name string) (frames, errLines int) {
	t.Helper()
	cmd := exec.Command(ffprobe, "-v", "error", "-count_frames", "-select_streams", "0",
		"-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", name)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("ffprobe %s: %v", name, err)
	}
	n, perr := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(string(out)), ","))
	if err != nil || perr != nil {
		t.Fatalf("ffprobe %s: %v %q\n%s", name, err, out, stderr.String())
	}
	if s := strings.TrimSpace(stderr.String()); s != "" {
		errLines = strings.Count(s, "\n") + 1
		t.Logf("ffprobe %s:\n%s", filepath.Base(name), s)
	}
	return n, errLines
}

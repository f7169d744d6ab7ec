package webrtc

import (
	"bytes"
	"context"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/pion/rtp"
	pion "github.com/pion/webrtc/v4"

	"github.com/cmafkit/cmafkit/internal/serve"
	"github.com/cmafkit/cmafkit/internal/testutil"
	"github.com/cmafkit/cmafkit/live"
	"github.com/cmafkit/cmafkit/storage"
)

// newTestServer serves a Server for one channel "ch" (stream key "ch",
// token "secret") on 127.0.0.1.
func newTestServer(t testing.TB, segDur time.Duration) (*Server, *live.Channel, string, string) {
	t.Helper()
	dir := t.TempDir()
	ch := &live.Channel{Storage: storage.Dir(dir), SegmentDuration: segDur}
	s := &Server{
		Publishers: func(ctx context.Context, key string) (live.Publisher, error) {
			if key != "ch" {
				return nil, live.ErrUnknownKey
			}
			return ch.Publish(ctx, key)
		},
		Token: func(key string) (string, bool) { return "secret", key == "ch" },
		Channels: func(name string) (*live.Channel, bool) {
			return ch, name == "ch"
		},
		KeyframeInterval: segDur,
		ICE:              ICE{Loopback: true},
		ConnectTimeout:   3 * time.Second,
		Logger:           slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	// The test pages (testdata) under /_t/ and the preview page's assets
	// (whep.js) come from the same origin as the endpoints.
	pages, err := serve.Dir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	root, err := serve.Dir(dir)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/whip/", s)
	mux.Handle("/whep/", s)
	mux.Handle("/", serve.NewHandler(root, serve.Config{Mounts: map[string]fs.FS{"/_t/": pages}, WHEP: "/whep/ch"}))
	hs := httptest.NewServer(mux)
	t.Cleanup(func() {
		s.Close()
		hs.Close()
		ch.Close(context.Background())
	})
	return s, ch, hs.URL, dir
}

// TestPionWHIPToWHEP publishes H.264 and Opus with a pion WHIP client and
// checks that the channel packages both (avc1 with the stream's SPS and
// an Opus sample entry), that the publisher was asked for keyframes, and
// that a pion WHEP viewer receives the video from a keyframe on, and the
// Opus audio.
func TestPionWHIPToWHEP(t *testing.T) {
	if testing.Short() {
		t.Skip("real peers: skipped with -short")
	}
	t.Parallel()
	m := makeTestMedia(t, 2)
	_, ch, base, dir := newTestServer(t, time.Second)
	ch.StaticMPD = true // once closed, so that ffmpeg reads the MPD as VOD
	pub := publishPion(t, base, "ch", "secret", m)
	defer pub.Close()

	// A viewer joins after the first second.
	time.Sleep(1200 * time.Millisecond)
	vpc, err := loopbackAPI(t).NewPeerConnection(pion.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer vpc.Close()
	for _, k := range []pion.RTPCodecType{pion.RTPCodecTypeVideo, pion.RTPCodecTypeAudio} {
		if _, err := vpc.AddTransceiverFromKind(k, pion.RTPTransceiverInit{Direction: pion.RTPTransceiverDirectionRecvonly}); err != nil {
			t.Fatal(err)
		}
	}
	var videoPkts, audioPkts atomic.Int64
	firstNAL := make(chan byte, 1)
	vpc.OnTrack(func(tr *pion.TrackRemote, _ *pion.RTPReceiver) {
		for {
			p, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			if tr.Kind() == pion.RTPCodecTypeAudio {
				audioPkts.Add(1)
				continue
			}
			if videoPkts.Add(1) == 1 {
				firstNAL <- firstNALType(p)
			}
		}
	})
	loc := signal(t, context.Background(), vpc, base+"/whep/ch", "")
	if !strings.HasPrefix(loc, "/whep/ch/") {
		t.Errorf("WHEP Location %q", loc)
	}
	select {
	case typ := <-firstNAL:
		if typ != nalSPS && typ != nalIDR {
			t.Errorf("WHEP viewer's first video NAL unit is of type %d, want the SPS or IDR of a keyframe", typ)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("WHEP viewer received no video within 3 s")
	}
	time.Sleep(1500 * time.Millisecond)
	if videoPkts.Load() < 30 || audioPkts.Load() < 25 {
		t.Errorf("WHEP viewer received %d video and %d audio packets in 1.5 s", videoPkts.Load(), audioPkts.Load())
	}

	// DELETE ends the WHIP session; the channel writes what it holds.
	req, _ := http.NewRequest(http.MethodDelete, base+pub.location, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("DELETE %s: %s", pub.location, resp.Status)
	}
	if err := ch.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := ch.Stats()
	t.Logf("channel: %+v; PLIs %d", st, pub.plis.Load())
	if st.Segments < 4 || st.Rejected > 0 {
		t.Errorf("channel stats %+v", st)
	}
	if pub.plis.Load() < 2 {
		t.Errorf("publisher got %d PLIs in ~3 s with a 1 s keyframe interval", pub.plis.Load())
	}
	checkInit(t, filepath.Join(dir, "video0", "init-p0.mp4"), "avc1", 320, 240)
	checkInit(t, filepath.Join(dir, "audio0", "init-p0.mp4"), "Opus", 0, 0)
	master, err := os.ReadFile(filepath.Join(dir, live.HLSName))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(master), "avc1.42") || !strings.Contains(string(master), "opus") {
		t.Errorf("master playlist codecs:\n%s", master)
	}
	// The published media (libx264 and libopus from ffmpeg, at 30 frames
	// and 50 packets a second) decodes from both manifests, every frame.
	for _, name := range []string{live.HLSName, live.DASHName} {
		v, a := decodeOutput(t, filepath.Join(dir, name))
		t.Logf("%s: %d video frames, %d audio frames decoded", name, v, a)
		if v < 60 || a < 100 {
			t.Errorf("%s: %d video and %d audio frames decoded from ~3 s of publishing", name, v, a)
		}
	}
}

// decodeOutput decodes the first video and audio stream of a manifest
// with ffmpeg (any error fails the test) and returns their frame counts
// as ffprobe reads them.
func decodeOutput(t *testing.T, manifest string) (video, audio int) {
	t.Helper()
	testutil.NeedTool(t, "ffprobe")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ffmpeg", "-v", "error", "-i", manifest, "-map", "0:v:0", "-map", "0:a:0",
		"-fps_mode", "passthrough", "-f", "null", "-").CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("ffmpeg decoding %s: %v\n%s", filepath.Base(manifest), err, out)
	}
	for _, sel := range []string{"v:0", "a:0"} {
		out, err := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-count_frames", "-select_streams", sel,
			"-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", manifest).Output()
		// (HLS lists the stream under its program too: the first line.)
		first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		n, cerr := strconv.Atoi(strings.TrimSpace(first))
		if err != nil || cerr != nil {
			t.Fatalf("ffprobe %s of %s: %q %v", sel, filepath.Base(manifest), out, err)
		}
		if sel == "v:0" {
			video = n
		} else {
			audio = n
		}
	}
	return video, audio
}

// firstNALType is the type of the first NAL unit an H.264 RTP payload
// carries (inside a STAP-A or FU-A too).
func firstNALType(p *rtp.Packet) byte {
	b := p.Payload
	if len(b) < 3 {
		return 0
	}
	switch b[0] & 0x1f {
	case nalSTAPA:
		return b[3] & 0x1f
	case nalFUA:
		return b[1] & 0x1f
	}
	return b[0] & 0x1f
}

// checkInit checks an init segment's sample entry type, and for avc1 the
// picture size from the SPS.
func checkInit(t *testing.T, path, entry string, width, height uint16) {
	t.Helper()
	f, err := mp4.ReadMP4File(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	stsd := f.Init.Moov.Trak.Mdia.Minf.Stbl.Stsd
	switch entry {
	case "avc1":
		if stsd.AvcX == nil || stsd.AvcX.AvcC == nil || stsd.AvcX.Width != width || stsd.AvcX.Height != height {
			t.Errorf("%s: no avc1 %dx%d with avcC", path, width, height)
		}
	case "Opus":
		if len(stsd.Children) == 0 || stsd.Children[0].Type() != "Opus" {
			t.Errorf("%s: no Opus sample entry", path)
		}
	}
}

// testWriter writes log lines to the test log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

package webrtc

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	pion "github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/pion/webrtc/v4/pkg/media/oggreader"
)

// testMedia is a short H.264 + Opus source made with ffmpeg: access units
// in Annex B (with an AUD first), one second per GOP, and 20 ms Opus
// packets.
type testMedia struct {
	aus  [][]byte // Annex B access units, 30 fps
	opus [][]byte // 20 ms packets
}

func makeTestMedia(t testing.TB, seconds int) *testMedia {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not installed")
	}
	dir := t.TempDir()
	h264, ogg := filepath.Join(dir, "v.h264"), filepath.Join(dir, "a.ogg")
	d := time.Duration(seconds) * time.Second
	for _, args := range [][]string{
		{"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30", "-t", d.String(),
			"-c:v", "libx264", "-profile:v", "baseline", "-bf", "0", "-x264-params", "aud=1:keyint=30:min-keyint=30:scenecut=0",
			"-pix_fmt", "yuv420p", "-f", "h264", h264},
		{"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", d.String(), "-c:a", "libopus", "-b:a", "64k",
			"-frame_duration", "20", "-page_duration", "20000", "-f", "ogg", ogg},
	} {
		cmd := exec.Command("ffmpeg", append([]string{"-v", "error"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("ffmpeg: %v\n%s", err, out)
		}
	}
	raw, err := os.ReadFile(h264)
	if err != nil {
		t.Fatal(err)
	}
	m := &testMedia{}
	for _, nal := range splitAnnexB(raw) {
		if nal[0]&0x1f == nalAUD || len(m.aus) == 0 {
			m.aus = append(m.aus, nil)
		}
		i := len(m.aus) - 1
		m.aus[i] = append(append(m.aus[i], 0, 0, 0, 1), nal...)
	}
	f, err := os.Open(ogg)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, _, err := oggreader.NewWith(f)
	if err != nil {
		t.Fatal(err)
	}
	for {
		p, _, err := r.ParseNextPage()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if bytes.HasPrefix(p, []byte("OpusTags")) {
			continue
		}
		m.opus = append(m.opus, p)
	}
	if len(m.aus) < 30 || len(m.opus) < 50 {
		t.Fatalf("ffmpeg made %d access units and %d Opus packets", len(m.aus), len(m.opus))
	}
	return m
}

// splitAnnexB returns the NAL units of an Annex B byte stream.
func splitAnnexB(b []byte) [][]byte {
	var nals [][]byte
	start := -1
	for i := 0; i+3 <= len(b); i++ {
		if b[i] == 0 && b[i+1] == 0 && b[i+2] == 1 {
			if start >= 0 {
				end := i
				if end > start && b[end-1] == 0 {
					end--
				}
				nals = append(nals, b[start:end])
			}
			start = i + 3
			i += 2
		}
	}
	if start >= 0 && start < len(b) {
		nals = append(nals, b[start:])
	}
	return nals
}

// loopbackAPI is a pion API for test peers: default codecs and
// interceptors, loopback candidates only.
func loopbackAPI(t testing.TB) *pion.API {
	t.Helper()
	me := &pion.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	ir := &interceptor.Registry{}
	if err := pion.RegisterDefaultInterceptors(me, ir); err != nil {
		t.Fatal(err)
	}
	se := pion.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetNetworkTypes([]pion.NetworkType{pion.NetworkTypeUDP4})
	return pion.NewAPI(pion.WithMediaEngine(me), pion.WithInterceptorRegistry(ir), pion.WithSettingEngine(se))
}

// signal sends pc's offer to url (WHIP or WHEP) and applies the answer; it
// returns the session's Location.
func signal(t testing.TB, ctx context.Context, pc *pion.PeerConnection, url, token string) string {
	t.Helper()
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	done := pion.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-done
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(pc.LocalDescription().SDP))
	req.Header.Set("Content-Type", "application/sdp")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST %s: %s: %s", url, resp.Status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/sdp" {
		t.Errorf("answer Content-Type %q", ct)
	}
	if err := pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: string(body)}); err != nil {
		t.Fatal(err)
	}
	loc := resp.Header.Get("Location")
	if loc == "" {
		t.Fatal("no Location in the 201")
	}
	return loc
}

// pionPublisher is a WHIP client that sends testMedia in real time, looping.
type pionPublisher struct {
	pc       *pion.PeerConnection
	location string
	plis     atomic.Int64
	stop     context.CancelFunc
	done     chan struct{}
}

func publishPion(t testing.TB, base, key, token string, m *testMedia) *pionPublisher {
	t.Helper()
	pc, err := loopbackAPI(t).NewPeerConnection(pion.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	video, err := pion.NewTrackLocalStaticSample(pion.RTPCodecCapability{MimeType: pion.MimeTypeH264, ClockRate: 90000,
		SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"}, "video", "pion")
	if err != nil {
		t.Fatal(err)
	}
	audio, err := pion.NewTrackLocalStaticSample(pion.RTPCodecCapability{MimeType: pion.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "pion")
	if err != nil {
		t.Fatal(err)
	}
	p := &pionPublisher{pc: pc, done: make(chan struct{})}
	for _, tr := range []pion.TrackLocal{video, audio} {
		tc, err := pc.AddTransceiverFromTrack(tr, pion.RTPTransceiverInit{Direction: pion.RTPTransceiverDirectionSendonly})
		if err != nil {
			t.Fatal(err)
		}
		snd := tc.Sender()
		go func() {
			for {
				pkts, _, err := snd.ReadRTCP()
				if err != nil {
					return
				}
				for _, pk := range pkts {
					if _, ok := pk.(*rtcp.PictureLossIndication); ok {
						p.plis.Add(1)
					}
				}
			}
		}()
	}
	connected := make(chan struct{})
	var once atomic.Bool
	pc.OnConnectionStateChange(func(s pion.PeerConnectionState) {
		if s == pion.PeerConnectionStateConnected && once.CompareAndSwap(false, true) {
			close(connected)
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	p.stop = cancel
	p.location = signal(t, ctx, pc, base+"/whip/"+key, token)
	select {
	case <-connected:
	case <-time.After(10 * time.Second):
		t.Fatal("WHIP publisher did not connect")
	}
	go func() {
		defer close(p.done)
		start := time.Now()
		vt := time.NewTicker(time.Second / 30)
		defer vt.Stop()
		vi, ai := 0, 0
		for {
			select {
			case <-ctx.Done():
				return
			case <-vt.C:
			}
			// Video at 30 fps; audio catches up to the wall clock in
			// 20 ms packets.
			if err := video.WriteSample(media.Sample{Data: m.aus[vi%len(m.aus)], Duration: time.Second / 30}); err != nil {
				return
			}
			vi++
			for time.Duration(ai)*20*time.Millisecond < time.Since(start) {
				if err := audio.WriteSample(media.Sample{Data: m.opus[ai%len(m.opus)], Duration: 20 * time.Millisecond}); err != nil {
					return
				}
				ai++
			}
		}
	}()
	return p
}

// Close stops sending and closes the peer connection.
func (p *pionPublisher) Close() {
	p.stop()
	<-p.done
	p.pc.Close()
}

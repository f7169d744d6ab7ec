package rtmp

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/url"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/Eyevinn/mp4ff/hevc"
	"github.com/Eyevinn/mp4ff/mp4"
	gomp4 "github.com/abema/go-mp4"
	"github.com/bluenviron/gortmplib"
	"github.com/bluenviron/gortmplib/pkg/codecs"
	"github.com/bluenviron/gortmplib/pkg/message"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/opus"

	"github.com/cmafkit/cmafkit/internal/testutil"
	"github.com/cmafkit/cmafkit/segment"
)

// fragSamples reads the samples and init of a single-track fragmented MP4.
func fragSamples(t *testing.T, path string) (*mp4.TrakBox, []mp4.FullSample) {
	t.Helper()
	f, err := mp4.ReadMP4File(path)
	if err != nil {
		t.Fatal(err)
	}
	trex := f.Init.Moov.Mvex.Trexs[0]
	var out []mp4.FullSample
	for _, seg := range f.Segments {
		for _, frag := range seg.Fragments {
			fs, err := frag.GetFullSamples(trex)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, fs...)
		}
	}
	return f.Init.Moov.Trak, out
}

func splitLengthPrefixed(b []byte) [][]byte {
	var out [][]byte
	for len(b) >= 4 {
		n := int(b[0])<<24 | int(b[1])<<16 | int(b[2])<<8 | int(b[3])
		out = append(out, b[4:4+n])
		b = b[4+n:]
	}
	return out
}

// TestEnhancedHEVCOpus publishes HEVC (with B-frames) and Opus with
// gortmplib's client, which uses Enhanced RTMP for them (ffmpeg 5 cannot
// publish either over FLV), and checks hvc1 and Opus tracks whose samples
// ffmpeg decodes.
func TestEnhancedHEVCOpus(t *testing.T) {
	ffmpeg := testutil.NeedTool(t, "ffmpeg")
	dir := t.TempDir()
	vpath, apath := filepath.Join(dir, "v.mp4"), filepath.Join(dir, "a.mp4")
	frag := []string{"-movflags", "frag_keyframe+empty_moov+default_base_moof"}
	out, err := exec.Command(ffmpeg, append([]string{"-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "2",
		"-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "keyint=25:min-keyint=25:bframes=2:log-level=error"}, append(frag, vpath)...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("making HEVC: %v\n%s", err, out)
	}
	out, err = exec.Command(ffmpeg, append([]string{"-v", "error", "-f", "lavfi", "-i", "sine=sample_rate=48000", "-t", "2",
		"-c:a", "libopus", "-ac", "2"}, append(frag, apath)...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("making Opus: %v\n%s", err, out)
	}
	vtrak, vs := fragSamples(t, vpath)
	atrak, as := fragSamples(t, apath)
	if len(vs) != 50 || len(as) < 95 {
		t.Fatalf("ffmpeg made %d HEVC and %d Opus samples, want 50 and about 100", len(vs), len(as))
	}
	hvcC := vtrak.Mdia.Minf.Stbl.Stsd.HvcX.HvcC
	vt := &gortmplib.Track{Codec: &codecs.H265{
		VPS: hvcC.GetNalusForType(hevc.NALU_VPS)[0],
		SPS: hvcC.GetNalusForType(hevc.NALU_SPS)[0],
		PPS: hvcC.GetNalusForType(hevc.NALU_PPS)[0],
	}}
	d := atrak.Mdia.Minf.Stbl.Stsd.Opus.Dops
	at := &gortmplib.Track{Codec: &codecs.Opus{IDHeader: &opus.IDHeader{
		Version: 1, ChannelCount: d.OutputChannelCount, PreSkip: d.PreSkip, InputSampleRate: d.InputSampleRate,
		OutputGain: uint16(d.OutputGain), ChannelMappingFamily: d.ChannelMappingFamily,
	}}}

	k := newKeys("key")
	addr, _ := serve(t, &Server{Publishers: k.open})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	u, _ := url.Parse("rtmp://" + addr + "/live/key")
	c := &gortmplib.Client{URL: u, Publish: true}
	if err := c.Initialize(ctx); err != nil {
		t.Fatal(err)
	}
	w := &gortmplib.Writer{Conn: c, Tracks: []*gortmplib.Track{vt, at}}
	if err := w.Initialize(); err != nil {
		t.Fatal(err)
	}
	type ev struct {
		dts time.Duration
		fn  func() error
	}
	var evs []ev
	vts, ats := time.Duration(vtrak.Mdia.Mdhd.Timescale), time.Duration(atrak.Mdia.Mdhd.Timescale)
	for _, s := range vs {
		dts := time.Duration(s.DecodeTime) * time.Second / vts
		pts := dts + time.Duration(s.CompositionTimeOffset)*time.Second/vts
		evs = append(evs, ev{dts, func() error { return w.WriteH265(vt, pts, dts, splitLengthPrefixed(s.Data)) }})
	}
	for _, s := range as {
		pts := time.Duration(s.DecodeTime) * time.Second / ats
		evs = append(evs, ev{pts, func() error { return w.WriteOpus(at, pts, s.Data) }})
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].dts < evs[j].dts })
	for _, e := range evs {
		if err := e.fn(); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	r := <-k.opens
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		t.Fatal("session not closed")
	}
	video, vtr := r.byKind(segment.KindVideo)
	audio, atr := r.byKind(segment.KindAudio)
	if len(vtr) != 1 || len(atr) != 1 {
		t.Fatalf("%d video %d audio tracks", len(vtr), len(atr))
	}
	if vtr[0].SampleEntry.Type() != "hvc1" || !strings.HasPrefix(vtr[0].Codec, "hvc1.") || vtr[0].Width != 320 || vtr[0].Height != 240 {
		t.Errorf("video %s %s %dx%d", vtr[0].SampleEntry.Type(), vtr[0].Codec, vtr[0].Width, vtr[0].Height)
	}
	if atr[0].SampleEntry.Type() != "Opus" || atr[0].Timescale != 48000 || atr[0].Channels != 2 {
		t.Errorf("audio %s timescale %d channels %d", atr[0].SampleEntry.Type(), atr[0].Timescale, atr[0].Channels)
	}
	if len(video) != len(vs) {
		t.Errorf("%d video samples, want %d", len(video), len(vs))
	}
	if len(audio) != len(as) {
		t.Errorf("%d audio samples, want %d", len(audio), len(as))
	}
	cts := false
	for i, s := range video {
		if want := i%25 == 0; s.s.Sync != want {
			t.Errorf("video sample %d: sync %v, want %v", i, s.s.Sync, want)
		}
		cts = cts || s.s.CompositionOffset != 0
	}
	if !cts {
		t.Error("no composition offsets: B-frames lost their presentation order")
	}
	for i, s := range audio {
		if s.s.Duration != 960 {
			t.Errorf("Opus sample %d: duration %d, want 960", i, s.s.Duration)
		}
	}
	f := writeMP4(t, r)
	if out, err := exec.Command(ffmpeg, "-v", "error", "-i", f, "-f", "null", "-").CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("decoding the recorded samples: %v\n%s", err, out)
	}
}

// TestEnhancedAV1 publishes AV1 (libsvtav1, key frame every 25) as
// Enhanced RTMP sequence start and FramesX messages, each temporal unit
// led by a temporal delimiter as encoders send it, and checks an av01
// track whose samples (without delimiters) ffmpeg decodes.
func TestEnhancedAV1(t *testing.T) {
	ffmpeg := testutil.NeedTool(t, "ffmpeg")
	vpath := filepath.Join(t.TempDir(), "v.mp4")
	out, err := exec.Command(ffmpeg, "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "2",
		"-c:v", "libsvtav1", "-preset", "12", "-g", "25", "-svtav1-params", "scd=0",
		"-movflags", "frag_keyframe+empty_moov+default_base_moof", vpath).CombinedOutput()
	if err != nil {
		t.Skipf("ffmpeg cannot make AV1 here: %v\n%s", err, out)
	}
	vtrak, vs := fragSamples(t, vpath)
	if len(vs) != 50 {
		t.Fatalf("ffmpeg made %d AV1 samples, want 50", len(vs))
	}
	var buf bytes.Buffer
	if err := vtrak.Mdia.Minf.Stbl.Stsd.Av01.Av1C.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	var av1C gomp4.Av1C
	if _, err := gomp4.Unmarshal(bytes.NewReader(buf.Bytes()[8:]), uint64(buf.Len()-8), &av1C, gomp4.Context{}); err != nil {
		t.Fatal(err)
	}

	k := newKeys("key")
	addr, _ := serve(t, &Server{Publishers: k.open})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	u, _ := url.Parse("rtmp://" + addr + "/live/key")
	c := &gortmplib.Client{URL: u, Publish: true}
	if err := c.Initialize(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Write(&message.VideoExSequenceStart{ChunkStreamID: message.VideoChunkStreamID, MessageStreamID: 0x1000000,
		FourCC: message.FourCCAV1, AV1Config: &av1C}); err != nil {
		t.Fatal(err)
	}
	ts := time.Duration(vtrak.Mdia.Mdhd.Timescale)
	for _, s := range vs {
		if err := c.Write(&message.VideoExFramesX{ChunkStreamID: message.VideoChunkStreamID, MessageStreamID: 0x1000000,
			FourCC: message.FourCCAV1, DTS: time.Duration(s.DecodeTime) * time.Second / ts,
			Payload: append([]byte{0x12, 0x00}, s.Data...)}); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	r := <-k.opens
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		t.Fatal("session not closed")
	}
	video, vtr := r.byKind(segment.KindVideo)
	if len(vtr) != 1 || vtr[0].SampleEntry.Type() != "av01" || !strings.HasPrefix(vtr[0].Codec, "av01.") || vtr[0].Width != 320 {
		t.Fatalf("tracks %v", vtr)
	}
	if len(video) != 50 {
		t.Errorf("%d samples, want 50", len(video))
	}
	for i, s := range video {
		if want := i%25 == 0; s.s.Sync != want {
			t.Errorf("sample %d: sync %v, want %v", i, s.s.Sync, want)
		}
		if !bytes.Equal(s.payload, vs[i].Data) {
			t.Errorf("sample %d: payload differs from the MP4's (temporal delimiter not removed?)", i)
		}
	}
	f := writeMP4(t, r)
	if out, err := exec.Command(ffmpeg, "-v", "error", "-i", f, "-f", "null", "-").CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("decoding the recorded samples: %v\n%s", err, out)
	}
}

// TestRTMPS publishes over TLS with a self-signed certificate.
func TestRTMPS(t *testing.T) {
	ffmpeg := testutil.NeedTool(t, "ffmpeg")
	cert := selfSigned(t)
	k := newKeys("key")
	addr, _ := serve(t, &Server{Publishers: k.open, TLS: &tls.Config{Certificates: []tls.Certificate{cert}}})
	// ffmpeg does not verify RTMPS certificates by default.
	err, stderr := publish(t, ffmpeg, ffmpegArgs("rtmps://"+addr+"/live/key", false, 2), 60*time.Second)
	if err != nil {
		t.Fatalf("ffmpeg over RTMPS: %v\n%s", err, stderr)
	}
	r := <-k.opens
	<-r.done
	checkH264AAC(t, ffmpeg, r, 2)

	// Plain RTMP to the TLS port fails without disturbing the server.
	err, _ = publish(t, ffmpeg, append([]string{"-rw_timeout", "3000000"}, ffmpegArgs("rtmp://"+addr+"/live/key", false, 1)...), 30*time.Second)
	if err == nil {
		t.Error("plain RTMP accepted on the RTMPS port")
	}
}

func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:   time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

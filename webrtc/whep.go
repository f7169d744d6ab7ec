package webrtc

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	pion "github.com/pion/webrtc/v4"

	"github.com/cmafkit/cmafkit/live"
	"github.com/cmafkit/cmafkit/segment"
)

// RTP packetization of the feeds.
const (
	rtpMTU = 1200 // payload bytes: fits common paths with SRTP and TURN overhead
	// maxGOP bounds the access units and bytes a feed keeps from the last
	// keyframe for viewers that join; past it, joiners wait for the next
	// keyframe.
	maxGOPUnits = 1200
	maxGOPBytes = 16 << 20
)

// unit is one packetized sample, shared read-only by every viewer.
type unit struct {
	video bool
	key   bool
	pkts  []*rtp.Packet
}

// feed packetizes one channel's samples once for all its WHEP viewers.
type feed struct {
	s       *Server
	ch      *live.Channel
	unsub   func()
	members int // viewers using the feed, attached or not (under s.mu)

	mu         sync.Mutex
	viewers    map[*viewer]bool
	videoInfo  *segment.Track // the video track followed
	videoKey   string         // its session
	videoTrack int
	sps, pps   []byte
	opus       bool // the audio track is Opus
	audioInfo  *segment.Track
	audioTrack int
	vseq, aseq uint16
	gop        []*unit
	gopBytes   int
	warned     map[string]bool
}

// feedFor returns the channel's feed, creating it (and subscribing) for a
// first viewer.
func (s *Server) feedFor(ch *live.Channel) *feed {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f := s.feeds[ch]; f != nil {
		f.members++
		return f
	}
	f := &feed{s: s, ch: ch, viewers: map[*viewer]bool{}, warned: map[string]bool{},
		vseq: uint16(rand.Uint32()), aseq: uint16(rand.Uint32()), members: 1}
	s.feeds[ch] = f
	f.unsub = ch.Subscribe(f.sample)
	return f
}

// warnOnce logs a warning once per feed.
func (f *feed) warnOnce(msg string, args ...any) {
	if !f.warned[msg] {
		f.warned[msg] = true
		f.s.Logger.Warn(msg, args...)
	}
}

// sample is the channel subscription: packetize, remember the GOP, hand
// the unit to every viewer without blocking.
func (f *feed) sample(ts live.TrackSample) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var u *unit
	switch ts.Info.Kind {
	case segment.KindVideo:
		u = f.videoUnit(ts)
	case segment.KindAudio:
		u = f.audioUnit(ts)
	}
	if u == nil {
		return
	}
	if u.video {
		switch {
		case u.key:
			f.gop, f.gopBytes = f.gop[:0], 0
			fallthrough
		case f.gop != nil:
			n := 0
			for _, p := range u.pkts {
				n += len(p.Payload)
			}
			if len(f.gop) >= maxGOPUnits || f.gopBytes+n > maxGOPBytes {
				f.gop = nil // too long: joiners wait for the next keyframe
				break
			}
			f.gop = append(f.gop, u)
			f.gopBytes += n
		}
	}
	for v := range f.viewers {
		v.offer(u)
	}
}

func (f *feed) videoUnit(ts live.TrackSample) *unit {
	if ts.Info != f.videoInfo {
		if f.videoInfo != nil && ts.Key == f.videoKey && ts.Track != f.videoTrack {
			return nil // a second video track: WHEP sends the first
		}
		vse, ok := ts.Info.SampleEntry.(*mp4.VisualSampleEntryBox)
		if !ok || vse.AvcC == nil || len(vse.AvcC.SPSnalus) == 0 || len(vse.AvcC.PPSnalus) == 0 {
			f.warnOnce("webrtc: WHEP sends H.264 video only; the channel's video is not sent", "codec", ts.Info.Codec)
			return nil
		}
		f.videoInfo, f.videoKey, f.videoTrack = ts.Info, ts.Key, ts.Track
		f.sps, f.pps = vse.AvcC.SPSnalus[0], vse.AvcC.PPSnalus[0]
		f.gop = nil
	}
	var annexB []byte
	start := []byte{0, 0, 0, 1}
	if ts.Sample.Sync {
		// Parameter sets in band before each keyframe: a viewer needs
		// them and has no init segment.
		annexB = append(append(append(annexB, start...), f.sps...), start...)
		annexB = append(annexB, f.pps...)
	}
	for b := ts.Payload; len(b) >= 4; {
		n := int(binary.BigEndian.Uint32(b))
		b = b[4:]
		if n > len(b) {
			break
		}
		annexB = append(append(annexB, start...), b[:n]...)
		b = b[n:]
	}
	rtpTS := rescale(ts.Sample.PresentationTime(), ts.Info.Timescale, videoClock)
	pay := (&codecs.H264Payloader{}).Payload(rtpMTU, annexB)
	return &unit{video: true, key: ts.Sample.Sync, pkts: f.packets(pay, rtpTS, &f.vseq)}
}

func (f *feed) audioUnit(ts live.TrackSample) *unit {
	if ts.Info != f.audioInfo {
		f.audioInfo, f.audioTrack = ts.Info, ts.Track
		f.opus = strings.EqualFold(ts.Info.Codec, "opus")
		if !f.opus {
			f.warnOnce("webrtc: WebRTC has no "+ts.Info.Codec+" audio and cmafkit does not transcode: WHEP viewers get video only", "codec", ts.Info.Codec)
		}
	}
	if !f.opus || ts.Track != f.audioTrack {
		return nil
	}
	rtpTS := rescale(int64(ts.Sample.DecodeTime), ts.Info.Timescale, audioClock)
	return &unit{pkts: f.packets([][]byte{append([]byte(nil), ts.Payload...)}, rtpTS, &f.aseq)}
}

// packets wraps payloads into RTP packets of one timestamp, the marker on
// the last.
func (f *feed) packets(pay [][]byte, ts uint32, seq *uint16) []*rtp.Packet {
	pkts := make([]*rtp.Packet, len(pay))
	for i, p := range pay {
		pkts[i] = &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: *seq, Timestamp: ts, Marker: i == len(pay)-1}, Payload: p}
		*seq++
	}
	return pkts
}

// rescale converts t from timescale from to timescale to, modulo 2^32 as
// RTP timestamps run.
func rescale(t int64, from, to uint32) uint32 {
	if from == to || from == 0 {
		return uint32(t)
	}
	return uint32(t/int64(from)*int64(to) + t%int64(from)*int64(to)/int64(from))
}

// whepPost answers POST /whep/{channel}.
func (s *Server) whepPost(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("channel")
	if s.ViewerToken != "" && !bearer(r, s.ViewerToken) {
		unauthorized(w)
		return
	}
	var ch *live.Channel
	ok := false
	if s.Channels != nil {
		ch, ok = s.Channels(name)
	}
	if !ok || ch == nil {
		http.Error(w, "no such channel", http.StatusNotFound)
		return
	}
	offer, ok := readOffer(w, r)
	if !ok {
		return
	}
	if err := checkOffer(offer, false); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	withAudio := false
	for _, t := range ch.Tracks() {
		if t.Kind != segment.KindAudio {
			continue
		}
		if withAudio = strings.EqualFold(t.Codec, "opus"); !withAudio {
			s.Logger.Warn("webrtc: WebRTC has no "+t.Codec+" audio and cmafkit does not transcode: WHEP viewer gets video only", "channel", name)
		}
		break
	}
	f := s.feedFor(ch)
	pc, err := s.egressAPI.NewPeerConnection(pion.Configuration{ICEServers: s.ICE.Servers})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	v := &viewer{f: f, pc: pc, queue: make(chan *unit, s.ViewerQueue), done: make(chan struct{})}
	fail := func(code int, err error) {
		v.close(err)
		http.Error(w, err.Error(), code)
	}
	v.video, err = pion.NewTrackLocalStaticRTP(pion.RTPCodecCapability{MimeType: pion.MimeTypeH264, ClockRate: videoClock,
		SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"}, "video", "cmafkit-"+name)
	if err != nil {
		fail(http.StatusInternalServerError, err)
		return
	}
	tracks := []*pion.TrackLocalStaticRTP{v.video}
	if withAudio {
		v.audio, err = pion.NewTrackLocalStaticRTP(pion.RTPCodecCapability{MimeType: pion.MimeTypeOpus, ClockRate: audioClock, Channels: 2},
			"audio", "cmafkit-"+name)
		if err != nil {
			fail(http.StatusInternalServerError, err)
			return
		}
		tracks = append(tracks, v.audio)
	}
	for _, t := range tracks {
		snd, err := pc.AddTrack(t)
		if err != nil {
			fail(http.StatusInternalServerError, err)
			return
		}
		go func() {
			// Read RTCP so that the interceptors see NACKs and reports.
			for {
				if _, _, err := snd.ReadRTCP(); err != nil {
					return
				}
			}
		}()
	}
	id, ok := s.register(v)
	if !ok {
		fail(http.StatusServiceUnavailable, live.ErrClosed)
		return
	}
	v.id = id
	pc.OnConnectionStateChange(v.onState)
	time.AfterFunc(s.ConnectTimeout, func() {
		if pc.ConnectionState() != pion.PeerConnectionStateConnected {
			v.close(fmt.Errorf("%w: viewer not connected after %v", ErrConnect, s.ConnectTimeout))
		}
	})
	actx, acancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer acancel()
	if err := answer(actx, w, pc, offer, "/whep/"+name+"/"+id); err != nil {
		fail(http.StatusBadRequest, fmt.Errorf("cannot answer the offer: %w", err))
		return
	}
	s.Logger.Info("webrtc: WHEP viewer", "channel", name, "id", id)
}

// viewer is one WHEP session.
type viewer struct {
	f            *feed
	id           string
	pc           *pion.PeerConnection
	video, audio *pion.TrackLocalStaticRTP
	queue        chan *unit
	done         chan struct{}
	once         sync.Once
	attached     bool

	// Under f.mu:
	waitKey bool
	dropped int64
}

func (v *viewer) onState(st pion.PeerConnectionState) {
	switch st {
	case pion.PeerConnectionStateConnected:
		v.attach()
	case pion.PeerConnectionStateFailed:
		v.close(fmt.Errorf("%w: ICE or DTLS failed", ErrConnect))
	case pion.PeerConnectionStateClosed, pion.PeerConnectionStateDisconnected:
		v.close(nil)
	}
}

// attach starts sending: the feed's units from the latest keyframe, then
// the live ones.
func (v *viewer) attach() {
	f := v.f
	f.mu.Lock()
	if v.attached {
		f.mu.Unlock()
		return
	}
	select {
	case <-v.done:
		f.mu.Unlock()
		return
	default:
	}
	v.attached = true
	v.waitKey = len(f.gop) == 0
	for _, u := range f.gop {
		v.offer(u)
	}
	f.viewers[v] = true
	f.mu.Unlock()
	go v.send()
}

// offer queues a unit without blocking (under f.mu): a viewer whose queue
// is full loses the unit and its video waits for the next keyframe.
func (v *viewer) offer(u *unit) {
	if u.video {
		if v.waitKey && !u.key {
			return
		}
		v.waitKey = false
	}
	select {
	case v.queue <- u:
	default:
		v.dropped++
		if u.video {
			v.waitKey = true
		}
	}
}

func (v *viewer) send() {
	for {
		select {
		case u := <-v.queue:
			t := v.video
			if !u.video {
				t = v.audio
			}
			if t == nil {
				continue
			}
			for _, p := range u.pkts {
				if err := t.WriteRTP(p); err != nil {
					break
				}
			}
		case <-v.done:
			return
		}
	}
}

func (v *viewer) close(err error) {
	v.once.Do(func() {
		close(v.done)
		f := v.f
		f.s.unregister(v.id)
		f.mu.Lock()
		delete(f.viewers, v)
		dropped := v.dropped
		f.mu.Unlock()
		f.s.leave(f)
		v.pc.Close()
		f.s.Logger.Info("webrtc: WHEP viewer gone", "id", v.id, "dropped", dropped, "err", err)
	})
}

// leave is a viewer leaving its feed; the last one unsubscribes it.
func (s *Server) leave(f *feed) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f.members--
	if f.members == 0 && s.feeds[f.ch] == f {
		delete(s.feeds, f.ch)
		f.unsub()
	}
}

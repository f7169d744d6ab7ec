package webrtc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	pion "github.com/pion/webrtc/v4"

	"github.com/cmafkit/cmafkit/live"
	"github.com/cmafkit/cmafkit/segment"
)

// maxPending bounds the samples a track holds while it waits for its
// first sender report.
const maxPending = 512

// whipPost answers POST /whip/{key}: authenticate, open the publisher,
// negotiate, answer 201 with the session's Location.
func (s *Server) whipPost(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	if s.Publishers == nil {
		http.Error(w, "WHIP ingest is not enabled", http.StatusNotFound)
		return
	}
	if s.Token != nil {
		tok, ok := s.Token(key)
		if !ok {
			http.Error(w, "unknown stream key", http.StatusNotFound)
			return
		}
		if !bearer(r, tok) {
			unauthorized(w)
			return
		}
	}
	offer, ok := readOffer(w, r)
	if !ok {
		return
	}
	if err := checkOffer(offer, true); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	pub, err := s.Publishers(r.Context(), key)
	switch {
	case errors.Is(err, live.ErrUnknownKey):
		http.Error(w, "unknown stream key", http.StatusNotFound)
		return
	case errors.Is(err, live.ErrKeyInUse):
		http.Error(w, "stream key already publishing", http.StatusConflict)
		return
	case err != nil:
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	pc, err := s.ingestAPI.NewPeerConnection(pion.Configuration{ICEServers: s.ICE.Servers})
	if err != nil {
		pub.Close(err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	ws := &whipSession{s: s, key: key, pc: pc, pub: pub, ctx: ctx, cancel: cancel, clock: &sessionClock{start: time.Now()}}
	id, ok := s.register(ws)
	if !ok {
		pc.Close()
		pub.Close(live.ErrClosed)
		cancel()
		http.Error(w, "server closed", http.StatusServiceUnavailable)
		return
	}
	ws.id = id
	pc.OnTrack(ws.onTrack)
	pc.OnConnectionStateChange(ws.onState)
	time.AfterFunc(s.ConnectTimeout, func() {
		if pc.ConnectionState() != pion.PeerConnectionStateConnected {
			ws.close(fmt.Errorf("%w: not connected after %v", ErrConnect, s.ConnectTimeout))
		}
	})
	actx, acancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer acancel()
	if err := answer(actx, w, pc, offer, "/whip/"+key+"/"+id); err != nil {
		ws.close(err)
		http.Error(w, "cannot answer the offer: "+err.Error(), http.StatusBadRequest)
		return
	}
	s.Logger.Info("webrtc: WHIP session", "key", key, "id", id)
}

// checkOffer parses an SDP offer and checks it has media the server
// takes: for WHIP something to send with H.264, AV1 or Opus, for WHEP video to
// receive.
func checkOffer(offer string, ingest bool) error {
	var d sdp.SessionDescription
	if err := d.UnmarshalString(offer); err != nil {
		return fmt.Errorf("malformed SDP offer: %w", err)
	}
	for _, m := range d.MediaDescriptions {
		if m.MediaName.Media != "video" && m.MediaName.Media != "audio" {
			continue
		}
		for _, a := range m.Attributes {
			v := strings.ToLower(a.Value)
			if a.Key == "rtpmap" && (strings.Contains(v, " h264/") || strings.Contains(v, " opus/") || ingest && strings.Contains(v, " av1/")) {
				if !ingest && m.MediaName.Media != "video" {
					continue
				}
				return nil
			}
		}
	}
	return ErrNoMedia
}

// whipSession is one WHIP publisher.
type whipSession struct {
	s      *Server
	key    string
	id     string
	pc     *pion.PeerConnection
	pub    live.Publisher
	ctx    context.Context
	cancel context.CancelFunc
	clock  *sessionClock
	once   sync.Once
}

func (ws *whipSession) onState(st pion.PeerConnectionState) {
	switch st {
	case pion.PeerConnectionStateFailed:
		ws.close(fmt.Errorf("%w: ICE or DTLS failed", ErrConnect))
	case pion.PeerConnectionStateClosed, pion.PeerConnectionStateDisconnected:
		ws.close(nil)
	}
}

// close ends the session: the publisher goes away with err.
func (ws *whipSession) close(err error) {
	ws.once.Do(func() {
		ws.s.unregister(ws.id)
		ws.cancel()
		ws.pc.Close()
		ws.pub.Close(err)
		ws.s.Logger.Info("webrtc: WHIP session ended", "key", ws.key, "id", ws.id, "err", err)
	})
}

func (ws *whipSession) onTrack(tr *pion.TrackRemote, rcv *pion.RTPReceiver) {
	mt := strings.ToLower(tr.Codec().MimeType)
	var rd *rtpTrack
	switch mt {
	case strings.ToLower(pion.MimeTypeH264):
		rd = &rtpTrack{ws: ws, tr: tr, clock: ws.clock.track(videoClock), h264: &h264Assembler{}}
	case strings.ToLower(pion.MimeTypeAV1):
		rd = &rtpTrack{ws: ws, tr: tr, clock: ws.clock.track(videoClock), av1: &av1Assembler{}}
	case strings.ToLower(pion.MimeTypeOpus):
		rd = &rtpTrack{ws: ws, tr: tr, clock: ws.clock.track(audioClock)}
	default:
		ws.s.Logger.Warn("webrtc: WHIP track of an unsupported codec ignored", "key", ws.key, "codec", mt)
		return
	}
	go rd.readRTCP(rcv)
	if rd.video() {
		go rd.keyframes()
	}
	rd.readRTP()
}

// rtpTrack receives one track of a WHIP session.
type rtpTrack struct {
	ws    *whipSession
	tr    *pion.TrackRemote
	clock *trackClock
	h264  *h264Assembler
	av1   *av1Assembler

	mu      sync.Mutex
	num     int  // live track number
	added   bool // declared to the publisher
	cfg     avcConfig
	av1Cfg  []byte // the sequence header OBU an AV1 track was declared with
	pending []pendingSample
	keyed   chan struct{} // closed at the first keyframe written (video)
	keyOnce sync.Once
	lastPLI time.Time
}

type pendingSample struct {
	u       int64
	payload []byte
	key     bool
}

func (rd *rtpTrack) readRTCP(rcv *pion.RTPReceiver) {
	for {
		pkts, _, err := rcv.ReadRTCP()
		if err != nil {
			return
		}
		for _, p := range pkts {
			if sr, ok := p.(*rtcp.SenderReport); ok {
				rd.clock.senderReport(sr.NTPTime, sr.RTPTime, time.Now())
			}
		}
	}
}

// keyframes asks for a keyframe at the start, then every KeyframeInterval
// from the first keyframe on, so that segments close near their target.
func (rd *rtpTrack) keyframes() {
	rd.pli()
	select {
	case <-rd.keyedChan():
	case <-rd.ws.ctx.Done():
		return
	}
	t := time.NewTicker(rd.ws.s.KeyframeInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			rd.pli()
		case <-rd.ws.ctx.Done():
			return
		}
	}
}

func (rd *rtpTrack) keyedChan() chan struct{} {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	if rd.keyed == nil {
		rd.keyed = make(chan struct{})
	}
	return rd.keyed
}

// pli sends a Picture Loss Indication (RFC 4585 section 6.3.1): the
// sender answers with a keyframe.
func (rd *rtpTrack) pli() {
	rd.mu.Lock()
	rd.lastPLI = time.Now()
	rd.mu.Unlock()
	_ = rd.ws.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(rd.tr.SSRC())}})
}

func (rd *rtpTrack) readRTP() {
	for {
		p, _, err := rd.tr.ReadRTP()
		if err != nil {
			return
		}
		if err := rd.packet(p, time.Now()); err != nil {
			rd.ws.close(err)
			return
		}
	}
}

// packet handles one RTP packet; an error ends the session.
func (rd *rtpTrack) packet(p *rtp.Packet, now time.Time) error {
	if rd.av1 != nil {
		return rd.av1Packet(p, now)
	}
	if rd.h264 == nil {
		if len(p.Payload) == 0 {
			return nil // padding
		}
		return rd.sample(p.Timestamp, now, p.Payload, true, nil)
	}
	au, err := rd.h264.push(p)
	if err != nil {
		rd.ws.s.Logger.Debug("webrtc: H.264 payload dropped", "key", rd.ws.key, "err", err)
	}
	if rd.h264.needKey {
		rd.h264.needKey = false
		rd.keyAfterLoss(now)
	}
	if au == nil {
		return nil
	}
	return rd.sample(au.rtpTime, now, au.nalus, au.key, au)
}

// video reports whether the track is a video track.
func (rd *rtpTrack) video() bool { return rd.h264 != nil || rd.av1 != nil }

// keyAfterLoss asks for a keyframe after a loss, unless one was asked for
// just now.
func (rd *rtpTrack) keyAfterLoss(now time.Time) {
	rd.mu.Lock()
	recent := now.Sub(rd.lastPLI) < 300*time.Millisecond
	rd.mu.Unlock()
	if !recent {
		rd.pli()
	}
}

// av1Packet handles one RTP packet of an AV1 track: a temporal unit with
// a new sequence header (re)declares the track.
func (rd *rtpTrack) av1Packet(p *rtp.Packet, now time.Time) error {
	tu, err := rd.av1.push(p)
	if err != nil {
		rd.ws.s.Logger.Debug("webrtc: AV1 payload dropped", "key", rd.ws.key, "err", err)
	}
	if rd.av1.needKey {
		rd.av1.needKey = false
		rd.keyAfterLoss(now)
	}
	if tu == nil {
		return nil
	}
	if tu.seqHdr != nil && (!rd.added || !bytes.Equal(tu.seqHdr, rd.av1Cfg)) {
		t, err := av1Track(tu.seqHdr)
		if err == nil {
			var num int
			num, err = rd.ws.pub.AddTrack(rd.ws.ctx, t)
			if err == nil {
				rd.num, rd.added, rd.av1Cfg = num, true, append([]byte(nil), tu.seqHdr...)
			}
		}
		if err != nil {
			rd.ws.s.Logger.Warn("webrtc: AV1 sequence header dropped", "key", rd.ws.key, "err", err)
		}
	}
	return rd.sample(tu.rtpTime, now, tu.obus, tu.key, nil)
}

// sample times one sample and writes it (or holds it until the track is
// anchored). au carries the parameter sets of a video access unit.
func (rd *rtpTrack) sample(ts uint32, now time.Time, payload []byte, key bool, au *accessUnit) error {
	if au != nil && au.sps != nil && au.pps != nil {
		if err := rd.configure(avcConfig{sps: au.sps, pps: au.pps}); err != nil {
			rd.ws.s.Logger.Warn("webrtc: H.264 parameter sets dropped", "key", rd.ws.key, "err", err)
		}
	}
	if len(payload) == 0 {
		return nil
	}
	if !rd.ensureAudio() {
		return nil
	}
	u, anchored := rd.clock.packet(ts, now)
	if !anchored {
		if len(rd.pending) < maxPending {
			rd.pending = append(rd.pending, pendingSample{u: u, payload: append([]byte(nil), payload...), key: key})
		}
		return nil
	}
	for _, ps := range rd.pending {
		if err := rd.write(ps.u, ps.payload, ps.key); err != nil {
			return err
		}
	}
	rd.pending = nil
	return rd.write(u, payload, key)
}

// ensureAudio declares an Opus track before its first sample; for video
// it reports whether the track was declared (parameter sets seen).
func (rd *rtpTrack) ensureAudio() bool {
	if rd.added {
		return true
	}
	if rd.video() {
		return false
	}
	num, err := rd.ws.pub.AddTrack(rd.ws.ctx, opusTrack(uint16(rd.tr.Codec().Channels)))
	if err != nil {
		rd.ws.s.Logger.Warn("webrtc: Opus track refused", "key", rd.ws.key, "err", err)
		return false
	}
	rd.num, rd.added = num, true
	return true
}

// configure declares the video track, again when the parameter sets
// change (a new init segment).
func (rd *rtpTrack) configure(c avcConfig) error {
	if rd.added && rd.cfg.equal(c) {
		return nil
	}
	t, err := avcTrack(c)
	if err != nil {
		return err
	}
	num, err := rd.ws.pub.AddTrack(rd.ws.ctx, t)
	if err != nil {
		return err
	}
	rd.num, rd.added = num, true
	rd.cfg = avcConfig{sps: append([]byte(nil), c.sps...), pps: append([]byte(nil), c.pps...)}
	return nil
}

func (rd *rtpTrack) write(u int64, payload []byte, key bool) error {
	dts, ok := rd.clock.ticks(u)
	if !ok {
		return nil
	}
	smp := segment.Sample{DecodeTime: dts, Size: uint32(len(payload)), Sync: key}
	err := rd.ws.pub.WriteSample(rd.ws.ctx, rd.num, smp, payload)
	if errors.Is(err, live.ErrBadSample) {
		return nil // counted and logged by the channel
	}
	if err != nil {
		return err
	}
	if key && rd.video() {
		rd.keyOnce.Do(func() { close(rd.keyedChan()) })
	}
	return nil
}

// Package webrtc connects live channels to WebRTC peers over HTTP
// signalling (RFC 9725): WHIP publishers (browsers, OBS, GStreamer) push
// H.264 or AV1 video and Opus audio into a live.Publisher, packaged like any
// other ingest, and WHEP viewers receive a channel's H.264 video and Opus
// audio in real time. A WHIP publisher offering both video codecs is
// answered with H.264, which every HLS/DASH player decodes; one that offers
// AV1 only publishes AV1 (av01 with an av1C from its sequence header).
//
// A Server is an http.Handler for POST /whip/{key}, POST /whep/{channel}
// and the session resources they create (DELETE ends a session). It uses
// github.com/pion/webrtc for ICE, DTLS and SRTP.
package webrtc

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	pion "github.com/pion/webrtc/v4"

	"github.com/cmafkit/cmafkit/live"
)

// ICE configures how sessions find a path to their peers.
type ICE struct {
	// Servers lists STUN and TURN servers offered to the ICE agents (for
	// server-reflexive and relayed candidates). Empty: host candidates
	// only.
	Servers []pion.ICEServer
	// PortMin and PortMax bound the UDP ports of host candidates (one
	// socket per session); zero means any ephemeral port.
	PortMin, PortMax uint16
	// UDPMux, when set, is one UDP socket that every session shares (for
	// deployments behind a load balancer or a firewall with one port
	// open); PortMin and PortMax are then unused. Create it with
	// ListenUDPMux.
	UDPMux ice.UDPMux
	// Loopback gathers candidates on the loopback interface only (tests,
	// local previews).
	Loopback bool
	// NAT1To1IPs are public addresses to announce in host candidates
	// instead of the local ones (a server behind 1:1 NAT).
	NAT1To1IPs []string
}

// ListenUDPMux opens the single UDP socket of ICE.UDPMux at addr (e.g.
// ":8189" or "127.0.0.1:0"). Close it when the server is done.
func ListenUDPMux(addr string) (ice.UDPMux, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("webrtc: UDP mux address: %w", err)
	}
	conn, err := net.ListenUDP("udp", ua)
	if err != nil {
		return nil, fmt.Errorf("webrtc: UDP mux: %w", err)
	}
	return ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: conn}), nil
}

// Server answers WHIP and WHEP requests. Set its fields before the first
// request and do not change them afterwards.
type Server struct {
	// Publishers opens the live.Publisher of a WHIP session for its
	// stream key; nil refuses every WHIP request (404).
	Publishers live.PublisherFunc
	// Token, when set, returns the bearer token a WHIP publisher must
	// present for a stream key (RFC 9725 section 4.5); ok false means the
	// key is unknown (404). Nil means no authentication.
	Token func(key string) (token string, ok bool)
	// Channels returns the channel a WHEP viewer asks for; nil or false
	// refuses the viewer (404).
	Channels func(name string) (*live.Channel, bool)
	// ViewerToken, when set, is the bearer token WHEP viewers must present.
	ViewerToken string
	// KeyframeInterval is how often a WHIP publisher is asked for a
	// keyframe (a PLI), to cut segments near their target: set it to the
	// channel's segment duration. Zero means 2 s.
	KeyframeInterval time.Duration
	// ICE configures candidates, STUN/TURN and ports.
	ICE ICE
	// ConnectTimeout is how long a session may take to connect after its
	// answer before it is dropped; zero means 15 s.
	ConnectTimeout time.Duration
	// ViewerQueue is how many video access units a WHEP viewer may lag
	// behind before it drops to the next keyframe; zero means 64.
	ViewerQueue int
	// Logger receives warnings and session events; nil logs nothing.
	Logger *slog.Logger

	once                 sync.Once
	mu                   sync.Mutex
	sessions             map[string]closer // resource ID → session
	feeds                map[*live.Channel]*feed
	mux                  *http.ServeMux
	closed               bool
	ingestAPI, egressAPI *pion.API
	setupErr             error
}

// closer is a WHIP or WHEP session.
type closer interface{ close(err error) }

// Errors of sessions.
var (
	// ErrNoMedia refuses an offer without a media section the server can
	// take (WHIP: H.264, AV1 or Opus to send; WHEP: video to receive).
	ErrNoMedia = errors.New("webrtc: no acceptable media in the offer")
	// ErrConnect ends a session whose peer did not connect in time, or
	// whose connection failed.
	ErrConnect = errors.New("webrtc: peer connection failed")
)

func (s *Server) setup() {
	s.once.Do(func() {
		if s.KeyframeInterval <= 0 {
			s.KeyframeInterval = 2 * time.Second
		}
		if s.ConnectTimeout <= 0 {
			s.ConnectTimeout = 15 * time.Second
		}
		if s.ViewerQueue <= 0 {
			s.ViewerQueue = 64
		}
		if s.Logger == nil {
			s.Logger = slog.New(slog.DiscardHandler)
		}
		s.sessions = map[string]closer{}
		s.feeds = map[*live.Channel]*feed{}
		s.ingestAPI, s.setupErr = s.newAPI(true)
		if s.setupErr == nil {
			s.egressAPI, s.setupErr = s.newAPI(false)
		}
		m := http.NewServeMux()
		m.HandleFunc("POST /whip/{key}", s.whipPost)
		m.HandleFunc("POST /whep/{channel}", s.whepPost)
		m.HandleFunc("DELETE /whip/{key}/{id}", s.deleteSession)
		m.HandleFunc("DELETE /whep/{channel}/{id}", s.deleteSession)
		m.HandleFunc("PATCH /whip/{key}/{id}", s.patchSession)
		m.HandleFunc("PATCH /whep/{channel}/{id}", s.patchSession)
		m.HandleFunc("OPTIONS /whip/", s.options)
		m.HandleFunc("OPTIONS /whep/", s.options)
		s.mux = m
	})
}

// videoCodecs are the video codecs negotiated, in the order of preference:
// H.264 first, since every HLS/DASH player decodes it; for WHIP, AV1
// next, taken when the publisher offers no H.264 (or prefers AV1 only).
func videoCodecs(ingest bool) []pion.RTPCodecParameters {
	fb := []pion.RTCPFeedback{{Type: "goog-remb"}, {Type: "ccm", Parameter: "fir"}, {Type: "nack"}, {Type: "nack", Parameter: "pli"}}
	var cs []pion.RTPCodecParameters
	var pt pion.PayloadType = 96
	for _, fmtp := range []string{
		"level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
		"level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f",
		"level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=4d001f",
		"level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=640032",
	} {
		cs = append(cs, pion.RTPCodecParameters{RTPCodecCapability: pion.RTPCodecCapability{MimeType: pion.MimeTypeH264, ClockRate: videoClock,
			SDPFmtpLine: fmtp, RTCPFeedback: fb}, PayloadType: pt})
		pt++
	}
	if ingest {
		cs = append(cs, pion.RTPCodecParameters{RTPCodecCapability: pion.RTPCodecCapability{MimeType: pion.MimeTypeAV1, ClockRate: videoClock,
			SDPFmtpLine: "level-idx=5;profile=0;tier=0", RTCPFeedback: fb}, PayloadType: 45})
	}
	return cs
}

// newAPI builds the pion API of one direction: the codecs it negotiates,
// the default interceptors (NACK, RTCP reports, TWCC) and the ICE settings.
func (s *Server) newAPI(ingest bool) (*pion.API, error) {
	me := &pion.MediaEngine{}
	for _, c := range videoCodecs(ingest) {
		if err := me.RegisterCodec(c, pion.RTPCodecTypeVideo); err != nil {
			return nil, err
		}
	}
	if err := me.RegisterCodec(pion.RTPCodecParameters{RTPCodecCapability: pion.RTPCodecCapability{MimeType: pion.MimeTypeOpus,
		ClockRate: audioClock, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"}, PayloadType: 111}, pion.RTPCodecTypeAudio); err != nil {
		return nil, err
	}
	ir := &interceptor.Registry{}
	if err := pion.RegisterDefaultInterceptors(me, ir); err != nil {
		return nil, err
	}
	se := pion.SettingEngine{}
	ic := s.ICE
	if ic.Loopback {
		se.SetIncludeLoopbackCandidate(true)
		se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
		se.SetNetworkTypes([]pion.NetworkType{pion.NetworkTypeUDP4})
	} else {
		se.SetNetworkTypes([]pion.NetworkType{pion.NetworkTypeUDP4, pion.NetworkTypeUDP6})
	}
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	if ic.UDPMux != nil {
		se.SetICEUDPMux(ic.UDPMux)
	} else if ic.PortMin != 0 || ic.PortMax != 0 {
		if err := se.SetEphemeralUDPPortRange(ic.PortMin, ic.PortMax); err != nil {
			return nil, fmt.Errorf("webrtc: UDP port range: %w", err)
		}
	}
	if len(ic.NAT1To1IPs) > 0 {
		se.SetNAT1To1IPs(ic.NAT1To1IPs, pion.ICECandidateTypeHost)
	}
	return pion.NewAPI(pion.WithMediaEngine(me), pion.WithInterceptorRegistry(ir), pion.WithSettingEngine(se)), nil
}

// ServeHTTP implements http.Handler for the WHIP and WHEP paths.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.setup()
	cors(w)
	if s.setupErr != nil {
		http.Error(w, s.setupErr.Error(), http.StatusInternalServerError)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// Close ends every session; later offers are refused (503).
func (s *Server) Close() {
	s.setup()
	s.mu.Lock()
	s.closed = true
	ss := s.sessions
	s.sessions = map[string]closer{}
	s.mu.Unlock()
	for _, c := range ss {
		c.close(nil)
	}
}

// cors lets browser pages of other origins use the endpoints (RFC 9725
// section 4.8: WHIP clients in browsers).
func cors(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", "POST, PATCH, DELETE, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, If-Match")
	h.Set("Access-Control-Expose-Headers", "Location, Link, ETag")
}

func (s *Server) options(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Accept-Post", "application/sdp")
	w.WriteHeader(http.StatusNoContent)
}

// patchSession refuses trickle ICE and ICE restarts: the answer already
// holds every candidate (RFC 9725 section 4.3.1: 405 when not supported).
func (s *Server) patchSession(w http.ResponseWriter, r *http.Request) {
	if s.lookup(r.PathValue("id")) == nil {
		http.Error(w, "no such session", http.StatusNotFound)
		return
	}
	http.Error(w, "trickle ICE and ICE restarts are not supported", http.StatusMethodNotAllowed)
}

func (s *Server) deleteSession(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.mu.Lock()
	c := s.sessions[id]
	delete(s.sessions, id)
	s.mu.Unlock()
	if c == nil {
		http.Error(w, "no such session", http.StatusNotFound)
		return
	}
	c.close(nil)
	w.WriteHeader(http.StatusOK)
}

func (s *Server) lookup(id string) closer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[id]
}

// register adds a session under a new resource ID; false when the server
// is closed.
func (s *Server) register(c closer) (string, bool) {
	var b [12]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return "", false
	}
	s.sessions[id] = c
	return id, true
}

func (s *Server) unregister(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.sessions, id)
}

// maxOffer bounds the size of an SDP offer.
const maxOffer = 64 << 10

// readOffer checks the content type and reads the SDP offer of a POST.
func readOffer(w http.ResponseWriter, r *http.Request) (string, bool) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/sdp" {
		w.Header().Set("Accept-Post", "application/sdp")
		http.Error(w, "the offer must be application/sdp", http.StatusUnsupportedMediaType)
		return "", false
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxOffer))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return "", false
	}
	return string(b), true
}

// bearer reports whether r carries the bearer token want.
func bearer(r *http.Request, want string) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(want)) == 1
}

func unauthorized(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="cmafkit"`)
	http.Error(w, "missing or wrong bearer token", http.StatusUnauthorized)
}

// answer negotiates pc with offer, waits for every local candidate (no
// trickle) and writes the 201 response with the answer.
func answer(ctx context.Context, w http.ResponseWriter, pc *pion.PeerConnection, offer, location string) error {
	if err := pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeOffer, SDP: offer}); err != nil {
		return err
	}
	// Answer with our order of preference (H.264 before AV1), not the
	// offer's: the publisher sends the first codec of the answer.
	// Payload type 0 takes the offer's numbers.
	prefs := videoCodecs(strings.HasPrefix(location, "/whip/"))
	for i := range prefs {
		prefs[i].PayloadType = 0
	}
	for _, tr := range pc.GetTransceivers() {
		if tr.Kind() == pion.RTPCodecTypeVideo {
			_ = tr.SetCodecPreferences(prefs)
		}
	}
	ans, err := pc.CreateAnswer(nil)
	if err != nil {
		return err
	}
	gathered := pion.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(ans); err != nil {
		return err
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return ctx.Err()
	}
	w.Header().Set("Content-Type", "application/sdp")
	w.Header().Set("Location", location)
	w.WriteHeader(http.StatusCreated)
	_, err = w.Write([]byte(pc.LocalDescription().SDP))
	return err
}

package main

import (
	"flag"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	pion "github.com/pion/webrtc/v4"

	"github.com/cmafkit/cmafkit/live"
	"github.com/cmafkit/cmafkit/webrtc"
)

// whepPath is where `cmafkit live --webrtc` serves its one channel to WHEP
// viewers.
const whepPath = "/whep/live"

// liveWebRTCFlags are the `cmafkit live` flags of WHIP and WHEP.
type liveWebRTCFlags struct {
	enable  *bool
	tokens  *string
	ice     *string
	ports   *string
	udpMux  *string
	viewers *string
}

func webrtcFlags(fs *flag.FlagSet) liveWebRTCFlags {
	return liveWebRTCFlags{
		enable:  fs.Bool("webrtc", false, "accept WHIP publishers at /whip/KEY and WHEP viewers at "+whepPath+" on the --http server"),
		tokens:  fs.String("whip-tokens", "", "comma-separated KEY=TOKEN pairs: the stream keys WHIP publishers may use and their bearer tokens (default: any key, no token, only on a loopback --http address)"),
		ice:     fs.String("ice-servers", "", "comma-separated STUN/TURN URLs for WebRTC (stun:HOST:PORT, turn:USER:PASS@HOST:PORT)"),
		ports:   fs.String("webrtc-ports", "", "UDP port range MIN-MAX for WebRTC host candidates (default: any)"),
		udpMux:  fs.String("webrtc-udp", "", "one UDP address (e.g. :8189) shared by every WebRTC session, instead of a port per session"),
		viewers: fs.String("whep-token", "", "bearer token WHEP viewers must present (default: none)"),
	}
}

// server builds the WHIP/WHEP server of the channel.
// loopback gathers loopback candidates only (the --http server is on a
// loopback address, so are its clients).
func (f liveWebRTCFlags) server(ch *live.Channel, publish live.PublisherFunc, segDur time.Duration, loopback bool, logger *slog.Logger) (*webrtc.Server, error) {
	s := &webrtc.Server{
		ICE:              webrtc.ICE{Loopback: loopback},
		Publishers:       publish,
		KeyframeInterval: segDur,
		ViewerToken:      *f.viewers,
		Logger:           logger,
		Channels: func(name string) (*live.Channel, bool) {
			return ch, name == strings.TrimPrefix(whepPath, "/whep/")
		},
	}
	if *f.tokens != "" {
		tokens := map[string]string{}
		for _, kv := range strings.Split(*f.tokens, ",") {
			k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
			if !ok || k == "" || v == "" {
				return nil, usageError{fmt.Sprintf("--whip-tokens: %q is not KEY=TOKEN", kv)}
			}
			tokens[k] = v
		}
		s.Token = func(key string) (string, bool) { t, ok := tokens[key]; return t, ok }
	}
	for _, u := range strings.Split(*f.ice, ",") {
		if u = strings.TrimSpace(u); u == "" {
			continue
		}
		srv := pion.ICEServer{URLs: []string{u}}
		if scheme, rest, ok := strings.Cut(u, ":"); ok && strings.HasPrefix(scheme, "turn") {
			if cred, host, ok := strings.Cut(rest, "@"); ok {
				user, pass, _ := strings.Cut(cred, ":")
				srv = pion.ICEServer{URLs: []string{scheme + ":" + host}, Username: user, Credential: pass}
			}
		}
		s.ICE.Servers = append(s.ICE.Servers, srv)
	}
	if *f.ports != "" {
		lo, hi, ok := strings.Cut(*f.ports, "-")
		a, err1 := strconv.ParseUint(lo, 10, 16)
		b, err2 := strconv.ParseUint(hi, 10, 16)
		if !ok || err1 != nil || err2 != nil || a == 0 || a > b {
			return nil, usageError{fmt.Sprintf("--webrtc-ports %q is not MIN-MAX", *f.ports)}
		}
		s.ICE.PortMin, s.ICE.PortMax = uint16(a), uint16(b)
	}
	if *f.udpMux != "" {
		m, err := webrtc.ListenUDPMux(*f.udpMux)
		if err != nil {
			return nil, err
		}
		s.ICE.UDPMux = m
	}
	return s, nil
}

// closeWebRTC ends every WebRTC session of s, then closes its --webrtc-udp
// socket, so that the port is free for the next run.
func closeWebRTC(s *webrtc.Server) {
	s.Close()
	if s.ICE.UDPMux != nil {
		s.ICE.UDPMux.Close()
	}
}

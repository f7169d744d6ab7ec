package tsin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/cmafkit/cmafkit/live"
)

// ListenUDP opens the socket of a UDP input. addr is "HOST:PORT" (unicast:
// listen on that address), "@GROUP:PORT" (multicast: listen on PORT and join
// GROUP on the system's default interface) or "@:PORT" (every address), with
// or without a "udp://" prefix and a "?query" (ignored), as ffmpeg and VLC
// write them: udp://@239.0.0.1:5000.
func ListenUDP(addr string) (*net.UDPConn, error) {
	a := strings.TrimPrefix(addr, "udp://")
	if i := strings.IndexByte(a, '?'); i >= 0 {
		a = a[:i]
	}
	a = strings.TrimPrefix(a, "@")
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return nil, fmt.Errorf("tsin: UDP address %q: %w", addr, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return nil, fmt.Errorf("tsin: UDP address %q: bad port", addr)
	}
	var ip net.IP
	if host != "" {
		if ip = net.ParseIP(host); ip == nil {
			ips, err := net.LookupIP(host)
			if err != nil || len(ips) == 0 {
				return nil, fmt.Errorf("tsin: UDP address %q: %w", addr, err)
			}
			ip = ips[0]
		}
	}
	ua := &net.UDPAddr{IP: ip, Port: p}
	var c *net.UDPConn
	if ip != nil && ip.IsMulticast() {
		c, err = net.ListenMulticastUDP("udp", nil, ua)
	} else {
		c, err = net.ListenUDP("udp", ua)
	}
	if err != nil {
		return nil, fmt.Errorf("tsin: %w", err)
	}
	_ = c.SetReadBuffer(4 << 20) // best effort: fewer drops at bursts
	return c, nil
}

// ReadUDP publishes the transport stream that arrives in datagrams on conn
// (each carrying whole 188-byte packets, usually seven, as encoders send
// them) until ctx is done, then closes pub and conn. Lost datagrams are
// damage the demuxer repairs. Only the first sender is read; datagrams from
// others are dropped, until the first has been silent for 5 seconds.
func ReadUDP(ctx context.Context, conn *net.UDPConn, pub live.Publisher, opts *Options) error {
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Now()) })
	defer stop()
	o := Options{}
	if opts != nil {
		o = *opts
	}
	if o.Name == "" {
		o.Name = "udp://" + conn.LocalAddr().String()
	}
	s := NewSession(ctx, pub, &o)
	log := o.logger()
	buf := make([]byte, 64<<10)
	var from *net.UDPAddr
	var last time.Time
	for {
		n, addr, err := conn.ReadFromUDP(buf)
		if err != nil {
			if ctx.Err() != nil {
				return s.Close(nil)
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			err = fmt.Errorf("tsin: %s: %w", o.Name, err)
			s.Close(err)
			return err
		}
		now := time.Now()
		switch {
		case from == nil || now.Sub(last) > 5*time.Second:
			if from != nil && !from.IP.Equal(addr.IP) || from != nil && from.Port != addr.Port {
				log.Warn("tsin: UDP sender changed", "input", o.Name, "from", addr.String())
			}
			from = addr
		case !from.IP.Equal(addr.IP) || from.Port != addr.Port:
			continue
		}
		last = now
		if _, err := s.Write(buf[:n]); err != nil {
			s.Close(err)
			return err
		}
	}
}

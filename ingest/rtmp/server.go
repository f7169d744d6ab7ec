// Package rtmp is an RTMP and RTMPS ingest server: encoders (OBS, ffmpeg,
// hardware encoders) publish to rtmp://HOST/APP/STREAMKEY and each publish
// becomes a live.Publisher session fed with CMAF-ready samples.
//
// The RTMP stack (handshake, chunking, AMF0 commands, FLV and Enhanced RTMP
// message parsing) is github.com/bluenviron/gortmplib; this package maps
// its messages onto live.Publisher: codec configurations become mp4ff
// sample entries (avc1, hvc1, av01, mp4a, Opus), access units become
// samples with 4-byte NAL unit lengths.
//
// Timestamps stay on the publisher's clock. Video uses timescale 90000: an
// RTMP timestamp of t milliseconds becomes t×90, and the FLV composition
// time is carried the same way as the sample's composition offset. A video
// sample is handed over when the next one arrives, so that its duration is
// the difference of their decode times. Audio uses the sample rate as its
// timescale (48000 for Opus): the first frame's time is the RTMP time
// rescaled, and each next frame follows the previous one by the frame's
// duration (1024 samples for AAC), so that rounding to milliseconds does
// not jitter; when the RTMP time drifts more than 100 ms from that count
// the audio is re-anchored on the RTMP time. RTMP's 32-bit millisecond
// timestamps wrap after about 49.7 days; the session unwraps them. A
// timestamp that goes backwards, or jumps forward by more than MaxJump,
// is reported with Publisher.Discontinuity and the times that follow start
// from the new value.
package rtmp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/gortmplib"
	"github.com/bluenviron/gortmplib/pkg/amf0"
	"github.com/bluenviron/gortmplib/pkg/message"

	"github.com/cmafkit/cmafkit/live"
)

// Defaults of the zero-value Server.
const (
	DefaultAddr             = "127.0.0.1:1935"
	DefaultApp              = "live"
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultReadTimeout      = 10 * time.Second
	DefaultMaxJump          = 10 * time.Second
)

// Errors a publish session ends with (passed to Publisher.Close) or a
// refused connection is logged with.
var (
	// ErrPlayRefused refuses a client that asks to play: the server only
	// ingests.
	ErrPlayRefused = errors.New("rtmp: play refused: this server only accepts publishers")
	// ErrWrongApp refuses a publish to an application name other than the
	// server's App.
	ErrWrongApp = errors.New("rtmp: unknown application name")
	// ErrNoKey refuses a publish without a stream key.
	ErrNoKey = errors.New("rtmp: publish without a stream key")
	// ErrDisconnected ends a session whose publisher closed the connection
	// without unpublishing first (a crash, a network cut).
	ErrDisconnected = errors.New("rtmp: publisher disconnected without ending the stream")
)

// Server accepts RTMP (or, with TLS, RTMPS) publishers and hands each
// publish to a live.Publisher. The zero value listens on 127.0.0.1:1935
// and, without Publishers, refuses every stream key. A Server must not be
// changed once serving.
type Server struct {
	// Addr is the TCP address ListenAndServe listens on; empty means
	// DefaultAddr (localhost only; bind another address deliberately).
	Addr string
	// TLS, when not nil, makes the server speak RTMPS: every connection
	// starts with a TLS handshake using this configuration.
	TLS *tls.Config
	// App is the application name publishers must use, the path element
	// before the stream key in rtmp://HOST/APP/KEY; empty means
	// DefaultApp ("live"). It may contain slashes ("ingest/v1").
	App string
	// Publishers opens a live.Publisher for a stream key, or refuses it
	// (live.ErrUnknownKey, live.ErrKeyInUse). Nil refuses every key.
	Publishers live.PublisherFunc
	// Logger receives connection and stream events; nil discards them.
	Logger *slog.Logger
	// HandshakeTimeout bounds the time from accepting a connection to the
	// start of publishing (TLS and RTMP handshakes, connect, publish);
	// zero means DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// ReadTimeout ends a publish session that sends nothing for this
	// long; zero means DefaultReadTimeout.
	ReadTimeout time.Duration
	// MaxJump is the largest forward timestamp jump within a session that
	// is taken as a gap; a larger one is reported as a discontinuity. Zero
	// means DefaultMaxJump.
	MaxJump time.Duration
}

// ListenAndServe listens on s.Addr and serves connections until ctx is
// cancelled; see Serve.
func (s *Server) ListenAndServe(ctx context.Context) error {
	addr := s.Addr
	if addr == "" {
		addr = DefaultAddr
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("rtmp: listen: %w", err)
	}
	return s.Serve(ctx, ln)
}

// Serve accepts connections on ln, each served in its own goroutine,
// until ctx is cancelled: then it closes ln and every connection, ends
// their sessions (Publisher.Close with the context's error), waits for
// them, and returns nil. It returns an error when ln fails otherwise.
// With s.TLS set, connections are wrapped in TLS.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if s.TLS != nil {
		ln = tls.NewListener(ln, s.TLS)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				// Out of file descriptors and the like: back off as
				// net/http does instead of spinning.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.logger().Warn("rtmp: accept", "err", err, "retry", delay)
				select {
				case <-time.After(delay):
				case <-ctx.Done():
					return nil
				}
				continue
			}
			ln.Close()
			return fmt.Errorf("rtmp: accept: %w", err)
		}
		delay = 0
		wg.Go(func() { s.serveConn(ctx, c) })
	}
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (s *Server) app() string {
	if s.App == "" {
		return DefaultApp
	}
	return strings.Trim(s.App, "/")
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// serveConn runs one connection: handshake, connect, publish, then the
// session. A panic in the RTMP stack or a codec parser on hostile input
// ends this connection only.
func (s *Server) serveConn(ctx context.Context, c net.Conn) {
	log := s.logger().With("remote", c.RemoteAddr().String())
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	defer c.Close()
	var pub live.Publisher
	defer func() {
		if r := recover(); r != nil {
			err := fmt.Errorf("rtmp: internal error on input: %v", r)
			log.Error("rtmp: connection dropped", "err", err)
			if pub != nil {
				pub.Close(err)
			}
		}
	}()

	c.SetDeadline(time.Now().Add(orDefault(s.HandshakeTimeout, DefaultHandshakeTimeout)))
	sc := &gortmplib.ServerConn{RW: c}
	if err := sc.Initialize(); err != nil {
		log.Debug("rtmp: handshake failed", "err", err)
		return
	}
	if err := sc.AcceptConn(); err != nil {
		log.Debug("rtmp: connect failed", "err", err)
		return
	}
	if !sc.Publish {
		sc.RejectAction()
		log.Warn("rtmp: refused", "url", redact(sc.URL), "err", ErrPlayRefused)
		return
	}
	app, key := splitPath(sc.URL)
	log = log.With("key", key)
	var err error
	switch {
	case app != s.app():
		err = fmt.Errorf("%w %q (want %q)", ErrWrongApp, app, s.app())
	case key == "":
		err = ErrNoKey
	case s.Publishers == nil:
		err = fmt.Errorf("%w: %q (no publishers configured)", live.ErrUnknownKey, key)
	default:
		pub, err = s.Publishers(ctx, key)
	}
	if err != nil {
		code := "NetStream.Publish.Unauthorized"
		if errors.Is(err, live.ErrKeyInUse) {
			code = "NetStream.Publish.BadName"
		}
		writeStatus(sc, "error", code, err.Error())
		log.Warn("rtmp: publish refused", "app", app, "err", err)
		return
	}
	if err := sc.AcceptAction(); err != nil {
		pub.Close(fmt.Errorf("rtmp: accepting publish: %w", err))
		return
	}
	log.Info("rtmp: publishing", "app", app)
	sess := newSession(ctx, pub, log, orDefault(s.MaxJump, DefaultMaxJump))
	sess.source = "rtmp " + app + "/" + key + " from " + c.RemoteAddr().String()
	rt := orDefault(s.ReadTimeout, DefaultReadTimeout)
	err = sess.run(func() (message.Message, error) {
		c.SetDeadline(time.Now().Add(rt))
		return sc.Read()
	})
	if err != nil && ctx.Err() != nil {
		err = context.Cause(ctx)
	}
	p := pub
	pub = nil // Close once, even if Close itself panics
	p.Close(err)
	if err != nil {
		log.Warn("rtmp: stream ended", "err", err)
	} else {
		log.Info("rtmp: stream ended")
	}
}

// splitPath splits the publish URL's path /APP/KEY into the application
// name (which may contain slashes) and the stream key (the last element).
func splitPath(u *url.URL) (app, key string) {
	if u == nil {
		return "", ""
	}
	p := strings.Trim(u.Path, "/")
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return p, ""
	}
	return p[:i], p[i+1:]
}

// redact returns the URL without its query, which may carry credentials.
func redact(u *url.URL) string {
	if u == nil {
		return ""
	}
	v := *u
	v.RawQuery, v.User = "", nil
	return v.String()
}

// writeStatus sends an onStatus to the publish stream, the way RTMP
// servers report a refused publish (encoders show the description).
func writeStatus(sc *gortmplib.ServerConn, level, code, desc string) error {
	return sc.Write(&message.CommandAMF0{
		ChunkStreamID:   5,
		MessageStreamID: 0x1000000,
		Name:            "onStatus",
		Arguments: []any{
			nil,
			amf0.Object{
				{Key: "level", Value: level},
				{Key: "code", Value: code},
				{Key: "description", Value: desc},
			},
		},
	})
}

// isEOF reports whether err is the peer closing the connection.
func isEOF(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed)
}

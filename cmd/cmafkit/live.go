package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/cmafkit/cmafkit/drm"
	"github.com/cmafkit/cmafkit/ingest/cmafingest"
	"github.com/cmafkit/cmafkit/ingest/rtmp"
	"github.com/cmafkit/cmafkit/ingest/tsin"
	"github.com/cmafkit/cmafkit/internal/serve"
	"github.com/cmafkit/cmafkit/live"
	"github.com/cmafkit/cmafkit/manifest"
	"github.com/cmafkit/cmafkit/segment"
	"github.com/cmafkit/cmafkit/storage"
)

// liveCacheControl is the Cache-Control of a live origin: manifests change
// every segment, segments and init segments never (their names are not
// reused).
func liveCacheControl(name string) string {
	switch {
	case strings.HasSuffix(name, ".m3u8"), strings.HasSuffix(name, ".mpd"):
		return "max-age=1"
	case strings.HasSuffix(name, ".m4s"), strings.HasSuffix(name, ".mp4"):
		return "max-age=86400, immutable"
	}
	return ""
}

// timePath serves the wall clock for DASH UTCTiming (http-iso).
const timePath = "/_cmafkit/live/time"

// runLive implements `cmafkit live`.
func runLive(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runLiveIO(ctx, args, os.Stdin, stdout, stderr)
}

// runLiveIO is runLive reading the input "-" from stdin.
func runLiveIO(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("live", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "output directory (required)")
	httpAddr := fs.String("http", "127.0.0.1:8080", `serve the output over HTTP at this address ("" to not serve)`)
	window := fs.Duration("window", live.DefaultWindow, "how much of the stream the manifests keep (0: everything, an HLS EVENT playlist)")
	segDur := fs.Duration("segment-duration", live.DefaultSegmentDuration, "target segment duration")
	loop := fs.Bool("loop", false, "replay the inputs over and over until Ctrl-C")
	static := fs.Bool("static-mpd", false, "at the end, rewrite the MPD as static (a VOD of the window)")
	smoothOut := fs.Bool("smooth", false, "also write live Microsoft Smooth Streaming (smooth/Manifest; H.264 and AAC; not with --low-latency or encryption)")
	verbose := fs.Bool("v", false, "log each segment")
	rtmpAddr := fs.String("rtmp", "", "accept RTMP publishers at this address, e.g. 127.0.0.1:1935 (publish to rtmp://ADDR/live/KEY)")
	lowLatency := fs.Bool("low-latency", false, "low latency: LL-HLS parts with blocking playlist reload and LL-DASH chunked segments, served from memory by --http")
	partDur := fs.Duration("part-duration", 500*time.Millisecond, "with --low-latency, the longest part (CMAF chunk)")
	streamKeys := fs.String("stream-keys", "", "comma-separated stream keys allowed to publish over RTMP (default: any key, only when --rtmp is a loopback address)")
	var prot protectionFlags
	prot.register(fs)
	wf := webrtcFlags(fs)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: cmafkit live -o DIR [--http ADDR] [--rtmp ADDR [--stream-keys K1,K2]] [--window 60s] [--segment-duration 2s]
                    [--low-latency [--part-duration 500ms]] [INPUT...]

Packages a live stream into DIR as sliding-window HLS (master.m3u8) and dynamic
DASH (manifest.mpd), and serves DIR over HTTP (short Cache-Control for
manifests, long for segments) with the preview player.

Publishers push with a stream key: RTMP (--rtmp, rtmp://ADDR/live/KEY),
WHIP (--webrtc: POST an SDP offer to http://ADDR/whip/KEY; into DIR, see below),
MPEG-TS by HTTP PUT or POST (chunked) to http://ADDR/ingest/ts/KEY on the
--http server (ffmpeg ... -f mpegts -method PUT URL), or CMAF ingest (DASH-IF
Live Media Ingest interface 1) to http://ADDR/ingest/cmaf/KEY/TRACK, one
long POST per track (ffmpeg ... -map 0:v -f mp4 -movflags
empty_moov+separate_moof+default_base_moof+cmaf -frag_duration 1000000
URL/Streams(video), and likewise for audio), or as ffmpeg's DASH muxer
pushes it (ffmpeg ... -f dash -streaming 1 -method PUT
http://ADDR/ingest/cmaf/KEY/manifest.mpd). Each key is its own channel,
packaged into DIR/KEY/ and served at http://ADDR/KEY/; one publisher per key
at a time, and a publisher that comes back on its key continues the channel
after a discontinuity.

INPUTs are packaged into DIR itself, read one after the other, each a new
publisher (a discontinuity):
  -                    an MPEG-TS on stdin (ffmpeg ... -f mpegts - | cmafkit live -o DIR -)
  udp://HOST:PORT      an MPEG-TS over UDP (unicast; udp://@239.0.0.1:5000 joins
                       a multicast group), until Ctrl-C
  FILE                 an MP4 or MPEG-TS file replayed in real time (--loop: again and again)
--stream-keys limits the keys publishers may use. Ctrl-C ends every stream
cleanly (HLS EXT-X-ENDLIST).

--encryption and the other protection flags encrypt the stream as they do for
"cmafkit package"; with --crypto-period the keys rotate every N segments,
counted across discontinuities.

--low-latency makes each segment as parts of --part-duration while it is cut
and serves them from memory over --http: LL-HLS media playlists with parts,
preload hints and blocking playlist reload (_HLS_msn/_HLS_part), and an MPD
whose segments are fetched while they are written, sent chunk by chunk.
Keyframes should come at every multiple of --segment-duration.

--webrtc also lets WebRTC viewers play the stream in real time with WHEP
(http://ADDR/whep/live; the preview page has a WHEP player). WHEP sends
H.264 video and Opus audio as they are (AAC is not sent: no transcoding).
WHIP publishers, like every publisher with --low-latency, go to the one
channel packaged into DIR (one at a time), the channel WHEP plays.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	if *out == "" {
		fs.Usage()
		return usageError{"live needs -o DIR"}
	}
	if *lowLatency && (*httpAddr == "" || *partDur <= 0 || *partDur > *segDur) {
		return usageError{"--low-latency needs --http and a --part-duration above zero and at most --segment-duration"}
	}
	if fs.NArg() == 0 && *rtmpAddr == "" && *httpAddr == "" {
		fs.Usage()
		return usageError{"live needs an INPUT, --rtmp ADDR, or --http to receive an MPEG-TS push"}
	}
	allowed := map[string]bool{}
	for _, k := range strings.Split(*streamKeys, ",") {
		if k = strings.TrimSpace(k); k != "" {
			allowed[k] = true
		}
	}
	if *rtmpAddr != "" && len(allowed) == 0 {
		if host, _, err := net.SplitHostPort(*rtmpAddr); err != nil || !isLoopback(host) {
			return usageError{"--rtmp on a non-loopback address needs --stream-keys: without them anyone who reaches the port could publish"}
		}
	}
	if *wf.enable && *httpAddr == "" {
		return usageError{"--webrtc needs the --http server"}
	}
	if *wf.enable {
		if host, _, err := net.SplitHostPort(*httpAddr); *wf.tokens == "" && (err != nil || !isLoopback(host)) {
			return usageError{"--webrtc on a non-loopback --http address needs --whip-tokens: without them anyone who reaches the port could publish"}
		}
	}
	if *window == 0 {
		*window = -1 // unlimited
	}
	// On a terminal, a status line on stderr; what else is written there
	// (and to stdout when it is the same terminal) clears it first. The
	// status also feeds the preview page's live charts.
	status := &liveStatus{w: stderr}
	drawStatus := isTerminal(stderr)
	logW := stderr
	if drawStatus {
		logW = status.Guard(stderr)
		if isTerminal(stdout) {
			stdout = status.Guard(stdout)
		}
	}
	logger := slog.New(slog.NewTextHandler(logW, &slog.HandlerOptions{Level: slog.LevelWarn}))
	enc, err := prot.config(logger)
	if err != nil {
		return err
	}
	if enc != nil && *lowLatency {
		return usageError{"--low-latency cannot be combined with encryption yet"}
	}
	// One drm session for every channel: they all encrypt with the same
	// keys, so a fixed cenc IV (--iv) is refused for the second channel
	// that would use it, as for a second track of one channel.
	var encSession *drm.Session
	if enc != nil {
		if encSession, err = drm.NewSession(*enc); err != nil {
			return fmt.Errorf("live: %w", err)
		}
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return fmt.Errorf("live: %w", err)
	}
	// The settings of every channel; UTCTiming is set below, before any
	// publisher can arrive.
	var utcTiming []manifest.Descriptor
	var onEvent func(live.Event)
	newChannel := func(st storage.Storage) *live.Channel {
		return &live.Channel{Storage: st, SegmentDuration: *segDur, Window: *window, StaticMPD: *static, Logger: logger,
			UTCTiming: utcTiming, OnEvent: onEvent, Encryption: enc, EncryptionSession: encSession,
			Smooth: *smoothOut}
	}
	// RTMP, MPEG-TS and CMAF ingest publishers: each key its own channel
	// under DIR/KEY/ (any key without --stream-keys).
	var baseURL string
	channels := keyChannels(*out, newChannel, allowed, &baseURL, stdout)
	publish := channels.Publish
	onEvent = func(e live.Event) {
		status.event(e)
		switch e.Kind {
		case live.SegmentWritten:
			if *verbose {
				fmt.Fprintf(stdout, "%s %s segment %d (%d bytes)\n", e.Time.Format(time.TimeOnly), e.Representation, e.Segment.Number, e.Segment.Size)
			}
		case live.PublisherConnected, live.PublisherGone, live.Discontinuity:
			msg := e.Kind.String()
			if e.Err != nil {
				msg += ": " + e.Err.Error()
			}
			fmt.Fprintf(stdout, "%s %s %s\n", e.Time.Format(time.TimeOnly), e.Key, msg)
		}
	}

	// The INPUTs' channel, packaged into DIR itself; the status line and
	// the preview page's charts follow it.
	ch := newChannel(storage.Dir(*out))
	// publishToInputs admits a publisher to ch, whatever its key (one at a
	// time): WHIP's (WHEP plays ch), and every one with --low-latency (the
	// low-latency origin serves ch).
	publishToInputs := func(ctx context.Context, key string) (live.Publisher, error) {
		if len(allowed) > 0 && !allowed[key] {
			return nil, live.ErrUnknownKey
		}
		return ch.Publish(ctx, key)
	}
	if *lowLatency {
		ch.PartDuration = *partDur
		publish = publishToInputs
	}

	var srv *http.Server
	errc := make(chan error, 1)
	if *httpAddr != "" {
		root, err := serve.Dir(*out)
		if err != nil {
			return fmt.Errorf("live: %w", err)
		}
		ln, err := net.Listen("tcp", *httpAddr)
		if err != nil {
			return fmt.Errorf("live: %w", err)
		}
		base := "http://" + displayAddr(ln.Addr())
		baseURL = base
		utcTiming = []manifest.Descriptor{{SchemeIDURI: "urn:mpeg:dash:utc:http-iso:2014", Value: base + timePath}}
		mux := http.NewServeMux()
		mux.HandleFunc(timePath, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("Cache-Control", "no-store")
			w.Header().Set("Access-Control-Allow-Origin", "*")
			io.WriteString(w, time.Now().UTC().Format("2006-01-02T15:04:05.000Z"))
		})
		mux.Handle(tsIngestPath, http.StripPrefix(strings.TrimSuffix(tsIngestPath, "/"),
			&tsin.Handler{Publish: publish, Options: &tsin.Options{Logger: logger}}))
		cmafIn := &cmafingest.Handler{Publish: publish, Options: cmafingest.Options{Logger: logger}}
		defer cmafIn.Close(context.Canceled)
		mux.Handle(cmafIngestPath, http.StripPrefix(strings.TrimSuffix(cmafIngestPath, "/"), cmafIn))
		scfg := serve.Config{CacheControl: liveCacheControl, AllowedHosts: serve.ListenHosts(ln.Addr()),
			Mounts: status.mounts(ch)}
		if *wf.enable {
			host, _, _ := net.SplitHostPort(*httpAddr)
			ws, err := wf.server(ch, publishToInputs, *segDur, isLoopback(host), logger)
			if err != nil {
				ln.Close()
				return err
			}
			defer closeWebRTC(ws)
			mux.Handle("/whip/", ws)
			mux.Handle("/whep/", ws)
			scfg.WHEP = whepPath
		}
		files := serve.NewHandler(root, scfg)
		if *lowLatency {
			// Parts, playlists and growing segments from memory, the
			// rest from the directory.
			origin := live.NewOrigin(ch, live.OriginOptions{Fallback: files})
			mux.Handle("/", serve.AllowHosts(serve.ListenHosts(ln.Addr()), status.viewers(origin)))
		} else {
			mux.Handle("/", status.viewers(files))
		}
		srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() { errc <- srv.Serve(ln) }()
		fmt.Fprintf(stdout, "Live at %s/ (preview player)\n  HLS  %s/%s\n  DASH %s/%s\n", base, base, live.HLSName, base, live.DASHName)
		fmt.Fprintf(stdout, "  MPEG-TS push: PUT or POST %s%sKEY\n", base, tsIngestPath)
		fmt.Fprintf(stdout, "  CMAF ingest:  PUT or POST %s%sKEY/TRACK (or KEY/NAME.mpd and its objects)\n", base, cmafIngestPath)
		if *wf.enable {
			fmt.Fprintf(stdout, "  WHIP %s/whip/KEY\n  WHEP %s%s\n", base, base, whepPath)
		}
		if host, _, err := net.SplitHostPort(*httpAddr); err == nil && !isLoopback(host) {
			fmt.Fprintf(stderr, "cmafkit: note: listening on %s, reachable from other machines\n", *httpAddr)
		}
	}

	if *rtmpAddr != "" {
		ln, err := net.Listen("tcp", *rtmpAddr)
		if err != nil {
			return fmt.Errorf("live: %w", err)
		}
		rs := &rtmp.Server{Logger: logger, Publishers: publish}
		go func() {
			if err := rs.Serve(ctx, ln); err != nil {
				errc <- err
			}
		}()
		fmt.Fprintf(stdout, "RTMP: publish to rtmp://%s/live/KEY\n", displayAddr(ln.Addr()))
	}

	ch.UTCTiming = utcTiming
	if drawStatus {
		sctx, stop := context.WithCancel(ctx)
		stopped := make(chan struct{})
		go func() { status.run(sctx, ch); close(stopped) }()
		defer func() { stop(); <-stopped }()
	}
	var runErr error
	if fs.NArg() > 0 {
		runErr = replayInputs(ctx, ch, fs.Args(), *loop, stdin, logger)
	}
	if (fs.NArg() == 0 || *rtmpAddr != "" || *wf.enable) && runErr == nil {
		// RTMP publishers and HTTP pushes come and go until Ctrl-C.
		select {
		case <-ctx.Done():
		case runErr = <-errc:
		}
	}
	// Ctrl-C (ctx done) is the normal end: close with a fresh context.
	cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ch.Close(cctx); err != nil && runErr == nil {
		runErr = err
	}
	if err := channels.Close(cctx); err != nil && runErr == nil {
		runErr = err
	}
	if fs.NArg() > 0 {
		s := ch.Stats()
		fmt.Fprintf(stdout, "ended: %d segments, %d discontinuities, %d samples refused\n", s.Segments, s.Discontinuities, s.Rejected)
	}
	for _, key := range channels.Keys() {
		s := channels.Channel(key).Stats()
		fmt.Fprintf(stdout, "ended %s: %d segments, %d discontinuities, %d samples refused\n", key, s.Segments, s.Discontinuities, s.Rejected)
	}
	if srv != nil {
		if ctx.Err() == nil {
			// The inputs ended: keep serving the ended stream until Ctrl-C.
			fmt.Fprintln(stdout, "inputs done; serving until Ctrl-C")
			select {
			case <-ctx.Done():
			case err := <-errc:
				return fmt.Errorf("live: %w", err)
			}
		}
		if err := srv.Shutdown(cctx); err != nil {
			srv.Close()
		}
	}
	return runErr
}

// replayInputs publishes each input, one after the other: stdin and UDP as
// they arrive, files in real time. One file looped is one publisher on a
// continuous clock (as an encoder looping a file), not a discontinuity per
// loop.
func replayInputs(ctx context.Context, ch *live.Channel, inputs []string, loop bool, stdin io.Reader, logger *slog.Logger) error {
	if loop && len(inputs) == 1 && inputs[0] != "-" && !strings.HasPrefix(inputs[0], "udp://") {
		if err := replayFile(ctx, ch, inputs[0], -1); err != nil && ctx.Err() == nil {
			return err
		}
		return nil
	}
	for {
		for _, in := range inputs {
			var err error
			switch {
			case in == "-":
				err = readStdin(ctx, ch, stdin, logger)
			case strings.HasPrefix(in, "udp://"):
				err = readUDP(ctx, ch, in, logger)
			default:
				err = replayFile(ctx, ch, in, 1)
			}
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
		}
		if !loop || ctx.Err() != nil {
			return nil
		}
	}
}

func replayFile(ctx context.Context, ch *live.Channel, path string, loops int) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("live: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("live: %w", err)
	}
	src, err := segment.Open(ctx, f, fi.Size(), path, nil)
	if err != nil {
		return err
	}
	pub, err := ch.Publish(ctx, path)
	if err != nil {
		return err
	}
	err = live.Replay(ctx, src.Tracks, pub, live.ReplayOptions{Speed: 1, Loops: loops})
	pub.Close(err)
	return err
}

// tsIngestPath is where the HTTP server takes MPEG-TS pushes: PUT/POST
// tsIngestPath+KEY.
const tsIngestPath = "/ingest/ts/"

// readStdin publishes the MPEG-TS on stdin until it ends.
func readStdin(ctx context.Context, ch *live.Channel, stdin io.Reader, logger *slog.Logger) error {
	pub, err := ch.Publish(ctx, "stdin")
	if err != nil {
		return err
	}
	// A read from stdin cannot be interrupted: at Ctrl-C the channel is
	// closed without waiting for it (the session's later calls fail).
	done := make(chan error, 1)
	go func() { done <- tsin.Read(ctx, stdin, pub, &tsin.Options{Name: "stdin", Logger: logger}) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return nil
	}
}

// readUDP publishes the MPEG-TS arriving at a udp:// address until Ctrl-C.
func readUDP(ctx context.Context, ch *live.Channel, addr string, logger *slog.Logger) error {
	conn, err := tsin.ListenUDP(addr)
	if err != nil {
		return usageError{err.Error()}
	}
	pub, err := ch.Publish(ctx, addr)
	if err != nil {
		conn.Close()
		return err
	}
	return tsin.ReadUDP(ctx, conn, pub, &tsin.Options{Name: addr, Logger: logger})
}

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

	"github.com/cmafkit/cmafkit/internal/serve"
	"github.com/cmafkit/cmafkit/live"
	"github.com/cmafkit/cmafkit/manifest"
	"github.com/cmafkit/cmafkit/packager"
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
	fs := flag.NewFlagSet("live", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "output directory (required)")
	httpAddr := fs.String("http", "127.0.0.1:8080", `serve the output over HTTP at this address ("" to not serve)`)
	window := fs.Duration("window", live.DefaultWindow, "how much of the stream the manifests keep (0: everything, an HLS EVENT playlist)")
	segDur := fs.Duration("segment-duration", live.DefaultSegmentDuration, "target segment duration")
	loop := fs.Bool("loop", false, "replay the inputs over and over until Ctrl-C")
	static := fs.Bool("static-mpd", false, "at the end, rewrite the MPD as static (a VOD of the window)")
	verbose := fs.Bool("v", false, "log each segment")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: cmafkit live -o DIR [--http ADDR] [--window 60s] [--segment-duration 2s] [INPUT...]

Packages a live stream into DIR as sliding-window HLS (master.m3u8) and dynamic
DASH (manifest.mpd), and serves DIR over HTTP (short Cache-Control for
manifests, long for segments) with the preview player.

For now the stream comes from files: each INPUT (MP4 or MPEG-TS) is replayed
in real time as a stand-in publisher, one after the other, each as a new
publisher (a discontinuity). Ctrl-C ends the stream cleanly (HLS EXT-X-ENDLIST).

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
	if fs.NArg() == 0 {
		fs.Usage()
		return usageError{"live needs an INPUT to replay (RTMP ingest is not wired in yet)"}
	}
	if *window == 0 {
		*window = -1 // unlimited
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return fmt.Errorf("live: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ch := &live.Channel{
		Storage: storage.Dir(*out), SegmentDuration: *segDur, Window: *window, StaticMPD: *static, Logger: logger,
	}
	ch.OnEvent = func(e live.Event) {
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
		ch.UTCTiming = []manifest.Descriptor{{SchemeIDURI: "urn:mpeg:dash:utc:http-iso:2014", Value: base + timePath}}
		mux := http.NewServeMux()
		mux.HandleFunc(timePath, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("Cache-Control", "no-store")
			w.Header().Set("Access-Control-Allow-Origin", "*")
			io.WriteString(w, time.Now().UTC().Format("2006-01-02T15:04:05.000Z"))
		})
		mux.Handle("/", serve.NewHandler(root, serve.Config{CacheControl: liveCacheControl, AllowedHosts: serve.ListenHosts(ln.Addr())}))
		srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() { errc <- srv.Serve(ln) }()
		fmt.Fprintf(stdout, "Live at %s/ (preview player)\n  HLS  %s/%s\n  DASH %s/%s\n", base, base, live.HLSName, base, live.DASHName)
		if host, _, err := net.SplitHostPort(*httpAddr); err == nil && !isLoopback(host) {
			fmt.Fprintf(stderr, "cmafkit: note: listening on %s, reachable from other machines\n", *httpAddr)
		}
	}

	runErr := replayInputs(ctx, ch, fs.Args(), *loop)
	// Ctrl-C (ctx done) is the normal end: close with a fresh context.
	cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ch.Close(cctx); err != nil && runErr == nil {
		runErr = err
	}
	s := ch.Stats()
	fmt.Fprintf(stdout, "ended: %d segments, %d discontinuities, %d samples refused\n", s.Segments, s.Discontinuities, s.Rejected)
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

// replayInputs publishes each input in real time, one after the other. One
// input looped is one publisher on a continuous clock (as an encoder
// looping a file), not a discontinuity per loop.
func replayInputs(ctx context.Context, ch *live.Channel, inputs []string, loop bool) error {
	if loop && len(inputs) == 1 {
		if err := replayFile(ctx, ch, inputs[0], -1); err != nil && ctx.Err() == nil {
			return err
		}
		return nil
	}
	for {
		for _, in := range inputs {
			if err := replayFile(ctx, ch, in, 1); err != nil {
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
	src, err := packager.OpenSource(ctx, f, fi.Size(), path, nil)
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

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
)

// runServe implements `cmafkit serve [--addr ADDR] [--allow-host HOST] [--log]
// DIR`: it serves the manifests and media in DIR over HTTP with the media
// types, Range and CORS support players need, and a preview page at "/" that
// plays any manifest in DIR with the embedded Shaka Player. It runs until ctx
// is cancelled (Ctrl-C), then shuts down gracefully.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on (host:port; port 0 picks a free one)")
	var allowHosts hostList
	fs.Var(&allowHosts, "allow-host", "also accept requests naming this `HOST` (name, name:port, or * for any; repeatable or comma-separated)")
	logRequests := fs.Bool("log", false, "log every request to stderr")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: cmafkit serve [--addr ADDR] [--allow-host HOST] [--log] DIR

Serves the manifests and media in DIR (e.g. the output of "cmafkit package") over
HTTP for players on this machine: HLS and DASH media types, byte-range requests,
CORS headers on media and manifests, and a preview page at / that lists the
manifests in DIR and plays them with Shaka Player (built into cmafkit; no internet
access needed). Stop with Ctrl-C.

Only manifests, media segments and subtitles are served (.m3u8 .mpd .mp4 .m4s
.m4v .m4a .cmfv .cmfa .cmft .ts .aac .ac3 .ec3 .mp3 .vtt .ttml .dfxp), and HLS
key files (.key) to the preview page only; dot-files, other files and symbolic
links out of DIR are not. Requests must name the server
by the address it listens on (localhost too for a loopback address), so that web
pages on other names cannot read DIR; --allow-host adds names, for example the
machine's host name when listening on 0.0.0.0.

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
	if fs.NArg() != 1 {
		fs.Usage()
		return usageError{"serve needs exactly one DIR"}
	}
	dir := fs.Arg(0)
	if fi, err := os.Stat(dir); err != nil {
		return fmt.Errorf("serve: %w", err)
	} else if !fi.IsDir() {
		return fmt.Errorf("serve: %s is not a directory", dir)
	}
	root, err := serve.Dir(dir)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}

	cfg := serve.Config{}
	if *logRequests {
		cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	cfg.AllowedHosts = append(serve.ListenHosts(ln.Addr()), allowHosts...)
	srv := &http.Server{
		Handler:           serve.NewHandler(root, cfg),
		ReadHeaderTimeout: 10 * time.Second,
	}

	base := "http://" + displayAddr(ln.Addr())
	fmt.Fprintf(stdout, "Serving %s at %s/ (preview player at that address; Ctrl-C stops)\n", dir, base)
	if host, _, err := net.SplitHostPort(*addr); err == nil && !isLoopback(host) {
		fmt.Fprintf(stderr, "cmafkit: note: listening on %s, reachable from other machines\n", *addr)
	}
	if ms, _, err := serve.FindManifests(root, 20000, 20); err == nil {
		for _, m := range ms {
			fmt.Fprintf(stdout, "  %-4s %s/%s\n", m.Kind, base, m.Path)
		}
	}

	return serveUntilDone(ctx, srv, ln, "serve")
}

// displayAddr turns a listener address into one a browser can open: an
// unspecified host (0.0.0.0 or ::) becomes localhost.
func displayAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// hostList collects --allow-host values.
type hostList []string

func (h *hostList) String() string { return strings.Join(*h, ",") }

func (h *hostList) Set(v string) error {
	for _, host := range strings.Split(v, ",") {
		host = strings.TrimSpace(host)
		if host == "" {
			return errors.New("empty host")
		}
		if strings.ContainsAny(host, "/ ") {
			return fmt.Errorf("%q is not a host (name, name:port or *)", host)
		}
		*h = append(*h, host)
	}
	return nil
}

// serveUntilDone serves ln with srv until ctx is done (Ctrl-C), then shuts
// srv down, giving requests in flight 5 s; a serving error ends it early.
// Errors are prefixed with the command's name.
func serveUntilDone(ctx context.Context, srv *http.Server, ln net.Listener, name string) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("%s: %w", name, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

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
	"time"

	"github.com/cmafkit/cmafkit/internal/serve"
)

// runServe implements `cmafkit serve [--addr ADDR] [--log] DIR`: it serves DIR
// over HTTP with the media types, Range and CORS support players need, and a
// preview page at "/" that plays any manifest in DIR with the embedded Shaka
// Player. It runs until ctx is cancelled (Ctrl-C), then shuts down gracefully.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on (host:port; port 0 picks a free one)")
	logRequests := fs.Bool("log", false, "log every request to stderr")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: cmafkit serve [--addr ADDR] [--log] DIR

Serves DIR (e.g. the output of "cmafkit package") over HTTP for players on this
machine: HLS and DASH media types, byte-range requests, CORS headers, and a
preview page at / that lists the manifests in DIR and plays them with Shaka
Player (built into cmafkit; no internet access needed). Stop with Ctrl-C.

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

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
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

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
	"github.com/cmafkit/cmafkit/drm/cpix"
	"github.com/cmafkit/cmafkit/origin"
	"gocloud.dev/blob"
	_ "gocloud.dev/blob/fileblob" // file:// roots
)

// runOrigin implements `cmafkit origin [--addr ADDR] [--cpix FILE | --key
// KID:KEY] [--encryption cenc|cbcs] ROOT`: a just-in-time origin serving
// the titles under ROOT (a directory or a bucket URL) as HLS and DASH,
// clear or encrypted on request, with one log line per request. It runs
// until ctx is cancelled, then shuts down gracefully.
func runOrigin(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("origin", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on (host:port; port 0 picks a free one)")
	keys := fs.String("key", "", "content key as `KID:KEY` (hex, UUID or base64) for every title; enables /cenc/ and /cbcs/ URLs")
	cpixFile := fs.String("cpix", "", "read the content keys (for every title) from a CPIX `file`; enables /cenc/ and /cbcs/ URLs")
	scheme := fs.String("encryption", "", "encrypt titles requested without /cenc/ or /cbcs/ with this `scheme` (cenc or cbcs); needs --key or --cpix")
	systems := fs.String("drm", "", "DRM `systems` to signal (comma-separated: clearkey, widevine, playready, fairplay); default ClearKey or the CPIX document's")
	segDur := fs.Duration("segment-duration", 4*time.Second, "target segment `duration`")
	cacheMB := fs.Int64("cache-mb", 256, "memory for opened titles, in `MiB`")
	maxAge := fs.Duration("manifest-max-age", 10*time.Second, "Cache-Control max-age of manifests, and how often a title's files are checked for change")
	quiet := fs.Bool("quiet", false, "do not log requests")
	smoothOut := fs.Bool("smooth", false, "also serve Microsoft Smooth Streaming ({title}/smooth/Manifest; H.264 and AAC; clear, or /cenc/ with --drm playready and one key)")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: cmafkit origin [flags] ROOT

Packages the titles under ROOT just in time: ROOT is a directory or a bucket URL
(file:///path; other gocloud drivers when built in). A title is an MP4
file or a JSON title file naming renditions, audio and subtitles; its manifests
are at /TITLE/master.m3u8 and /TITLE/manifest.mpd, for example
http://127.0.0.1:8080/movies/a.mp4/master.m3u8. With --key or --cpix,
/cenc/TITLE/... and /cbcs/TITLE/... serve it encrypted. One log line per request
goes to stderr. Stop with Ctrl-C.

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
		return usageError{"origin needs exactly one ROOT"}
	}
	cfg := origin.Config{SegmentDuration: *segDur, CacheBytes: *cacheMB << 20, ManifestMaxAge: *maxAge, Smooth: *smoothOut}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	if !*quiet {
		cfg.Logger = logger
	}
	switch {
	case *keys != "" && *cpixFile != "":
		return usageError{"give keys with --key or --cpix, not both"}
	case *keys != "":
		ks, err := drm.ParseKeyPairs(*keys)
		if err != nil {
			return usageError{fmt.Sprintf("--key: %v", err)}
		}
		cfg.Keys = &origin.StaticKeys{Default: ks}
	case *cpixFile != "":
		doc, err := cpix.ReadFile(*cpixFile)
		if err != nil {
			return err
		}
		cfg.Keys = origin.KeyFunc(func(ctx context.Context, title string, req drm.KeyRequest) (drm.ContentKey, error) {
			return doc.ContentKey(ctx, req)
		})
		cfg.Signaling.Systems = doc.SystemList()
	}
	if *systems != "" {
		var err error
		if cfg.Signaling.Systems, err = drm.ParseSystems(*systems); err != nil {
			return usageError{fmt.Sprintf("--drm: %v", err)}
		}
	}
	if *scheme != "" {
		s, err := drm.ParseScheme(*scheme)
		if err != nil {
			return usageError{fmt.Sprintf("--encryption: %v", err)}
		}
		if cfg.Keys == nil {
			return usageError{"--encryption needs --key KID:KEY or --cpix FILE"}
		}
		cfg.Encryption = s
	}
	root := fs.Arg(0)
	if strings.Contains(root, "://") {
		b, err := blob.OpenBucket(ctx, root)
		if err != nil {
			return fmt.Errorf("origin: %w", err)
		}
		defer b.Close()
		cfg.Source = origin.Bucket(b, "")
	} else {
		if fi, err := os.Stat(root); err != nil {
			return fmt.Errorf("origin: %w", err)
		} else if !fi.IsDir() {
			return fmt.Errorf("origin: %s is not a directory", root)
		}
		src, err := origin.Dir(root)
		if err != nil {
			return fmt.Errorf("origin: %w", err)
		}
		cfg.Source = src
	}
	h, err := origin.New(cfg)
	if err != nil {
		return usageError{err.Error()}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("origin: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	fmt.Fprintf(stdout, "Origin for %s at http://%s/TITLE/master.m3u8 and /TITLE/manifest.mpd (Ctrl-C stops)\n", root, displayAddr(ln.Addr()))
	return serveUntilDone(ctx, srv, ln, "origin")
}

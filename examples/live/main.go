// Command live packages a file as if it were a live stream, replayed in
// real time, into sliding-window HLS and dynamic DASH, with the cmafkit
// library:
//
//	go run ./examples/live -o out testdata/ladder_720p.mp4
//
// A service would instead hand Channel.Publish to an ingest (RTMP, MPEG-TS)
// as its live.PublisherFunc and serve the output directory.
package main

import (
	"context"
	"flag"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"time"

	"github.com/cmafkit/cmafkit/live"
	"github.com/cmafkit/cmafkit/segment"
	"github.com/cmafkit/cmafkit/storage"
)

func main() {
	out := flag.String("o", "out", "output directory")
	flag.Parse()
	if flag.NArg() != 1 {
		log.Fatal("usage: live [-o DIR] INPUT.mp4")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	ch := &live.Channel{
		Storage:         storage.Dir(*out),
		SegmentDuration: 2 * time.Second,
		Window:          30 * time.Second,
		Logger:          slog.New(slog.NewTextHandler(os.Stderr, nil)),
		OnEvent: func(e live.Event) {
			if e.Kind == live.SegmentWritten {
				log.Printf("%s segment %d, %d bytes", e.Representation, e.Segment.Number, e.Segment.Size)
			}
		},
	}
	src, err := segment.OpenFile(ctx, flag.Arg(0), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()
	pub, err := ch.Publish(ctx, "example")
	if err != nil {
		log.Fatal(err)
	}
	err = live.Replay(ctx, src.Tracks, pub, live.ReplayOptions{Speed: 1})
	pub.Close(err)
	// Close with a fresh context: Ctrl-C cancelled ctx, and the stream
	// still has to end cleanly (HLS EXT-X-ENDLIST).
	if err := ch.Close(context.Background()); err != nil {
		log.Print(err)
	}
}

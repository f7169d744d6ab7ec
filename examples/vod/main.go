// Command vod packages an ABR ladder of MP4 files to HLS and DASH with the
// cmafkit library:
//
//	go run ./examples/vod -o out testdata/ladder_720p.mp4 testdata/ladder_360p.mp4
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"os"
	"time"

	"github.com/cmafkit/cmafkit/packager"
	"github.com/cmafkit/cmafkit/storage"
)

func main() {
	out := flag.String("o", "out", "output directory")
	flag.Parse()
	if flag.NArg() == 0 {
		log.Fatal("usage: vod [-o DIR] INPUT.mp4...")
	}
	job := packager.Job{
		Storage:         storage.Dir(*out),
		SegmentDuration: 4 * time.Second,
		Logger:          slog.New(slog.NewTextHandler(os.Stderr, nil)),
	}
	for _, path := range flag.Args() {
		job.Inputs = append(job.Inputs, packager.Input{Path: path})
	}
	res, err := packager.Run(context.Background(), job)
	if err != nil {
		log.Fatal(err)
	}
	for _, m := range res.Manifests {
		fmt.Println(m)
	}
}

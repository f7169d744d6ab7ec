package packager_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/cmafkit/cmafkit/packager"
	"github.com/cmafkit/cmafkit/storage"
)

// Package a two-rung ladder to HLS and DASH in a local directory.
func ExampleRun() {
	dir, err := os.MkdirTemp("", "cmafkit-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	res, err := packager.Run(context.Background(), packager.Job{
		Inputs:          []packager.Input{{Path: "../testdata/ladder_720p.mp4"}, {Path: "../testdata/ladder_360p.mp4"}},
		SegmentDuration: 4 * time.Second,
		Storage:         storage.Dir(dir),
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Manifests)
	for _, set := range res.Presentation.Periods[0].Sets {
		for _, r := range set.Representations {
			fmt.Println(r.ID, r.Codecs, len(r.Segments), "segments")
		}
	}
	// Output:
	// [manifest.mpd master.m3u8]
	// video_720p_avc avc1.64001f 2 segments
	// video_360p_avc avc1.64001e 2 segments
	// audio_und_aac_2ch mp4a.40.2 2 segments
}

// Package one input for DASH only, as one file per representation (the
// on-demand profile), naming the audio language.
func ExampleRun_singleFile() {
	dir, err := os.MkdirTemp("", "cmafkit-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	res, err := packager.Run(context.Background(), packager.Job{
		Inputs:     []packager.Input{{Path: "../testdata/ladder_360p.mp4", Language: "en"}},
		SingleFile: true,
		Formats:    packager.DASH,
		Storage:    storage.Dir(dir),
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, o := range res.Objects {
		fmt.Println(o.Name)
	}
	// Output:
	// audio_en_aac_2ch.mp4
	// manifest.mpd
	// video_360p_avc.mp4
}

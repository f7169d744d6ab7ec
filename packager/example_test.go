package packager_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cmafkit/cmafkit/drm"
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

// Package one input encrypted with cbcs for FairPlay and Widevine. The key
// and the constant IV are fixed here so that the output does not change;
// in production they come from a key server (drm/cpix), and the IV is best
// left out (random per track).
func ExampleRun_encrypted() {
	dir, err := os.MkdirTemp("", "cmafkit-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	key, err := drm.ParseKey("0123456789abcdef0123456789abcdef")
	if err != nil {
		log.Fatal(err)
	}
	res, err := packager.Run(context.Background(), packager.Job{
		Inputs:  []packager.Input{{Path: "../testdata/ladder_360p.mp4"}},
		Storage: storage.Dir(dir),
		Encryption: &drm.Config{
			Scheme: drm.SchemeCBCS,
			Keys:   &drm.StaticKeys{Default: []drm.ContentKey{{KID: drm.MustParseKID("00112233-4455-6677-8899-aabbccddeeff"), Key: key}}},
			IV:     drm.IV("constant-iv-16b!"),
			SignalingOptions: drm.SignalingOptions{
				Systems:     []drm.System{drm.FairPlay, drm.Widevine},
				FairPlayURI: "skd://keys.example/{KID_UUID}",
			},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	// The model the manifests were rendered from describes the protection.
	for _, set := range res.Presentation.Periods[0].Sets {
		for _, r := range set.Representations {
			p := r.Protection
			fmt.Println(r.ID, p.Scheme, p.DefaultKID, len(p.Systems), "DRM systems")
		}
	}
	// The media playlists carry a key tag per system.
	pl, err := os.ReadFile(filepath.Join(dir, "video_360p_avc.m3u8"))
	if err != nil {
		log.Fatal(err)
	}
	for line := range strings.Lines(string(pl)) {
		if strings.HasPrefix(line, "#EXT-X-KEY:") && strings.Contains(line, "skd://") {
			fmt.Print(line)
		}
	}
	// Output:
	// video_360p_avc cbcs 00112233-4455-6677-8899-aabbccddeeff 2 DRM systems
	// audio_und_aac_2ch cbcs 00112233-4455-6677-8899-aabbccddeeff 2 DRM systems
	// #EXT-X-KEY:METHOD=SAMPLE-AES,URI="skd://keys.example/00112233-4455-6677-8899-aabbccddeeff",KEYFORMAT="com.apple.streamingkeydelivery",KEYFORMATVERSIONS="1"
}

package hls_test

import (
	"os"

	"github.com/cmafkit/cmafkit/manifest"
	"github.com/cmafkit/cmafkit/manifest/hls"
	"github.com/cmafkit/cmafkit/segment"
)

func ExampleRenderMedia() {
	p := &manifest.Presentation{Periods: []manifest.Period{{Sets: []manifest.SwitchingSet{{
		ID: "audio", ContentType: segment.KindAudio, Lang: "en",
		Representations: []manifest.Representation{{
			ID: "aac", Codecs: "mp4a.40.2", Timescale: 48000, Bandwidth: 130_000, AverageBandwidth: 128_000,
			Init: manifest.Resource{URI: "aac/init.mp4"},
			Segments: []manifest.SegmentRef{
				{URI: "aac/1.m4s", Number: 1, Start: 0, Duration: 96256, Size: 32_000},
				{URI: "aac/2.m4s", Number: 2, Start: 96256, Duration: 95232, Size: 32_000},
			},
		}},
	}}}}}
	if err := hls.RenderMedia(os.Stdout, p, "aac"); err != nil {
		panic(err)
	}
	// Output:
	// #EXTM3U
	// #EXT-X-VERSION:6
	// #EXT-X-TARGETDURATION:2
	// #EXT-X-MEDIA-SEQUENCE:1
	// #EXT-X-PLAYLIST-TYPE:VOD
	// #EXT-X-INDEPENDENT-SEGMENTS
	// #EXT-X-MAP:URI="aac/init.mp4"
	// #EXTINF:2.005333333,
	// aac/1.m4s
	// #EXTINF:1.984,
	// aac/2.m4s
	// #EXT-X-ENDLIST
}

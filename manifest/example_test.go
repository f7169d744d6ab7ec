package manifest_test

import (
	"errors"
	"fmt"

	"github.com/cmafkit/cmafkit/manifest"
	"github.com/cmafkit/cmafkit/segment"
)

func ExamplePeakBandwidth() {
	// Three 2 s segments (timescale 1000) of 250, 500 and 250 kB.
	segs := []manifest.SegmentRef{
		{Start: 0, Duration: 2000, Size: 250_000},
		{Start: 2000, Duration: 2000, Size: 500_000},
		{Start: 4000, Duration: 2000, Size: 250_000},
	}
	fmt.Println(manifest.PeakBandwidth(segs, 1000, 0), manifest.AverageBandwidth(segs, 1000))
	// Output: 2000000 1333334
}

func ExamplePresentation_Validate() {
	p := &manifest.Presentation{Periods: []manifest.Period{{ID: "main", Sets: []manifest.SwitchingSet{{
		ID: "audio", ContentType: segment.KindAudio, Lang: "en",
		Representations: []manifest.Representation{{
			ID: "aac", Codecs: "mp4a.40.2", Timescale: 48000, Bandwidth: 100_000,
			Segments: []manifest.SegmentRef{{URI: "a-1.m4s", Duration: 96000, Size: 32_000}},
		}},
	}}}}}
	err := p.Validate()
	var ve *manifest.ValidationError
	fmt.Println(errors.Is(err, manifest.ErrBandwidthBelowPeak), errors.As(err, &ve) && ve.Representation == "aac")
	fmt.Println(err)
	// Output:
	// true true
	// manifest: period "main" set "audio" representation "aac": bandwidth below measured peak: declared 100000 bit/s, measured peak 128000 bit/s
}

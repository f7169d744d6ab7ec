package ts_test

import (
	"context"
	"fmt"
	"log"

	"github.com/cmafkit/cmafkit/segment"
	"github.com/cmafkit/cmafkit/segment/ts"
)

// Open a transport stream, list its tracks and read the first video sample.
func ExampleOpenFile() {
	src, err := ts.OpenFile(context.Background(), "../../testdata/h264_aac.ts", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()
	var firsts []segment.Sample
	for _, t := range src.Tracks {
		if firsts, err = t.AppendSamples(firsts, 0, 1); err != nil {
			log.Fatal(err)
		}
		fmt.Printf("PID %d: %s %s, timescale %d, %d samples, starts at %d, presentation offset %d\n",
			t.ID, t.Kind, t.Codec, t.Timescale, t.SampleCount(), firsts[len(firsts)-1].DecodeTime, t.PresentationOffset)
	}
	v := src.Tracks[0]
	payload, err := v.Data.AppendSample(nil, &firsts[0])
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%dx%d at %v fps; first sample: sync=%v, %d bytes, NAL unit length %x\n",
		v.Width, v.Height, v.FrameRate, firsts[0].Sync, len(payload), payload[:4])
	// Output:
	// PID 256: video avc1.64001e, timescale 90000, 240 samples, starts at 0, presentation offset 4086
	// PID 257: audio mp4a.40.2, timescale 48000, 376 samples, starts at 2179, presentation offset 2179
	// 640x360 at 30000/1001 fps; first sample: sync=true, 3224 bytes, NAL unit length 000002f0
}

package ts_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/cmafkit/cmafkit/segment/ts"
)

func TestProbe(t *testing.T) {
	for _, n := range []string{"h264_aac.ts", "h264_aac_wrap.ts", "hevc_ac3.ts"} {
		f, _ := os.Open("/work/main/testdata/" + n)
		st, _ := f.Stat()
		src, err := ts.Open(context.Background(), f, st.Size(), n, ts.Options{})
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("%s %+v\n", n, src.Stats())
		for _, tr := range src.Tracks() {
			fmt.Printf("  %s ts=%d %dx%d fr=%v sar=%v sr=%d ch=%d po=%d dur=%d n=%d\n", tr, tr.Timescale, tr.Width, tr.Height, tr.FrameRate, tr.PixelAspect, tr.SampleRate, tr.Channels, tr.PresentationOffset, tr.Duration, len(tr.Samples))
			for i := 0; i < 4; i++ {
				s := tr.Samples[i]
				b, err := tr.Data.AppendSample(nil, &s)
				fmt.Printf("    %+v len=%d err=%v %x\n", s, len(b), err, b[:min(8, len(b))])
			}
		}
	}
}

package abr_test

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/cmafkit/cmafkit/abr"
)

// The Apple ladder for a 720p60 H.264 source: the four lowest rows of the
// specification's table at 30 fps, the others at the source's 60 fps, and
// nothing above the source's size.
func ExampleApple() {
	src := abr.Source{Width: 1280, Height: 720, FrameRate: abr.R(60, 1)}
	ladder, err := (&abr.Apple{}).Calculate(context.Background(), src)
	if err != nil {
		fmt.Println(err)
		return
	}
	ladder.WriteTable(os.Stdout)
	// Output:
	// #  resolution  par  fps  codec  profile  level  bitrate  maxrate  bufsize
	// 1  416x234     1:1  30   h264   high     1.3    145k     160k     319k
	// 2  640x360     1:1  30   h264   high     3.0    365k     402k     803k
	// 3  768x432     1:1  30   h264   high     3.0    730k     803k     1606k
	// 4  768x432     1:1  30   h264   high     3.0    1100k    1210k    2420k
	// 5  960x540     1:1  60   h264   high     3.2    2000k    2200k    4400k
	// 6  1280x720    1:1  60   h264   high     3.2    3000k    3300k    6600k
	// 7  1280x720    1:1  60   h264   high     3.2    4500k    4950k    9900k
}

// A vertical HEVC source with a geometric ladder limited to four rungs.
func ExampleGeometric() {
	src := abr.Source{Width: 1080, Height: 1920, FrameRate: abr.R(30, 1), Codec: abr.HEVC}
	g := &abr.Geometric{MinBitrate: 300_000, StepRatio: 2, Constraints: abr.Constraints{MaxRungs: 4}}
	ladder, err := g.Calculate(context.Background(), src)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range ladder.Rungs {
		fmt.Println(r.Name, r.FrameRate, r.Level)
	}
	// Output:
	// 382x678-505k 30 3.0
	// 540x960-1011k 30 3.0
	// 764x1358-2022k 30 4.0
	// 1080x1920-4044k 30 4.0
}

// A per-title ladder from probe encodes: the 720p encode at 900 kbit/s is
// beaten by the 540p one at 800 kbit/s, so it never becomes a rung, and the
// probe above the source size is ignored.
func ExampleHull() {
	probes, err := abr.ReadProbes(strings.NewReader(`width,height,bitrate_kbps,vmaf
640,360,400,62
640,360,800,71
960,540,800,75
1280,720,900,73
960,540,1600,84
1280,720,1600,86
1280,720,3200,94
1920,1080,3200,95
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	src := abr.Source{Width: 1280, Height: 720, FrameRate: abr.R(25, 1), Probes: probes}
	ladder, err := (&abr.Hull{}).Calculate(context.Background(), src)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range ladder.Rungs {
		fmt.Printf("%s quality %.0f\n", r.Name, r.Quality)
	}
	// Output:
	// 640x360-400k quality 62
	// 960x540-800k quality 75
	// 1280x720-1600k quality 86
	// 1280x720-3200k quality 94
}

// Plugging in a policy of one's own: a fixed two-rung ladder that still
// refuses sources too small for it.
func ExampleCalculatorFunc() {
	fixed := abr.CalculatorFunc(func(ctx context.Context, src abr.Source) (abr.Ladder, error) {
		if src.Height < 720 {
			return abr.Ladder{}, fmt.Errorf("%w: need 720 lines", abr.ErrNoRungs)
		}
		return abr.Ladder{Calculator: "fixed", Codec: abr.H264, Rungs: []abr.Rung{
			{Name: "low", Width: 640, Height: 360, FrameRate: src.FrameRate, Bitrate: 800_000},
			{Name: "high", Width: 1280, Height: 720, FrameRate: src.FrameRate, Bitrate: 3_000_000},
		}}, nil
	})
	var c abr.Calculator = fixed
	l, err := c.Calculate(context.Background(), abr.Source{Width: 1920, Height: 1080, FrameRate: abr.R(25, 1)})
	fmt.Println(len(l.Rungs), err, l.Validate())
	_, err = c.Calculate(context.Background(), abr.Source{Width: 640, Height: 480, FrameRate: abr.R(25, 1)})
	fmt.Println(err)
	// Output:
	// 2 <nil> <nil>
	// abr: no rung satisfies the constraints: need 720 lines
}

package sim_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/cmafkit/cmafkit/abr"
	"github.com/cmafkit/cmafkit/abr/sim"
)

// Two ladders over the same link: 20 s at 3 Mbit/s, 10 s at 800 kbit/s,
// repeated. The ladder with a rung near 700 kbit/s rides out the slow spell
// without stalling.
func ExampleCompare() {
	trace, err := sim.ReadTrace(strings.NewReader("time,bandwidth_kbps\n0,3000\n20,800\n30,800\n"), "dip")
	if err != nil {
		fmt.Println(err)
		return
	}
	rung := func(h, kbps int) abr.Rung {
		return abr.Rung{Width: h * 16 / 9, Height: h, FrameRate: abr.R(25, 1), Bitrate: kbps * 1000}
	}
	sparse := abr.Ladder{Rungs: []abr.Rung{rung(360, 1000), rung(720, 2500)}}
	dense := abr.Ladder{Rungs: []abr.Rung{rung(270, 400), rung(360, 700), rung(540, 1400), rung(720, 2500)}}
	cfg := sim.Config{SegmentDuration: 2 * time.Second, Duration: 2 * time.Minute, MaxBuffer: 10 * time.Second}
	results, err := sim.Compare(context.Background(), trace, cfg, []sim.Algorithm{sim.Throughput{}},
		sim.Candidate{Name: "sparse", Ladder: sparse}, sim.Candidate{Name: "dense", Ladder: dense})
	if err != nil {
		fmt.Println(err)
		return
	}
	sim.WriteReport(os.Stdout, results)
	// Output:
	// ladder  algorithm   trace  segments  avg kbit/s  startup s  rebuffer s  rebuffer %  stalls  switches
	// sparse  throughput  dip    60        1725        0.67       2.08        1.71        5       6
	// dense   throughput  dip    60        1605        0.27       0.00        0.00        0       11
}

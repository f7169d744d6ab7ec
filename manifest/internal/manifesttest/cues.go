package manifesttest

import (
	"time"

	"github.com/cmafkit/cmafkit/manifest"
	"github.com/cmafkit/cmafkit/scte35"
)

// Cued returns the 12 s ladder with an ad break: a splice_insert out at
// 4.004 s (the start of the third segment) announcing 4.004 s, the matching
// in at 8.008 s, and a time_signal at 10.01 s.
func Cued() *manifest.Presentation {
	p := Ladder(12 * time.Second)
	p.HLSCueTags = true
	at := func(d time.Duration) *uint64 { v := uint64(d * scte35.Ticks / time.Second); return &v }
	section := func(c scte35.Command) []byte {
		b, err := (&scte35.Section{SAPType: 3, Tier: 0xFFF, Command: c}).Encode()
		if err != nil {
			panic(err)
		}
		return b
	}
	out := 4004 * time.Millisecond
	brk := 4004 * time.Millisecond
	p.Periods[0].Cues = []manifest.Cue{
		{ID: "1", Start: out, Duration: brk, Planned: true, Kind: manifest.CueOut,
			SCTE35: section(&scte35.SpliceInsert{EventID: 1, OutOfNetwork: true, ProgramSplice: true, SpliceTime: at(out),
				BreakDuration: &scte35.BreakDuration{AutoReturn: true, Duration: uint64(brk * scte35.Ticks / time.Second)}})},
		{ID: "1", Start: out + brk, Kind: manifest.CueIn,
			SCTE35: section(&scte35.SpliceInsert{EventID: 1, ProgramSplice: true, SpliceTime: at(out + brk)})},
		{ID: "2", Start: 10010 * time.Millisecond, Kind: manifest.CueSignal,
			SCTE35: section(&scte35.TimeSignal{SpliceTime: at(10010 * time.Millisecond)})},
	}
	return p
}

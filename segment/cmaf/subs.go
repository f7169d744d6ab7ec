package cmaf

import (
	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/cmafkit/cmafkit/segment"
)

// subsBox builds the subs box of a fragment with the samples ss, or nil
// when none of them has subsamples.
func subsBox(x segment.SubsampleIndex, ss []segment.Sample) *mp4.SubsBox {
	var box *mp4.SubsBox
	last := 0
	for k := range ss {
		subs := x.Subsamples(&ss[k])
		if len(subs) == 0 {
			continue
		}
		if box == nil {
			box = &mp4.SubsBox{Version: 1}
		}
		box.Entries = append(box.Entries, mp4.SubsEntry{SampleDelta: uint32(k + 1 - last), SubSamples: subs})
		last = k + 1
	}
	return box
}

package abr

import (
	"context"
	"math"
)

// appleRow is one row of the recommended-variants table.
type appleRow struct {
	w, h    int // 16:9 box
	h264    int // kbit/s; 0: no H.264 variant at this size
	hevc    int // kbit/s, SDR
	hevcHDR int // kbit/s, HDR10 / Dolby Vision
	low     bool
}

// appleTable is the table of recommended 16:9 variants (video average bit
// rate in kbit/s; H.264/AVC, HEVC/H.265 SDR and HEVC/H.265 HDR10/Dolby
// Vision columns) in section "Video" of the HTTP Live Streaming (HLS)
// Authoring Specification for Apple Devices, in the revision that added
// HEVC, HDR and 4K (September 2017) and the later revisions that kept the
// table; https://developer.apple.com/documentation/http-live-streaming/hls-authoring-specification-for-apple-devices.
// Rows marked low use a frame rate of at most 30 fps ("<= 30 fps" in the
// table); the others use the source frame rate ("same as source").
var appleTable = []appleRow{
	{416, 234, 145, 145, 160, true},
	{640, 360, 365, 300, 360, true},
	{768, 432, 730, 600, 730, true},
	{768, 432, 1100, 900, 1090, true},
	{960, 540, 2000, 1600, 1930, false},
	{1280, 720, 3000, 2400, 2900, false},
	{1280, 720, 4500, 3400, 4080, false},
	{1920, 1080, 6000, 4500, 5400, false},
	{1920, 1080, 7800, 5800, 7000, false},
	{2560, 1440, 0, 8100, 9700, false},
	{3840, 2160, 0, 11600, 13900, false},
	{3840, 2160, 0, 16800, 20000, false},
}

// Apple levels per the same specification, section "Video", items 1.3 and
// 1.6: H.264 at most High profile level 4.2, HEVC at most Main10 level 5.0.
const (
	appleMaxLevelH264 = "4.2"
	appleMaxLevelHEVC = "5.0"
)

// Apple is the ladder Apple recommends in the HLS Authoring Specification,
// cut to the source: rows larger than the source are dropped (the first of
// them is kept, at the source's size, when the source is larger than the
// last row that fits), boxes are turned for portrait sources and fitted to
// the source's display aspect, and the low rows use the source frame rate
// halved until it is at most 30 fps.
//
// The specification has no AV1 column; for AV1 the HEVC column is used. The
// zero value is ready to use; when Constraints.MaxLevel is empty the
// specification's maxima (H.264 4.2, HEVC 5.0) apply.
type Apple struct {
	Constraints
}

// Calculate implements Calculator.
func (a *Apple) Calculate(ctx context.Context, src Source) (Ladder, error) {
	if err := src.Validate(); err != nil {
		return Ladder{}, err
	}
	if err := a.Constraints.validate(); err != nil {
		return Ladder{}, err
	}
	c := a.Constraints
	if c.MaxLevel == "" {
		switch src.codec() {
		case H264:
			c.MaxLevel = appleMaxLevelH264
		case HEVC:
			c.MaxLevel = appleMaxLevelHEVC
		}
	}
	lowFPS := src.FrameRate
	for lowFPS.Float() > 30 {
		lowFPS = lowFPS.Half()
	}
	g := newGeometry(src, c)
	var cands []Rung
	largest := 0 // pixels of the largest rung that fitted without clamping
	clampedUsed := false
	for _, row := range appleTable {
		kbps := row.hevc
		switch {
		case src.codec() == H264:
			kbps = row.h264
		case src.HDR:
			kbps = row.hevcHDR
		}
		if kbps == 0 {
			continue
		}
		w, h, clamped := g.fitBox(row.w, row.h)
		if clamped {
			if clampedUsed || w*h <= largest {
				continue
			}
			clampedUsed = true
		} else {
			largest = max(largest, w*h)
		}
		fps := src.FrameRate
		if row.low {
			fps = lowFPS
		}
		cands = append(cands, Rung{Width: w, Height: h, FrameRate: fps, Bitrate: int(math.Min(float64(kbps)*1000, maxBitrate))})
	}
	return finalize(ctx, NameApple, src, c, cands)
}

package abr

import (
	"context"
	"math"
)

// appleRow is one row of a recommended-variants table: a 16:9 box, its video
// average bit rates in kbit/s and its frame-rate column.
type appleRow struct {
	w, h int  // 16:9 box
	sdr  int  // kbit/s: "H.264/AVC" or "HEVC/H.265 30 fps"
	hdr  int  // kbit/s: "HDR (HEVC) 30 fps"; 0 in the H.264 table
	low  bool // "≤ 30 fps"; otherwise "Same as source"
}

// The recommended variants of the HTTP Live Streaming (HLS) Authoring
// Specification for Apple Devices, section "General authoring requirements",
// "Video", item 1.25 (https://developer.apple.com/documentation/http-live-streaming/hls-authoring-specification-for-apple-devices).
// Values are checked against the revision dated 2025-05-08 (the newest entry
// of its revision history) and the 2023-08-15 one, which print the same two
// tables; the revision of 2018-04-09 "updated the variant bit rate table and
// broke it into two separate tables". The HEVC table starts at 640x360 and
// puts three rows at 960x540: its rows are not the H.264 table's sizes.
var (
	appleH264 = []appleRow{
		{416, 234, 145, 0, true},
		{640, 360, 365, 0, true},
		{768, 432, 730, 0, true},
		{768, 432, 1100, 0, true},
		{960, 540, 2000, 0, false},
		{1280, 720, 3000, 0, false},
		{1280, 720, 4500, 0, false},
		{1920, 1080, 6000, 0, false},
		{1920, 1080, 7800, 0, false},
	}
	appleHEVC = []appleRow{
		{640, 360, 145, 160, true},
		{768, 432, 300, 360, true},
		{960, 540, 600, 730, true},
		{960, 540, 900, 1090, true},
		{960, 540, 1600, 1930, false},
		{1280, 720, 2400, 2900, false},
		{1280, 720, 3400, 4080, false},
		{1920, 1080, 4500, 5400, false},
		{1920, 1080, 5800, 7000, false},
		{2560, 1440, 8100, 9700, false},
		{3840, 2160, 11600, 13900, false},
		{3840, 2160, 16800, 20000, false},
	}
)

// apple24fpsFactor applies the note under the tables: "24 fps HEVC content
// should use bit rates reduced by about 20% from the values above" (the HEVC
// columns are headed "30 fps").
const apple24fpsFactor = 0.8

// Highest levels the same revision allows on every Apple platform, items
// 1.3b, 1.6b and 1.37: H.264 High profile level 5.2 in general but 5.0 under
// the amended requirements for macOS (5.1 for tvOS), so 5.0; HEVC Main 10
// level 5.1; AV1 level 6.2. (The 2017 revisions allowed only H.264 4.2 and
// HEVC 5.0.) Items 1.3a and 1.6a ask for some variants at or below H.264 4.1
// and HEVC 4.0 Main tier, which the low rungs are, since each rung gets the
// lowest level that admits it (item 1.11).
const (
	appleMaxLevelH264 = "5.0"
	appleMaxLevelHEVC = "5.1"
	appleMaxLevelAV1  = "6.2"
)

// appleMaxFPS is item 1.19: "Frame rates above 60 fps SHALL NOT be used."
const appleMaxFPS = 60

// Apple is the ladder Apple recommends in the HLS Authoring Specification
// (item 1.25), cut to the source: rows larger than the source are dropped
// (the first of them is kept, at the source's size, when the source is
// larger than the last row that fits), boxes are turned for portrait sources
// and fitted to the source's display aspect, the "≤ 30 fps" rows use the
// source frame rate halved until it is at most 30 fps, and the others the
// source frame rate halved until it is at most 60 fps (item 1.19).
//
// H.264 sources get the H.264 table; HEVC sources get the HEVC table's SDR
// column, or its HDR column (HDR10, HLG or Dolby Vision profile 5) when
// Source.HDR is set. Rungs at 24 fps or less get 80% of the HEVC table's
// bit rates, as the table's note asks. The specification has no AV1 table;
// AV1 uses the HEVC table the same way. Apple's amended rules for some
// platforms (tvOS: no 145 kbit/s variant; iOS cellular: a variant with a
// peak of at most 192 kbit/s) are left to the caller.
//
// The zero value is ready to use; when Constraints.MaxLevel is empty the
// specification's maxima apply (H.264 5.0, HEVC 5.1, AV1 6.2).
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
	table := appleHEVC
	if c.MaxLevel == "" {
		switch src.codec() {
		case H264:
			c.MaxLevel = appleMaxLevelH264
		case HEVC:
			c.MaxLevel = appleMaxLevelHEVC
		case AV1:
			c.MaxLevel = appleMaxLevelAV1
		}
	}
	if src.codec() == H264 {
		table = appleH264
	}
	highFPS := src.FrameRate
	for highFPS.Float() > appleMaxFPS {
		highFPS = highFPS.Half()
	}
	lowFPS := highFPS
	for lowFPS.Float() > 30 {
		lowFPS = lowFPS.Half()
	}
	g := newGeometry(src, c)
	var cands []Rung
	largest := 0 // pixels of the largest rung that fitted without clamping
	clampedUsed := false
	for _, row := range table {
		kbps := float64(row.sdr)
		if src.HDR {
			kbps = float64(row.hdr)
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
		fps := highFPS
		if row.low {
			fps = lowFPS
		}
		if src.codec() != H264 && !R(24, 1).Less(fps) {
			kbps *= apple24fpsFactor
		}
		cands = append(cands, Rung{Width: w, Height: h, FrameRate: fps, Bitrate: int(math.Min(math.Round(kbps)*1000, maxBitrate))})
	}
	return finalize(ctx, NameApple, src, c, cands)
}

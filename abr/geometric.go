package abr

import (
	"cmp"
	"context"
	"fmt"
	"math"
)

// Geometric spaces bitrates geometrically from a maximum down to a minimum
// and gives each rung the picture a bits-per-pixel rule allows:
//
//	pixels = bitrate / (BitsPerPixel × frame rate)
//
// fitted to the source's display aspect and never larger than the source or
// the rung above. When the source is above 30 fps, rungs whose short side
// would be below HalveBelow use half the frame rate (halved until at most
// 30 fps), which buys them a larger picture for the same bitrate.
//
// The zero value is ready to use.
type Geometric struct {
	Constraints
	// MinBitrate is the lowest rung's bitrate floor in bit/s; 0 means 200 kbit/s.
	MinBitrate int `json:"min_bitrate,omitempty"`
	// MaxBitrate is the top rung's bitrate in bit/s; 0 means what the
	// bits-per-pixel rule gives the largest picture at the source frame rate.
	MaxBitrate int `json:"max_bitrate,omitempty"`
	// StepRatio is the ratio between neighbouring bitrates; 0 means 1.5.
	// Within [1.05, 4].
	StepRatio float64 `json:"step_ratio,omitempty"`
	// BitsPerPixel is bits per pixel per frame; 0 means a codec default
	// (H.264 0.1, HEVC 0.065, AV1 0.05; 20% more for HDR).
	BitsPerPixel float64 `json:"bits_per_pixel,omitempty"`
	// HalveBelow is the short side below which high-frame-rate sources get
	// half the frame rate; 0 means 720.
	HalveBelow int `json:"halve_below,omitempty"`
	// MinShortSide is the smallest short side of a rung; 0 means 144 (or
	// the source's, if smaller).
	MinShortSide int `json:"min_short_side,omitempty"`
}

func (g *Geometric) bpp(src Source) float64 {
	if g.BitsPerPixel > 0 {
		return g.BitsPerPixel
	}
	v := map[Codec]float64{H264: 0.1, HEVC: 0.065, AV1: 0.05}[src.codec()]
	if src.HDR {
		v *= 1.2
	}
	return v
}

// Calculate implements Calculator.
func (g *Geometric) Calculate(ctx context.Context, src Source) (Ladder, error) {
	if err := src.Validate(); err != nil {
		return Ladder{}, err
	}
	if err := g.Constraints.validate(); err != nil {
		return Ladder{}, err
	}
	bad := func(field string, v any, why string) error {
		return &FieldError{Field: field, Value: v, Err: ErrInvalidSource, Reason: why}
	}
	step := cmp.Or(g.StepRatio, 1.5)
	minBR := cmp.Or(g.MinBitrate, 200_000)
	switch {
	case !(step >= 1.05 && step <= 4):
		return Ladder{}, bad("step_ratio", step, "must be within [1.05, 4]")
	case g.BitsPerPixel < 0 || g.BitsPerPixel > 10 || math.IsNaN(g.BitsPerPixel):
		return Ladder{}, bad("bits_per_pixel", g.BitsPerPixel, "must be within [0, 10]")
	case minBR < 1000 || minBR > maxBitrate:
		return Ladder{}, bad("min_bitrate", minBR, "must be within [1000, 1e10]")
	case g.MaxBitrate < 0 || g.MaxBitrate > maxBitrate:
		return Ladder{}, bad("max_bitrate", g.MaxBitrate, "must be within [0, 1e10]")
	case g.HalveBelow < 0 || g.HalveBelow > maxDimension || g.MinShortSide < 0 || g.MinShortSide > maxDimension:
		return Ladder{}, bad("halve_below", fmt.Sprint(g.HalveBelow, g.MinShortSide), "out of range")
	}
	geo := newGeometry(src, g.Constraints)
	bpp := g.bpp(src)
	fps := src.FrameRate
	lowFPS := fps
	for lowFPS.Float() > 30 {
		lowFPS = lowFPS.Half()
	}
	halveBelow := cmp.Or(g.HalveBelow, 720)
	short := func(w, h int) int { return min(w, h) }
	minShort := min(cmp.Or(g.MinShortSide, 144), short(geo.maxW, geo.maxH))

	top := float64(g.MaxBitrate)
	if top == 0 {
		top = bpp * float64(geo.maxW) * float64(geo.maxH) * fps.Float()
	}
	top = math.Min(math.Max(top, float64(minBR)), maxBitrate)

	var cands []Rung
	prevW, prevH := geo.maxW, geo.maxH
	atFloor := false
	for b := top; b >= float64(minBR)-0.5 && len(cands) < 100; b /= step {
		if err := ctx.Err(); err != nil {
			return Ladder{}, err
		}
		f := fps
		w, h := geo.forPixels(b / (bpp * f.Float()))
		if src.FrameRate.Float() > 30 && short(w, h) < halveBelow {
			f = lowFPS
			w, h = geo.forPixels(b / (bpp * f.Float()))
		}
		if w*h > prevW*prevH || w > prevW || h > prevH {
			w, h = prevW, prevH
		}
		if short(w, h) < minShort {
			if atFloor {
				break
			}
			atFloor = true
			w, h = geo.shortSide(minShort)
		}
		cands = append(cands, Rung{Width: w, Height: h, FrameRate: f, Bitrate: int(math.Round(b/1000)) * 1000})
		prevW, prevH = w, h
	}
	return finalize(ctx, NameGeometric, src, g.Constraints, cands)
}

// shortSide returns the aligned output size whose short side is s.
func (g geometry) shortSide(s int) (w, h int) {
	dh := float64(s)
	if g.portrait {
		dh = float64(s) / g.storageAspect()
	}
	w, h, _ = g.sized(dh)
	return w, h
}

package abr

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
)

// DefaultMaxRungs bounds a ladder when Constraints.MaxRungs is zero.
const DefaultMaxRungs = 12

// Constraints are the rules every built-in calculator applies to its
// candidate rungs. The zero value is ready to use.
type Constraints struct {
	// MaxRungs bounds the rung count; 0 means DefaultMaxRungs. When there
	// are more candidates, the lowest and highest are kept and the others
	// are chosen evenly spaced in log-bitrate.
	MaxRungs int `json:"max_rungs,omitempty"`
	// Align makes every width and height a multiple of it; 0 means 2, the
	// minimum for 4:2:0 chroma. It must be even (8 or 16 suit some hardware).
	Align int `json:"align,omitempty"`
	// MaxLevel is the highest codec level a rung may need, such as "4.2";
	// "" allows every level of the codec's table. Rungs needing a higher
	// level for their picture size or sample rate are dropped; rungs
	// needing one only for their bitrate or buffer are clamped to it.
	MaxLevel string `json:"max_level,omitempty"`
	// KeepPixelAspect keeps an anamorphic source's pixel aspect ratio in the
	// output (1440x1080 4:3 stays 1440x1080 4:3 and smaller rungs are
	// scaled alike). By default rungs use square pixels and the largest rung
	// is the largest square-pixel picture that upscales neither dimension.
	KeepPixelAspect bool `json:"keep_pixel_aspect,omitempty"`
	// PeakRatio sets MaxBitrate = PeakRatio × Bitrate; 0 means 1.1
	// (constrained VBR, well inside the HLS Authoring Specification's
	// "peak no more than 200% of average" for VOD). Within [1, 4].
	PeakRatio float64 `json:"peak_ratio,omitempty"`
	// BufferSeconds sets BufferSize = BufferSeconds × MaxBitrate; 0 means 2.
	// Within (0, 30]. The buffer is cut to the largest its rung's level
	// allows; it never raises the level.
	BufferSeconds float64 `json:"buffer_seconds,omitempty"`
}

func (c Constraints) validate() error {
	bad := func(field string, v any, why string) error {
		return &FieldError{Field: "constraints." + field, Value: v, Err: ErrInvalidSource, Reason: why}
	}
	switch {
	case c.MaxRungs < 0 || c.MaxRungs > 100:
		return bad("max_rungs", c.MaxRungs, "must be within [0, 100]")
	case c.Align < 0 || c.Align%2 != 0 || c.Align > 64:
		return bad("align", c.Align, "must be 0 or an even number up to 64")
	case c.PeakRatio != 0 && !(c.PeakRatio >= 1 && c.PeakRatio <= 4):
		return bad("peak_ratio", c.PeakRatio, "must be within [1, 4]")
	case c.BufferSeconds != 0 && !(c.BufferSeconds > 0 && c.BufferSeconds <= 30):
		return bad("buffer_seconds", c.BufferSeconds, "must be within (0, 30]")
	}
	return nil
}

func (c Constraints) align() int         { return cmp.Or(c.Align, 2) }
func (c Constraints) maxRungs() int      { return cmp.Or(c.MaxRungs, DefaultMaxRungs) }
func (c Constraints) peak() float64      { return cmp.Or(c.PeakRatio, 1.1) }
func (c Constraints) bufferSec() float64 { return cmp.Or(c.BufferSeconds, 2) }

// geometry maps display-size boxes to output picture sizes for one source.
type geometry struct {
	aspect     float64  // display aspect (width/height) of the source
	par        Rational // output pixel aspect
	maxW, maxH int      // largest output size (aligned), never above the source
	align      int
	portrait   bool
}

func newGeometry(src Source, c Constraints) geometry {
	g := geometry{aspect: src.DisplayAspect(), par: Rational{1, 1}, align: c.align()}
	g.portrait = g.aspect < 1
	w, h := float64(src.Width), float64(src.Height)
	if c.KeepPixelAspect {
		g.par = src.pixelAspect()
	} else if par := src.pixelAspect().Float(); par > 1 {
		h = w / g.aspect // wide pixels: keep the stored width, fewer lines
	} else if par < 1 {
		w = h * g.aspect // tall pixels: keep the stored height, fewer columns
	}
	g.maxW, g.maxH = floorTo(w+1e-6, g.align), floorTo(h+1e-6, g.align)
	g.maxW, g.maxH = max(g.maxW, g.align), max(g.maxH, g.align)
	return g
}

func floorTo(v float64, a int) int { return int(math.Floor(v/float64(a))) * a }
func roundTo(v float64, a int) int { return int(math.Round(v/float64(a))) * a }

// storageAspect is the output width/height ratio in pixels.
func (g geometry) storageAspect() float64 { return g.aspect / g.par.Float() }

// fitBox returns the output size of a rung whose display picture fits in a
// boxW×boxH box (given landscape; turned for portrait sources), and whether
// the box was larger than the source allows (the result is then the source
// maximum).
func (g geometry) fitBox(boxW, boxH int) (w, h int, clamped bool) {
	bw, bh := float64(boxW), float64(boxH)
	if g.portrait {
		bw, bh = bh, bw
	}
	dh := math.Min(bh, bw/g.aspect)
	return g.sized(dh) // display height equals stored height; only widths carry the pixel aspect
}

// sized returns the aligned output size for a display height dh.
func (g geometry) sized(dh float64) (w, h int, clamped bool) {
	sw := dh * g.storageAspect()
	if sw > float64(g.maxW)+0.5 || dh > float64(g.maxH)+0.5 {
		return g.maxW, g.maxH, true
	}
	h = min(max(roundTo(dh, g.align), g.align), g.maxH)
	w = min(max(roundTo(float64(h)*g.storageAspect(), g.align), g.align), g.maxW)
	return w, h, false
}

// forPixels returns the aligned output size holding about px pixels.
func (g geometry) forPixels(px float64) (w, h int) {
	dh := math.Sqrt(px / g.storageAspect())
	w, h, _ = g.sized(dh)
	return w, h
}

func profileFor(codec Codec, hdr bool) string {
	switch {
	case codec == H264:
		return "high"
	case codec == HEVC && hdr:
		return "main10"
	case codec == HEVC:
		return "main"
	}
	return "main"
}

// finalize applies the shared constraints to candidate rungs (Width, Height,
// FrameRate, Bitrate and optionally Quality set) and returns the ladder.
func finalize(ctx context.Context, name string, src Source, c Constraints, cands []Rung) (Ladder, error) {
	if err := ctx.Err(); err != nil {
		return Ladder{}, err
	}
	codec := src.codec()
	table, err := Levels(codec)
	if err != nil {
		return Ladder{}, err
	}
	maxIdx := len(table) - 1
	if c.MaxLevel != "" {
		if maxIdx = levelIndex(table, c.MaxLevel); maxIdx < 0 {
			return Ladder{}, &FieldError{Field: "constraints.max_level", Value: c.MaxLevel, Err: ErrInvalidSource,
				Reason: "not a level of " + string(codec)}
		}
	}
	g := newGeometry(src, c)
	var par Rational
	if c.KeepPixelAspect && src.pixelAspect() != (Rational{1, 1}) {
		par = src.pixelAspect()
	}
	rungs := make([]Rung, 0, len(cands))
	for _, r := range cands {
		if r.Width <= 0 || r.Height <= 0 || r.Width > g.maxW || r.Height > g.maxH || r.Bitrate <= 0 {
			continue // never upscale; calculators should not propose these
		}
		if src.FrameRate.Less(r.FrameRate) || r.FrameRate.IsZero() {
			r.FrameRate = src.FrameRate
		}
		r.Codec, r.Profile, r.PixelAspect = codec, profileFor(codec, src.HDR), par
		r.Bitrate = min(r.Bitrate, maxBitrate)
		r.MaxBitrate = int(math.Round(float64(r.Bitrate) * c.peak()))
		r.BufferSize = int(math.Round(float64(r.MaxBitrate) * c.bufferSec()))
		hard := slices.IndexFunc(table, func(l Level) bool { return l.admitsPicture(codec, r.Width, r.Height, r.FrameRate) })
		if hard < 0 || hard > maxIdx {
			continue
		}
		if top := table[maxIdx]; int64(r.MaxBitrate) > top.MaxBitrate {
			r.MaxBitrate = int(top.MaxBitrate)
			r.Bitrate = min(r.Bitrate, r.MaxBitrate)
		}
		// The level is the lowest one admitting the picture, frame rate and
		// peak bitrate; the buffer, a default rather than a property of the
		// content, is cut to that level's rather than raising it (the HLS
		// Authoring Specification, item 1.11: no higher level than the
		// resolution and frame rate require).
		for i := hard; i <= maxIdx; i++ {
			if l := table[i]; int64(r.MaxBitrate) <= l.MaxBitrate {
				r.Level = l.Name
				if l.MaxBuffer > 0 {
					r.BufferSize = min(r.BufferSize, int(l.MaxBuffer))
				}
				break
			}
		}
		rungs = append(rungs, r)
	}
	slices.SortStableFunc(rungs, func(a, b Rung) int {
		return cmp.Or(cmp.Compare(a.Bitrate, b.Bitrate), cmp.Compare(a.Width*a.Height, b.Width*b.Height),
			cmp.Compare(a.FrameRate.Float(), b.FrameRate.Float()))
	})
	kept := rungs[:0]
	for _, r := range rungs {
		if n := len(kept); n > 0 {
			p := kept[n-1]
			if r.Bitrate <= p.Bitrate || r.Width*r.Height < p.Width*p.Height || r.FrameRate.Less(p.FrameRate) {
				continue
			}
		}
		kept = append(kept, r)
	}
	kept = thin(kept, c.maxRungs())
	if len(kept) == 0 {
		return Ladder{}, fmt.Errorf("%w: %dx%d %v fps %s (max level %q)", ErrNoRungs, src.Width, src.Height, src.FrameRate, codec, c.MaxLevel)
	}
	for i := range kept {
		kept[i].Name = rungName(kept[i])
	}
	l := Ladder{Calculator: name, Codec: codec, Rungs: slices.Clip(kept)}
	if err := l.Validate(); err != nil {
		return Ladder{}, fmt.Errorf("abr: internal error, %s produced an invalid ladder: %w", name, err)
	}
	return l, nil
}

func rungName(r Rung) string {
	kbps := (r.Bitrate + 500) / 1000
	return fmt.Sprintf("%dx%d-%dk", r.Width, r.Height, kbps)
}

// thin keeps at most n rungs: the lowest, the highest, and those closest to
// evenly spaced points in log-bitrate between them.
func thin(rungs []Rung, n int) []Rung {
	if len(rungs) <= n {
		return rungs
	}
	if n == 1 {
		return rungs[len(rungs)-1:]
	}
	lo, hi := math.Log(float64(rungs[0].Bitrate)), math.Log(float64(rungs[len(rungs)-1].Bitrate))
	out := []Rung{rungs[0]}
	last := 0
	for k := 1; k < n-1; k++ {
		target := lo + float64(k)*(hi-lo)/float64(n-1)
		best := -1
		// leave room for the n-1-k picks still to come
		for i := last + 1; i <= len(rungs)-1-(n-1-k); i++ {
			d := math.Abs(math.Log(float64(rungs[i].Bitrate)) - target)
			if best < 0 || d < math.Abs(math.Log(float64(rungs[best].Bitrate))-target) {
				best = i
			}
		}
		out = append(out, rungs[best])
		last = best
	}
	return append(out, rungs[len(rungs)-1])
}

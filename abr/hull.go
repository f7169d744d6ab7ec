package abr

import (
	"cmp"
	"context"
	"math"
	"slices"
)

// Hull is the per-title method Netflix published ("Per-Title Encode
// Optimization", Netflix Technology Blog, December 2015): encode the title at
// several resolutions and bitrates, measure the quality of each encode, and
// build the ladder from the encodes on the upper convex hull of quality
// versus bitrate, where no other resolution gives better quality for the
// bits.
//
// The hull is the upper convex hull in (bitrate, quality), the operational
// rate-quality curve a Lagrangian choice of encodes can reach, taken after
// dropping encodes that another encode beats on both bitrate and quality
// (the Pareto front).
// Walking down from the top, a hull point becomes a rung when its bitrate is
// at most 1/MinStep of the rung above. Probes larger than the source
// (upscaled) are ignored; probe sizes are refitted to the source's display
// aspect and alignment.
//
// The zero value is ready to use; Source.Probes must hold the encodes.
type Hull struct {
	Constraints
	// MinStep is the smallest ratio between neighbouring rung bitrates; 0
	// means 1.5. Within [1, 4].
	MinStep float64 `json:"min_step,omitempty"`
	// MinBitrate and MaxBitrate (bit/s) bound the probes considered; 0: unbounded.
	MinBitrate int `json:"min_bitrate,omitempty"`
	MaxBitrate int `json:"max_bitrate,omitempty"`
	// MaxQuality stops the ladder at the cheapest hull point reaching it
	// (such as 95 VMAF, where more bits are not visible); 0: no cap.
	MaxQuality float64 `json:"max_quality,omitempty"`
}

type hullPoint struct {
	x, q float64 // bitrate, quality
	r    Rung
}

// Calculate implements Calculator.
func (h *Hull) Calculate(ctx context.Context, src Source) (Ladder, error) {
	if err := src.Validate(); err != nil {
		return Ladder{}, err
	}
	if err := h.Constraints.validate(); err != nil {
		return Ladder{}, err
	}
	step := cmp.Or(h.MinStep, 1.5)
	if !(step >= 1 && step <= 4) {
		return Ladder{}, &FieldError{Field: "min_step", Value: step, Err: ErrInvalidSource, Reason: "must be within [1, 4]"}
	}
	geo := newGeometry(src, h.Constraints)
	var pts []hullPoint
	for _, p := range src.Probes {
		if p.Bitrate <= 0 || p.Bitrate > maxBitrate || p.Width <= 0 || p.Height <= 0 ||
			p.Width > maxDimension || p.Height > maxDimension || math.IsNaN(p.Quality) || math.IsInf(p.Quality, 0) ||
			(h.MinBitrate > 0 && p.Bitrate < h.MinBitrate) || (h.MaxBitrate > 0 && p.Bitrate > h.MaxBitrate) {
			continue
		}
		// The probe's size is a display box for fitting to the source
		// (fitBox wants it landscape and turns it for portrait sources).
		w, ht, clamped := geo.fitBox(max(p.Width, p.Height), min(p.Width, p.Height))
		if clamped {
			continue // larger than the source: an upscaled encode says nothing useful
		}
		fps := p.FrameRate
		if fps.IsZero() || src.FrameRate.Less(fps) {
			fps = src.FrameRate
		}
		pts = append(pts, hullPoint{
			x: float64(p.Bitrate), q: p.Quality,
			r: Rung{Width: w, Height: ht, FrameRate: fps, Bitrate: p.Bitrate, Quality: p.Quality},
		})
	}
	if len(pts) == 0 {
		return Ladder{}, &FieldError{Field: "probes", Value: len(src.Probes), Err: ErrNoProbes, Reason: "no probe within the source size and bitrate bounds"}
	}
	if err := ctx.Err(); err != nil {
		return Ladder{}, err
	}
	hull := upperHull(pts)
	if h.MaxQuality > 0 {
		if i := slices.IndexFunc(hull, func(p hullPoint) bool { return p.q >= h.MaxQuality }); i >= 0 {
			hull = hull[:i+1]
		}
	}
	// Walk down from the top keeping points at least one step apart.
	var cands []Rung
	for i := len(hull) - 1; i >= 0; i-- {
		if n := len(cands); n > 0 && float64(cands[n-1].Bitrate) < step*float64(hull[i].r.Bitrate)*(1-1e-9) {
			continue
		}
		cands = append(cands, hull[i].r)
	}
	return finalize(ctx, NameHull, src, h.Constraints, cands)
}

// upperHull returns the Pareto-optimal points on the upper convex hull of
// pts in (x, q), sorted by x. Points at equal x keep the best quality.
func upperHull(pts []hullPoint) []hullPoint {
	slices.SortStableFunc(pts, func(a, b hullPoint) int {
		return cmp.Or(cmp.Compare(a.x, b.x), cmp.Compare(b.q, a.q), cmp.Compare(b.r.Width*b.r.Height, a.r.Width*a.r.Height))
	})
	// Pareto front: quality must rise with bitrate.
	var front []hullPoint
	for _, p := range pts {
		if n := len(front); n > 0 && (p.q <= front[n-1].q || p.x == front[n-1].x) {
			continue
		}
		front = append(front, p)
	}
	// Monotone chain, upper part: drop points on or below the chord of their neighbours.
	var hull []hullPoint
	for _, p := range front {
		for len(hull) >= 2 {
			a, b := hull[len(hull)-2], hull[len(hull)-1]
			if (b.x-a.x)*(p.q-a.q)-(b.q-a.q)*(p.x-a.x) >= 0 {
				hull = hull[:len(hull)-1]
				continue
			}
			break
		}
		hull = append(hull, p)
	}
	return hull
}

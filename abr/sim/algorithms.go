package sim

import (
	"cmp"
	"fmt"
	"math"
	"time"
)

// Throughput is a rate-based algorithm: it estimates the bandwidth as the
// harmonic mean of the last Window download throughputs (robust to single
// outliers, as in FESTIVE and dash.js) and requests the highest rung whose
// bitrate is at most Safety × the estimate. With no measurement yet it
// requests the lowest rung. The zero value uses Window 5 and Safety 0.9.
type Throughput struct {
	Window int     // downloads in the estimate; 0 means 5
	Safety float64 // fraction of the estimate to use; 0 means 0.9
}

// Name implements Algorithm.
func (t Throughput) Name() string { return "throughput" }

// Choose implements Algorithm.
func (t Throughput) Choose(s State) Decision {
	n := cmp.Or(t.Window, 5)
	safety := cmp.Or(t.Safety, 0.9)
	h := s.Throughput
	if len(h) == 0 {
		return Decision{Rung: 0}
	}
	h = h[max(0, len(h)-n):]
	var inv float64
	for _, v := range h {
		inv += 1 / math.Max(v, 1)
	}
	est := float64(len(h)) / inv * safety
	rung := 0
	for i, b := range s.Bitrates {
		if float64(b) <= est*(1+1e-9) { // tolerate rounding in the mean
			rung = i
		}
	}
	return Decision{Rung: rung}
}

// BOLA is the buffer-based algorithm of Spiteri, Urgaonkar and Sitaraman,
// "BOLA: Near-Optimal Bitrate Adaptation for Online Videos" (IEEE INFOCOM
// 2016; IEEE/ACM Trans. Networking 2020), in its basic form (BOLA-BASIC):
// for buffer level Q it requests the rung m maximising
//
//	(V·(υm + γp) − Q) / Sm
//
// where Sm is the rung's segment size (here its bitrate), υm = ln(Sm/S1)+1 is
// its utility, and V and γp are set as in dash.js's BolaRule, so that the
// choice climbs from the lowest rung around a buffer of MinBuffer to the
// highest around TargetBuffer. When the buffer exceeds V·(υmax + γp) no choice has a
// positive objective and BOLA waits for the buffer to drain to that level.
//
// The zero value uses MinBuffer 10 s and TargetBuffer max(12 s, 10 s + 2 s
// per rung), both capped to leave one segment of room in the buffer.
type BOLA struct {
	MinBuffer    time.Duration
	TargetBuffer time.Duration
}

// Name implements Algorithm.
func (b BOLA) Name() string { return "bola" }

// params returns V·γp (gp) and V (vp) in seconds for the ladder.
func (b BOLA) params(s State) (utils []float64, gp, vp float64) {
	utils = make([]float64, len(s.Bitrates))
	for i, r := range s.Bitrates {
		utils[i] = math.Log(float64(r)/float64(s.Bitrates[0])) + 1
	}
	seg := s.SegmentDuration.Seconds()
	room := math.Max(s.MaxBuffer.Seconds()-seg, seg)
	target := cmp.Or(b.TargetBuffer.Seconds(), math.Max(12, 10+2*float64(len(s.Bitrates))))
	target = math.Min(target, room)
	minBuf := math.Min(cmp.Or(b.MinBuffer.Seconds(), 10), target/2)
	top := utils[len(utils)-1]
	if top <= 1 { // a single rung: any positive parameters do
		return utils, 1, minBuf
	}
	gp = (top - 1) / (target/minBuf - 1)
	vp = minBuf / gp
	return utils, gp, vp
}

// Choose implements Algorithm.
func (b BOLA) Choose(s State) Decision {
	utils, gp, vp := b.params(s)
	q := s.Buffer.Seconds()
	best, score := 0, math.Inf(-1)
	for i, r := range s.Bitrates {
		if v := (vp*(utils[i]+gp) - q) / float64(r); v >= score {
			best, score = i, v
		}
	}
	var wait time.Duration
	if limit := vp * (utils[len(utils)-1] + gp); q > limit {
		wait = time.Duration(math.Round((q - limit) * 1e9))
	}
	return Decision{Rung: best, Wait: wait}
}

// String describes the parameters, for reports.
func (b BOLA) String() string {
	return fmt.Sprintf("bola(min=%v, target=%v)", b.MinBuffer, b.TargetBuffer)
}

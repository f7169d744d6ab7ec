// Package mediatime holds the small integer helpers of media timing that
// several packages need: ticks of a timescale as a time.Duration, and the
// greatest common divisor that reduces rates and timescales.
package mediatime

import "time"

// Duration converts v ticks of timescale ts to a time.Duration, truncated
// toward zero. Whole seconds and the remainder are scaled apart, so it does
// not overflow where v·10⁹ would (about 28 hours of 90 kHz ticks).
func Duration(v int64, ts uint32) time.Duration {
	t := int64(ts)
	return time.Duration(v/t)*time.Second + time.Duration(v%t)*time.Second/time.Duration(t)
}

// GCD returns the greatest common divisor of |a| and |b|; GCD(0, 0) is 0.
func GCD(a, b int64) int64 {
	if a < 0 {
		a = -a
	}
	if b < 0 {
		b = -b
	}
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

package mediatime

import (
	"math"
	"testing"
	"time"
)

func TestDuration(t *testing.T) {
	tests := []struct {
		v    int64
		ts   uint32
		want time.Duration
	}{
		{0, 90000, 0},
		{90000, 90000, time.Second},
		{1, 3, 333333333 * time.Nanosecond},
		{-1, 3, -333333333 * time.Nanosecond},
		{1001, 30000, 33366666 * time.Nanosecond},
		{48000 * 3600 * 30, 48000, 30 * time.Hour}, // v·10⁹ overflows int64
		{math.MaxInt64 / 1000 * 1000, 1000000000, time.Duration(math.MaxInt64 / 1000 * 1000)},
	}
	for _, tt := range tests {
		if got := Duration(tt.v, tt.ts); got != tt.want {
			t.Errorf("Duration(%d, %d) = %v, want %v", tt.v, tt.ts, got, tt.want)
		}
	}
	// Where the naive formula does not overflow, the two agree.
	for v := int64(-5000); v <= 5000; v += 7 {
		for _, ts := range []uint32{1, 3, 1000, 44100, 90000} {
			if got, want := Duration(v, ts), time.Duration(v)*time.Second/time.Duration(ts); got != want {
				t.Fatalf("Duration(%d, %d) = %v, naive %v", v, ts, got, want)
			}
		}
	}
}

func TestGCD(t *testing.T) {
	for _, tt := range []struct{ a, b, want int64 }{
		{0, 0, 0}, {12, 0, 12}, {0, -12, 12}, {30000, 1001, 1}, {-48000, 1024, 128}, {90000, -3600, 3600},
	} {
		if got := GCD(tt.a, tt.b); got != tt.want {
			t.Errorf("GCD(%d, %d) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

//go:build !unix

package testutil

import "time"

// CPUTime is not measured on this platform: it returns 0, and metrics
// derived from it read 0.
func CPUTime() time.Duration { return 0 }

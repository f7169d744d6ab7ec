//go:build unix

package testutil

import (
	"syscall"
	"time"
)

// CPUTime returns the user and system CPU time this process has used. On a
// shared machine it varies less than wall time, so benchmarks report costs
// with it (GC work included).
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

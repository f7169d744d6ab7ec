//go:build unix

package drm

import "syscall"

// processCPU returns the user+system CPU time of the process in ns, which
// on a shared machine varies less than wall time (it includes GC work).
func processCPU() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

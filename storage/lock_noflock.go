//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package storage

import (
	"errors"
	"os"
)

var errNoLocks = errors.New("storage: no file locks on this system")

// lockFile does nothing where flock is missing; Sweep goes by age there.
func lockFile(*os.File) error { return errNoLocks }

// fileLocked cannot tell where flock is missing.
func fileLocked(string) (bool, error) { return false, errNoLocks }

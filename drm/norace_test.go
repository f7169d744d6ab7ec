//go:build !race

package drm

const raceEnabled = false

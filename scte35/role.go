package scte35

import (
	"strconv"
	"time"
)

// Role says what a section marks for ad insertion and manifests; its
// values are the strings of manifest.CueKind.
type Role string

// Roles of a section.
const (
	// RoleNone marks nothing: splice_null, a cancelled event.
	RoleNone Role = ""
	// RoleOut starts a break: splice_insert out of network, or a
	// segmentation descriptor that opens a placement opportunity or break.
	RoleOut Role = "out"
	// RoleIn ends a break: splice_insert back to the network, or the
	// segmentation descriptor that ends a break.
	RoleIn Role = "in"
	// RoleSignal is any other signal (programme or chapter boundaries, a
	// time_signal without a break): signalled, opening and closing nothing.
	RoleSignal Role = "signal"
)

// Role returns what s marks, an event name ("splice-<event id>" or
// "seg-<segmentation event id>", "signal" for a signal without an event)
// that pairs a break's start with its end, and the break duration the
// section announces (zero when none). Packagers use it to turn a section
// into a manifest cue.
func (s *Section) Role() (role Role, event string, breakDuration time.Duration) {
	switch c := s.Command.(type) {
	case *SpliceNull:
		return RoleNone, "", 0
	case *SpliceInsert:
		id := "splice-" + strconv.FormatUint(uint64(c.EventID), 10)
		if c.Cancel {
			return RoleNone, id, 0
		}
		if !c.OutOfNetwork {
			return RoleIn, id, 0
		}
		var d time.Duration
		if c.BreakDuration != nil {
			d = Duration(c.BreakDuration.Duration)
		}
		return RoleOut, id, d
	case *TimeSignal:
		for _, d := range s.Descriptors {
			sd, ok := d.(*SegmentationDescriptor)
			if !ok {
				continue
			}
			id := "seg-" + strconv.FormatUint(uint64(sd.EventID), 10)
			switch {
			case sd.Cancel:
				return RoleNone, id, 0
			case sd.BreakStart():
				var dur time.Duration
				if sd.Duration != nil {
					dur = Duration(*sd.Duration)
				}
				return RoleOut, id, dur
			case sd.BreakEnd():
				return RoleIn, id, 0
			}
			return RoleSignal, id, 0
		}
	}
	return RoleSignal, "signal", 0
}

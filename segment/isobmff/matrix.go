package isobmff

import (
	"fmt"

	"github.com/cmafkit/cmafkit/segment"
)

// identityMatrix is the tkhd matrix that leaves the video as it is.
var identityMatrix = [9]int32{0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000}

// transformString describes Matrix for messages: "rotated 90° clockwise",
// "mirrored", ...
func transformString(t *segment.Track) string {
	deg, mirrored := t.Rotation()
	var s string
	switch deg {
	case 0:
		s = "not rotated"
	case 90:
		s = "rotated 90° clockwise"
	case 180:
		s = "rotated 180°"
	case 270:
		s = "rotated 90° counterclockwise"
	default:
		s = fmt.Sprintf("rotated %d° clockwise", deg)
	}
	if mirrored {
		s += ", mirrored"
	}
	return s
}

// Package isobmff reads MP4 inputs, progressive (moov at the front or the
// end) or fragmented (fMP4, CMAF), into a segment.Source: tracks with their
// codec description and a sample index that stays in the file, so memory
// does not grow with the input.
//
// Importing the package registers the format "MP4" with segment.Open,
// which is the usual way to open an input:
//
//	import _ "github.com/cmafkit/cmafkit/segment/isobmff"
//
//	src, err := segment.OpenFile(ctx, "in.mp4", nil)
//
// Open reads an input known to be MP4 directly.
package isobmff

import "github.com/cmafkit/cmafkit/segment"

func init() {
	segment.RegisterFormat(segment.Format{Name: "MP4", Match: match, Open: Open})
}

// topLevel are the box types an MP4 file starts with in practice.
var topLevel = map[string]bool{
	"ftyp": true, "styp": true, "moov": true, "moof": true, "mdat": true, "free": true,
	"skip": true, "wide": true, "sidx": true, "ssix": true, "pdin": true, "uuid": true,
	"meta": true, "mfra": true, "emsg": true, "prft": true, "pnot": true, "junk": true,
	"jP  ": true,
}

// match reports whether an input starting with head is MP4: its first box
// is of a type MP4 files start with, or of a printable type this package
// does not know with a size under 16 MiB (left to the parser to judge),
// or the input is empty (the parser says so).
func match(head []byte) bool {
	if len(head) == 0 {
		return true
	}
	if len(head) < 8 {
		return false
	}
	typ := head[4:8]
	if topLevel[string(typ)] {
		return true
	}
	return head[0] == 0 && printable(typ)
}

func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

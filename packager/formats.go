package packager

// The input formats the packager reads: each reader package registers its
// format with segment.Open, which picks the reader by an input's first
// bytes.
import (
	_ "github.com/cmafkit/cmafkit/segment/isobmff" // MP4, fragmented MP4
	_ "github.com/cmafkit/cmafkit/segment/ts"      // MPEG-TS
	_ "github.com/cmafkit/cmafkit/segment/webvtt"  // WebVTT documents
)

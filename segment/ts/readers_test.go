package ts

// The tests open MP4 inputs through segment.Open.
import _ "github.com/cmafkit/cmafkit/segment/isobmff"

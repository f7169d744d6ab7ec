// Package hls renders a [manifest.Presentation] as HLS playlists: the
// multivariant playlist (RenderMultivariant), one media playlist per
// representation (RenderMedia; WebVTT subtitle playlists for text/vtt
// sets, a side-loaded WebVTT file as one segment), and I-frame playlists
// for trick play (RenderIFrames). RenderAll validates once and writes them
// all under the URIs the multivariant playlist uses (see Playlists).
// Closed captions carried in the video become EXT-X-MEDIA renditions of
// TYPE=CLOSED-CAPTIONS named by the variants' CLOSED-CAPTIONS attribute;
// with none anywhere, every variant says CLOSED-CAPTIONS=NONE. A
// presentation without audio or video has no valid multivariant playlist
// and is refused with ErrNoVariant.
//
// Output is deterministic and follows RFC 8216 and the parts of Apple's HLS
// Authoring Specification that it makes mandatory; comments next to the
// code cite the rule numbers. Every render validates the model first and
// writes nothing when it is invalid.
//
// The playlists are written by this package rather than by
// github.com/grafov/m3u8 v0.12.1, whose writer gets EXT-X-VERSION wrong
// with EXT-X-MAP, leaves the BYTERANGE of EXT-X-MAP unquoted, always
// writes PROGRAM-ID, quotes FORCED, has no CHANNELS and no
// EXT-X-SESSION-KEY, repeats EXT-X-KEY per segment, orders custom tags at
// random and rounds EXTINF through a float32 to three decimals. The tests
// show each problem and parse every playlist we write back with grafov.
package hls

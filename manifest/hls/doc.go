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
// A live presentation (manifest.Live) gets media playlists of the window:
// EXT-X-MEDIA-SEQUENCE is the first segment's Number,
// EXT-X-DISCONTINUITY-SEQUENCE the presentation's DiscontinuitySequence,
// EXT-X-PLAYLIST-TYPE:EVENT when the window is unlimited (none otherwise),
// EXT-X-PROGRAM-DATE-TIME on every segment with a ProgramDateTime, and
// EXT-X-ENDLIST only once Ended. Its periods are discontinuity-free spans:
// a rendition is one media playlist holding the segments of every period
// in order, with EXT-X-DISCONTINUITY before each new period's first
// segment and EXT-X-MAP (and EXT-X-KEY) again when they change. Every
// period must therefore hold the first period's representations, segment
// numbers must go on across periods, and TargetDuration must be set
// (EXT-X-TARGETDURATION must not change while the playlist lives);
// otherwise rendering is refused with manifest.ErrLive. The multivariant
// playlist is as for VOD, from the first period.
//
// A drm.Protection becomes one EXT-X-KEY per DRM system in the media
// playlists (again before each crypto period of key rotation) and
// EXT-X-SESSION-KEY tags in the multivariant playlist, or a key server's
// own tag lines (CPIX HLSSignalingData) as they were sent.
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

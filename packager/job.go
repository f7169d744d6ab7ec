package packager

import (
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/cmafkit/cmafkit/drm"
	"github.com/cmafkit/cmafkit/manifest"
	"github.com/cmafkit/cmafkit/segment"
	"github.com/cmafkit/cmafkit/steering"
	"github.com/cmafkit/cmafkit/storage"
)

// Format selects output formats. The zero value means HLS and DASH.
type Format int

// Formats; combine with |.
const (
	HLS Format = 1 << iota
	DASH
	// Smooth is Microsoft Smooth Streaming: fragments in the PIFF shape
	// (package segment/piff) under the client manifest's directory, named
	// as its URL template says, so a plain web server serves them
	// (manifest/smooth). H.264 and AAC only; text tracks are left out.
	Smooth
)

// Input is one source file: a path, or an io.ReaderAt with its size and a
// name. Several inputs are renditions of one title (an ABR ladder). A
// WebVTT document (a .vtt side file) is a text input with one wvtt track;
// set its Language.
type Input struct {
	// Path of the file to open. Ignored when Reader is set.
	Path string
	// Reader, Size and Name give the input as an io.ReaderAt instead.
	Reader io.ReaderAt
	Size   int64
	Name   string

	// TrackIDs selects tracks by ID; empty selects all.
	TrackIDs []uint32
	// Kinds selects tracks by kind; empty selects all.
	Kinds []segment.Kind

	// Language overrides the language of the input's audio and text tracks
	// (BCP 47 or ISO 639-2). Label names the rendition (HLS NAME, DASH Label).
	Language string
	Label    string
	// Roles of the input's tracks, e.g. manifest.RoleCommentary.
	Roles []manifest.Role
}

func (in *Input) name() string {
	if in.Reader != nil {
		return in.Name
	}
	return in.Path
}

// Naming holds the templates of object names. Templates may use
// $RepresentationID$, $Number$ (with an optional width, $Number%05d$) and
// $Time$; empty fields take the defaults shown.
type Naming struct {
	Init       string // "$RepresentationID$/init.mp4"
	Media      string // "$RepresentationID$/seg-$Number$.m4s"
	SingleFile string // "$RepresentationID$.mp4"
	HLS        string // "master.m3u8"
	DASH       string // "manifest.mpd"

	// TS names the MPEG-TS segments of HLS when Job.HLSSegmentType is
	// HLSSegmentTS.
	TS string // "$RepresentationID$/seg-$Number$.ts"

	// WebVTT names the WebVTT segments written for HLS from wvtt text
	// tracks (HLS carries WebVTT as text, not in fMP4). They are separate
	// files in single-file mode too (see Job.SingleFile), so the template
	// needs $Number$ or $Time$ whenever HLS is written.
	WebVTT string // "$RepresentationID$/seg-$Number$.vtt"

	// Smooth names the Smooth Streaming client manifest; its fragments go
	// under the same directory (QualityLevels({bitrate})/Fragments(...)).
	Smooth string // "smooth/Manifest"
}

func (n Naming) withDefaults() Naming {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&n.Init, "$RepresentationID$/init.mp4")
	def(&n.Media, "$RepresentationID$/seg-$Number$.m4s")
	def(&n.SingleFile, "$RepresentationID$.mp4")
	def(&n.WebVTT, "$RepresentationID$/seg-$Number$.vtt")
	def(&n.TS, "$RepresentationID$/seg-$Number$.ts")
	def(&n.HLS, "master.m3u8")
	def(&n.DASH, "manifest.mpd")
	def(&n.Smooth, "smooth/Manifest")
	return n
}

// Progress reports a written segment.
type Progress struct {
	// Representation is the ID of the representation written to.
	Representation string
	// Segment is the number of segments done for it, of Segments.
	Segment, Segments int
	// Done and Total count segments over the whole job.
	Done, Total int
	// Bytes is the number of bytes written so far over the whole job.
	Bytes int64
}

// Job describes one packaging run. Only Inputs and Storage are required.
type Job struct {
	Inputs []Input
	// SegmentDuration is the target segment duration (default 4 s).
	// Segments start on keyframes at or after each multiple of it.
	SegmentDuration time.Duration
	// ChunkDuration splits segments into CMAF chunks for low latency.
	ChunkDuration time.Duration
	// SingleFile writes each representation as one file with a sidx
	// (HLS byte ranges, DASH on-demand profile). WebVTT for HLS stays one
	// file per segment (Naming.WebVTT): RFC 8216 3.5 makes each WebVTT
	// segment a WebVTT document of its own, with its header and
	// X-TIMESTAMP-MAP, so byte ranges of one file would address a
	// concatenation of documents that is no valid WebVTT file, and a
	// single whole-title segment would make players fetch every cue
	// before showing one. (wvtt for DASH is in one file like the others.)
	SingleFile bool
	// Formats to write; zero means HLS and DASH.
	Formats Format
	Naming  Naming
	// Storage receives every object.
	Storage storage.Storage
	// Encryption, when set, encrypts every audio and video track with
	// Common Encryption as it configures, and signals its DRM systems (or
	// ClearKey, when it names none) in the manifests; text tracks stay
	// clear. Nil writes everything clear. Every key is fetched, and the
	// cenc IV reuse check of drm.Session made, before the first segment is
	// written. See package drm.
	Encryption *drm.Config
	// Progress is called after each segment, from one goroutine at a time.
	Progress func(Progress)
	// Logger receives progress and warnings; nil discards them.
	Logger *slog.Logger
	// Parallelism bounds the tracks processed at once; zero means GOMAXPROCS.
	// Within a track, two clear segments are written at once and an
	// encrypted track reads and encrypts one segment while it stores the
	// previous one, unless Parallelism is 1 (for encrypted tracks this
	// overlap is kept: it does not change the order of the output).
	Parallelism int
	// TempDir holds staging files in single-file mode (os.TempDir() if empty).
	TempDir string
	// DASHTrickMode adds DASH trick-mode adaptation sets (SegmentList byte
	// ranges of each segment's isolated sync sample). Off by default because
	// some clients (FFmpeg's DASH demuxer) fail on them; HLS I-frame
	// playlists are always written.
	DASHTrickMode bool
	// Captions configures the signalling of closed captions carried in the
	// video; the zero value detects them.
	Captions CaptionOptions
	// Cues lists splice points to cut segments at and signal (HLS
	// EXT-X-DATERANGE, DASH EventStream), in addition to the SCTE-35 cues
	// of MPEG-TS inputs; see Cue and ReadCueList.
	Cues []Cue
	// CueOptions configures how cues are applied.
	CueOptions CueOptions
	// HLSSegmentType is the container of the audio and video segments
	// that HLS media playlists list: CMAF (the zero value, HLSSegmentFMP4)
	// or MPEG-TS (HLSSegmentTS, for clients that play no fMP4). DASH
	// always gets CMAF; with both formats, the TS segments are written
	// besides the CMAF ones (Naming.TS).
	HLSSegmentType HLSSegmentType
	// HLSPackedAudio, with MPEG-TS segments (HLSSegmentTS), writes the
	// segments of audio renditions as packed audio (RFC 8216 3.4) rather
	// than TS: the raw frames (ADTS for AAC, AC-3, E-AC-3) after an ID3
	// tag whose PRIV frame carries the first frame's MPEG-2 timestamp, on
	// the TS video's timeline; named as Naming.TS with the extension .aac,
	// .ac3 or .ec3. HLSAES128 encrypts them as TS segments.
	HLSPackedAudio bool
	// HLSAES128, with MPEG-TS segments (HLSSegmentTS), encrypts each whole
	// TS segment with AES-128-CBC (RFC 8216 4.3.2.4 METHOD=AES-128, PKCS7
	// padding, the IV the segment's media sequence number). DASH, if also
	// written, stays clear.
	HLSAES128 *AES128Key
	// HLSSampleAES, with MPEG-TS segments (HLSSegmentTS), encrypts the
	// H.264 slices and AAC frames inside each TS segment instead (RFC 8216
	// 4.3.2.4 METHOD=SAMPLE-AES, Apple's MPEG-2 Stream Encryption Format,
	// the IV the segment's media sequence number); other codecs are
	// refused. The key is delivered as with HLSAES128, its default object
	// DefaultSampleAESKeyName. Not with HLSAES128; DASH stays clear.
	HLSSampleAES *AES128Key
	// Steering, when set, adds content steering to the multivariant
	// playlist and the MPD (see package steering): a copy of each variant
	// per pathway, ContentSteering and a BaseURL per pathway. Each
	// pathway's BaseURL is where that CDN serves the output's root.
	Steering *steering.Config
}

// AES128Key is the key of HLS AES-128 segment encryption.
type AES128Key struct {
	// Key is the content key.
	Key drm.Key
	// URI is the EXT-X-KEY URI the players fetch the key from, resolved
	// against the media playlists. Empty means "aes-128.key", an object
	// the packager writes with the 16 key bytes; with a URI of their own
	// the key is not written (a key server delivers it).
	URI string
	// IV, if set (16 bytes), is the IV of every segment, written as the
	// EXT-X-KEY IV attribute; empty means each segment's media sequence
	// number (RFC 8216 5.2). FFmpeg 5.1 decrypts SAMPLE-AES packets near
	// segment ends with the next segment's IV, so only a fixed IV decodes
	// there without errors.
	IV []byte
}

// DefaultAES128KeyName is the object holding the AES-128 key when
// AES128Key.URI is empty.
const DefaultAES128KeyName = "aes-128.key"

// DefaultSampleAESKeyName is the object holding the SAMPLE-AES key when
// AES128Key.URI is empty.
const DefaultSampleAESKeyName = "sample-aes.key"

// HLSSegmentType names the container of HLS media segments.
type HLSSegmentType string

// The HLS segment types.
const (
	HLSSegmentFMP4 HLSSegmentType = "fmp4"
	HLSSegmentTS   HLSSegmentType = "ts"
)

// ErrCombination is wrapped by errors for job options that cannot be used
// together (MPEG-TS segments with encryption or single-file output, ...).
var ErrCombination = errors.New("packager: unsupported combination of options")

// CaptionOptions configures the closed captions that video tracks carry in
// their SEI messages (CEA-608/708, see segment.DetectCaptions). They stay
// in the video segments; the packager looks for them at the start of each
// H.264 and HEVC track and signals the services it finds: HLS gets an
// EXT-X-MEDIA rendition of TYPE=CLOSED-CAPTIONS per service, named by the
// variants' CLOSED-CAPTIONS attribute, DASH an Accessibility descriptor
// (urn:scte:dash:cc:cea-608:2015, urn:scte:dash:cc:cea-708:2015) on the
// video AdaptationSet. A video switching set signals the services that all
// its representations carry; services only some carry are logged as a
// warning and left out, since a player may switch to a rendition without
// them. Without captions HLS variants say CLOSED-CAPTIONS=NONE.
type CaptionOptions struct {
	// Languages maps caption services, named by their HLS INSTREAM-ID
	// ("CC1"-"CC4" for CEA-608 channels, "SERVICE1"-"SERVICE63" for
	// CEA-708 services; case-insensitive), to their languages: ISO 639-2
	// codes such as "eng", which SCTE 214-1 asks for in DASH (letters,
	// digits and '-'). Services without an entry are "und". A service
	// listed here is also signalled for a video track whose scanned
	// samples carry caption data but not that service yet (captions that
	// start after the scan window).
	Languages map[string]string
	// Scan is how much of each video track, from its first sample, is
	// searched for caption data; zero means segment.DefaultCaptionScan
	// (30 s). A negative Scan turns detection and signalling off.
	Scan time.Duration
}

// ObjectInfo is one object written by a job.
type ObjectInfo struct {
	Name string
	Size int64
}

// Result is the outcome of a job.
type Result struct {
	// Presentation is the model of everything the job wrote, from which
	// each format's manifests are rendered: HLS and DASH below are it
	// with what that format cannot carry left out.
	Presentation *manifest.Presentation
	// HLS is exactly the presentation the HLS playlists were rendered
	// from (hls.RenderAll), nil when no HLS was written: Presentation
	// without wvtt text sets (HLS carries WebVTT as text segments) and,
	// with Job.HLSSegmentType HLSSegmentTS, with the MPEG-TS segments in
	// place of the CMAF ones.
	HLS *manifest.Presentation
	// DASH is exactly the presentation the MPD was rendered from
	// (dash.Render), nil when no DASH was written: Presentation without
	// the WebVTT text-segment sets made for HLS, and without I-frame
	// references unless Job.DASHTrickMode is set.
	DASH *manifest.Presentation
	// Objects lists every object written, sorted by name.
	Objects []ObjectInfo
	// Manifests lists the names of the manifests written (also in Objects).
	Manifests []string
}

// ErrNoInputs means a job has no inputs, or its selections left no tracks.
var ErrNoInputs = errors.New("packager: no inputs")

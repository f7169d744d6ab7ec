// Package ts reads MPEG-2 transport streams (ISO/IEC 13818-1) into the track
// model of package segment, so a TS input packages exactly like an MP4 one.
//
// Supported elementary streams: H.264 (stream_type 0x1B), HEVC (0x24), AAC in
// ADTS (0x0F), AC-3 (0x81, or 0x06 with an AC-3 descriptor/registration),
// E-AC-3 (0x87, or 0x06 with an E-AC-3 descriptor/registration) and Opus
// (0x06 with the "Opus" registration and the channel configuration in
// extension descriptor 0x80, as the ETSI draft "Opus in MPEG-2 Transport
// Stream" published by opus-codec.org defines; channel_config_code 0 to 8).
// Every other elementary stream of the
// program (SCTE-35, teletext, ID3, DVB subtitles, MPEG audio, ...) is
// ignored with a warning naming its PID and stream type.
//
// Packets of the program's streams that arrive before its first PMT (a
// stream joined mid-way, or a file cut from one) are held back, as file
// offsets, and read once the PMT says what they are: up to 32,768 packets
// (6 MiB of input, 256 KiB of memory). Beyond that the oldest are dropped
// with a warning and counted in Stats.UnheldPackets.
//
// # Use
//
// Importing the package registers MPEG-TS with segment.Open, which then
// opens TS inputs like any other; Open and OpenFile open one directly and
// return a Source that carries the demuxer's Stats besides.
//
// # Indexing and memory
//
// Open reads the input once, sequentially, through the io.ReaderAt, and
// keeps per sample only its timing, size, sync flag and where its payload
// lies in the file; payloads are re-read when a segment is written, H.264
// and HEVC access units converted from Annex B to length-prefixed NAL units
// on the fly. That index is the only memory that grows with the input, so
// it is kept block-encoded (index.go): about 8 bytes a sample, some 6.5 MiB
// for a two-hour 60 fps programme (figures in bench/README.md).
//
// # Timeline
//
// PTS/DTS are unwrapped past the 33-bit limit (a stream that wraps keeps a
// continuous timeline), and time-base discontinuities (signalled by the
// discontinuity_indicator, or large unexplained jumps) are stitched so the
// timeline stays continuous and all tracks keep their relative timing.
//
// All tracks of one Source share one origin: T0, the earliest first decode
// time among the tracks. Sample.DecodeTime is the time since T0 in the track's
// timescale, so a track that starts later than another (audio that starts
// 12 ms after the first video DTS, for example) has a first DecodeTime > 0.
// Track.PresentationOffset is the same instant for every track: the earliest
// presentation time of the program (the minimum PTS over all tracks) minus
// T0, in the track's timescale. Presentation time zero is therefore the first
// presented sample of the program, and each sample is presented at
// PresentationTime() - PresentationOffset, exactly as far from the other
// tracks' samples as in the TS.
//
// Video decode times are the stream's DTS while they increase, and a PES
// without DTS has DTS = PTS where that fits between its neighbours. Where
// they do not (PTS-only B-frames, a repeated or decreasing DTS), decode
// times are derived from the presentation order: the n-th access unit is
// decoded at the n-th smallest PTS (sorted over a window of 17 access
// units, the largest reorder depth H.264 and HEVC allow), shifted as the
// last trusted DTS was; composition offsets may then be negative, as CMAF
// allows. Such access units are counted in Stats.DerivedDTS and reported
// once per track.
//
// Video tracks use a 90 kHz timescale. Audio tracks use the sample rate, so
// an AAC frame lasts exactly 1024 ticks (AC-3 1536): frame times are counted
// in samples from the first PTS and only re-anchored on a PES PTS that
// deviates by more than half a frame (a real gap), so 90 kHz rounding never
// accumulates.
//
// # Samples
//
// Video samples are access units as an MP4 stores them: 4-byte length
// prefixed NAL units, without access unit delimiters and filler data. The
// sample entry (avcC/hvcC) holds the first parameter set of each ID. While
// the parameter sets do not change, the sample entry is avc1/hvc1 (hvcC
// arrays complete) and no sample keeps an in-band copy, as for avc3/hev1
// MP4 input (see package segment). When an ID is re-sent with other content
// (an encoder reconfiguration or a resolution change) the sample entry is
// avc3/hev1 instead, with a warning naming the change and its time, and from
// that access unit on every parameter set stays in band; Track.Width and
// Height describe the first SPS. Video before the first IDR/IRAP access unit
// is dropped.
//
// Access units are found in the Annex B byte stream, not from PES
// boundaries: a PES may start with the tail of the previous access unit (as
// Apple's segmenter writes them), carry several, or a part of one. An access
// unit starts at the first NAL unit that H.264 7.4.1.2.3 or HEVC 7.4.2.4.4
// lets start one after a picture (delimiter, parameter set, SEI, ..., the
// first slice of the next picture), and takes the timestamps of the PES in
// which it starts (H.222.0 2.4.3.7). One without a PES of its own follows
// the previous access unit by its duration (counted in
// Stats.UntimedSamples), except that H.264 which may code field pictures
// keeps such a second field with the first, as MP4 stores field pairs.
//
// Audio samples are raw AAC frames (ADTS
// header removed; the AudioSpecificConfig is built from the ADTS header, with
// the real channel configuration), AC-3 sync frames, or E-AC-3 sync frames
// grouped into 1536-sample units (independent substream 0 with its dependent
// substreams), described by dac3/dec3 built from the frame headers, or Opus
// packets (the control header removed; their duration from the TOC byte),
// described by a dOps whose PreSkip is the start trim of the first access
// units, which also moves the track's first presented sample (the writer's
// edit list trims it). Later start trims and end trims cannot be expressed
// in CMAF fragments and are not applied.
//
// Sample.Offset is the file offset of the sample's first payload byte; the
// track's SampleReader uses it to find the sample's locator.
//
// # Limits
//
// One program is read (Options.Program, or the first one in the PAT).
// ADTS only signals the AAC core: HE-AAC with implicit SBR/PS is described as
// AAC-LC (mp4a.40.2) at the core sample rate, as ffmpeg's TS-to-MP4 remux
// does. AAC in LATM, MPEG-1/2 audio and video, and field-coded (PAFF)
// interlaced H.264 with one PES per field are not supported. RASL pictures
// that follow a leading CRA are kept.
package ts

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/cmafkit/cmafkit/segment"
)

// ErrParameterChange is reported (inside a *segment.FormatError) when an
// audio stream changes its configuration mid-stream in a way one sample
// entry cannot describe, e.g. an ADTS header with another sample rate.
// (Video parameter-set changes are carried in band with an avc3/hev1
// sample entry instead.) It wraps segment.ErrUnsupportedCodec.
var ErrParameterChange = fmt.Errorf("%w: configuration changes mid-stream", segment.ErrUnsupportedCodec)

// DefaultMaxSampleSize bounds a single access unit when Options.MaxSampleSize is 0.
const DefaultMaxSampleSize = 32 << 20

// Options configure Open. The zero value is ready to use.
type Options struct {
	// Logger receives warnings about recovered damage (continuity errors,
	// lost sync, dropped PES) and debug messages about ignored PIDs.
	// Nil discards them (the counts are in Source.Stats either way).
	Logger *slog.Logger
	// Program selects the program_number to read; 0 selects the first
	// program listed in the PAT.
	Program int
	// MaxSampleSize is the largest access unit accepted, in bytes
	// (0 means DefaultMaxSampleSize). Larger units are reported as
	// segment.ErrMalformed instead of being buffered.
	MaxSampleSize int

	maxHeld int // tests: overrides maxHeldPackets
}

// Stats counts what Open saw and repaired while indexing.
type Stats struct {
	Packets          int64 // TS packets read
	Resyncs          int   // times the sync byte was lost and found again
	SkippedBytes     int64 // bytes skipped while resynchronising
	TEIPackets       int   // packets with transport_error_indicator, dropped
	CCErrors         int   // continuity_counter jumps (lost packets)
	Duplicates       int   // duplicate packets, dropped
	DroppedPES       int   // PES packets dropped as damaged or truncated
	DroppedSamples   int   // access units dropped (damaged, or before the first sync sample)
	Discontinuities  int   // time-base discontinuities stitched
	DerivedDTS       int   // video access units whose DTS was missing or not increasing, derived from the PTS order
	UntimedSamples   int   // video access units without a PTS of their own, timed from the one before
	TruncatedPackets int   // a partial packet at the end of the input
	HeldPackets      int   // packets of the program's streams before its first PMT, held back and read once it came
	UnheldPackets    int   // packets before the first PMT beyond the hold-back bound, dropped
	BadCues          int   // SCTE-35 sections skipped: bad CRC or syntax, no timestamp yet, or beyond the bound
}

// Source is an indexed transport stream. It embeds the segment.Source the
// packager consumes (Name, Size, Tracks; Track.ID is the PID) and adds what
// the demuxer counted and repaired.
type Source struct {
	segment.Source
	// Stats counts what Open saw and repaired while indexing.
	Stats Stats
}

// OpenFile opens and indexes a transport stream file by path. Close the
// Source when done with its tracks.
func OpenFile(ctx context.Context, path string, opts *Options) (*Source, error) {
	// segment.OpenFileWith attaches the file to the embedded segment.Source,
	// whose Close (promoted here) closes it.
	var src *Source
	if _, err := segment.OpenFileWith(ctx, path, func(ctx context.Context, r io.ReaderAt, size int64, name string) (*segment.Source, error) {
		var err error
		if src, err = Open(ctx, r, size, name, opts); err != nil {
			return nil, err
		}
		return &src.Source, nil
	}); err != nil {
		return nil, err
	}
	return src, nil
}

// formatErr builds a *segment.FormatError; pid 0 and sample 0 mean "none".
func formatErr(name string, pid uint16, sample int, off int64, err error, format string, args ...any) error {
	fe := &segment.FormatError{Source: name, Track: uint32(pid), Sample: sample, Offset: off, Err: err}
	if format != "" {
		fe.Detail = fmt.Sprintf(format, args...)
	}
	return fe
}

// isFormatErr reports whether err already carries a position.
func isFormatErr(err error) bool {
	var fe *segment.FormatError
	return errors.As(err, &fe)
}

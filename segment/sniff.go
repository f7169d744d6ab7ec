package segment

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// Inputs no registered format reads.
//
// Read as MP4, any other file fails on its first "box", whose size field
// is four bytes of something else: a raw AAC stream then reads as a
// truncated box of a gigabyte, as if it were a damaged MP4. So Open hands
// an input only to a format that recognises its first bytes, and refuses
// the others with ErrUnsupportedFormat naming what they look like and how
// to turn them into something packageable.

// sniffLen is how many bytes sniffing reads at the start of the input (and
// after an ID3 tag): enough to check a second ADTS or MPEG audio frame.
const sniffLen = 8 << 10

// unsupported returns the *FormatError wrapping ErrUnsupportedFormat that
// refuses the input starting with head, saying what it looks like.
func unsupported(r io.ReaderAt, size int64, head []byte, name string) error {
	what, hint := identify(r, size, head, name)
	detail := "input looks like " + what + ", not MP4"
	switch what {
	case "MP4":
		detail = "input is MP4"
	case unknownData:
		detail = fmt.Sprintf("input does not start with an MP4 box (first bytes % x)", head[:min(len(head), 8)])
	}
	if hint != "" {
		detail += ": " + hint
	}
	return &FormatError{Source: name, Offset: 0, Err: ErrUnsupportedFormat, Detail: detail}
}

// readable lists the formats Open and its sibling readers read.
const readable = "cmafkit reads MP4, fragmented MP4, MPEG-TS and WebVTT"

// unknownData is what identify calls an input that is no MP4 and no format it knows.
const unknownData = "unknown data"

// identify names the format of an input that starts with head (at least
// its first sniffLen bytes, or all of it), with a hint on what to do.
func identify(r io.ReaderAt, size int64, head []byte, name string) (what, hint string) {
	if len(head) < 8 {
		return unknownData, readable
	}
	if t := string(head[4:8]); (t == "ftyp" || t == "moov" || t == "moof" || t == "styp") && !isRegistered("MP4") {
		return "MP4", "no MP4 reader is registered: import github.com/cmafkit/cmafkit/segment/isobmff"
	}
	remux := "remux it into MP4 first, e.g. ffmpeg -i " + shellQuote(name) + " -c copy " + shellQuote(strings.TrimSuffix(filepath.Base(name), filepath.Ext(name))+".mp4")
	switch {
	case bytes.HasPrefix(head, []byte{0x1a, 0x45, 0xdf, 0xa3}):
		// EBML header; the DocType element comes within the first bytes.
		if bytes.Contains(head[:min(len(head), 64)], []byte("webm")) {
			return "WebM (Matroska)", "WebM input is not supported; " + remux + " (its codecs must be ones cmafkit packages: H.264, HEVC, AV1, AAC, AC-3, E-AC-3, Opus)"
		}
		return "Matroska", "Matroska input is not supported; " + remux
	case matroskaElement(head):
		return "part of a Matroska or WebM file (a segment or cluster without the EBML header)", "Matroska and WebM input is not supported"
	case len(head) >= 12 && bytes.HasPrefix(head, []byte("RIFF")) && string(head[8:12]) == "WAVE":
		return "a WAV file", "WAV input is not supported; encode it to AAC in MP4 first, e.g. ffmpeg -i " + shellQuote(name) + " -c:a aac out.mp4"
	case len(head) >= 12 && bytes.HasPrefix(head, []byte("RIFF")) && string(head[8:12]) == "AVI ":
		return "an AVI file", "AVI input is not supported; " + remux
	case bytes.HasPrefix(head, []byte("OggS")):
		return "an Ogg file", "Ogg input is not supported; " + remux + " (Opus only; Vorbis must be re-encoded)"
	case bytes.HasPrefix(head, []byte("fLaC")):
		return "a FLAC file", "FLAC input is not supported"
	case bytes.HasPrefix(head, []byte("FLV\x01")):
		return "an FLV file", "FLV input is not supported; " + remux
	case bytes.HasPrefix(head, []byte("#!AMR")):
		return "an AMR file", "AMR input is not supported; encode it to AAC in MP4 first, e.g. ffmpeg -i " + shellQuote(name) + " -c:a aac out.mp4"
	case isSubRip(head):
		return "a SubRip (SRT) subtitle file", "SRT is not supported; convert it to WebVTT, e.g. ffmpeg -i " + shellQuote(name) + " out.vtt"
	case bytes.HasPrefix(head, []byte("#EXTM3U")):
		return "an HLS playlist", "package the media files it lists, not the playlist"
	case isXML(head) && bytes.Contains(head, []byte("<MPD")):
		return "a DASH manifest (MPD)", "package the media files it lists, not the manifest"
	case isXML(head) && bytes.Contains(head, []byte("<tt")):
		return "a TTML document", "TTML side files are not supported (WebVTT side files and TTML in MP4 are)"
	case isXML(head):
		return "an XML document", ""
	case isWebVTT(head):
		return "a WebVTT document", "no WebVTT reader is registered: import github.com/cmafkit/cmafkit/segment/webvtt"
	case head[0] == 0x47 && (len(head) < 189 || head[188] == 0x47):
		if isRegistered("MPEG-TS") {
			return "MPEG-TS", "too short: MPEG-TS input needs at least two packets (segment/ts)"
		}
		return "MPEG-TS", "no MPEG-TS reader is registered: import github.com/cmafkit/cmafkit/segment/ts"
	}
	if id3 := id3Size(head); id3 > 0 {
		// An ID3v2 tag heads raw MP3 and AAC files (and HLS packed audio).
		if id3 >= size {
			return "an ID3 tag without audio", ""
		}
		audio := make([]byte, min(size-id3, sniffLen))
		if n, err := r.ReadAt(audio, id3); n < len(audio) && err != io.EOF {
			return "an ID3 tag followed by unreadable data", ""
		}
		// Some writers pad between the tag and the first frame.
		for _, b := range [][]byte{audio, bytes.TrimLeft(audio, "\x00")} {
			if what, hint := elementaryStream(b, name); what != "" {
				return what + " with an ID3 tag", hint
			}
		}
		return "an ID3 tag followed by unknown data", ""
	}
	if what, hint := elementaryStream(head, name); what != "" {
		return what, hint
	}
	return unknownData, readable + " (a file encrypted as a whole, like an HLS AES-128 segment, looks like this: decrypt it first)"
}

// elementaryStream recognises the raw streams users hold: ADTS AAC, MPEG
// audio, AC-3 and E-AC-3, and Annex B H.264 and HEVC.
func elementaryStream(b []byte, name string) (what, hint string) {
	remux := func(ext, extra string) string {
		return "elementary streams are not supported: remux it into MP4 first, e.g. ffmpeg " + extra + "-i " + shellQuote(name) + " -c copy " +
			shellQuote(strings.TrimSuffix(filepath.Base(name), filepath.Ext(name))+ext)
	}
	switch {
	case isADTS(b):
		return "raw ADTS AAC (an audio elementary stream)", remux(".mp4", "")
	case isMPEGAudio(b):
		return "MPEG audio (MP3, an audio elementary stream)", "MP3 is not supported; encode it to AAC in MP4, e.g. ffmpeg -i " + shellQuote(name) + " -c:a aac out.mp4"
	case len(b) >= 6 && b[0] == 0x0b && b[1] == 0x77:
		if b[5]>>3 > 10 {
			return "raw E-AC-3 (an audio elementary stream)", remux(".mp4", "")
		}
		return "raw AC-3 (an audio elementary stream)", remux(".mp4", "")
	}
	if lengthPrefixedH264(b) {
		return "H.264 NAL units with length prefixes and no container", "not supported: wrap them in MP4 with their parameter sets"
	}
	switch annexB(b) {
	case "h264":
		return "an Annex B H.264 elementary stream", remux(".mp4", "-framerate FPS ") + " (a raw stream has no timestamps: give its frame rate)"
	case "hevc":
		return "an Annex B HEVC elementary stream", remux(".mp4", "-framerate FPS ") + " (a raw stream has no timestamps: give its frame rate)"
	case "ps":
		return "an MPEG program stream (MPG, VOB)", remux(".mp4", "")
	case "mpeg2":
		return "an MPEG-1/2 video elementary stream", "MPEG-2 video is not supported"
	}
	return "", ""
}

// isADTS reports whether b starts with an ADTS frame header (ISO/IEC
// 13818-7 6.2) whose frame is followed by another, or ends the data.
func isADTS(b []byte) bool {
	n := 0
	for frames := 0; frames < 2; frames++ {
		h := b[n:]
		if len(h) < 7 || h[0] != 0xff || h[1]&0xf6 != 0xf0 || (h[2]>>2)&0xf > 12 {
			return frames > 0 && len(h) == 0
		}
		l := int(h[3]&3)<<11 | int(h[4])<<3 | int(h[5])>>5
		if l < 7 {
			return false
		}
		if n+l >= len(b) {
			return true // the frame runs past what was read
		}
		n += l
	}
	return true
}

// isMPEGAudio reports whether b starts with two MPEG audio (layer I-III)
// frame headers in a row, or one that runs past b.
func isMPEGAudio(b []byte) bool {
	n := 0
	for frames := 0; frames < 2; frames++ {
		h := b[n:]
		if len(h) < 4 || h[0] != 0xff || h[1]&0xe0 != 0xe0 {
			return frames > 0 && len(h) == 0
		}
		version, layer := (h[1]>>3)&3, (h[1]>>1)&3
		brIdx, srIdx := h[2]>>4, (h[2]>>2)&3
		if version == 1 || layer == 0 || brIdx == 0 || brIdx == 15 || srIdx == 3 {
			return false
		}
		l := mpegAudioFrameLen(version, layer, brIdx, srIdx, int(h[2]>>1)&1)
		if l < 4 {
			return false
		}
		if n+l >= len(b) {
			return true
		}
		n += l
	}
	return true
}

// mpegAudioFrameLen returns the length in bytes of an MPEG audio frame.
func mpegAudioFrameLen(version, layer, brIdx, srIdx byte, pad int) int {
	// Bit rates in kb/s by [MPEG-1?][layer 3..1 as 1..3][index].
	rates := [2][4][16]int{
		{{}, {0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160}, {0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160}, {0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256}},
		{{}, {0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320}, {0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384}, {0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448}},
	}
	mpeg1 := 0
	if version == 3 {
		mpeg1 = 1
	}
	sr := [3]int{44100, 48000, 32000}[srIdx]
	switch version {
	case 2:
		sr /= 2
	case 0:
		sr /= 4
	}
	br := rates[mpeg1][layer][brIdx] * 1000
	switch {
	case layer == 3: // layer I
		return (12*br/sr + pad) * 4
	case layer == 1 && mpeg1 == 0: // layer III, MPEG-2/2.5
		return 72*br/sr + pad
	}
	return 144*br/sr + pad
}

// annexB recognises a byte stream of start codes (ISO/IEC 14496-10 Annex B)
// by its first NAL unit header: "h264", "hevc", "ps" (an MPEG-2 program
// stream pack header), "mpeg2" (a sequence header) or "".
func annexB(b []byte) string {
	i := 0
	for i < len(b) && i < 64 && b[i] == 0 {
		i++
	}
	if i < 2 || i+3 > len(b) || b[i] != 1 {
		return ""
	}
	h0, h1 := b[i+1], b[i+2]
	switch h0 {
	case 0xba:
		return "ps"
	case 0xb3:
		return "mpeg2"
	}
	if h0&0x80 != 0 {
		return ""
	}
	// HEVC first: its two-byte header has layer 0 and a temporal ID of at
	// least 1, which rules out most H.264 readings of the same bytes.
	if h0&1 == 0 && h1>>3 == 0 && h1&7 != 0 {
		switch (h0 >> 1) & 0x3f {
		case 32, 33, 34, 35, 39, 19, 20, 21: // VPS, SPS, PPS, AUD, SEI, IDR, CRA
			return "hevc"
		}
	}
	if h264Header(h0) {
		return "h264"
	}
	return ""
}

// h264Header reports whether h is a plausible first byte of an H.264 NAL
// unit that starts a stream: a slice, SPS, PPS, SEI or access unit
// delimiter, with nal_ref_idc as the standard requires for its type.
func h264Header(h byte) bool {
	ref, typ := h>>5&3, h&0x1f
	switch {
	case h&0x80 != 0:
		return false
	case typ == 1:
		return true
	case typ == 5 || typ == 7 || typ == 8:
		return ref != 0
	case typ == 6 || typ == 9:
		return ref == 0
	}
	return false
}

// lengthPrefixedH264 reports whether b starts with H.264 NAL units each
// preceded by its 4-byte length (the MP4 sample format), with no container.
func lengthPrefixedH264(b []byte) bool {
	n, nals := 0, 0
	for nals < 3 && n+5 <= len(b) {
		l := int(binary.BigEndian.Uint32(b[n:]))
		if l < 1 || l > 1<<24 || !h264Header(b[n+4]) {
			return false
		}
		n += 4 + l
		nals++
	}
	return nals > 1 || (nals == 1 && n >= len(b))
}

// matroskaElement reports whether b starts with the ID of a Matroska
// Segment, Cluster or Cues element.
func matroskaElement(b []byte) bool {
	for _, id := range [][]byte{{0x18, 0x53, 0x80, 0x67}, {0x1f, 0x43, 0xb6, 0x75}, {0x1c, 0x53, 0xbb, 0x6b}} {
		if bytes.HasPrefix(b, id) {
			return true
		}
	}
	return false
}

// id3Size returns the size of the ID3v2 tag b starts with (header, frames
// and footer), or 0.
func id3Size(b []byte) int64 {
	if len(b) < 10 || string(b[:3]) != "ID3" || b[3] < 2 || b[3] > 4 || b[4] == 0xff {
		return 0
	}
	var n int64
	for _, c := range b[6:10] {
		if c&0x80 != 0 {
			return 0
		}
		n = n<<7 | int64(c)
	}
	n += 10
	if b[5]&0x10 != 0 {
		n += 10 // footer
	}
	return n
}

func isXML(b []byte) bool {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	return bytes.HasPrefix(b, []byte("<?xml")) || bytes.HasPrefix(b, []byte("<MPD")) || bytes.HasPrefix(b, []byte("<tt"))
}

func isWebVTT(b []byte) bool {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	return bytes.HasPrefix(b, []byte("WEBVTT")) && (len(b) == 6 || strings.ContainsRune(" \t\r\n", rune(b[6])))
}

// shellQuote quotes s for a POSIX shell when it needs quoting.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./+,:@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// isRegistered reports whether a format of that name is registered.
func isRegistered(name string) bool {
	for _, f := range registered() {
		if f.Name == name {
			return true
		}
	}
	return false
}

// isSubRip reports whether head starts like a SubRip document: a cue
// number on its own line, then a timing line "00:00:01,000 --> ...".
func isSubRip(head []byte) bool {
	b := bytes.TrimLeft(bytes.TrimPrefix(head, []byte("\xef\xbb\xbf")), "\r\n ")
	num, rest, ok := bytes.Cut(b, []byte("\n"))
	num = bytes.TrimSuffix(num, []byte("\r"))
	if !ok || len(num) == 0 || len(num) > 9 || bytes.ContainsFunc(num, func(r rune) bool { return r < '0' || r > '9' }) {
		return false
	}
	timing, _, _ := bytes.Cut(rest, []byte("\n"))
	return bytes.Contains(timing, []byte("-->")) && len(timing) >= 8 && timing[2] == ':' && timing[5] == ':'
}

package isobmff

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/Eyevinn/mp4ff/bits"
	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/cmafkit/cmafkit/segment"
)

// maxHeaderBoxSize bounds the moov and moof boxes read into memory. A real
// moov of a multi-hour file is a few tens of MB; anything larger is refused
// rather than allocated.
const maxHeaderBoxSize = 256 << 20

// Open indexes an MP4 input (progressive with moov at the front or the end,
// or fragmented MP4/CMAF) read through r, which must stay open while the
// Source is used. Only the moov and moof boxes are read into memory.
//
// Open reads r as MP4 whatever its first bytes: segment.Open, which hands an
// input to this package only when it starts like MP4, refuses other
// formats with segment.ErrUnsupportedFormat naming what they look like. An
// encrypted track is refused with segment.ErrEncrypted. Samples
// of size 0 carry nothing a decoder can use: a video or audio track is
// refused with ErrEmptySamples when all its samples are empty, when more
// than half of them are (a placeholder or stripped file, not media), or
// when a video sync sample is (decoding starts there); fewer empty samples
// are kept, with a warning. A text track whose samples are all empty is
// skipped with a warning.
func Open(ctx context.Context, r io.ReaderAt, size int64, name string, opts *segment.OpenOptions) (*segment.Source, error) {
	return newParser(r, size, name, opts).parse(ctx)
}

func newParser(r io.ReaderAt, size int64, name string, opts *segment.OpenOptions) *mp4Parser {
	return &mp4Parser{r: r, size: size, name: name, log: opts.Log(), br: boxReader{src: name}, subsBudget: maxSubsamples}
}

type mp4Parser struct {
	r    io.ReaderAt
	size int64
	name string
	log  *slog.Logger
	br   boxReader

	movieTimescale uint32
	tracks         []*mp4Track
	moofs          int
	samples        int64     // samples indexed so far, over all tracks
	subsBudget     int       // subsample entries that may still be kept (see maxSubsamples)
	fragmentedMoov bool      // the moov has an mvex: samples are to come in fragments
	keepParamSets  bool      // tests: leave avc3/hev1 tracks as they are (see segment.ResolveParameterSets)
	emsgs          []emsgCue // SCTE-35 emsg boxes (emsg.go)
}

// mp4Track is a track while it is being indexed.
type mp4Track struct {
	*segment.Track
	frags     moofIndex // samples from moof boxes
	fragStart uint64    // decode time of the first sample in a moof
	trex      trexDefaults
	fragTime  uint64 // next decode time when a traf has no tfdt
	skip      bool   // unsupported track that the caller will not see
	empty     emptyStats
	subs      subsByOffset // subsamples of an stpp track, nil when it has none
}

// emptyStats counts a track's samples of size 0 as they are validated.
type emptyStats struct {
	n, sync          int // empty samples, empty sync samples
	first, firstSync int // 1-based number of the first of each, 0 if none
}

func (e *emptyStats) add(s *segment.Sample, number int) {
	if s.Size != 0 {
		return
	}
	e.n++
	if e.first == 0 {
		e.first = number
	}
	if s.Sync {
		e.sync++
		if e.firstSync == 0 {
			e.firstSync = number
		}
	}
}

type trexDefaults struct {
	sdi, dur, size, flags uint32
}

func (p *mp4Parser) errAt(sentinel error, off int64, format string, args ...any) error {
	return &segment.FormatError{Source: p.name, Offset: off, Err: sentinel, Detail: fmt.Sprintf(format, args...)}
}

func (p *mp4Parser) parse(ctx context.Context) (*segment.Source, error) {
	var moov *rawBox
	src := &segment.Source{Name: p.name, Size: p.size}
	var pendingMoofs []int64
	for off := int64(0); off < p.size; {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		typ, boxSize, hdrLen, err := readBoxHeader(p.r, off, p.size)
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, p.errAt(segment.ErrTruncated, off, "top-level box header")
			}
			return nil, fmt.Errorf("%s: read at %d: %w", p.name, off, err)
		}
		if boxSize < int64(hdrLen) {
			return nil, p.errAt(segment.ErrMalformed, off, "%q box size %d smaller than its header", typ, boxSize)
		}
		if boxSize > p.size-off {
			return nil, p.errAt(segment.ErrTruncated, off, "%q box of %d bytes, only %d left in the file", typ, boxSize, p.size-off)
		}
		switch typ {
		case "moov":
			tr := &treeReader{r: p.r, src: p.name, size: p.size, win: make([]byte, min(64<<10, boxSize))}
			b, err := tr.readTree(typ, off, boxSize, hdrLen, "moov", 0)
			if err != nil {
				return nil, err
			}
			moov = &b
			if err := p.parseMoov(moov); err != nil {
				return nil, err
			}
			// Fragments seen before the moov (not valid, but cheap to support).
			for _, mo := range pendingMoofs {
				if err := p.indexMoofAt(mo); err != nil {
					return nil, err
				}
			}
			pendingMoofs = nil
		case "emsg":
			p.readEmsg(off, boxSize, hdrLen)
		case "moof":
			p.moofBase(off, boxSize, hdrLen)
			src.Fragmented = true
			if moov == nil {
				pendingMoofs = append(pendingMoofs, off)
			} else if err := p.indexMoofAt(off); err != nil {
				return nil, err
			}
		}
		off += boxSize
	}
	if moov == nil {
		if src.Fragmented {
			return nil, p.errAt(segment.ErrMalformed, -1, "no moov box: the input holds movie fragments only, a media segment without its init segment; join them first (cat init.mp4 segment.m4s > input.mp4)")
		}
		return nil, p.errAt(segment.ErrMalformed, -1, "no moov box")
	}
	var noSamples error // the first track without samples, skipped
	for _, t := range p.tracks {
		if t.skip {
			continue
		}
		if err := p.finishTrack(t); err != nil {
			if t.Kind == segment.KindText && errors.Is(err, segment.ErrEmptySamples) {
				p.log.Warn("skipping text track whose samples are all empty", "source", p.name, "track", t.ID, "error", err)
				continue
			}
			if t.SampleCount() == 0 {
				// An empty track beside others (androidx's
				// sample_empty_track.mp4) does not stop the rest.
				p.log.Warn("skipping track without samples", "source", p.name, "track", t.ID, "kind", t.Kind)
				if noSamples == nil {
					noSamples = err
				}
				continue
			}
			return nil, err
		}
		if !p.keepParamSets {
			if err := segment.ResolveParameterSets(ctx, t.Track, p.log); err != nil {
				return nil, err
			}
		}
		if err := resolveStppProfile(t.Track, func(msg string, args ...any) { p.log.Warn(msg, append([]any{"source", p.name}, args...)...) }); err != nil {
			return nil, err
		}
		src.Tracks = append(src.Tracks, t.Track)
	}
	if len(src.Tracks) == 0 {
		if noSamples != nil {
			return nil, noSamples
		}
		return nil, &segment.FormatError{Source: p.name, Offset: -1, Err: segment.ErrNoTracks}
	}
	src.Cues = p.emsgCues(src.Tracks)
	return src, nil
}

func (p *mp4Parser) readBox(typ string, off, size int64, hdrLen int) (*rawBox, error) {
	if size > maxHeaderBoxSize {
		return nil, p.errAt(segment.ErrMalformed, off, "%q box of %d bytes exceeds the %d byte limit", typ, size, maxHeaderBoxSize)
	}
	buf := make([]byte, size)
	if _, err := p.r.ReadAt(buf, off); err != nil && !(errors.Is(err, io.EOF) && len(buf) == int(size)) {
		return nil, fmt.Errorf("%s: read %q at %d: %w", p.name, typ, off, err)
	}
	return &rawBox{typ: typ, offset: off, hdrLen: hdrLen, size: size, payload: buf[hdrLen:]}, nil
}

func (p *mp4Parser) parseMoov(moov *rawBox) error {
	kids := moov.kids
	if mvhd := findBox(kids, "mvhd"); mvhd != nil {
		c := cursor{b: mvhd.payload}
		v := c.u8()
		c.skip(3)
		if v == 1 {
			c.skip(16)
		} else {
			c.skip(8)
		}
		p.movieTimescale = c.u32()
	}
	trexByID := map[uint32]trexDefaults{}
	if mvex := findBox(kids, "mvex"); mvex != nil {
		p.fragmentedMoov = true
		for _, b := range mvex.kids {
			if b.typ != "trex" {
				continue
			}
			c := cursor{b: b.payload}
			c.skip(4)
			id := c.u32()
			d := trexDefaults{sdi: c.u32(), dur: c.u32(), size: c.u32(), flags: c.u32()}
			if c.err {
				return p.errAt(segment.ErrTruncated, b.offset, "moov/mvex/trex")
			}
			trexByID[id] = d
		}
	}
	for _, k := range kids {
		if k.typ != "trak" {
			continue
		}
		t, err := p.parseTrak(&k)
		if err != nil {
			return err
		}
		t.trex = trexByID[t.ID]
		p.tracks = append(p.tracks, t)
	}
	return nil
}

func (p *mp4Parser) parseTrak(trak *rawBox) (*mp4Track, error) {
	kids := trak.kids
	t := &mp4Track{Track: &segment.Track{Source: p.name, Language: "und"}}
	tkhd := findBox(kids, "tkhd")
	if tkhd == nil {
		return nil, p.errAt(segment.ErrMalformed, trak.offset, "trak without tkhd")
	}
	{
		c := cursor{b: tkhd.payload}
		v := c.u8()
		c.skip(3)
		if v == 1 {
			c.skip(16)
		} else {
			c.skip(8)
		}
		t.ID = c.u32()
		if c.err {
			return nil, p.errAt(segment.ErrTruncated, tkhd.offset, "moov/trak/tkhd")
		}
		// reserved, duration, reserved[2], layer, alternate_group, volume, reserved
		if v == 1 {
			c.skip(4 + 8 + 16)
		} else {
			c.skip(4 + 4 + 16)
		}
		var m [9]int32
		for i := range m {
			m[i] = int32(c.u32())
		}
		if !c.err && m != identityMatrix {
			t.Matrix = m
		}
	}
	fe := func(sentinel error, box string, off int64, format string, args ...any) error {
		return &segment.FormatError{Source: p.name, Box: box, Track: t.ID, Offset: off, Err: sentinel, Detail: fmt.Sprintf(format, args...)}
	}
	mdia := findBox(kids, "mdia")
	if mdia == nil {
		return nil, fe(segment.ErrMalformed, "moov/trak", trak.offset, "no mdia")
	}
	mk := mdia.kids
	mdhd := findBox(mk, "mdhd")
	if mdhd == nil {
		return nil, fe(segment.ErrMalformed, "moov/trak/mdia", mdia.offset, "no mdhd")
	}
	{
		c := cursor{b: mdhd.payload}
		v := c.u8()
		c.skip(3)
		if v == 1 {
			c.skip(16)
			t.Timescale = c.u32()
			c.skip(8)
		} else {
			c.skip(8)
			t.Timescale = c.u32()
			c.skip(4)
		}
		lang := c.u16()
		if c.err {
			return nil, fe(segment.ErrTruncated, "moov/trak/mdia/mdhd", mdhd.offset, "")
		}
		if t.Timescale == 0 {
			return nil, fe(segment.ErrMalformed, "moov/trak/mdia/mdhd", mdhd.offset, "zero timescale")
		}
		if l := decodeISO639(lang); l != "" {
			t.Language = l
		}
	}
	handler := ""
	if hdlr := findBox(mk, "hdlr"); hdlr != nil {
		c := cursor{b: hdlr.payload}
		c.skip(8)
		if c.need(4) {
			handler = string(hdlr.payload[8:12])
		}
	}
	switch handler {
	case "vide":
		t.Kind = segment.KindVideo
		if t.Matrix != ([9]int32{}) {
			p.log.Warn("video track has a display matrix: it is kept in the CMAF init segment, where MP4 players apply it, but HLS and DASH manifests cannot signal it (their width and height are the size before it)",
				"source", p.name, "track", t.ID, "transform", transformString(t.Track))
		}
	case "soun":
		t.Kind = segment.KindAudio
	case "text", "subt", "sbtl":
		t.Kind = segment.KindText
	default:
		p.log.Warn("skipping track with unsupported handler", "source", p.name, "track", t.ID, "handler", handler)
		t.skip = true
		return t, nil
	}
	if edts := findBox(kids, "edts"); edts != nil {
		if err := p.parseEdts(t, edts); err != nil {
			return nil, err
		}
	}
	minf, nk, err := p.descend(t, mk, mdia, "moov/trak/mdia", "minf")
	if err != nil {
		return nil, err
	}
	stbl, sk, err := p.descend(t, nk, minf, "moov/trak/mdia/minf", "stbl")
	if err != nil {
		return nil, err
	}
	stsd := findBox(sk, "stsd")
	if stsd == nil {
		return nil, fe(segment.ErrMalformed, "moov/trak/mdia/minf/stbl", stbl.offset, "no stsd")
	}
	if err := p.parseStsd(t, stsd); err != nil {
		if t.Kind == segment.KindText && (errors.Is(err, segment.ErrUnsupportedCodec) || errors.Is(err, segment.ErrEncrypted)) {
			// Text in a format we cannot package (tx3g, c608, ...) must not
			// cost the file its audio and video.
			p.log.Warn("skipping text track with unsupported codec", "source", p.name, "track", t.ID, "error", err)
			t.skip = true
			return t, nil
		}
		return nil, err
	}
	if err := p.indexStbl(t, sk); err != nil {
		return nil, err
	}
	return t, nil
}

// descend finds the container typ among kids (the children of parent, at
// path) and splits it into its own children; a missing container is
// ErrMalformed naming the parent.
func (p *mp4Parser) descend(t *mp4Track, kids []rawBox, parent *rawBox, path, typ string) (*rawBox, []rawBox, error) {
	b := findBox(kids, typ)
	if b == nil {
		return nil, nil, &segment.FormatError{Source: p.name, Box: path, Track: t.ID, Offset: parent.offset, Err: segment.ErrMalformed, Detail: "no " + typ}
	}
	return b, b.kids, nil
}

func decodeISO639(v uint16) string {
	if v == 0 || v == 0x7fff {
		return ""
	}
	b := []byte{byte(v>>10&0x1f) + 0x60, byte(v>>5&0x1f) + 0x60, byte(v&0x1f) + 0x60}
	for _, c := range b {
		if c < 'a' || c > 'z' {
			return ""
		}
	}
	return string(b)
}

// parseEdts turns the edit list into Track.PresentationOffset. Supported are
// the forms encoders write: optional leading empty edits (a start delay) and
// one media edit (B-frame delay or audio priming). Further edits are ignored
// with a warning, as CMAF tracks cannot express them.
func (p *mp4Parser) parseEdts(t *mp4Track, edts *rawBox) error {
	elst := findBox(edts.kids, "elst")
	if elst == nil {
		return nil
	}
	c := cursor{b: elst.payload}
	v := c.u8()
	c.skip(3)
	entrySize := 12
	if v == 1 {
		entrySize = 20
	}
	n, ok := c.table(entrySize)
	if !ok {
		return &segment.FormatError{Source: p.name, Box: "moov/trak/edts/elst", Track: t.ID, Offset: elst.offset, Err: segment.ErrTruncated, Detail: "entry count exceeds box"}
	}
	var delay uint64 // movie timescale
	mediaEdits := 0
	for i := 0; i < n; i++ {
		var dur uint64
		var mediaTime int64
		if v == 1 {
			dur = c.u64()
			mediaTime = int64(c.u64())
		} else {
			dur = uint64(c.u32())
			mediaTime = int64(int32(c.u32()))
		}
		c.skip(4) // rate
		if mediaTime == -1 {
			if mediaEdits == 0 {
				delay += dur
			}
			continue
		}
		mediaEdits++
		if mediaEdits == 1 {
			t.PresentationOffset = mediaTime
		}
	}
	if mediaEdits > 1 {
		p.log.Warn("edit list has several media edits; only the first is applied", "source", p.name, "track", t.ID)
	}
	if delay > 0 && p.movieTimescale > 0 {
		t.PresentationOffset -= int64(delay * uint64(t.Timescale) / uint64(p.movieTimescale))
	}
	return nil
}

// parseStsd decodes the sample entry with mp4ff. mp4ff is not hardened against
// hostile input, so a panic inside it is turned into ErrMalformed.
func (p *mp4Parser) parseStsd(t *mp4Track, stsd *rawBox) (err error) {
	c := cursor{b: stsd.payload}
	c.skip(4)
	n := c.u32()
	if c.err || n == 0 {
		return &segment.FormatError{Source: p.name, Box: "moov/trak/mdia/minf/stbl/stsd", Track: t.ID, Offset: stsd.offset, Err: segment.ErrMalformed, Detail: "no sample entry"}
	}
	entries, err := boxReader{src: p.name, path: "moov/trak/mdia/minf/stbl/stsd"}.children(stsd.payload[8:], stsd.offset+int64(stsd.hdrLen)+8)
	if err != nil {
		return err
	}
	if len(entries) == 0 {
		return &segment.FormatError{Source: p.name, Box: "moov/trak/mdia/minf/stbl/stsd", Track: t.ID, Offset: stsd.offset, Err: segment.ErrMalformed, Detail: "no sample entry"}
	}
	if len(entries) > 1 {
		p.log.Warn("several sample descriptions; using the first", "source", p.name, "track", t.ID)
	}
	e := entries[0]
	raw := stsd.payload[8+int(e.offset-(stsd.offset+int64(stsd.hdrLen)+8)):]
	raw = raw[:e.hdrLen+len(e.payload)]
	box, err := decodeBoxSafe(raw, uint64(e.offset))
	if err != nil && t.Kind == segment.KindVideo {
		if kids, ok := visualChildren(raw, e.hdrLen); ok {
			if c, ok := kids["avcC"]; ok && len(c) > 12 && c[12]&3 != 3 {
				return &segment.FormatError{Source: p.name, Box: "moov/trak/mdia/minf/stbl/stsd/" + e.typ + "/avcC", Track: t.ID, Offset: e.offset, Err: segment.ErrUnsupportedCodec,
					Detail: fmt.Sprintf("H.264 with %d-byte NAL unit lengths (only 4-byte lengths are supported)", c[12]&3+1)}
			}
			if _, ok := kids["colr"]; ok {
				// Colour is optional: a colr mp4ff cannot parse (androidx's
				// 18-byte nclx colr) is dropped, the SPS may still say it.
				if b, err2 := decodeBoxSafe(withoutChild(raw, e.hdrLen, "colr"), uint64(e.offset)); err2 == nil {
					p.log.Warn("ignoring a colr box that does not parse", "source", p.name, "track", t.ID, "error", err)
					box, err = b, nil
				}
			}
		}
	}
	if err != nil {
		return &segment.FormatError{Source: p.name, Box: "moov/trak/mdia/minf/stbl/stsd/" + e.typ, Track: t.ID, Offset: e.offset, Err: segment.ErrMalformed, Detail: err.Error()}
	}
	t.SampleEntry = isoSoundEntry(box)
	if err := t.DescribeSampleEntry(); err != nil {
		return &segment.FormatError{Source: p.name, Box: "moov/trak/mdia/minf/stbl/stsd/" + e.typ, Track: t.ID, Offset: e.offset, Err: err}
	}
	return nil
}

// visualEntryLen is the length of a visual sample entry's fields after
// its box header, before its child boxes (ISO/IEC 14496-12 12.1.3).
const visualEntryLen = 78

// visualChildren returns the child boxes (whole, header included) of the
// visual sample entry raw, by type, or false when they do not tile the
// entry's payload.
func visualChildren(raw []byte, hdrLen int) (map[string][]byte, bool) {
	kids := map[string][]byte{}
	for b := raw[min(len(raw), hdrLen+visualEntryLen):]; len(b) > 0; {
		if len(b) < 8 {
			return nil, false
		}
		n := int(binary.BigEndian.Uint32(b))
		if n < 8 || n > len(b) {
			return nil, false
		}
		kids[string(b[4:8])] = b[:n]
		b = b[n:]
	}
	return kids, true
}

// withoutChild returns a copy of the visual sample entry raw without its
// child boxes of type typ (visualChildren must have accepted raw).
func withoutChild(raw []byte, hdrLen int, typ string) []byte {
	start := min(len(raw), hdrLen+visualEntryLen)
	out := bytes.Clone(raw[:start])
	for b := raw[start:]; len(b) >= 8; {
		n := int(binary.BigEndian.Uint32(b))
		if string(b[4:8]) != typ {
			out = append(out, b[:n]...)
		}
		b = b[n:]
	}
	if hdrLen == 8 {
		binary.BigEndian.PutUint32(out, uint32(len(out)))
	} else {
		binary.BigEndian.PutUint64(out[8:], uint64(len(out)))
	}
	return out
}

// isoSoundEntry turns a QuickTime sound description (version 1 or 2, as
// iPhone recordings and ffmpeg's mov muxer write) that keeps its esds
// inside a wave box into the ISO version-0 mp4a a CMAF init carries: the
// esds directly inside, the other children kept. Other entries are
// returned as they are.
func isoSoundEntry(box mp4.Box) mp4.Box {
	a, ok := box.(*mp4.AudioSampleEntryBox)
	if !ok || a.Type() != "mp4a" || a.Esds != nil || a.Wave == nil || a.Wave.Esds == nil {
		return box
	}
	channels, rate := a.ChannelCount, a.SampleRate
	if q := a.QuickTimeV2; q != nil {
		channels = uint16(min(q.NumAudioChannels, 0xffff))
		rate = uint16(min(q.AudioSampleRate, 0xffff))
	}
	iso := mp4.CreateAudioSampleEntryBox("mp4a", channels, 16, rate, a.Wave.Esds)
	iso.DataReferenceIndex = a.DataReferenceIndex
	for _, c := range a.Children {
		if c.Type() != "wave" {
			iso.AddChild(c)
		}
	}
	return iso
}

// decodeBoxSafe decodes one complete box from memory with mp4ff, converting
// a panic (mp4ff trusts some length fields) into an error.
func decodeBoxSafe(raw []byte, pos uint64) (box mp4.Box, err error) {
	defer func() {
		if r := recover(); r != nil {
			box, err = nil, fmt.Errorf("undecodable box: %v", r)
		}
	}()
	sr := bits.NewFixedSliceReader(raw)
	box, err = mp4.DecodeBoxSR(pos, sr)
	if err != nil {
		return nil, err
	}
	return box, nil
}

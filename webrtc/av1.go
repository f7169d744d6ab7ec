package webrtc

import (
	"errors"
	"fmt"

	"github.com/Eyevinn/mp4ff/av1"
	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/pion/rtp"

	"github.com/cmafkit/cmafkit/segment"
)

// AV1 OBU types (AV1 specification section 6.2.2) and header bits.
const (
	obuSequenceHeader    = 1
	obuTemporalDelimiter = 2
	obuFrameHeader       = 3
	obuFrame             = 6
	obuTileList          = 8
	obuPadding           = 15
	obuHasSizeField      = 0x02
	obuExtensionFlag     = 0x04
	obuForbiddenBit      = 0x80
	maxLEB128Bytes       = 8
)

// Errors of malformed AV1 RTP payloads (the temporal unit is dropped).
var (
	errAV1Short    = errors.New("short AV1 RTP payload")
	errAV1Fragment = errors.New("AV1 OBU fragment without its start")
	errAV1OBU      = errors.New("malformed AV1 OBU")
	errAV1TooLarge = errors.New("AV1 temporal unit too large")
)

// av1Unit is one assembled AV1 temporal unit.
type av1Unit struct {
	rtpTime uint32
	obus    []byte // OBUs as an av01 sample holds them: each with its size field, no temporal delimiter or padding
	key     bool   // holds a key frame shown at once
	seqHdr  []byte // the last sequence header OBU in it (with its size field), nil if none
}

// av1Assembler turns RTP packets of one AV1 stream (the AOM "RTP Payload
// Format for AV1", section 4: an aggregation header, then OBU elements,
// the first and last of which may be fragments of OBUs spanning packets)
// into temporal units: the packets of one RTP timestamp up to the one with
// the marker bit. Losses are handled as in h264Assembler: the damaged unit
// and those after it are dropped until the next key frame, and NeedKey
// asks for one.
type av1Assembler struct {
	started bool
	lastSeq uint16
	cur     av1Unit
	open    bool
	broken  bool
	frag    []byte // the OBU element continued in the next packet
	inFrag  bool
	waitKey bool
	needKey bool
}

// push takes the next packet in arrival order and returns the temporal
// unit it completes, if any.
func (a *av1Assembler) push(p *rtp.Packet) (*av1Unit, error) {
	var done *av1Unit
	if a.started && p.SequenceNumber != a.lastSeq+1 {
		if int16(p.SequenceNumber-a.lastSeq) <= 0 {
			return nil, nil // duplicate or late
		}
		if a.open {
			a.broken = true
		}
		a.inFrag = false
		a.waitKey, a.needKey = true, true
	}
	a.started, a.lastSeq = true, p.SequenceNumber
	if len(p.Payload) == 0 {
		return nil, nil // padding
	}
	if a.open && p.Timestamp != a.cur.rtpTime {
		done = a.finish()
	}
	if !a.open {
		a.cur = av1Unit{rtpTime: p.Timestamp}
		a.open, a.broken = true, false
		if a.inFrag {
			// A fragment that runs into the next temporal unit.
			a.inFrag, a.broken = false, true
		}
	}
	err := a.payload(p.Payload)
	if err != nil {
		a.broken = true
		a.inFrag = false
	}
	if p.Marker {
		if d := a.finish(); d != nil {
			done = d
		}
	}
	return done, err
}

// finish closes the open unit and returns it unless it is damaged, empty
// or follows a loss before a key frame.
func (a *av1Assembler) finish() *av1Unit {
	a.open = false
	u := a.cur
	a.cur = av1Unit{}
	if a.inFrag {
		a.inFrag, a.broken = false, true // the rest of the OBU never came
	}
	if a.broken {
		a.waitKey, a.needKey = true, true
		return nil
	}
	if len(u.obus) == 0 {
		return nil
	}
	if a.waitKey {
		if !u.key {
			return nil
		}
		a.waitKey = false
	}
	return &u
}

// payload depacketizes one RTP payload into the open unit.
func (a *av1Assembler) payload(b []byte) error {
	if len(b) < 2 {
		return errAV1Short
	}
	agg := b[0]
	z, y, w := agg&0x80 != 0, agg&0x40 != 0, int(agg>>4)&3
	b = b[1:]
	for i := 0; len(b) > 0; i++ {
		var elem []byte
		if w == 0 || i < w-1 {
			n, l, ok := leb128(b)
			if !ok || n == 0 || n > uint64(len(b)-l) {
				return errAV1Short
			}
			elem, b = b[l:l+int(n)], b[l+int(n):]
		} else {
			elem, b = b, nil
		}
		if w != 0 && i >= w {
			return errAV1Short // more elements than W says
		}
		first, last := i == 0, len(b) == 0
		if first && z {
			if !a.inFrag {
				return errAV1Fragment
			}
			if len(a.frag)+len(elem) > maxAccessUnit {
				return errAV1TooLarge
			}
			a.frag = append(a.frag, elem...)
			if last && y {
				continue // a middle fragment
			}
			a.inFrag = false
			if err := a.obu(a.frag); err != nil {
				return err
			}
			continue
		}
		if first && a.inFrag {
			return errAV1Fragment // the continuation never came
		}
		if last && y {
			if len(elem) > maxAccessUnit {
				return errAV1TooLarge
			}
			a.frag = append(a.frag[:0], elem...)
			a.inFrag = true
			continue
		}
		if err := a.obu(elem); err != nil {
			return err
		}
	}
	return nil
}

// obu adds one whole OBU to the open unit, with the size field MP4 wants.
func (a *av1Assembler) obu(o []byte) error {
	if len(o) == 0 || o[0]&obuForbiddenBit != 0 {
		return errAV1OBU
	}
	typ := (o[0] >> 3) & 0x0f
	hl := 1
	if o[0]&obuExtensionFlag != 0 {
		hl = 2
	}
	if len(o) < hl {
		return errAV1OBU
	}
	payload := o[hl:]
	if o[0]&obuHasSizeField != 0 {
		n, l, ok := leb128(payload)
		if !ok || n > uint64(len(payload)-l) {
			return errAV1OBU
		}
		payload = payload[l : l+int(n)]
	}
	switch typ {
	case obuTemporalDelimiter, obuTileList, obuPadding:
		return nil // not carried in RTP or in MP4 samples
	case obuFrameHeader, obuFrame:
		// uncompressed_header: show_existing_frame(1) frame_type(2)
		// show_frame(1) (WebRTC streams have no reduced still-picture
		// header).
		if len(payload) > 0 && payload[0]&0x80 == 0 && (payload[0]>>5)&3 == 0 && payload[0]&0x10 != 0 {
			a.cur.key = true
		}
	}
	if len(a.cur.obus)+hl+maxLEB128Bytes+len(payload) > maxAccessUnit {
		return errAV1TooLarge
	}
	start := len(a.cur.obus)
	a.cur.obus = append(a.cur.obus, o[0]|obuHasSizeField)
	a.cur.obus = append(a.cur.obus, o[1:hl]...)
	a.cur.obus = appendLEB128(a.cur.obus, uint64(len(payload)))
	a.cur.obus = append(a.cur.obus, payload...)
	if typ == obuSequenceHeader {
		a.cur.seqHdr = a.cur.obus[start:len(a.cur.obus):len(a.cur.obus)]
	}
	return nil
}

// leb128 reads an unsigned LEB128 value (AV1 section 4.10.5) and its
// length in bytes.
func leb128(b []byte) (v uint64, n int, ok bool) {
	for n = 0; n < maxLEB128Bytes && n < len(b); n++ {
		v |= uint64(b[n]&0x7f) << (7 * n)
		if b[n]&0x80 == 0 {
			return v, n + 1, true
		}
	}
	return 0, 0, false
}

func appendLEB128(dst []byte, v uint64) []byte {
	for ; v >= 0x80; v >>= 7 {
		dst = append(dst, byte(v)|0x80)
	}
	return append(dst, byte(v))
}

// av1Track builds the video Track of an AV1 stream from its sequence
// header OBU (with its size field): an av01 sample entry whose av1C holds
// the sequence header as its configOBUs.
func av1Track(seqHdr []byte) (t *segment.Track, err error) {
	defer func() {
		if r := recover(); r != nil {
			t, err = nil, fmt.Errorf("malformed AV1 sequence header: %v", r)
		}
	}()
	hl := 1
	if len(seqHdr) > 0 && seqHdr[0]&obuExtensionFlag != 0 {
		hl = 2
	}
	if len(seqHdr) < hl {
		return nil, errAV1OBU
	}
	_, l, ok := leb128(seqHdr[hl:])
	if !ok {
		return nil, errAV1OBU
	}
	sh, err := av1.ParseSequenceHeader(seqHdr[hl+l:])
	if err != nil {
		return nil, fmt.Errorf("AV1 sequence header: %w", err)
	}
	w, h := sh.Width(), sh.Height()
	if w == 0 || h == 0 || w > 1<<15 || h > 1<<15 {
		return nil, fmt.Errorf("AV1 sequence header: picture size %dx%d", w, h)
	}
	rec := av1.CodecConfRecFromSequenceHeader(sh, append([]byte(nil), seqHdr...))
	return &segment.Track{
		Kind: segment.KindVideo, Timescale: videoClock, Width: int(w), Height: int(h),
		Codec:       av1.CodecString("av01", sh),
		SampleEntry: mp4.CreateVisualSampleEntryBox("av01", uint16(w), uint16(h), &mp4.Av1CBox{CodecConfRec: rec}),
	}, nil
}

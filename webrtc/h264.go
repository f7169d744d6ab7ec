package webrtc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/Eyevinn/mp4ff/avc"
	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/pion/rtp"

	"github.com/cmafkit/cmafkit/segment"
)

// maxAccessUnit bounds one assembled access unit (and so the memory one
// video track holds between two marker bits).
const maxAccessUnit = 8 << 20

// H.264 NAL unit types (H.264 table 7-1) and RTP payload structures (RFC
// 6184 section 5.2).
const (
	nalIDR   = 5
	nalSEI   = 6
	nalSPS   = 7
	nalPPS   = 8
	nalAUD   = 9
	nalSTAPA = 24
	nalFUA   = 28
)

// Errors of malformed H.264 RTP payloads (the access unit is dropped).
var (
	errShortPayload = errors.New("short H.264 RTP payload")
	errNALType      = errors.New("unsupported H.264 RTP payload type")
	errFragment     = errors.New("H.264 fragment without its start")
	errTooLarge     = errors.New("H.264 access unit too large")
)

// accessUnit is one assembled H.264 picture.
type accessUnit struct {
	rtpTime uint32
	nalus   []byte // 4-byte length-prefixed NAL units, SPS and PPS removed
	key     bool   // holds an IDR slice
	sps     []byte // the last SPS and PPS seen in it, nil if none
	pps     []byte
}

// h264Assembler turns RTP packets of one H.264 stream (RFC 6184,
// packetization mode 0 or 1: single NAL units, STAP-A, FU-A) into access
// units: the packets of one RTP timestamp up to the one with the marker
// bit. A gap in sequence numbers drops the damaged unit and every unit
// after it until the next IDR; NeedKey reports that a keyframe should be
// requested.
type h264Assembler struct {
	started bool
	lastSeq uint16
	cur     accessUnit
	open    bool // cur holds packets
	broken  bool // cur lost a packet
	fu      []byte
	inFU    bool
	waitKey bool // drop until an IDR
	needKey bool // a keyframe should be requested
}

// push takes the next packet in arrival order and returns the access unit
// it completes, if any.
func (a *h264Assembler) push(p *rtp.Packet) (*accessUnit, error) {
	var done *accessUnit
	if a.started && p.SequenceNumber != a.lastSeq+1 {
		if int16(p.SequenceNumber-a.lastSeq) <= 0 {
			return nil, nil // duplicate or late: already given up on
		}
		a.loss()
	}
	a.started, a.lastSeq = true, p.SequenceNumber
	if len(p.Payload) == 0 {
		// Padding only (RFC 3550 5.1; senders probe bandwidth with
		// these): it takes a sequence number and nothing else.
		return nil, nil
	}
	if a.open && p.Timestamp != a.cur.rtpTime {
		// A new timestamp without a marker on the last packet: the unit
		// before is complete as far as it goes.
		done = a.finish()
	}
	if !a.open {
		a.cur = accessUnit{rtpTime: p.Timestamp}
		a.open, a.broken, a.inFU = true, false, false
		a.fu = a.fu[:0]
	}
	err := a.payload(p.Payload)
	if err != nil {
		a.broken = true
	}
	if p.Marker {
		if d := a.finish(); d != nil {
			done = d
		}
	}
	return done, err
}

// loss marks the open unit damaged and waits for a keyframe.
func (a *h264Assembler) loss() {
	if a.open {
		a.broken = true
	}
	a.inFU = false
	a.waitKey, a.needKey = true, true
}

// finish closes the open unit and returns it unless it is damaged, empty
// or follows a loss before an IDR.
func (a *h264Assembler) finish() *accessUnit {
	a.open = false
	au := a.cur
	a.cur = accessUnit{}
	if a.inFU {
		a.broken = true // the last fragment never came
	}
	if a.broken {
		a.waitKey, a.needKey = true, true
		return nil
	}
	if len(au.nalus) == 0 && au.sps == nil {
		return nil
	}
	if a.waitKey {
		if !au.key {
			return nil
		}
		a.waitKey = false
	}
	return &au
}

// payload depacketizes one RTP payload into the open unit.
func (a *h264Assembler) payload(b []byte) error {
	if len(b) < 1 {
		return errShortPayload
	}
	switch t := b[0] & 0x1f; {
	case t >= 1 && t <= 23:
		return a.nal(b)
	case t == nalSTAPA:
		for b = b[1:]; len(b) > 0; {
			if len(b) < 2 {
				return errShortPayload
			}
			n := int(binary.BigEndian.Uint16(b))
			b = b[2:]
			if n == 0 || n > len(b) {
				return errShortPayload
			}
			if err := a.nal(b[:n]); err != nil {
				return err
			}
			b = b[n:]
		}
		return nil
	case t == nalFUA:
		if len(b) < 3 {
			return errShortPayload
		}
		start, end := b[1]&0x80 != 0, b[1]&0x40 != 0
		if start {
			a.fu = append(a.fu[:0], b[0]&0xe0|b[1]&0x1f)
			a.inFU = true
		} else if !a.inFU {
			return errFragment
		}
		if len(a.fu)+len(b)-2 > maxAccessUnit {
			a.inFU = false
			return errTooLarge
		}
		a.fu = append(a.fu, b[2:]...)
		if end {
			a.inFU = false
			return a.nal(a.fu)
		}
		return nil
	default:
		return fmt.Errorf("%w %d", errNALType, t)
	}
}

// nal adds one NAL unit to the open unit.
func (a *h264Assembler) nal(n []byte) error {
	if len(n) == 0 || n[0]&0x80 != 0 {
		return errShortPayload // forbidden_zero_bit set
	}
	switch n[0] & 0x1f {
	case nalSPS:
		a.cur.sps = append(a.cur.sps[:0], n...)
		return nil
	case nalPPS:
		a.cur.pps = append(a.cur.pps[:0], n...)
		return nil
	case nalAUD:
		return nil // access unit delimiters are optional in MP4
	case nalIDR:
		a.cur.key = true
	}
	if len(a.cur.nalus)+4+len(n) > maxAccessUnit {
		return errTooLarge
	}
	a.cur.nalus = binary.BigEndian.AppendUint32(a.cur.nalus, uint32(len(n)))
	a.cur.nalus = append(a.cur.nalus, n...)
	return nil
}

// avcConfig is the parameter sets a video track was declared with.
type avcConfig struct {
	sps, pps []byte
}

func (c avcConfig) equal(o avcConfig) bool {
	return bytes.Equal(c.sps, o.sps) && bytes.Equal(c.pps, o.pps)
}

// avcTrack builds the video Track for an SPS and PPS: an avc1 sample entry
// with their avcC, on a 90 kHz timescale (the RTP clock of H.264). It
// recovers from panics of the SPS parser on malformed input.
func avcTrack(c avcConfig) (t *segment.Track, err error) {
	defer func() {
		if r := recover(); r != nil {
			t, err = nil, fmt.Errorf("malformed H.264 SPS: %v", r)
		}
	}()
	p, err := avc.ParseSPSNALUnit(c.sps, true)
	if err != nil {
		return nil, fmt.Errorf("H.264 SPS: %w", err)
	}
	if p.Width == 0 || p.Height == 0 || p.Width > 1<<15 || p.Height > 1<<15 {
		return nil, fmt.Errorf("H.264 SPS: picture size %dx%d", p.Width, p.Height)
	}
	cfg, err := mp4.CreateAvcC([][]byte{c.sps}, [][]byte{c.pps}, true)
	if err != nil {
		return nil, fmt.Errorf("H.264 configuration: %w", err)
	}
	return &segment.Track{
		Kind: segment.KindVideo, Timescale: videoClock, Width: int(p.Width), Height: int(p.Height),
		Codec:       avc.CodecString("avc1", p),
		SampleEntry: mp4.CreateVisualSampleEntryBox("avc1", uint16(p.Width), uint16(p.Height), cfg),
	}, nil
}

// opusTrack builds the audio Track for Opus received over RTP: an Opus
// sample entry with its dOps (RFC 7587: the RTP clock is 48 kHz whatever
// the input rate; WebRTC sends stereo-capable streams with the usual
// 312-sample pre-skip of libopus).
func opusTrack(channels uint16) *segment.Track {
	if channels == 0 {
		channels = 2
	}
	d := &mp4.DopsBox{OutputChannelCount: uint8(channels), PreSkip: 312, InputSampleRate: 48000}
	return &segment.Track{
		Kind: segment.KindAudio, Timescale: audioClock, SampleRate: audioClock, Channels: int(channels), Codec: "opus",
		SampleEntry: mp4.CreateAudioSampleEntryBox("Opus", channels, 16, audioClock, d),
	}
}

// RTP clock rates of the codecs (RFC 6184, RFC 7587).
const (
	videoClock = 90000
	audioClock = 48000
)

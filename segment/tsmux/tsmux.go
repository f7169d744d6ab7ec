// Package tsmux writes the segments of a track as MPEG-2 transport stream
// (ISO/IEC 13818-1) segments for HLS (RFC 8216 3.2).
//
// A Muxer writes one elementary stream per segment, as HLS renditions carry
// one each: H.264 or HEVC video in Annex B form (an access unit delimiter
// first, the parameter sets of the sample entry before every sync sample),
// AAC audio as ADTS frames, AC-3 and E-AC-3 as they are. Every segment
// starts with a PAT and a PMT, so it can be decoded on its own. Continuity
// counters run on from one segment to the next, which is why a Muxer writes
// the segments of its track in order.
//
// NewSampleAES makes a Muxer that encrypts H.264 and AAC with HLS
// SAMPLE-AES.
package tsmux

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/cmafkit/cmafkit/segment"
)

// ErrUnsupported is wrapped by errors for tracks MPEG-TS segments cannot
// carry (AV1, Dolby Vision without a base layer, text, ...).
var ErrUnsupported = errors.New("tsmux: codec not supported in MPEG-TS segments")

// TimestampOffset is added, in 90 kHz ticks, to every presentation time
// before it is written as a PTS: the output timeline starts at zero, and
// the decode times of B-frames lie before it. 1.4 s, as ffmpeg's muxer
// starts.
const TimestampOffset = 126000

// PIDs of the tables and of the elementary stream.
const (
	pidPAT   = 0x0000
	pidPMT   = 0x1000
	pidVideo = 0x0100
	pidAudio = 0x0101
)

const packetSize = 188

// codec is what the muxer does with a track's samples.
type codec int

const (
	codecH264 codec = iota + 1
	codecHEVC
	codecAAC
	codecAC3
	codecEAC3
)

// Muxer writes the segments of one track as MPEG-TS. It is not safe for
// concurrent use.
type Muxer struct {
	track      *segment.Track
	codec      codec
	pid        uint16
	streamID   byte
	streamType byte
	lengthSize int
	// paramSets are the parameter sets of the sample entry in Annex B form
	// (VPS, SPS, PPS), written before every sync sample.
	paramSets []byte
	// adts is the fixed part of the ADTS header of AAC frames.
	adts [7]byte
	asc  []byte // AAC: the AudioSpecificConfig
	// enc, when set, encrypts the samples with SAMPLE-AES (NewSampleAES).
	enc     *sampleAES
	scratch []byte
	// cc holds the next continuity counter of each PID.
	cc map[uint16]byte

	sample []byte // one sample's payload
	pes    []byte // one PES packet's payload
	pkt    [packetSize]byte
}

// New returns a Muxer for t, or an error wrapping ErrUnsupported when its
// codec has no MPEG-TS form here.
func New(t *segment.Track) (*Muxer, error) {
	m := &Muxer{track: t, cc: map[uint16]byte{}}
	switch e := t.SampleEntry.(type) {
	case *mp4.VisualSampleEntryBox:
		m.pid, m.streamID = pidVideo, 0xE0
		switch e.Type() {
		case "avc1", "avc3":
			if e.AvcC == nil {
				return nil, fmt.Errorf("tsmux: %s: %s without avcC", t, e.Type())
			}
			m.codec, m.streamType, m.lengthSize = codecH264, 0x1B, 4
			for _, n := range e.AvcC.SPSnalus {
				m.paramSets = appendNAL(m.paramSets, n)
			}
			for _, n := range e.AvcC.PPSnalus {
				m.paramSets = appendNAL(m.paramSets, n)
			}
		case "hvc1", "hev1":
			if e.HvcC == nil {
				return nil, fmt.Errorf("tsmux: %s: %s without hvcC", t, e.Type())
			}
			m.codec, m.streamType, m.lengthSize = codecHEVC, 0x24, int(e.HvcC.LengthSizeMinusOne)+1
			for _, typ := range []byte{32, 33, 34} { // VPS, SPS, PPS
				for _, a := range e.HvcC.NaluArrays {
					if byte(a.NaluType()) == typ {
						for _, n := range a.Nalus {
							m.paramSets = appendNAL(m.paramSets, n)
						}
					}
				}
			}
		default:
			return nil, fmt.Errorf("%w: %s: video %q (HLS with MPEG-TS segments takes H.264 and HEVC)", ErrUnsupported, t, e.Type())
		}
	case *mp4.AudioSampleEntryBox:
		m.pid = pidAudio
		switch e.Type() {
		case "mp4a":
			if e.Esds == nil || e.Esds.DecConfigDescriptor == nil || e.Esds.DecConfigDescriptor.DecSpecificInfo == nil {
				return nil, fmt.Errorf("tsmux: %s: mp4a without AudioSpecificConfig", t)
			}
			adts, err := adtsHeader(e.Esds.DecConfigDescriptor.DecSpecificInfo.DecConfig)
			if err != nil {
				return nil, fmt.Errorf("tsmux: %s: %w", t, err)
			}
			m.codec, m.streamType, m.streamID, m.adts = codecAAC, 0x0F, 0xC0, adts
			m.asc = e.Esds.DecConfigDescriptor.DecSpecificInfo.DecConfig
		case "ac-3":
			m.codec, m.streamType, m.streamID = codecAC3, 0x81, 0xBD
		case "ec-3":
			m.codec, m.streamType, m.streamID = codecEAC3, 0x87, 0xBD
		default:
			return nil, fmt.Errorf("%w: %s: audio %q (HLS with MPEG-TS segments takes AAC, AC-3 and E-AC-3)", ErrUnsupported, t, e.Type())
		}
	default:
		return nil, fmt.Errorf("%w: %s (%s)", ErrUnsupported, t, t.Codec)
	}
	if t.Timescale == 0 {
		return nil, fmt.Errorf("tsmux: %s: timescale 0", t)
	}
	return m, nil
}

// appendNAL appends nal with a four-byte start code.
func appendNAL(dst, nal []byte) []byte {
	return append(append(dst, 0, 0, 0, 1), nal...)
}

// adtsHeader returns the ADTS header (ISO/IEC 13818-7 6.2, without CRC) of
// the AudioSpecificConfig asc, with a zero frame length. HE-AAC is signalled
// as AAC-LC at the core sampling frequency (implicit SBR signalling).
func adtsHeader(asc []byte) ([7]byte, error) {
	var h [7]byte
	if len(asc) < 2 {
		return h, errors.New("AudioSpecificConfig shorter than 2 bytes")
	}
	ot := asc[0] >> 3
	freq := (asc[0]&7)<<1 | asc[1]>>7
	ch := (asc[1] >> 3) & 0xF
	switch ot {
	case 2, 5, 29: // AAC-LC, HE-AAC (SBR), HE-AACv2 (PS)
	default:
		return h, fmt.Errorf("%w: AAC object type %d in ADTS", ErrUnsupported, ot)
	}
	if freq > 12 {
		return h, fmt.Errorf("%w: sampling frequency index %d in ADTS", ErrUnsupported, freq)
	}
	profile := byte(1) // AAC-LC: profile_ObjectType 1
	h[0] = 0xFF
	h[1] = 0xF1 // MPEG-4, layer 0, no CRC
	h[2] = profile<<6 | freq<<2 | ch>>2
	h[3] = (ch & 3) << 6
	h[5] = 0x1F // buffer fullness 0x7FF (VBR)
	h[6] = 0xFC
	return h, nil
}

// WriteSegment writes one segment holding samples (consecutive samples of
// the track, in decode order, with their index entries) to w. Segments
// must be written in order for the continuity counters to run on.
func (m *Muxer) WriteSegment(ctx context.Context, w io.Writer, samples []segment.Sample) error {
	if len(samples) == 0 {
		return fmt.Errorf("tsmux: %s: segment without samples", m.track)
	}
	bw := &packetWriter{w: w}
	m.writeTables(bw)
	if m.codec == codecH264 || m.codec == codecHEVC {
		for i := range samples {
			if i%64 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			s := &samples[i]
			if err := m.videoPES(s); err != nil {
				return err
			}
			pts := m.pts(s)
			dts := pts - int64(m.ticks(int64(s.CompositionOffset)))
			m.writePES(bw, pts, dts, true, s.Sync)
			if bw.err != nil {
				return bw.err
			}
		}
		return bw.err
	}
	// Audio: frames that follow each other without a gap share a PES
	// packet, up to about 100 ms or 4 KiB: one PTS is enough for them.
	for i := 0; i < len(samples); {
		if err := ctx.Err(); err != nil {
			return err
		}
		start := i
		m.pes = m.pes[:0]
		var dur uint64
		for i < len(samples) {
			s := &samples[i]
			// With SAMPLE-AES a PES packet holds one frame: decryptors
			// differ on whether the CBC chain restarts per frame or per
			// PES packet (FFmpeg), and agree when the two are the same.
			if i > start && (m.enc != nil || s.DecodeTime != samples[i-1].DecodeTime+uint64(samples[i-1].Duration) ||
				len(m.pes)+int(s.Size) > 4096 || dur*10 >= uint64(m.track.Timescale)) {
				break
			}
			if err := m.audioFrame(s); err != nil {
				return err
			}
			dur += uint64(s.Duration)
			i++
		}
		pts := m.pts(&samples[start])
		m.writePES(bw, pts, pts, true, true)
		if bw.err != nil {
			return bw.err
		}
	}
	return bw.err
}

// ticks converts v from the track's timescale to 90 kHz.
func (m *Muxer) ticks(v int64) int64 {
	ts := int64(m.track.Timescale)
	if v >= 0 {
		return (v*90000 + ts/2) / ts
	}
	return -((-v*90000 + ts/2) / ts)
}

// pts is the 90 kHz PTS of s.
func (m *Muxer) pts(s *segment.Sample) int64 {
	return m.ticks(s.PresentationTime()-m.track.PresentationOffset) + TimestampOffset
}

// readSample reads the payload of s into m.sample.
func (m *Muxer) readSample(s *segment.Sample) error {
	var err error
	m.sample, err = m.track.Data.AppendSample(m.sample[:0], s)
	if err != nil {
		return fmt.Errorf("tsmux: %s: sample at %d: %w", m.track, s.DecodeTime, err)
	}
	if len(m.sample) != int(s.Size) {
		return fmt.Errorf("tsmux: %s: sample at %d: read %d bytes of %d", m.track, s.DecodeTime, len(m.sample), s.Size)
	}
	return nil
}

// audioFrame appends the frame of s to m.pes.
func (m *Muxer) audioFrame(s *segment.Sample) error {
	if err := m.readSample(s); err != nil {
		return err
	}
	if m.codec == codecAAC {
		n := len(m.sample) + 7
		if n > 0x1FFF {
			return fmt.Errorf("tsmux: %s: AAC frame at %d of %d bytes is too long for ADTS", m.track, s.DecodeTime, len(m.sample))
		}
		h := m.adts
		h[3] |= byte(n >> 11)
		h[4] = byte(n >> 3)
		h[5] |= byte(n&7) << 5
		m.pes = append(m.pes, h[:]...)
	}
	m.pes = append(m.pes, m.sample...)
	if m.enc != nil {
		m.enc.encryptFrame(m.pes[len(m.pes)-len(m.sample):])
	}
	return nil
}

// videoPES builds in m.pes the Annex B access unit of s: an access unit
// delimiter, the parameter sets before a sync sample (unless the sample
// carries its own), then the sample's NAL units but its delimiters.
func (m *Muxer) videoPES(s *segment.Sample) error {
	if err := m.readSample(s); err != nil {
		return err
	}
	m.pes = m.pes[:0]
	hevc := m.codec == codecHEVC
	if hevc {
		m.pes = append(m.pes, 0, 0, 0, 1, 35<<1, 1, 0x50) // AUD, pic_type 2 (any)
	} else {
		m.pes = append(m.pes, 0, 0, 0, 1, 0x09, 0xF0)
	}
	inBand := false
	if s.Sync {
		// Does the sample carry parameter sets of its own?
		for b := m.sample; len(b) > 0; {
			nal, rest, err := m.nextNAL(b, s)
			if err != nil {
				return err
			}
			b = rest
			if len(nal) > 0 && isParamSet(nal, hevc) {
				inBand = true
				break
			}
		}
		if !inBand {
			m.pes = append(m.pes, m.paramSets...)
		}
	}
	for b := m.sample; len(b) > 0; {
		nal, rest, err := m.nextNAL(b, s)
		if err != nil {
			return err
		}
		b = rest
		if len(nal) == 0 || isAUD(nal, hevc) {
			continue
		}
		if m.enc != nil {
			m.pes, m.scratch = m.enc.appendNAL(m.pes, nal, m.scratch)
			continue
		}
		m.pes = appendNAL(m.pes, nal)
	}
	return nil
}

// nextNAL splits the first length-prefixed NAL unit off b.
func (m *Muxer) nextNAL(b []byte, s *segment.Sample) (nal, rest []byte, err error) {
	if len(b) < m.lengthSize {
		return nil, nil, fmt.Errorf("tsmux: %s: sample at %d: truncated NAL unit length", m.track, s.DecodeTime)
	}
	var n int
	for _, c := range b[:m.lengthSize] {
		n = n<<8 | int(c)
	}
	b = b[m.lengthSize:]
	if n > len(b) {
		return nil, nil, fmt.Errorf("tsmux: %s: sample at %d: NAL unit of %d bytes with %d left", m.track, s.DecodeTime, n, len(b))
	}
	return b[:n], b[n:], nil
}

func isAUD(nal []byte, hevc bool) bool {
	if hevc {
		return nal[0]>>1&0x3F == 35
	}
	return nal[0]&0x1F == 9
}

func isParamSet(nal []byte, hevc bool) bool {
	if hevc {
		t := nal[0] >> 1 & 0x3F
		return t == 33 || t == 34 // SPS, PPS
	}
	t := nal[0] & 0x1F
	return t == 7 || t == 8
}

// packetWriter keeps the first write error.
type packetWriter struct {
	w   io.Writer
	err error
}

func (p *packetWriter) write(b []byte) {
	if p.err == nil {
		_, p.err = p.w.Write(b)
	}
}

// nextCC returns the continuity counter for the next packet of pid with
// payload.
func (m *Muxer) nextCC(pid uint16) byte {
	c := m.cc[pid]
	m.cc[pid] = (c + 1) & 0xF
	return c
}

// writeTables writes the PAT and the PMT, one packet each.
func (m *Muxer) writeTables(w *packetWriter) {
	// PAT: program 1 at pidPMT.
	sec := []byte{0x00, 0xB0, 0, 0x00, 0x01, 0xC1, 0x00, 0x00, 0x00, 0x01, 0xE0 | pidPMT>>8, pidPMT & 0xFF}
	m.writeSection(w, pidPAT, sec)
	// PMT: one stream, which carries the PCR.
	sec = []byte{0x02, 0xB0, 0, 0x00, 0x01, 0xC1, 0x00, 0x00, 0xE0 | byte(m.pid>>8), byte(m.pid), 0xF0, 0x00}
	var desc []byte
	switch m.codec {
	case codecAC3:
		desc = []byte{0x05, 4, 'A', 'C', '-', '3'} // registration descriptor
	case codecEAC3:
		desc = []byte{0x05, 4, 'E', 'A', 'C', '3'}
	}
	if m.enc != nil {
		desc = m.enc.descriptors(m.codec)
	}
	sec = append(sec, m.streamType, 0xE0|byte(m.pid>>8), byte(m.pid), 0xF0|byte(len(desc)>>8), byte(len(desc)))
	sec = append(sec, desc...)
	m.writeSection(w, pidPMT, sec)
}

// writeSection completes the section_length and CRC of sec and writes it
// in one packet.
func (m *Muxer) writeSection(w *packetWriter, pid uint16, sec []byte) {
	n := len(sec) - 3 + 4
	sec[1] = sec[1]&0xF0 | byte(n>>8)&0x0F
	sec[2] = byte(n)
	c := crc32MPEG(sec)
	sec = append(sec, byte(c>>24), byte(c>>16), byte(c>>8), byte(c))
	p := m.pkt[:]
	p[0], p[1], p[2], p[3] = 0x47, 0x40|byte(pid>>8), byte(pid), 0x10|m.nextCC(pid)
	p[4] = 0 // pointer_field
	k := 5 + copy(p[5:], sec)
	for ; k < packetSize; k++ {
		p[k] = 0xFF
	}
	w.write(p)
}

// writePES writes m.pes as one PES packet, with a PCR in its first
// transport packet when pcr is set and the random access indicator when
// rap is.
func (m *Muxer) writePES(w *packetWriter, pts, dts int64, pcr, rap bool) {
	const mask = 1<<33 - 1
	hdr := make([]byte, 0, 19)
	hdr = append(hdr, 0, 0, 1, m.streamID, 0, 0, 0x80)
	withDTS := dts != pts
	if withDTS {
		hdr = append(hdr, 0xC0, 10)
		hdr = appendTimestamp(hdr, 3, pts&mask)
		hdr = appendTimestamp(hdr, 1, dts&mask)
	} else {
		hdr = append(hdr, 0x80, 5)
		hdr = appendTimestamp(hdr, 2, pts&mask)
	}
	if n := len(hdr) - 6 + len(m.pes); m.codec != codecH264 && m.codec != codecHEVC && n <= 0xFFFF {
		hdr[4], hdr[5] = byte(n>>8), byte(n)
	} // video: 0, unbounded
	pcrBase := dts - 9000 // the PCR comes 100 ms before the frame is due
	if pcrBase < 0 {
		pcrBase = 0
	}
	first := true
	payload := m.pes
	for first || len(payload) > 0 {
		p := m.pkt[:]
		p[0] = 0x47
		p[1] = byte(m.pid>>8) & 0x1F
		if first {
			p[1] |= 0x40 // payload_unit_start_indicator
		}
		p[2] = byte(m.pid)
		// Adaptation field: PCR and random access on the first packet,
		// stuffing on the last.
		var af []byte
		if first && (pcr || rap) {
			flags := byte(0)
			if rap {
				flags |= 0x40
			}
			af = append(af, 0, flags)
			if pcr {
				af[1] |= 0x10
				b := uint64(pcrBase) & mask
				af = append(af, byte(b>>25), byte(b>>17), byte(b>>9), byte(b>>1), byte(b<<7)|0x7E, 0)
			}
		}
		room := packetSize - 4 - len(af)
		body := len(payload)
		if first {
			body += len(hdr)
		}
		if body < room {
			// Stuff the adaptation field to fill the packet.
			need := room - body
			if len(af) == 0 {
				if need == 1 {
					af = []byte{0}
				} else {
					af = []byte{0, 0}
					need -= 2
					for ; need > 0; need-- {
						af = append(af, 0xFF)
					}
				}
			} else {
				for ; need > 0; need-- {
					af = append(af, 0xFF)
				}
			}
		}
		k := 4
		if len(af) > 0 {
			af[0] = byte(len(af) - 1)
			p[3] = 0x30 | m.nextCC(m.pid)
			k += copy(p[k:], af)
		} else {
			p[3] = 0x10 | m.nextCC(m.pid)
		}
		if first {
			k += copy(p[k:], hdr)
			first = false
		}
		n := copy(p[k:], payload)
		payload = payload[n:]
		w.write(p)
	}
}

// appendTimestamp appends a PTS or DTS field with the 4-bit prefix.
func appendTimestamp(b []byte, prefix byte, t int64) []byte {
	return append(b,
		prefix<<4|byte(t>>29)&0x0E|1,
		byte(t>>22),
		byte(t>>14)|1,
		byte(t>>7),
		byte(t<<1)|1)
}

// crc32MPEG is the CRC-32/MPEG-2 of b (polynomial 0x04C11DB7, no
// reflection, no final XOR).
func crc32MPEG(b []byte) uint32 {
	c := uint32(0xFFFFFFFF)
	for _, x := range b {
		c ^= uint32(x) << 24
		for i := 0; i < 8; i++ {
			if c&0x80000000 != 0 {
				c = c<<1 ^ 0x04C11DB7
			} else {
				c <<= 1
			}
		}
	}
	return c
}

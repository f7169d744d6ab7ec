// Package tscue builds MPEG-TS test inputs with SCTE-35 cues: it adds an
// SCTE-35 elementary stream (stream type 0x86) to an existing transport
// stream, such as one ffmpeg wrote, which cannot write SCTE-35 itself.
package tscue

import (
	"errors"
	"fmt"
)

const pktLen = 188

// Insert is one section to add, after the original packet After (0-based,
// counting only the input's packets; it must come after the first PMT).
type Insert struct {
	After   int
	Section []byte
}

// AddSCTE35 returns ts with pid listed in every PMT as stream type 0x86
// (with the CUEI registration descriptor) and each section carried in its
// own packets on pid after the packet its Insert names. ts must be plain
// 188-byte packets, each PMT section in one packet.
func AddSCTE35(ts []byte, pid uint16, inserts []Insert) ([]byte, error) {
	if len(ts)%pktLen != 0 {
		return nil, errors.New("tscue: not 188-byte packets")
	}
	pmtPID := -1
	var out []byte
	cc := byte(0)
	for i := 0; i*pktLen < len(ts); i++ {
		p := append([]byte(nil), ts[i*pktLen:(i+1)*pktLen]...)
		if p[0] != 0x47 {
			return nil, fmt.Errorf("tscue: packet %d: no sync byte", i)
		}
		ppid := int(p[1]&0x1f)<<8 | int(p[2])
		pusi := p[1]&0x40 != 0
		if ppid == 0 && pusi && pmtPID < 0 {
			sec := p[5+int(p[4]):]
			pmtPID = int(sec[10]&0x1f)<<8 | int(sec[11])
		}
		if ppid == pmtPID && pusi {
			var err error
			if p, err = patchPMT(p, pid); err != nil {
				return nil, err
			}
		}
		out = append(out, p...)
		for _, in := range inserts {
			if in.After == i {
				out = append(out, sectionPackets(pid, in.Section, &cc)...)
			}
		}
	}
	if pmtPID < 0 {
		return nil, errors.New("tscue: no PAT")
	}
	return out, nil
}

// patchPMT adds the SCTE-35 stream to the PMT section in packet p.
func patchPMT(p []byte, pid uint16) ([]byte, error) {
	if p[3]&0x20 != 0 {
		return nil, errors.New("tscue: PMT packet with adaptation field")
	}
	ptr := int(p[4])
	start := 5 + ptr
	sec := p[start:]
	n := 3 + (int(sec[1]&0x0f)<<8 | int(sec[2]))
	if start+n+11 > pktLen {
		return nil, errors.New("tscue: PMT too long to patch")
	}
	body := append([]byte(nil), sec[:n-4]...)
	// stream_type 0x86, the PID, ES_info with the CUEI registration.
	body = append(body, 0x86, 0xE0|byte(pid>>8), byte(pid), 0xF0, 6, 0x05, 4, 'C', 'U', 'E', 'I')
	l := len(body) + 4 - 3
	body[1] = body[1]&0xF0 | byte(l>>8)
	body[2] = byte(l)
	crc := crc32MPEG(body)
	body = append(body, byte(crc>>24), byte(crc>>16), byte(crc>>8), byte(crc))
	q := append([]byte(nil), p[:start]...)
	q = append(q, body...)
	for len(q) < pktLen {
		q = append(q, 0xFF)
	}
	return q, nil
}

// sectionPackets carries one section on pid, pointer_field 0, stuffed.
func sectionPackets(pid uint16, sec []byte, cc *byte) []byte {
	data := append([]byte{0}, sec...)
	var out []byte
	first := true
	for len(data) > 0 {
		p := []byte{0x47, byte(pid >> 8 & 0x1f), byte(pid), 0x10 | *cc&0xf}
		if first {
			p[1] |= 0x40
		}
		first = false
		*cc++
		k := min(len(data), pktLen-4)
		p = append(p, data[:k]...)
		data = data[k:]
		for len(p) < pktLen {
			p = append(p, 0xFF)
		}
		out = append(out, p...)
	}
	return out
}

// MinPTS returns the smallest PTS of the PES headers of pid in ts, or of
// any PID when pid is negative (no wrap handling). Over all PIDs it is the
// presentation zero ts.Open puts at time 0.
func MinPTS(ts []byte, pid int) (int64, bool) {
	best, ok := int64(0), false
	for i := 0; i+pktLen <= len(ts); i += pktLen {
		p := ts[i : i+pktLen]
		if p[1]&0x40 == 0 || p[3]&0x10 == 0 || pid >= 0 && int(p[1]&0x1f)<<8|int(p[2]) != pid {
			continue
		}
		off := 4
		if p[3]&0x20 != 0 {
			off += 1 + int(p[4])
		}
		if off+14 > pktLen {
			continue
		}
		h := p[off:]
		if h[0] != 0 || h[1] != 0 || h[2] != 1 || h[3] < 0xC0 || h[7]&0x80 == 0 {
			continue
		}
		b := h[9:14]
		v := int64(b[0]>>1&7)<<30 | int64(b[1])<<22 | int64(b[2]>>1)<<15 | int64(b[3])<<7 | int64(b[4]>>1)
		if !ok || v < best {
			best, ok = v, true
		}
	}
	return best, ok
}

func crc32MPEG(b []byte) uint32 {
	crc := uint32(0xFFFFFFFF)
	for _, v := range b {
		crc ^= uint32(v) << 24
		for i := 0; i < 8; i++ {
			if crc&0x80000000 != 0 {
				crc = crc<<1 ^ 0x04C11DB7
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

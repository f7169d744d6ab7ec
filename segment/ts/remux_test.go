package ts

import (
	"encoding/binary"
	"testing"
)

// A small transport stream rewriter for the tests: it splits a stream into
// PES packets (of the PIDs asked for) and other packets, lets a test change
// the PES packets (their boundaries, timestamps, payloads), and
// packetises them again.

// tsItem is one element of a rebuilt stream: a packet copied as it is, or a
// PES packet written anew.
type tsItem struct {
	raw []byte
	pes *tsPES
}

// tsPES is one PES packet.
type tsPES struct {
	pid      uint16
	streamID byte
	pts, dts int64 // -1: absent
	data     []byte
}

// splitPES splits a stream of 188-byte packets into items: the packets of
// the PIDs in pids are reassembled into PES packets (placed where their
// first packet was), every other packet is kept as it is.
func splitPES(t testing.TB, b []byte, pids ...uint16) []tsItem {
	t.Helper()
	want := map[uint16]bool{}
	for _, p := range pids {
		want[p] = true
	}
	var items []tsItem
	open := map[uint16]int{} // PID -> item index of the PES being assembled
	var hdrs = map[uint16][]byte{}
	for _, p := range pkts(b) {
		pid := pidOf(p)
		if !want[pid] {
			items = append(items, tsItem{raw: p})
			continue
		}
		h := parseHeader(p)
		if !h.hasPay {
			continue
		}
		data := p[h.payload:]
		if h.pusi {
			items = append(items, tsItem{pes: &tsPES{pid: pid, pts: -1, dts: -1}})
			open[pid] = len(items) - 1
			hdrs[pid] = nil
		}
		i, ok := open[pid]
		if !ok {
			continue
		}
		e := items[i].pes
		if hdrs[pid] != nil || e.streamID == 0 {
			// Still in the header (it may span packets).
			hdr := append(hdrs[pid], data...)
			size, complete, err := pesHeaderSize(hdr)
			if err != nil {
				t.Fatalf("PES header of PID %d: %v", pid, err)
			}
			if !complete {
				hdrs[pid] = hdr
				continue
			}
			e.streamID = hdr[3]
			if hdr[7]&0x80 != 0 {
				e.pts, _ = readTS(hdr[9:14])
			}
			if hdr[7]&0x40 != 0 {
				e.dts, _ = readTS(hdr[14:19])
			}
			hdrs[pid] = nil
			data = hdr[size:]
			if l := int(hdr[4])<<8 | int(hdr[5]); l > 0 {
				e.data = make([]byte, 0, l)
			}
		}
		e.data = append(e.data, data...)
	}
	return items
}

// buildTS packetises items: raw packets as they are, PES packets as
// consecutive packets of their PID with continuity counters counted anew
// (PES_packet_length 0 for video, exact otherwise; stuffing in the
// adaptation field of the last packet).
func buildTS(items []tsItem) []byte {
	var out []byte
	cc := map[uint16]byte{}
	for _, it := range items {
		if it.raw != nil {
			out = append(out, it.raw...)
			continue
		}
		e := it.pes
		hdr := []byte{0, 0, 1, e.streamID, 0, 0, 0x80, 0, 0}
		switch {
		case e.pts >= 0 && e.dts >= 0:
			hdr[7], hdr[8] = 0xC0, 10
			hdr = appendTS(appendTS(hdr, 3, e.pts), 1, e.dts)
		case e.pts >= 0:
			hdr[7], hdr[8] = 0x80, 5
			hdr = appendTS(hdr, 2, e.pts)
		}
		if n := len(hdr) - 6 + len(e.data); e.streamID&0xF0 != 0xE0 && n <= 0xFFFF {
			binary.BigEndian.PutUint16(hdr[4:], uint16(n))
		}
		pay := append(hdr, e.data...)
		for first := true; len(pay) > 0 || first; first = false {
			p := make([]byte, tsLen)
			p[0], p[1], p[2] = 0x47, byte(e.pid>>8), byte(e.pid)
			if first {
				p[1] |= 0x40
			}
			p[3] = 0x10 | cc[e.pid]&15
			cc[e.pid]++
			n := min(len(pay), 184)
			if n < 184 {
				p[3] |= 0x20
				p[4] = byte(183 - n)
				if n < 183 {
					p[5] = 0
					for i := 6; i < 188-n; i++ {
						p[i] = 0xFF
					}
				}
			}
			copy(p[188-n:], pay[:n])
			pay = pay[n:]
			out = append(out, p...)
		}
	}
	return out
}

// appendTS appends a 33-bit timestamp with the 4-bit prefix and marker bits.
func appendTS(b []byte, prefix byte, v int64) []byte {
	v &= 1<<33 - 1
	return append(b, prefix<<4|byte(v>>29)&0x0E|1, byte(v>>22), byte(v>>14)|1, byte(v>>7), byte(v<<1)|1)
}

// pesOf returns the PES packets of pid among items, in order.
func pesOf(items []tsItem, pid uint16) []*tsPES {
	var out []*tsPES
	for _, it := range items {
		if it.pes != nil && it.pes.pid == pid {
			out = append(out, it.pes)
		}
	}
	return out
}

// psiPacket builds a PSI packet carrying one section (table id tid,
// extension ext, body) with its CRC.
func psiPacket(pid uint16, cc byte, tid byte, ext uint16, body []byte) []byte {
	sec := []byte{tid, 0xB0, 0, byte(ext >> 8), byte(ext), 0xC1, 0, 0}
	sec = append(sec, body...)
	n := len(sec) - 3 + 4
	sec[1], sec[2] = 0xB0|byte(n>>8), byte(n)
	crc := crc32MPEG(sec)
	sec = binary.BigEndian.AppendUint32(sec, crc)
	p := make([]byte, tsLen)
	for i := range p {
		p[i] = 0xFF
	}
	p[0], p[1], p[2], p[3] = 0x47, 0x40|byte(pid>>8), byte(pid), 0x10|cc&15
	p[4] = 0 // pointer_field
	copy(p[5:], sec)
	return p
}

// pmtStream is one elementary stream of a PMT built by pmtPackets.
type pmtStream struct {
	typ  byte
	pid  uint16
	desc []byte
}

// patPMT returns a PAT (program 1 at PMT PID 0x1000) and a PMT with the
// given streams (PCR on the first).
func patPMT(cc byte, streams ...pmtStream) [][]byte {
	pat := psiPacket(0, cc, 0x00, 1, []byte{0, 1, 0xF0, 0x00})
	body := []byte{0xE0 | byte(streams[0].pid>>8), byte(streams[0].pid), 0xF0, 0}
	for _, s := range streams {
		body = append(body, s.typ, 0xE0|byte(s.pid>>8), byte(s.pid), 0xF0|byte(len(s.desc)>>8), byte(len(s.desc)))
		body = append(body, s.desc...)
	}
	return [][]byte{pat, psiPacket(0x1000, cc, 0x02, 1, body)}
}

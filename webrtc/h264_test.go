package webrtc

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
)

// lengthPrefixedOK reports whether b is 4-byte length-prefixed NAL units
// exactly filling it, none empty, none an SPS, PPS or AUD.
func lengthPrefixedOK(b []byte) bool {
	for len(b) > 0 {
		if len(b) < 5 {
			return false
		}
		n := binary.BigEndian.Uint32(b)
		if n == 0 || uint64(n) > uint64(len(b)-4) {
			return false
		}
		switch b[4] & 0x1f {
		case nalSPS, nalPPS, nalAUD:
			return false
		}
		b = b[4+n:]
	}
	return true
}

// packetize splits Annex B access units into RTP packets with pion's
// payloader (single NAL units, STAP-A, FU-A), one timestamp per unit.
func packetize(aus [][]byte, mtu uint16) []*rtp.Packet {
	var pkts []*rtp.Packet
	seq := uint16(65530) // wraps
	for i, au := range aus {
		pay := (&codecs.H264Payloader{}).Payload(mtu, au)
		for j, p := range pay {
			pkts = append(pkts, &rtp.Packet{Header: rtp.Header{SequenceNumber: seq, Timestamp: uint32(i * 3000), Marker: j == len(pay)-1}, Payload: p})
			seq++
		}
	}
	return pkts
}

func annexB(nals ...[]byte) []byte {
	var b []byte
	for _, n := range nals {
		b = append(append(b, 0, 0, 0, 1), n...)
	}
	return b
}

// TestH264Assembler checks access unit assembly from single NAL units,
// STAP-A (parameter sets) and FU-A (large slices), and the drop to the
// next IDR after a lost packet.
func TestH264Assembler(t *testing.T) {
	sps, pps := []byte{0x67, 0x42, 0xe0, 0x1f, 0x8c}, []byte{0x68, 0xce, 0x3c, 0x80}
	idr := append([]byte{0x65}, bytes.Repeat([]byte{0xab}, 3000)...) // FU-A at MTU 1200
	p1 := append([]byte{0x41}, bytes.Repeat([]byte{0xcd}, 100)...)
	p2 := append([]byte{0x41}, bytes.Repeat([]byte{0xef}, 2500)...)
	aus := [][]byte{annexB(sps, pps, idr), annexB(p1), annexB(p2), annexB(sps, pps, idr), annexB(p1)}
	pkts := packetize(aus, 1200)

	var a h264Assembler
	var got []*accessUnit
	for _, p := range pkts {
		au, err := a.push(p)
		if err != nil {
			t.Fatal(err)
		}
		if au != nil {
			got = append(got, au)
		}
	}
	if len(got) != len(aus) {
		t.Fatalf("%d access units, want %d", len(got), len(aus))
	}

	// Padding-only packets (bandwidth probes, as Chromium sends them,
	// with the last packet's timestamp or a later one) between the
	// fragments take sequence numbers and change nothing.
	var padded []*rtp.Packet
	seq := uint16(100)
	for _, p := range pkts {
		q := *p
		q.SequenceNumber = seq
		padded = append(padded, &q)
		seq++
		padded = append(padded, &rtp.Packet{Header: rtp.Header{SequenceNumber: seq, Timestamp: p.Timestamp + 7, Padding: true}})
		seq++
	}
	var c h264Assembler
	n := 0
	for _, p := range padded {
		au, err := c.push(p)
		if err != nil {
			t.Fatalf("with padding: %v", err)
		}
		if au != nil {
			n++
		}
	}
	if n != len(aus) || c.needKey {
		t.Errorf("with padding packets: %d access units (want %d), needKey %v", n, len(aus), c.needKey)
	}
	if !got[0].key || !bytes.Equal(got[0].sps, sps) || !bytes.Equal(got[0].pps, pps) || got[1].key {
		t.Errorf("first unit key %v sps %x pps %x; second key %v", got[0].key, got[0].sps, got[0].pps, got[1].key)
	}
	if want := append([]byte{0, 0, 0x0b, 0xb9}, idr...); !bytes.Equal(got[0].nalus, want) {
		t.Errorf("IDR unit: %d bytes, want %d (length-prefixed slice without parameter sets)", len(got[0].nalus), len(want))
	}
	for i, au := range got {
		if !lengthPrefixedOK(au.nalus) || au.rtpTime != uint32(i*3000) {
			t.Errorf("unit %d: malformed or at %d", i, au.rtpTime)
		}
	}

	// Lose the second packet of the FU-A of p2 (unit 2): units 2 and the
	// non-IDR after are dropped until the IDR of unit 3.
	var b h264Assembler
	got = got[:0]
	lost := 0
	for i, p := range pkts {
		if p.Timestamp == 2*3000 && lost == 0 && !p.Marker && i > 0 && pkts[i-1].Timestamp == 2*3000 {
			lost++
			continue
		}
		au, _ := b.push(p)
		if au != nil {
			got = append(got, au)
		}
	}
	if lost != 1 || len(got) != 4 || !got[2].key || got[2].rtpTime != 3*3000 || !b.needKey {
		t.Errorf("after a loss: %d units (lost %d), needKey %v", len(got), lost, b.needKey)
	}
}

// FuzzH264Assembler feeds arbitrary RTP payloads, sequence steps and
// marker bits: the assembler must never panic, and every unit it returns
// must be well-formed length-prefixed NAL units within maxAccessUnit.
func FuzzH264Assembler(f *testing.F) {
	sps, pps := []byte{0x67, 0x42, 0xe0, 0x1f, 0x8c}, []byte{0x68, 0xce, 0x3c, 0x80}
	idr := append([]byte{0x65}, bytes.Repeat([]byte{0xab}, 300)...)
	var seed []byte
	for _, p := range packetize([][]byte{annexB(sps, pps, idr), annexB([]byte{0x41, 1, 2, 3})}, 100) {
		flags := byte(1)
		if p.Marker {
			flags |= 2
		}
		seed = append(seed, byte(len(p.Payload)), flags)
		seed = append(seed, p.Payload...)
	}
	f.Add(seed)
	f.Add([]byte{3, 3, 0x7c, 0x85, 0xff, 2, 1, 0x18, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		var a h264Assembler
		var seq uint16
		var ts uint32
		for len(data) >= 2 {
			n, flags := int(data[0]), data[1]
			data = data[2:]
			if n > len(data) {
				n = len(data)
			}
			seq += uint16(flags & 1)      // 0: a duplicate
			seq += uint16(flags>>2&1) * 2 // a gap
			ts += uint32(flags>>3&1) * 3000
			p := &rtp.Packet{Header: rtp.Header{SequenceNumber: seq, Timestamp: ts, Marker: flags&2 != 0}, Payload: data[:n]}
			data = data[n:]
			au, _ := a.push(p)
			if au == nil {
				continue
			}
			if len(au.nalus) > maxAccessUnit || !lengthPrefixedOK(au.nalus) {
				t.Fatalf("malformed unit: %x", au.nalus)
			}
			if len(au.nalus) == 0 && au.sps == nil {
				t.Fatal("empty unit")
			}
		}
	})
}

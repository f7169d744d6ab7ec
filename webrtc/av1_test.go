package webrtc

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
)

// av1TestStream encodes a second of AV1 with ffmpeg (libaom, a keyframe
// every 10 frames) and returns its temporal units as low-overhead
// bitstreams, temporal delimiters included.
func av1TestStream(t testing.TB) [][]byte {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not installed")
	}
	out := filepath.Join(t.TempDir(), "v.obu")
	cmd := exec.Command("ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30", "-t", "1",
		"-c:v", "libaom-av1", "-cpu-used", "8", "-usage", "realtime", "-g", "10", "-pix_fmt", "yuv420p", "-f", "obu", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("ffmpeg cannot encode AV1: %v\n%s", err, b)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var tus [][]byte
	for len(raw) > 0 {
		hl := 1
		if raw[0]&obuExtensionFlag != 0 {
			hl = 2
		}
		n, l, ok := leb128(raw[hl:])
		if !ok || raw[0]&obuHasSizeField == 0 {
			t.Fatal("ffmpeg's OBU stream without size fields")
		}
		end := hl + l + int(n)
		if (raw[0]>>3)&0x0f == obuTemporalDelimiter || len(tus) == 0 {
			tus = append(tus, nil)
		}
		tus[len(tus)-1] = append(tus[len(tus)-1], raw[:end]...)
		raw = raw[end:]
	}
	return tus
}

// withoutTD is a temporal unit as an av01 sample holds it.
func withoutTD(tu []byte) []byte {
	var out []byte
	for len(tu) > 0 {
		hl := 1
		if tu[0]&obuExtensionFlag != 0 {
			hl = 2
		}
		n, l, _ := leb128(tu[hl:])
		end := hl + l + int(n)
		if (tu[0]>>3)&0x0f != obuTemporalDelimiter {
			out = append(out, tu[:end]...)
		}
		tu = tu[end:]
	}
	return out
}

// av1Packets packetizes temporal units with pion's AV1 payloader (small
// packets, so that OBUs are fragmented).
func av1Packets(tus [][]byte, mtu uint16) []*rtp.Packet {
	var pkts []*rtp.Packet
	var seq uint16 = 65000 // wraps
	for i, tu := range tus {
		pl := (&codecs.AV1Payloader{}).Payload(mtu, tu)
		for j, p := range pl {
			pkts = append(pkts, &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 45, SequenceNumber: seq,
				Timestamp: uint32(i * 3000), Marker: j == len(pl)-1}, Payload: p})
			seq++
		}
	}
	return pkts
}

// TestAV1Assembler packetizes an AV1 stream, with OBUs fragmented over
// packets, and checks that the assembler gives back every temporal unit,
// byte for byte, with its key frames and sequence headers, and that the
// sequence header makes an av01 track with an av1C.
func TestAV1Assembler(t *testing.T) {
	tus := av1TestStream(t)
	a := &av1Assembler{}
	var got []*av1Unit
	for _, p := range av1Packets(tus, 300) {
		u, err := a.push(p)
		if err != nil {
			t.Fatalf("packet %d: %v", p.SequenceNumber, err)
		}
		if u != nil {
			got = append(got, u)
		}
	}
	if len(got) != len(tus) {
		t.Fatalf("%d temporal units out of %d", len(got), len(tus))
	}
	keys := 0
	for i, u := range got {
		if want := withoutTD(tus[i]); !bytes.Equal(u.obus, want) {
			t.Fatalf("temporal unit %d: %d bytes, want %d", i, len(u.obus), len(want))
		}
		if u.key {
			keys++
			if i%10 != 0 {
				t.Errorf("temporal unit %d is a key frame", i)
			}
		}
		if i%10 == 0 && (!u.key || u.seqHdr == nil) {
			t.Errorf("temporal unit %d: key %v, sequence header %v; want a key frame with its sequence header", i, u.key, u.seqHdr != nil)
		}
	}
	if keys != 3 {
		t.Errorf("%d key frames, want 3", keys)
	}
	tr, err := av1Track(got[0].seqHdr)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Width != 320 || tr.Height != 240 || tr.Codec != "av01.0.04M.08" && tr.Codec[:5] != "av01." {
		t.Errorf("track %dx%d %s", tr.Width, tr.Height, tr.Codec)
	}
	if ve, ok := tr.SampleEntry.(*mp4.VisualSampleEntryBox); !ok || ve.Type() != "av01" || ve.Av1C == nil {
		t.Errorf("sample entry %T without av1C", tr.SampleEntry)
	}
	t.Logf("%d temporal units, codec %s", len(got), tr.Codec)
}

// TestAV1AssemblerLoss drops one packet: the damaged temporal unit and
// the ones after it are dropped until the next key frame, and a key frame
// is asked for.
func TestAV1AssemblerLoss(t *testing.T) {
	tus := av1TestStream(t)
	pkts := av1Packets(tus, 300)
	a := &av1Assembler{}
	var got []uint32
	for i, p := range pkts {
		if p.Timestamp == 3*3000 && !p.Marker && (i == 0 || pkts[i-1].Timestamp != p.Timestamp) {
			continue // the first packet of unit 3
		}
		u, _ := a.push(p)
		if p.Timestamp == 3*3000 && p.Marker && !a.needKey {
			t.Error("no keyframe asked for after a loss")
		}
		if u != nil {
			got = append(got, u.rtpTime/3000)
		}
	}
	if len(got) != len(tus)-7 || got[2] != 2 || got[3] != 10 {
		t.Errorf("units after a loss in unit 3: %v, want 0 1 2 10…", got)
	}
}

// FuzzAV1Assembler feeds arbitrary payloads (split into packets by the
// first bytes) to the assembler and the sequence-header parser: no panic,
// and no unit above the bound.
func FuzzAV1Assembler(f *testing.F) {
	for _, p := range av1Packets(av1TestStream(f)[:2], 200) {
		f.Add(p.Payload, p.Marker)
	}
	f.Add([]byte{0x18, 0x0a, 0x0b, 0, 0, 0, 0x24, 0x4f, 0x7e, 0x7f, 0x00, 0x68, 0x83, 0x00, 0x83, 0x02}, true)
	f.Add([]byte{0x80, 0x30, 0x01}, false)
	f.Fuzz(func(t *testing.T, payload []byte, marker bool) {
		a := &av1Assembler{}
		for i := 0; i < 3; i++ {
			u, _ := a.push(&rtp.Packet{Header: rtp.Header{SequenceNumber: uint16(i), Timestamp: 90, Marker: marker && i == 2}, Payload: payload})
			if u == nil {
				continue
			}
			if len(u.obus) > maxAccessUnit {
				t.Fatalf("unit of %d bytes", len(u.obus))
			}
			if u.seqHdr != nil {
				av1Track(u.seqHdr)
			}
		}
		// The payload as a sequence header OBU of its own.
		av1Track(append([]byte{obuSequenceHeader<<3 | obuHasSizeField, byte(len(payload) & 0x7f)}, payload...))
	})
}

package segment_test

import (
	"slices"
	"testing"

	"github.com/Eyevinn/mp4ff/sei"

	"github.com/cmafkit/cmafkit/internal/cctest"
	"github.com/cmafkit/cmafkit/segment"
)

// seiNAL returns the payload (after the NAL unit header) of an H.264 SEI
// NAL unit with the caption data of s's next frame.
func seiNAL(t testing.TB, s *cctest.Stream) []byte {
	t.Helper()
	nal, err := cctest.SEI(s.Next(), false)
	if err != nil {
		t.Fatal(err)
	}
	return nal[1:]
}

// t35 is an SEI message of type 4 with the ATSC A/53 header and cc.
func t35(cc ...byte) []byte {
	p := append(sei.CTA608ITUData().Encode(), cc...)
	return append([]byte{4, byte(len(p))}, p...)
}

// TestCaptionSyntax feeds the detector hand-made and damaged caption data:
// what is damaged is ignored without a panic, and only what is whole counts.
func TestCaptionSyntax(t *testing.T) {
	otherCountry := t35(0xc1, 0xff, 0xfc, 0x94, 0x20)
	otherCountry[2] = 0xb4
	cases := []struct {
		name  string
		sei   [][]byte
		found bool
		c608  []int
		c708  []int
	}{
		{name: "empty", sei: [][]byte{{}}},
		{name: "trailing bits only", sei: [][]byte{{0x80}}},
		{name: "size past the end", sei: [][]byte{{4, 200, 0xb5, 0, 0x31}}},
		{name: "other country", sei: [][]byte{otherCountry}},
		{name: "cc_data cut short", sei: [][]byte{t35(0xdf, 0xff, 0xfc, 0x94)}, found: true},
		{name: "process_cc_data_flag off", sei: [][]byte{t35(0x81, 0xff, 0xfc, 0x94, 0x20)}},
		// RCL on CC1 (0x14 0x20 with parity: 0x94 0x20), then the same
		// with a parity error in the second byte (0xa0).
		{name: "RCL CC1", sei: [][]byte{t35(0xc1, 0xff, 0xfc, 0x94, 0x20)}, found: true, c608: []int{1}},
		{name: "parity error", sei: [][]byte{t35(0xc1, 0xff, 0xfc, 0x94, 0xa0)}, found: true},
		{name: "cc_valid off", sei: [][]byte{t35(0xc1, 0xff, 0xf8, 0x94, 0x20)}, found: true},
		// Field 2, second channel, 0x1d 0x29 (RDC) = CC4.
		{name: "RDC CC4", sei: [][]byte{t35(0xc1, 0xff, 0xfd, 0x9d, 0x29)}, found: true, c608: []int{4}},
		// A DTVCC packet (size code 2: 4 bytes) with a 2-byte block of
		// service 3, split over two SEI messages.
		{name: "708 over two frames", sei: [][]byte{t35(0xc1, 0xff, 0xff, 0x02, 0x62), t35(0xc1, 0xff, 0xfe, 'H', 'I')}, found: true, c708: []int{3}},
		// The block claims 5 bytes, the packet holds 2: not counted.
		{name: "708 block past the packet", sei: [][]byte{t35(0xc2, 0xff, 0xff, 0x02, 0x65, 0xfe, 'H', 'I')}, found: true},
		// A 2-byte packet whose extended service header lacks its second
		// byte, then a 2-byte packet with an empty block of service 1.
		{name: "708 extended cut", sei: [][]byte{t35(0xc1, 0xff, 0xff, 0x01, 0xe1)}, found: true},
		{name: "708 empty block", sei: [][]byte{t35(0xc1, 0xff, 0xff, 0x01, 0x20)}, found: true},
		// Extended service 40 with a 1-byte block: 0xe1, 40, 'X', padding.
		{name: "708 extended", sei: [][]byte{t35(0xc2, 0xff, 0xff, 0x02, 0xe1, 0xfe, 40, 'X')}, found: true, c708: []int{40}},
		// A continuation without a start is ignored; a new start ends a
		// packet cut short, whose whole blocks count (service 2, 1 byte).
		{name: "708 cut by a new start", sei: [][]byte{t35(0xc4, 0xff, 0xfe, 0x41, 'Z', 0xff, 0x10, 0x41, 0xfe, 'A', 0x00, 0xff, 0x01, 0x00)}, found: true, c708: []int{2}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := segment.CaptionsOfSEI(c.sei...)
			if got.Found != c.found || !slices.Equal(got.CEA608, c.c608) || !slices.Equal(got.CEA708, c.c708) {
				t.Errorf("got %+v, want found %v, 608 %v, 708 %v", got, c.found, c.c608, c.c708)
			}
		})
	}
}

// FuzzCaptionSEI feeds arbitrary SEI NAL unit payloads, seeded with
// well-formed caption data, to the detector: it must not panic, and what it
// reports must be in range.
func FuzzCaptionSEI(f *testing.F) {
	var s cctest.Stream
	s.PopOn(1, "HELLO")
	s.PopOn(3, "HOLA")
	s.Service(1, []byte("HI"))
	s.Service(40, []byte("EXT"))
	for s.Pending() {
		f.Add(seiNAL(f, &s))
	}
	f.Add(t35(0xc1, 0xff, 0xfd, 0x9d, 0x29))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 1024 {
			// Caption SEI NAL units are a few hundred bytes; longer inputs
			// only make the fuzzer's minimization slow.
			return
		}
		// Twice: state carried from one SEI to the next (DTVCC packets).
		got := segment.CaptionsOfSEI(b, b)
		for _, ch := range got.CEA608 {
			if ch < 1 || ch > 4 {
				t.Fatalf("CEA-608 channel %d", ch)
			}
		}
		for _, svc := range got.CEA708 {
			if svc < 1 || svc > 63 {
				t.Fatalf("CEA-708 service %d", svc)
			}
		}
		if (len(got.CEA608) > 0 || len(got.CEA708) > 0) && !got.Found {
			t.Fatal("services without caption data")
		}
	})
}

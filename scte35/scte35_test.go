package scte35

import (
	"bytes"
	"encoding/base64"
	"errors"
	"reflect"
	"testing"
)

func sample(t testing.TB, i int) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(specSamples[i].b64)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Every sample of the specification parses and encodes back to its bytes.
func TestSpecSamplesRoundTrip(t *testing.T) {
	for i, s := range specSamples {
		b := sample(t, i)
		sec, err := Parse(b)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		out, err := sec.Encode()
		if err != nil {
			t.Fatalf("%s: encode: %v", s.name, err)
		}
		if !bytes.Equal(out, b) {
			t.Errorf("%s: encodes to\n% x\nwant\n% x", s.name, out, b)
		}
	}
}

// The fields of samples 14.1 and 14.2 as the specification lists them.
func TestSpecSampleFields(t *testing.T) {
	sec, err := Parse(sample(t, 0))
	if err != nil {
		t.Fatal(err)
	}
	ts, ok := sec.Command.(*TimeSignal)
	if !ok || ts.SpliceTime == nil || *ts.SpliceTime != 0x072BD0050 {
		t.Errorf("14.1 command %#v, want time_signal at 0x072BD0050", sec.Command)
	}
	sd, ok := sec.Descriptors[0].(*SegmentationDescriptor)
	if !ok {
		t.Fatalf("14.1 descriptor %#v", sec.Descriptors[0])
	}
	if sd.EventID != 0x4800008E || sd.TypeID != SegProviderPlacementOpportunityStart || !sd.BreakStart() ||
		sd.Duration == nil || *sd.Duration != 0x0001A599B0 || sd.UPIDType != 0x08 ||
		!bytes.Equal(sd.UPID, []byte{0, 0, 0, 0, 0x2c, 0xa0, 0xa1, 0x8a}) || sd.SegmentNum != 2 {
		t.Errorf("14.1 segmentation descriptor %+v", sd)
	}
	if got := Duration(*sd.Duration).Seconds(); got != 307 {
		t.Errorf("14.1 duration %v s, want 307", got)
	}

	sec, err = Parse(sample(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	si, ok := sec.Command.(*SpliceInsert)
	if !ok {
		t.Fatalf("14.2 command %#v", sec.Command)
	}
	if si.EventID != 0x4800008F || !si.OutOfNetwork || !si.ProgramSplice || si.Immediate ||
		si.SpliceTime == nil || *si.SpliceTime != 0x07369C02E ||
		si.BreakDuration == nil || !si.BreakDuration.AutoReturn || si.BreakDuration.Duration != 0x00052CCF5 {
		t.Errorf("14.2 splice_insert %+v (break %+v)", si, si.BreakDuration)
	}
	raw, ok := sec.Descriptors[0].(*RawDescriptor)
	if !ok || raw.DescriptorTag != TagAvail || raw.Identifier != IdentifierCUEI || !bytes.Equal(raw.Data, []byte{0, 0, 1, 0x35}) {
		t.Errorf("14.2 avail descriptor %#v", sec.Descriptors[0])
	}
}

// A flipped bit anywhere is caught by the CRC before a field is read.
func TestCRC(t *testing.T) {
	b := sample(t, 1)
	for i := 3; i < len(b); i++ {
		c := bytes.Clone(b)
		c[i] ^= 0x10
		if _, err := Parse(c); !errors.Is(err, ErrCRC) {
			t.Fatalf("bit flipped in byte %d: %v, want ErrCRC", i, err)
		}
	}
}

// Every truncation is refused with a typed error naming a field.
func TestTruncated(t *testing.T) {
	b := sample(t, 3)
	for n := 0; n < len(b); n++ {
		_, err := Parse(b[:n])
		var se *SyntaxError
		if !errors.As(err, &se) || se.Field == "" {
			t.Fatalf("%d of %d bytes: %v, want a *SyntaxError", n, len(b), err)
		}
	}
}

// A section whose lengths lie (fixed up with a valid CRC) is refused, not
// read past its end.
func TestLyingLengths(t *testing.T) {
	sec, err := Parse(sample(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	good, _ := sec.Encode()
	for _, tc := range []struct {
		name string
		at   int
		v    byte
	}{
		{"splice_command_length", 12, 0x30},
		{"descriptor_loop_length", 35, 0x40},
		{"descriptor_length", 37, 0x30},
	} {
		b := bytes.Clone(good)
		b[tc.at] = tc.v
		crc := crc32MPEG(b[:len(b)-4])
		b[len(b)-4], b[len(b)-3], b[len(b)-2], b[len(b)-1] = byte(crc>>24), byte(crc>>16), byte(crc>>8), byte(crc)
		_, err := Parse(b)
		var se *SyntaxError
		if !errors.As(err, &se) || se.Field != tc.name {
			t.Errorf("%s set to 0x%02x: %v, want an error naming it", tc.name, tc.v, err)
		}
	}
}

// Sections built in code encode and parse back to themselves, the other
// commands and descriptors kept as bytes.
func TestBuildRoundTrip(t *testing.T) {
	pts, dur := uint64(1<<33-1), uint64(30*Ticks)
	for _, sec := range []*Section{
		{SAPType: 3, Tier: 0xFFF, Command: &SpliceNull{}},
		{SAPType: 3, Tier: 0xFFF, PTSAdjustment: 12345, Command: &SpliceInsert{EventID: 7, OutOfNetwork: true, ProgramSplice: true,
			SpliceTime: &pts, BreakDuration: &BreakDuration{AutoReturn: true, Duration: dur}, UniqueProgramID: 9, AvailNum: 1, AvailsExpected: 2}},
		{SAPType: 3, Tier: 0xFFF, Command: &SpliceInsert{EventID: 8, Immediate: true, Components: []Component{{Tag: 1}, {Tag: 2}}}},
		{SAPType: 3, Tier: 0xFFF, Command: &SpliceInsert{EventID: 9, Components: []Component{{Tag: 1, SpliceTime: &pts}}}},
		{SAPType: 3, Tier: 0xFFF, Command: &SpliceInsert{EventID: 10, Cancel: true}},
		{SAPType: 3, Tier: 0xFFF, Command: &TimeSignal{}, Descriptors: []Descriptor{
			&SegmentationDescriptor{EventID: 1, Components: []SegmentationComponent{{Tag: 3, PTSOffset: 99}}, DeliveryNotRestricted: true,
				UPIDType: 0x0C, UPID: []byte("abc"), TypeID: SegDistributorPlacementOpportunityStart, SubSegments: &[2]uint8{1, 3}},
			&SegmentationDescriptor{EventID: 2, Cancel: true},
			&RawDescriptor{DescriptorTag: 0x80, Identifier: 0x41424344, Data: []byte{1, 2, 3}},
		}},
		{SAPType: 3, Tier: 0xFFF, Command: &RawCommand{CommandType: TypePrivateCommand, Data: []byte{0x43, 0x55, 0x45, 0x49, 0xaa}}},
		{SAPType: 3, Tier: 0xFFF, Encrypted: []byte{1, 2, 3, 4, 5, 6, 7, 8}, EncryptionAlgorithm: 1},
	} {
		b, err := sec.Encode()
		if err != nil {
			t.Fatalf("%T: %v", sec.Command, err)
		}
		got, err := Parse(b)
		if err != nil {
			t.Fatalf("%T: %v\n% x", sec.Command, err, b)
		}
		if !reflect.DeepEqual(got, sec) {
			t.Errorf("round trip of %#v gives %#v", sec, got)
		}
	}
}

func FuzzParse(f *testing.F) {
	for i := range specSamples {
		f.Add(sample(f, i))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		// Most mutations break the CRC; give every other one a valid CRC
		// so that the field parsers are exercised too.
		if len(b) > 4 && b[len(b)-1]&1 == 1 {
			crc := crc32MPEG(b[:len(b)-4])
			b[len(b)-4], b[len(b)-3], b[len(b)-2], b[len(b)-1] = byte(crc>>24), byte(crc>>16), byte(crc>>8), byte(crc)
		}
		sec, err := Parse(b)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		out, err := sec.Encode()
		if err != nil {
			t.Fatalf("a parsed section does not encode: %v", err)
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("an encoded section does not parse: %v\n% x", err, out)
		}
		if !reflect.DeepEqual(again, sec) {
			t.Fatalf("round trip differs:\n%#v\n%#v", sec, again)
		}
	})
}

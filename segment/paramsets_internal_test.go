package segment

import (
	"bytes"
	"context"
	"log/slog"
	"testing"

	"github.com/Eyevinn/mp4ff/mp4"
)

// TestParameterSetsInBandOnly: an avc3 track whose sample entry carries no
// parameter sets gets the in-band ones moved into its avc1 sample entry.
func TestParameterSetsInBandOnly(t *testing.T) {
	src, err := OpenFile(context.Background(), "../testdata/avc3.mp4", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	conv := src.Tracks[0]
	// Rebuild the track as it was in the file, minus the avcC parameter sets.
	orig := *conv
	orig.Index = conv.Index.(*strippedIndex).inner
	orig.Data = conv.Data.(*strippedData).inner
	e, err := cloneBox(conv.SampleEntry)
	if err != nil {
		t.Fatal(err)
	}
	vse := e.(*mp4.VisualSampleEntryBox)
	wantSPS, wantPPS := vse.AvcC.SPSnalus, vse.AvcC.PPSnalus
	vse.SetType("avc3")
	vse.AvcC.SPSnalus, vse.AvcC.PPSnalus = nil, nil
	orig.SampleEntry = vse
	orig.Codec = "avc3" + conv.Codec[4:]

	var logs bytes.Buffer
	if err := resolveParameterSets(context.Background(), &orig, slog.New(slog.NewTextHandler(&logs, nil))); err != nil {
		t.Fatal(err)
	}
	got := orig.SampleEntry.(*mp4.VisualSampleEntryBox)
	if got.Type() != "avc1" || orig.Codec != conv.Codec {
		t.Fatalf("entry %s codec %s, want avc1 and %s", got.Type(), orig.Codec, conv.Codec)
	}
	if len(got.AvcC.SPSnalus) != 1 || !bytes.Equal(got.AvcC.SPSnalus[0], wantSPS[0]) ||
		len(got.AvcC.PPSnalus) != 1 || !bytes.Equal(got.AvcC.PPSnalus[0], wantPPS[0]) {
		t.Errorf("avcC parameter sets not taken from the samples")
	}
	if !bytes.Contains(logs.Bytes(), []byte("samples_stripped=2")) {
		t.Errorf("log %q: want 2 samples stripped", logs.String())
	}
}

// TestParamSetID reads parameter set IDs from hand-made NAL units.
func TestParamSetID(t *testing.T) {
	avc := nalSyntax{lengthSize: 4}
	hevcS := nalSyntax{hevc: true, lengthSize: 4}
	for _, tc := range []struct {
		c    nalSyntax
		nal  []byte
		want uint32
	}{
		{avc, []byte{0x67, 0x64, 0x00, 0x1f, 0b1000_0000}, 0},                // SPS id ue=0
		{avc, []byte{0x67, 0x64, 0x00, 0x1f, 0b0011_1000}, 6},                // SPS id ue=6 (00111)
		{avc, []byte{0x68, 0b0101_0000}, 1},                                  // PPS id ue=1 (010)
		{hevcS, []byte{0x40, 0x01, 0b0011_0000}, 3},                          // VPS id 3
		{hevcS, []byte{0x44, 0x01, 0b0001_0000}, 7},                          // PPS id ue=7 (0001000)
		{hevcS, append([]byte{0x42, 0x01, 0x01}, make12(0b0100_0000)...), 1}, // SPS, no sub-layers, id ue=1
	} {
		got, ok := tc.c.paramSetID(tc.nal)
		if !ok || got != tc.want {
			t.Errorf("% x: id %d ok %v, want %d", tc.nal, got, ok, tc.want)
		}
	}
	if _, ok := avc.paramSetID([]byte{0x67, 0x64}); ok {
		t.Error("truncated SPS: want !ok")
	}
}

// make12 returns the 12 bytes of a general profile_tier_level followed by b.
func make12(b byte) []byte {
	return append(bytes.Repeat([]byte{0x11}, 12), b)
}

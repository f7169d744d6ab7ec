package isobmff

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"testing"

	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/cmafkit/cmafkit/segment"
)

// TestParameterSetsInBandOnly: an avc3 track whose sample entry carries no
// parameter sets gets the in-band ones moved into its avc1 sample entry.
func TestParameterSetsInBandOnly(t *testing.T) {
	src, err := segment.OpenFile(context.Background(), "../../testdata/avc3.mp4", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	conv := src.Tracks[0]
	// The track as it is in the file, minus the avcC parameter sets.
	f, err := os.Open("../../testdata/avc3.mp4")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	p := newParser(f, fi.Size(), "avc3.mp4", nil)
	p.keepParamSets = true
	raw, err := p.parse(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	orig := *raw.Tracks[0]
	vse := orig.SampleEntry.(*mp4.VisualSampleEntryBox)
	wantSPS, wantPPS := vse.AvcC.SPSnalus, vse.AvcC.PPSnalus
	if vse.Type() != "avc3" || len(wantSPS) != 1 || len(wantPPS) != 1 {
		t.Fatalf("test file: entry %s with %d SPS and %d PPS, want avc3 with one of each", vse.Type(), len(wantSPS), len(wantPPS))
	}
	vse.AvcC.SPSnalus, vse.AvcC.PPSnalus = nil, nil

	var logs bytes.Buffer
	if err := segment.ResolveParameterSets(context.Background(), &orig, slog.New(slog.NewTextHandler(&logs, nil))); err != nil {
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

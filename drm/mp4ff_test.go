package drm

// Each test here demonstrates a problem of mp4ff v0.56.0's own encryption
// (mp4/crypto.go) that TrackProtector works around, and shows that the
// workaround holds.

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/Eyevinn/mp4ff/mp4"
)

func newInit(ct *clearTrack, entry mp4.Box) *mp4.InitSegment {
	init := mp4.CreateEmptyInit()
	h := ct.init.Moov.Trak.Mdia.Hdlr.HandlerType
	init.AddEmptyTrack(ct.init.Moov.Trak.Mdia.Mdhd.Timescale, map[string]string{"vide": "video", "soun": "audio"}[h], "und")
	init.Moov.Trak.Mdia.Minf.Stbl.Stsd.AddChild(entry)
	return init
}

// mp4ff's InitProtect renames the shared sample entry to encv in place, so a
// track model that hands the same entry to a clear output is corrupted.
func TestMP4ffInitProtectMutatesSampleEntry(t *testing.T) {
	ct := loadTrack(t, "ladder_720p.mp4", "vide")
	entry, err := cloneBox(ct.entry) // do not disturb other tests
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mp4.InitProtect(newInit(ct, entry), videoKey.Key.Secret(), make([]byte, 8), "cenc", mp4.UUID(videoKey.KID[:]), nil); err != nil {
		t.Fatal(err)
	}
	if entry.Type() != "encv" {
		t.Fatalf("mp4ff no longer mutates the entry (type %s): the clone in ProtectInit may be unnecessary", entry.Type())
	}
	entry2, _ := cloneBox(ct.entry)
	init := newInit(ct, entry2)
	tp, err := NewTrackProtector(context.Background(), Config{Scheme: SchemeCENC, Keys: &StaticKeys{Default: []ContentKey{videoKey}}}, init)
	if err != nil {
		t.Fatal(err)
	}
	if err := tp.ProtectInit(init); err != nil {
		t.Fatal(err)
	}
	if entry2.Type() != "avc1" || init.Moov.Trak.Mdia.Minf.Stbl.Stsd.Children[0].Type() != "encv" {
		t.Fatalf("ProtectInit: source %s, init %s", entry2.Type(), init.Moov.Trak.Mdia.Minf.Stbl.Stsd.Children[0].Type())
	}
}

// mp4ff computes saio in EncryptFragment; Fragment.Encode with OptimizeTrun
// then shrinks trun and moves senc, so saio points at the wrong bytes.
func TestMP4ffOptimizeTrunCorruptsSaio(t *testing.T) {
	ctx := context.Background()
	ct := loadTrack(t, "ladder_720p.mp4", "vide")
	entry, _ := cloneBox(ct.entry)
	init := newInit(ct, entry)
	iv := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	ipd, err := mp4.InitProtect(init, videoKey.Key.Secret(), iv, "cenc", mp4.UUID(videoKey.KID[:]), nil)
	if err != nil {
		t.Fatal(err)
	}
	info, err := parseInit(encodeInit(t, init))
	if err != nil {
		t.Fatal(err)
	}
	var seq uint32
	f := buildFragments(t, &seq, ct.samples[:20], 1)[0]
	if _, err := mp4.EncryptFragment(f, videoKey.Key.Secret(), iv, ipd); err != nil {
		t.Fatal(err)
	}
	f.EncOptimize = mp4.OptimizeTrun
	_, err = decryptFragment(encodeFragment(t, f), info, testKeyDB)
	if err == nil || !strings.Contains(err.Error(), "saio points at") {
		t.Fatalf("mp4ff + OptimizeTrun: expected a saio mismatch, got %v", err)
	}

	// Ours: the same request decrypts.
	init2 := newInit(ct, ct.entry)
	tp, err := NewTrackProtector(ctx, Config{Scheme: SchemeCENC, Keys: &StaticKeys{Default: []ContentKey{videoKey}}}, init2)
	if err != nil {
		t.Fatal(err)
	}
	_ = tp.ProtectInit(init2)
	info2, _ := parseInit(encodeInit(t, init2))
	f2 := buildFragments(t, &seq, ct.samples[:20], 1)[0]
	f2.EncOptimize = mp4.OptimizeTrun
	if err := tp.ProtectFragment(ctx, f2, 0, 0); err != nil {
		t.Fatal(err)
	}
	dec, err := decryptFragment(encodeFragment(t, f2), info2, testKeyDB)
	if err != nil {
		t.Fatal(err)
	}
	for i := range dec.samples {
		if !bytes.Equal(dec.samples[i], ct.samples[i].Data) {
			t.Fatalf("sample %d", i)
		}
	}
}

// mp4ff's EncryptFragment refuses more than one traf or trun; a fragment
// with two tracks (interleaved, so two truns per traf) is protected by ours.
func TestMP4ffOneTrafOneTrun(t *testing.T) {
	ctx := context.Background()
	v := loadTrack(t, "ladder_720p.mp4", "vide")
	a := loadTrack(t, "ladder_720p.mp4", "soun")
	build := func() *mp4.Fragment {
		f, err := mp4.CreateMultiTrackFragment(1, []uint32{1, 2})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 4; i++ {
			for _, tr := range []struct {
				id uint32
				s  []mp4.FullSample
			}{{1, v.samples[5*i : 5*i+5]}, {2, a.samples[8*i : 8*i+8]}} {
				for _, s := range tr.s {
					c := s
					c.Data = append([]byte(nil), s.Data...)
					if err := f.AddFullSampleToTrack(c, tr.id); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
		return f
	}
	entry, _ := cloneBox(v.entry)
	ipd, err := mp4.InitProtect(newInit(v, entry), videoKey.Key.Secret(), make([]byte, 8), "cenc", mp4.UUID(videoKey.KID[:]), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mp4.EncryptFragment(build(), videoKey.Key.Secret(), make([]byte, 8), ipd); err == nil || !strings.Contains(err.Error(), "only one") {
		t.Fatalf("mp4ff accepted a two-traf fragment: %v", err)
	}

	init := newInit(v, v.entry)
	tp, err := NewTrackProtector(ctx, Config{Scheme: SchemeCBCS, Keys: &StaticKeys{Default: []ContentKey{videoKey}}}, init)
	if err != nil {
		t.Fatal(err)
	}
	_ = tp.ProtectInit(init)
	info, _ := parseInit(encodeInit(t, init))
	f := build()
	if n := len(f.Moof.Traf.Truns); n != 4 {
		t.Fatalf("%d truns in the video traf, want 4", n)
	}
	if err := tp.ProtectFragment(ctx, f, 0, 0); err != nil {
		t.Fatal(err)
	}
	dec, err := decryptFragment(encodeFragment(t, f), info, testKeyDB)
	if err != nil {
		t.Fatal(err)
	}
	if len(dec.samples) != 20 {
		t.Fatalf("%d samples", len(dec.samples))
	}
	for i := range dec.samples {
		if !bytes.Equal(dec.samples[i], v.samples[i].Data) {
			t.Fatalf("sample %d", i)
		}
	}
}

// mp4ff's cbcs protector needs SPS/PPS in the sample entry: with avc3 and
// in-band parameter sets it cannot find slice headers (ours can, see
// TestInBandParameterSets).
func TestMP4ffCbcsNeedsParameterSetsInEntry(t *testing.T) {
	ct := loadTrack(t, "ladder_720p.mp4", "vide")
	entry, _ := cloneBox(ct.entry)
	se := entry.(*mp4.VisualSampleEntryBox)
	se.SetType("avc3")
	se.AvcC.SPSnalus, se.AvcC.PPSnalus = nil, nil
	iv := make([]byte, 16)
	ipd, err := mp4.InitProtect(newInit(ct, entry), videoKey.Key.Secret(), iv, "cbcs", mp4.UUID(videoKey.KID[:]), nil)
	if err != nil {
		t.Fatal(err)
	}
	var seq uint32
	f := buildFragments(t, &seq, ct.samples[:5], 1)[0]
	if _, err := mp4.EncryptFragment(f, videoKey.Key.Secret(), iv, ipd); err == nil {
		t.Fatal("mp4ff cbcs worked without parameter sets in the sample entry")
	}
}

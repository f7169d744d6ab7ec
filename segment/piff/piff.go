// Package piff writes media fragments in the shape Microsoft Smooth
// Streaming clients request (MS-SSTR 2.2.4, the Protected Interoperable
// File Format, PIFF): one moof/mdat pair per fragment with no styp, the
// fragment's absolute time and duration in a tfxd uuid box at the end of
// the traf, and no tfdt (MS-SSTR's TrackFragmentBox has none). Clients
// build the initialization from the client manifest, whose codec data
// CodecPrivateData computes.
//
// Fragments are rewritten from CMAF media segments (package segment/cmaf)
// held in memory: a Smooth fragment holds the same samples as one CMAF
// segment of one chunk. An encrypted segment (cenc, as package drm writes
// it) keeps its saiz and saio, and its senc becomes the PIFF sample
// encryption box (PIFF 1.3 5.3.2: uuid a2394f52-5a9b-4f14-a244-6c427c648df4,
// the same fields), which saio then points into. Smooth clients fetch no
// init segment: they build one from the manifest's CodecPrivateData and
// ProtectionHeader.
package piff

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/Eyevinn/mp4ff/mp4"

	"github.com/cmafkit/cmafkit/segment"
)

// ErrUnsupported means a track or segment cannot be carried by Smooth
// Streaming as this package writes it (a codec other than H.264 or AAC, a
// segment of several chunks).
var ErrUnsupported = errors.New("piff: not supported by Smooth Streaming")

// Fragment rewrites seg, a CMAF media segment of one moof/mdat pair (a
// leading styp is dropped), as a Smooth Streaming fragment: the tfdt is
// removed, a tfxd box (version 1) with the fragment's absolute time and
// duration, in the track's timescale, ends the traf, and the trun data
// offset is recomputed. The samples are unchanged.
func Fragment(seg []byte, time, duration uint64) ([]byte, error) {
	return fragment(seg, time, duration, nil)
}

// Next is a fragment that follows a live fragment, as its tfrf box
// announces it: its absolute time and duration in the track's timescale.
type Next struct {
	Time, Duration uint64
}

// maxLookAhead bounds the fragments one tfrf announces (its count is a
// byte).
const maxLookAhead = 255

// LiveFragment is Fragment for a live presentation (MS-SSTR 2.2.4.5): a
// tfrf box (version 1) after the tfxd announces the fragments that follow
// (next, in order, usually the client manifest's LookAheadFragmentCount of
// them), so that a client can request them without reading the manifest
// again. A fragment written before its successors are known may announce
// none. More than 255 are refused with ErrUnsupported.
func LiveFragment(seg []byte, time, duration uint64, next []Next) ([]byte, error) {
	if len(next) > maxLookAhead {
		return nil, fmt.Errorf("%w: tfrf announcing %d fragments (at most %d)", ErrUnsupported, len(next), maxLookAhead)
	}
	if next == nil {
		next = []Next{}
	}
	return fragment(seg, time, duration, next)
}

// fragment rewrites seg; next, if not nil, is announced in a tfrf box.
func fragment(seg []byte, time, duration uint64, next []Next) ([]byte, error) {
	f, err := mp4.DecodeFile(bytes.NewReader(seg))
	if err != nil {
		return nil, fmt.Errorf("piff: decode segment: %w", err)
	}
	var frags []*mp4.Fragment
	for _, s := range f.Segments {
		frags = append(frags, s.Fragments...)
	}
	if len(frags) != 1 || len(frags[0].Moof.Trafs) != 1 || len(frags[0].Moof.Traf.Truns) != 1 {
		return nil, fmt.Errorf("%w: a segment of %d fragments (want one moof with one traf and one trun)", ErrUnsupported, len(frags))
	}
	frag := frags[0]
	traf := frag.Moof.Traf
	kept := traf.Children[:0]
	for _, c := range traf.Children {
		if c.Type() != "tfdt" {
			kept = append(kept, c)
		}
	}
	traf.Children = kept
	traf.Tfdt = nil
	sepiff, err := piffSenc(traf)
	if err != nil {
		return nil, err
	}
	tfxd := mp4.NewTfxdBox(time, duration)
	tfxd.Tfxd.Version = 1
	if err := traf.AddChild(tfxd); err != nil {
		return nil, fmt.Errorf("piff: %w", err)
	}
	if next != nil {
		times, durs := make([]uint64, len(next)), make([]uint64, len(next))
		for i, n := range next {
			times[i], durs[i] = n.Time, n.Duration
		}
		tfrf := mp4.NewTfrfBox(byte(len(next)), times, durs)
		tfrf.Tfrf.Version = 1
		if err := traf.AddChild(tfrf); err != nil {
			return nil, fmt.Errorf("piff: %w", err)
		}
	}
	if sepiff != nil {
		// saio (default-base-is-moof) points at the first IV: past the
		// box header, the usertype, version and flags, and sample_count.
		at := ivOffset(frag.Moof, traf, sepiff)
		if traf.Saio == nil || len(traf.Saio.Offset) != 1 || at < 0 {
			return nil, fmt.Errorf("%w: encrypted segment without one saio offset", ErrUnsupported)
		}
		traf.Saio.Offset[0] = at
	}
	var b bytes.Buffer
	b.Grow(len(seg) + 64)
	if err := frag.Encode(&b); err != nil {
		return nil, fmt.Errorf("piff: encode fragment: %w", err)
	}
	return b.Bytes(), nil
}

// piffSenc replaces the senc of traf, if any, by the PIFF sample
// encryption box holding the same fields, and returns that box.
func piffSenc(traf *mp4.TrafBox) (*mp4.UUIDBox, error) {
	if traf.Senc == nil {
		return nil, nil
	}
	if traf.Sbgp != nil || traf.Sgpd != nil {
		return nil, fmt.Errorf("%w: encrypted segment with sample groups (key rotation)", ErrUnsupported)
	}
	u := &mp4.UUIDBox{}
	if err := u.SetUUID(mp4.UUIDPiffSenc); err != nil {
		return nil, err
	}
	u.Senc = traf.Senc
	for i, c := range traf.Children {
		if c == traf.Senc {
			traf.Children[i] = u
		}
	}
	traf.Senc, traf.UUIDSenc = nil, u
	return u, nil
}

// ivOffset returns the offset from the start of moof of the first IV in
// box, a child of traf in moof; -1 if it is not there.
func ivOffset(moof *mp4.MoofBox, traf *mp4.TrafBox, box mp4.Box) int64 {
	at := uint64(8)
	for _, c := range moof.Children {
		if c == traf {
			at += 8
			for _, c := range traf.Children {
				if c == box {
					return int64(at + 8 + 16 + 4 + 4)
				}
				at += c.Size()
			}
			return -1
		}
		at += c.Size()
	}
	return -1
}

// FourCC returns the Smooth Streaming FourCC of t's codec: "H264" for
// H.264 (avc1, avc3) and "AACL" for AAC-LC (MS-SSTR 2.2.2.5); other codecs
// are refused with ErrUnsupported.
func FourCC(t *segment.Track) (string, error) {
	switch {
	case strings.HasPrefix(t.Codec, "avc1.") || strings.HasPrefix(t.Codec, "avc3."):
		return "H264", nil
	case t.Codec == "mp4a.40.2":
		return "AACL", nil
	case t.Codec == "mp4a.40.5":
		return "AACH", nil
	}
	return "", fmt.Errorf("%w: codec %s of %s", ErrUnsupported, t.Codec, t)
}

// CodecPrivateData returns the codec configuration a Smooth client needs
// to initialise its decoder (MS-SSTR 2.2.2.5 CodecPrivateData): for H.264
// the sequence and picture parameter sets of the avcC, each after a
// 00000001 start code; for AAC the AudioSpecificConfig of the esds.
func CodecPrivateData(t *segment.Track) ([]byte, error) {
	if _, err := FourCC(t); err != nil {
		return nil, err
	}
	switch e := t.SampleEntry.(type) {
	case *mp4.VisualSampleEntryBox:
		if e.AvcC == nil || len(e.AvcC.SPSnalus) == 0 || len(e.AvcC.PPSnalus) == 0 {
			return nil, fmt.Errorf("%w: %s has no parameter sets in its avcC", ErrUnsupported, t)
		}
		var b []byte
		for _, nal := range append(append([][]byte(nil), e.AvcC.SPSnalus...), e.AvcC.PPSnalus...) {
			b = append(b, 0, 0, 0, 1)
			b = append(b, nal...)
		}
		return b, nil
	case *mp4.AudioSampleEntryBox:
		if e.Esds == nil || e.Esds.DecConfigDescriptor == nil || e.Esds.DecConfigDescriptor.DecSpecificInfo == nil {
			return nil, fmt.Errorf("%w: %s has no AudioSpecificConfig", ErrUnsupported, t)
		}
		return append([]byte(nil), e.Esds.DecConfigDescriptor.DecSpecificInfo.DecConfig...), nil
	}
	return nil, fmt.Errorf("%w: sample entry of %s", ErrUnsupported, t)
}

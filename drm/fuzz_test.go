package drm

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/cmafkit/cmafkit/internal/testutil"
)

// maxFuzzSample caps the samples FuzzSubsamples edits. The Go fuzzer
// minimizes every input that finds new coverage by removing each range of
// its bytes, quadratic in its length: whole video frames (tens of KiB) kept
// the workers minimizing instead of fuzzing. Slice and frame headers sit
// in the first bytes of each NAL unit or OBU, which the seeds keep.
const maxFuzzSample = 1024

// shrinkNALs returns a sample of 4-byte-length NAL units with each unit
// cut to its first 32 bytes (the header and then some), lengths rewritten.
func shrinkNALs(b []byte) []byte {
	var out []byte
	for len(b) >= 4 {
		n := int(binary.BigEndian.Uint32(b))
		if n > len(b)-4 {
			break
		}
		nalu := b[4 : 4+n]
		b = b[4+n:]
		nalu = nalu[:min(len(nalu), 32)]
		out = binary.BigEndian.AppendUint32(out, uint32(len(nalu)))
		out = append(out, nalu...)
	}
	return out
}

// shrinkOBUs returns an AV1 sample with the payload of every frame and
// tile group OBU cut to its first 64 bytes (the frame header and some tile
// data), sizes rewritten; nil if an OBU has no size field or runs over.
func shrinkOBUs(b []byte) []byte {
	var out []byte
	for len(b) > 0 {
		hdr := 1 // obu_header, and obu_extension_header if flagged
		if b[0]&4 != 0 {
			hdr = 2
		}
		if b[0]&2 == 0 || len(b) < hdr {
			return nil
		}
		size, n := binary.Uvarint(b[hdr:])
		if n <= 0 || size > uint64(len(b)-hdr-n) {
			return nil
		}
		payload := b[hdr+n : hdr+n+int(size)]
		if typ := b[0] >> 3 & 0xf; typ == 6 || typ == 4 { // OBU_FRAME, OBU_TILE_GROUP
			payload = payload[:min(len(payload), 64)]
		}
		out = append(out, b[:hdr]...)
		out = binary.AppendUvarint(out, uint64(len(payload)))
		out = append(out, payload...)
		b = b[hdr+n+int(size):]
	}
	return out
}

// FuzzSubsamples feeds damaged sample payloads to the subsample
// computations (which run the slice-header sizing and mp4ff's AV1 parsers
// on untrusted bytes): they must not panic, and on success the subsamples
// must cover the sample exactly, with cenc protected ranges in whole blocks
// for NAL video. The samples are the test media's small samples and its
// first frames with every NAL unit or frame OBU cut short, with the
// fuzzer's edits applied (editSample), or, for the last base, the fuzzer's
// bytes as they are.
//
// The fuzzer's input is the short edit list, not the sample: the Go fuzzer
// minimizes every input that finds new coverage by removing each byte range
// (quadratic in the input's length) and runs nothing else meanwhile.
func FuzzSubsamples(f *testing.F) {
	type src struct{ file, handler string }
	var entries []*mp4.VisualSampleEntryBox
	var bases [][][]byte // per entry
	for _, s := range []src{{"ladder_720p.mp4", "vide"}, {"hevc_ac3.mp4", "vide"}, {"av1.mp4", "vide"}} {
		ct := loadTrack(f, s.file, s.handler)
		e := ct.entry.(*mp4.VisualSampleEntryBox)
		entries = append(entries, e)
		var bs [][]byte
		for i := 0; i < 3; i++ {
			if e.Type() == "av01" {
				bs = append(bs, shrinkOBUs(ct.samples[i].Data))
			} else {
				bs = append(bs, shrinkNALs(ct.samples[i].Data))
			}
		}
		small := 0
		for _, smp := range ct.samples {
			if len(smp.Data) <= maxFuzzSample/2 && small < 4 {
				bs = append(bs, smp.Data)
				small++
			}
		}
		bases = append(bases, bs)
		which := uint8(len(entries) - 1)
		for i := range bs {
			f.Add(which, uint8(i), []byte{})
			// A flipped header bit, a lost byte and a cut end.
			f.Add(which, uint8(i), []byte{1, 0, 16, 7, 3, 64, 0, 0, 4, 200, 0, 0})
		}
		f.Add(which, uint8(len(bs)), bs[0][:min(len(bs[0]), maxSubsampleEdits)])
	}
	f.Fuzz(func(t *testing.T, which, base uint8, edits []byte) {
		if len(edits) > maxSubsampleEdits {
			return
		}
		bs := bases[int(which)%len(entries)]
		sample := edits
		if i := int(base) % (len(bs) + 1); i < len(bs) {
			sample = editSample(bs[i], edits)
		}
		e := entries[int(which)%len(entries)]
		for _, scheme := range []Scheme{SchemeCENC, SchemeCBCS} {
			var rf rangeFunc
			switch e.Type() {
			case "avc1":
				rf = newAVCRanges(scheme, e.AvcC).ranges
			case "hvc1":
				rf = newHEVCRanges(scheme, e.HvcC).ranges
			default:
				var err error
				if rf, err = newAV1Ranges(scheme, e.Av1C); err != nil {
					t.Fatal(err)
				}
			}
			subs, err := rf(nil, sample)
			if err != nil {
				continue
			}
			total := 0
			for _, s := range subs {
				total += int(s.BytesOfClearData) + int(s.BytesOfProtectedData)
				if scheme == SchemeCENC && e.Type() != "av01" && s.BytesOfProtectedData%16 != 0 {
					t.Fatalf("cenc protected %d", s.BytesOfProtectedData)
				}
			}
			if total != len(sample) {
				t.Fatalf("%s %s: subsamples cover %d of %d bytes", e.Type(), scheme, total, len(sample))
			}
		}
	})
}

// maxSubsampleEdits is the longest edit list (or raw sample)
// FuzzSubsamples takes; longer inputs are skipped, so they find no coverage
// and are never minimized.
const maxSubsampleEdits = 192

// editSample returns a copy of b with edits applied. Each edit is four
// bytes: an operation, a 16-bit position scaled to the sample and a value.
// The operations overwrite a byte, flip a bit, insert a byte, delete a run
// of bytes, cut the sample, overwrite a byte near the start (NAL and OBU
// headers, slice and frame headers), repeat a run of bytes and grow or
// shrink a byte (lengths and sizes).
func editSample(b, edits []byte) []byte {
	return testutil.ApplyEdits(b, edits, func(b []byte, e testutil.Edit) []byte {
		i, v := e.At(len(b)), e.Value
		switch e.Op % 8 {
		case 5:
			b[int(e.Lo)%min(len(b), 64)] = v
		case 6:
			b = slices.Insert(b, i, bytes.Clone(b[i:min(i+1+int(v), len(b))])...)
		case 7:
			b[i] += v
		}
		return b
	})
}

// FuzzParseKID checks the KID and key parsers (the --key flag's two sides)
// on arbitrary text: a KID parses back from each of its printed forms, a key
// from hex and base64 of its secret; both accept exactly the same texts, as
// does KID.UnmarshalText; a parsed key never shows its secret when
// formatted; and a refusal is a *KeyLengthError whose message depends on
// the input's length only, so it cannot quote key material.
func FuzzParseKID(f *testing.F) {
	for _, s := range []string{
		"102030405060708090a0b0c0d0e0f001", "10203040-5060-7080-90a0-b0c0d0e0f001",
		"{10203040-5060-7080-90a0-b0c0d0e0f001}", "urn:uuid:10203040-5060-7080-90a0-b0c0d0e0f001",
		"ECAwQFBgcICQoLDA0ODwAQ==", "ECAwQFBgcICQoLDA0ODwAQ", " 0x102030405060708090A0B0C0D0E0F001 ",
		"", "1020", "ECAwQFBgcICQoLDA0ODw==", "-_-_-_-_-_-_-_-_-_-_-w",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		kid, kidErr := ParseKID(s)
		key, keyErr := ParseKey(s)
		var text KID
		textErr := text.UnmarshalText([]byte(s))
		if (kidErr == nil) != (keyErr == nil) || (kidErr == nil) != (textErr == nil) {
			t.Fatalf("%q: ParseKID %v, ParseKey %v, UnmarshalText %v", s, kidErr, keyErr, textErr)
		}
		if kidErr != nil {
			refused := strings.Repeat("!", len(s)) // same length, never parsable
			for _, c := range []struct {
				err error
				ref func() error
			}{
				{kidErr, func() error { _, err := ParseKID(refused); return err }},
				{keyErr, func() error { _, err := ParseKey(refused); return err }},
			} {
				var kl *KeyLengthError
				if !errors.As(c.err, &kl) || !errors.Is(c.err, ErrKeyLength) {
					t.Fatalf("%q: error %v is not a *KeyLengthError", s, c.err)
				}
				if ref := c.ref(); ref.Error() != c.err.Error() {
					t.Fatalf("%q: error %q says more than the length (%q)", s, c.err, ref)
				}
			}
			return
		}
		if text != kid || !bytes.Equal(key.Secret(), kid[:]) {
			t.Fatalf("%q: KID %s, UnmarshalText %s, key bytes %x", s, kid, text, key.Secret())
		}
		for _, form := range []string{kid.String(), kid.Hex(), kid.Base64(), kid.Base64URL(), "{" + kid.String() + "}", "urn:uuid:" + kid.String(), strings.ToUpper(kid.Hex())} {
			if back, err := ParseKID(form); err != nil || back != kid {
				t.Fatalf("%q: KID %s does not parse back from %q: %s, %v", s, kid, form, back, err)
			}
		}
		for _, form := range []string{hex.EncodeToString(key.Secret()), base64.StdEncoding.EncodeToString(key.Secret()), base64.RawURLEncoding.EncodeToString(key.Secret())} {
			if back, err := ParseKey(form); err != nil || !back.Equal(key) {
				t.Fatalf("%q: key does not parse back from its own form: %v", s, err)
			}
		}
		secret := hex.EncodeToString(key.Secret())
		for _, out := range []string{fmt.Sprintf("%v %+v %#v %s %x %X %q", key, key, key, key, key, key, key), fmt.Sprint(ContentKey{KID: kid, Key: key})} {
			if strings.Contains(strings.ToLower(out), secret) {
				t.Fatalf("%q: the key shows in %q", s, out)
			}
		}
	})
}

// FuzzParseIV checks the --iv parser: an IV has 8 or 16 bytes and parses
// back from its String form, and a refusal is a *KeyLengthError.
func FuzzParseIV(f *testing.F) {
	for _, s := range []string{"0x0011223344556677", "00112233445566778899aabbccddeeff", " 0X0011223344556677 ", "001122", "0x", "zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		iv, err := ParseIV(s)
		if err != nil {
			var kl *KeyLengthError
			if !errors.As(err, &kl) || kl.What != "IV" || iv != nil {
				t.Fatalf("%q: %v, %x", s, err, iv)
			}
			return
		}
		if len(iv) != 8 && len(iv) != 16 {
			t.Fatalf("%q: %d-byte IV", s, len(iv))
		}
		for _, form := range []string{iv.String(), hex.EncodeToString(iv), strings.ToUpper(hex.EncodeToString(iv))} {
			if back, err := ParseIV(form); err != nil || !bytes.Equal(back, iv) {
				t.Fatalf("%q: IV %s does not parse back from %q: %v", s, iv, form, err)
			}
		}
	})
}

// FuzzParseSystems checks the --drm and --encryption parsers: the systems
// parsed are known, distinct, with a system ID, and parse back from their
// comma-joined names; a scheme parses back from its name; refusals wrap the
// package's sentinels.
func FuzzParseSystems(f *testing.F) {
	for _, s := range []string{"widevine,playready", "FairPlay, clearkey,,widevine", "widevine,widevine", "primetime", "", "cenc", "CBCS "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		systems, err := ParseSystems(s)
		if err != nil {
			if !errors.Is(err, ErrUnsupported) || systems != nil {
				t.Fatalf("%q: %v, %v", s, systems, err)
			}
		} else {
			seen := map[System]bool{}
			var names []string
			for _, sys := range systems {
				if seen[sys] || sys.SystemID().IsZero() {
					t.Fatalf("%q: %v repeats or has no system ID", s, systems)
				}
				seen[sys] = true
				names = append(names, string(sys))
			}
			if back, err := ParseSystems(strings.Join(names, ",")); err != nil || !slices.Equal(back, systems) {
				t.Fatalf("%q: %v parses back as %v, %v", s, systems, back, err)
			}
		}
		scheme, err := ParseScheme(s)
		if err != nil {
			var se *SchemeError
			if !errors.As(err, &se) || scheme != "" {
				t.Fatalf("%q: scheme %q, %v", s, scheme, err)
			}
			return
		}
		if back, err := ParseScheme(string(scheme)); err != nil || back != scheme || scheme != SchemeCENC && scheme != SchemeCBCS {
			t.Fatalf("%q: scheme %q parses back as %q, %v", s, scheme, back, err)
		}
	})
}

// FuzzParseKeyPairs checks the --key parser: the pairs parsed print back
// (KID hex, key hex) to text that parses to the same pairs, there are no
// more pairs than comma-separated parts, and a refusal wraps a sentinel and
// never quotes a key that was valid.
func FuzzParseKeyPairs(f *testing.F) {
	for _, s := range []string{
		"11111111111111111111111111111111:00112233445566778899aabbccddeeff",
		"11111111111111111111111111111111:00112233445566778899aabbccddeeff, 22222222-2222-2222-2222-222222222222:ABEiM0RVZneImaq7zN3u/w==",
		"11111111111111111111111111111111:0011", "nocolon", ",,", "",
		"11111111111111111111111111111111:00112233445566778899aabbccddeeff,x:00112233445566778899aabbccddeeff",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		pairs, err := ParseKeyPairs(s)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrNoKey) && !errors.Is(err, ErrKeyLength) {
				t.Fatalf("%q: error %v wraps no sentinel", s, err)
			}
			for _, part := range strings.Split(s, ",") {
				if _, keyS, ok := strings.Cut(strings.TrimSpace(part), ":"); ok {
					if _, kerr := ParseKey(keyS); kerr == nil && strings.Contains(err.Error(), strings.TrimSpace(keyS)) {
						t.Fatalf("%q: the error %q quotes a key", s, err)
					}
				}
			}
			return
		}
		if len(pairs) == 0 || len(pairs) > strings.Count(s, ",")+1 {
			t.Fatalf("%q: %d pairs", s, len(pairs))
		}
		var forms []string
		for _, p := range pairs {
			forms = append(forms, p.KID.Hex()+":"+hex.EncodeToString(p.Key.Secret()))
		}
		back, err := ParseKeyPairs(strings.Join(forms, ","))
		if err != nil || len(back) != len(pairs) {
			t.Fatalf("%q: printed pairs parse back as %d, %v", s, len(back), err)
		}
		for i := range back {
			if back[i].KID != pairs[i].KID || !back[i].Key.Equal(pairs[i].Key) {
				t.Fatalf("%q: pair %d does not parse back", s, i+1)
			}
		}
	})
}

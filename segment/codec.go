package segment

import (
	"bytes"
	"fmt"
	"io"
	"math/bits"
	"strings"

	"github.com/Eyevinn/mp4ff/aac"
	"github.com/Eyevinn/mp4ff/av1"
	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/cmafkit/cmafkit/internal/mediatime"
)

// DescribeSampleEntry fills the codec string (Codec) and the properties
// that follow from the codec configuration (Width, Height, PixelAspect,
// Color and VideoRange of video; SampleRate and Channels of audio) from
// t.SampleEntry, with t.Kind set. Sources call it when they open; live
// ingests, which build sample entries themselves, leave it to the packager.
// The error wraps ErrUnsupportedCodec or ErrMalformed.
func (t *Track) DescribeSampleEntry() error {
	if t.SampleEntry == nil {
		return fmt.Errorf("%w: no sample entry", ErrMalformed)
	}
	return describeSampleEntry(t)
}

// describeSampleEntry fills the codec string and the codec-derived properties
// of t from t.SampleEntry. It returns ErrUnsupportedCodec for codecs this
// package cannot package.
func describeSampleEntry(t *Track) error {
	if err := encrypted(t.SampleEntry); err != nil {
		return err
	}
	switch e := t.SampleEntry.(type) {
	case *mp4.VisualSampleEntryBox:
		if t.Kind != KindVideo {
			return fmt.Errorf("%w: visual sample entry %q in a %s track", ErrUnsupportedCodec, e.Type(), t.Kind)
		}
		t.Width, t.Height = int(e.Width), int(e.Height)
		if t.Width == 0 || t.Height == 0 {
			// Some writers leave the sample entry's size 0 (mp4parser's
			// h264-sample.mp4): the SPS has it.
			t.Width, t.Height = spsSize(e)
		}
		t.PixelAspect = Rational{1, 1}
		if e.Pasp != nil && e.Pasp.HSpacing > 0 && e.Pasp.VSpacing > 0 {
			t.PixelAspect = Rational{int64(e.Pasp.HSpacing), int64(e.Pasp.VSpacing)}.Reduce()
		}
		t.Color = sampleEntryColor(e)
		t.VideoRange = t.Color.VideoRange()
		switch e.Type() {
		case "avc1", "avc3":
			if e.AvcC == nil {
				return fmt.Errorf("%w: %s without avcC", ErrMalformed, e.Type())
			}
			c := e.AvcC
			t.Codec = fmt.Sprintf("%s.%02x%02x%02x", e.Type(), c.AVCProfileIndication, c.ProfileCompatibility, c.AVCLevelIndication)
		case "hvc1", "hev1":
			if e.HvcC == nil {
				return fmt.Errorf("%w: %s without hvcC", ErrMalformed, e.Type())
			}
			t.Codec = hevcCodecString(e.Type(), e.HvcC)
		case "dvh1", "dvhe":
			// Dolby Vision without a backward-compatible base layer
			// (profile 5): the Dolby codec string is the only one.
			if e.HvcC == nil || e.DoViConfig == nil {
				return fmt.Errorf("%w: %s without hvcC and a Dolby Vision configuration", ErrMalformed, e.Type())
			}
			t.Codec = dolbyVisionCodec(e.Type(), e.DoViConfig)
			t.VideoRange = "PQ" // profile 5's IPTPQc2 is PQ-based whatever colr says
		case "av01":
			if e.Av1C == nil {
				return fmt.Errorf("%w: av01 without av1C", ErrMalformed)
			}
			t.Codec = av1CodecString(&e.Av1C.CodecConfRec)
		default:
			return fmt.Errorf("%w: video sample entry %q", ErrUnsupportedCodec, e.Type())
		}
		if dv := e.DoViConfig; dv != nil && !strings.HasPrefix(e.Type(), "dv") {
			t.SupplementalCodecs = dolbyVisionSupplemental(e.Type(), dv)
		}
	case *mp4.AudioSampleEntryBox:
		if t.Kind != KindAudio {
			return fmt.Errorf("%w: audio sample entry %q in a %s track", ErrUnsupportedCodec, e.Type(), t.Kind)
		}
		t.Channels = int(e.ChannelCount)
		t.SampleRate = int(e.SampleRate)
		if t.SampleRate == 0 {
			t.SampleRate = int(t.Timescale)
		}
		switch e.Type() {
		case "mp4a":
			if e.Esds == nil || e.Esds.DecConfigDescriptor == nil {
				return fmt.Errorf("%w: mp4a without esds", ErrMalformed)
			}
			dcd := e.Esds.DecConfigDescriptor
			if dcd.ObjectType != 0x40 {
				return fmt.Errorf("%w: mp4a object type 0x%02x%s (only MPEG-4 audio, 0x40, is supported)", ErrUnsupportedCodec, dcd.ObjectType, objectTypeName(dcd.ObjectType))
			}
			if dcd.DecSpecificInfo == nil || len(dcd.DecSpecificInfo.DecConfig) < 2 {
				return fmt.Errorf("%w: AAC without AudioSpecificConfig", ErrMalformed)
			}
			// The header names the object type, extended ones (xHE-AAC,
			// ALS, ...) behind the escape value 31 included.
			if h, err := aac.DecodeAudioSpecificConfigHeader(bytes.NewReader(dcd.DecSpecificInfo.DecConfig)); err == nil {
				switch h.ObjectType {
				case aac.AAClc, aac.HEAACv1, aac.HEAACv2:
				default:
					return fmt.Errorf("%w: mp4a.40.%d, MPEG-4 audio object type %d (%s); only AAC-LC, HE-AAC and HE-AACv2 are supported",
						ErrUnsupportedCodec, h.ObjectType, h.ObjectType, audioObjectTypeName(h.ObjectType))
				}
			}
			asc, err := aac.DecodeAudioSpecificConfig(bytes.NewReader(dcd.DecSpecificInfo.DecConfig))
			if err != nil {
				return fmt.Errorf("%w: AudioSpecificConfig: %v", ErrMalformed, err)
			}
			ot := asc.ObjectType
			switch {
			case asc.PSPresentFlag:
				ot = aac.HEAACv2
			case asc.SBRPresentFlag:
				ot = aac.HEAACv1
			}
			t.Codec = fmt.Sprintf("mp4a.40.%d", ot)
			if asc.ChannelConfiguration > 0 && asc.ChannelConfiguration < 8 {
				t.Channels = [...]int{0, 1, 2, 3, 4, 5, 6, 8}[asc.ChannelConfiguration]
			}
			if asc.SamplingFrequency > 0 {
				t.SampleRate = asc.SamplingFrequency
			}
			if asc.ExtensionFrequency > 0 {
				t.SampleRate = asc.ExtensionFrequency
			}
		case "ac-3":
			if e.Dac3 == nil {
				return fmt.Errorf("%w: ac-3 without dac3", ErrMalformed)
			}
			t.Codec = "ac-3"
			t.Channels, _ = e.Dac3.ChannelInfo()
		case "ec-3":
			if e.Dec3 == nil {
				return fmt.Errorf("%w: ec-3 without dec3", ErrMalformed)
			}
			t.Codec = "ec-3"
			t.Channels, _ = e.Dec3.ChannelInfo()
		case "Opus", "opus":
			if e.Dops == nil {
				return fmt.Errorf("%w: Opus without dOps", ErrMalformed)
			}
			t.Codec = "opus"
			t.Channels = int(e.Dops.OutputChannelCount)
			t.SampleRate = 48000
		default:
			return fmt.Errorf("%w: audio sample entry %q", ErrUnsupportedCodec, e.Type())
		}
	default:
		switch typ := t.SampleEntry.Type(); typ {
		case "wvtt":
			t.Codec = "wvtt"
		case "stpp":
			// The profile, when the entry does not name it, is read from
			// the documents once the samples are indexed (see stpp.go).
			t.Codec = "stpp"
			if e, ok := t.SampleEntry.(*mp4.StppBox); ok {
				if c := stppCodecFromEntry(e); c != "" {
					t.Codec = c
				}
			}
		default:
			return fmt.Errorf("%w: sample entry %q", ErrUnsupportedCodec, typ)
		}
		if t.Kind != KindText {
			return fmt.Errorf("%w: text sample entry in a %s track", ErrUnsupportedCodec, t.Kind)
		}
	}
	return nil
}

// encrypted returns an error wrapping ErrEncrypted when the sample entry
// is a protected one (ISO/IEC 14496-12 8.12, ISO/IEC 23001-7), naming the
// protection scheme and the original format when its sinf box gives them.
func encrypted(entry mp4.Box) error {
	var sinf *mp4.SinfBox
	switch e := entry.(type) {
	case *mp4.VisualSampleEntryBox:
		sinf = e.Sinf
	case *mp4.AudioSampleEntryBox:
		sinf = e.Sinf
	}
	typ := entry.Type()
	switch typ {
	case "encv", "enca", "enct", "encs", "encm", "encf", "encu":
	case "drms", "drmi":
		return fmt.Errorf("%w: sample entry %q (Apple FairPlay DRM): it cannot be packaged", ErrEncrypted, typ)
	default:
		return nil
	}
	desc := fmt.Sprintf("sample entry %q", typ)
	if sinf != nil {
		if sinf.Schm != nil {
			desc += fmt.Sprintf(", scheme %q", sinf.Schm.SchemeType)
			if name := schemeName(sinf.Schm.SchemeType); name != "" {
				desc += " (" + name + ")"
			}
		}
		if sinf.Frma != nil {
			desc += fmt.Sprintf(", original format %q", sinf.Frma.DataFormat)
		}
	}
	return fmt.Errorf("%w (%s): decrypt it first, e.g. with mp4decrypt --key KID:KEY, and package the clear file (cmafkit can encrypt its output: --encryption)", ErrEncrypted, desc)
}

// schemeName describes a protection scheme type (ISO/IEC 23001-7 4.2, PIFF).
func schemeName(s string) string {
	switch s {
	case "cenc":
		return "Common Encryption, AES-CTR"
	case "cbcs":
		return "Common Encryption, AES-CBC with pattern"
	case "cens":
		return "Common Encryption, AES-CTR with pattern"
	case "cbc1":
		return "Common Encryption, AES-CBC"
	case "piff":
		return "PIFF, PlayReady Smooth Streaming"
	}
	return ""
}

// objectTypeName names an MP4 objectTypeIndication of audio (MP4
// registration authority), as " (name)", or returns "".
func objectTypeName(oti byte) string {
	switch oti {
	case 0x66, 0x67, 0x68:
		return " (MPEG-2 AAC)"
	case 0x69:
		return " (MPEG-2 audio: MP3)"
	case 0x6b:
		return " (MPEG-1 audio: MP3 or MP2)"
	case 0xa5:
		return " (AC-3)"
	case 0xa6:
		return " (E-AC-3)"
	case 0xa9, 0xaa, 0xab, 0xac:
		return " (DTS)"
	case 0xad:
		return " (Opus)"
	case 0xdd:
		return " (Vorbis)"
	}
	return ""
}

// audioObjectTypeName names an MPEG-4 audio object type (ISO/IEC 14496-3 1.5.1.1).
func audioObjectTypeName(aot byte) string {
	names := map[byte]string{
		1: "AAC Main", 2: "AAC-LC", 3: "AAC SSR", 4: "AAC LTP", 5: "SBR: HE-AAC", 6: "AAC Scalable",
		7: "TwinVQ", 8: "CELP", 9: "HVXC", 12: "TTSI", 13: "Main synthetic", 14: "Wavetable synthesis",
		15: "General MIDI", 16: "Algorithmic synthesis", 17: "ER AAC-LC", 19: "ER AAC LTP",
		20: "ER AAC Scalable", 21: "ER TwinVQ", 22: "ER BSAC", 23: "ER AAC-LD", 24: "ER CELP",
		25: "ER HVXC", 26: "ER HILN", 27: "ER Parametric", 28: "SSC", 29: "PS: HE-AACv2",
		30: "MPEG Surround", 32: "MPEG-1/2 Layer-1", 33: "MPEG-1/2 Layer-2", 34: "MPEG-1/2 Layer-3: MP3",
		35: "DST", 36: "ALS: lossless", 37: "SLS", 38: "SLS non-core", 39: "ER AAC-ELD",
		40: "SMR Simple", 41: "SMR Main", 42: "USAC: xHE-AAC", 43: "SAOC", 44: "LD MPEG Surround",
		45: "SAOC-DE", 46: "Audio Sync",
	}
	if n, ok := names[aot]; ok {
		return n
	}
	return "reserved"
}

// hevcCodecString builds hvc1/hev1 codec strings (ISO/IEC 14496-15 Annex E)
// from the decoder configuration record, which carries the same profile,
// tier, level and constraint fields as the SPS.
func hevcCodecString(sampleEntry string, c *mp4.HvcCBox) string {
	var b bytes.Buffer
	b.WriteString(sampleEntry)
	b.WriteByte('.')
	if c.GeneralProfileSpace > 0 && c.GeneralProfileSpace < 4 {
		b.WriteByte("_ABC"[c.GeneralProfileSpace])
	}
	fmt.Fprintf(&b, "%d.%X.", c.GeneralProfileIDC, bits.Reverse32(c.GeneralProfileCompatibilityFlags))
	if c.GeneralTierFlag {
		b.WriteByte('H')
	} else {
		b.WriteByte('L')
	}
	fmt.Fprintf(&b, "%d", c.GeneralLevelIDC)
	// Six constraint bytes; trailing zero bytes are omitted.
	cif := c.GeneralConstraintIndicatorFlags
	n := 6
	for n > 0 && (cif>>(uint(6-n)*8))&0xff == 0 {
		n--
	}
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, ".%X", (cif>>(uint(5-i)*8))&0xff)
	}
	return b.String()
}

// av1CodecString returns av01.P.LLT.DD, with the optional colour fields when
// the configuration record carries a sequence header that has them.
func av1CodecString(c *av1.CodecConfRec) string {
	if sh, err := c.SequenceHeader(); err == nil && sh != nil {
		return sh.CodecString("av01")
	}
	return c.CodecString("av01")
}

// Reduce returns r in lowest terms.
func (r Rational) Reduce() Rational {
	if g := mediatime.GCD(r.Num, r.Den); g > 1 {
		return Rational{r.Num / g, r.Den / g}
	}
	return r
}

// NewReaderAtSamples returns the SampleReader of an input whose samples lie
// in r, Size bytes at their Offset (MP4, fragmented MP4). Its ReaderAt
// method returns r, so writers can read or copy a run of back-to-back
// samples at once (see SampleReader).
func NewReaderAtSamples(r io.ReaderAt) SampleReader { return &readerAtSamples{r: r} }

// readerAtSamples reads contiguous sample payloads from an io.ReaderAt.
type readerAtSamples struct {
	r io.ReaderAt
}

func (s *readerAtSamples) AppendSample(dst []byte, smp *Sample) ([]byte, error) {
	n := len(dst)
	dst = growBy(dst, int(smp.Size))
	if _, err := s.r.ReadAt(dst[n:], smp.Offset); err != nil && err != io.EOF {
		return dst[:n], err
	}
	return dst, nil
}

// ReaderAt exposes the underlying reader so writers can copy runs of
// contiguous samples in one call.
func (s *readerAtSamples) ReaderAt() io.ReaderAt { return s.r }

func growBy(b []byte, n int) []byte {
	if cap(b)-len(b) < n {
		nb := make([]byte, len(b), 2*cap(b)+n)
		copy(nb, b)
		b = nb
	}
	return b[:len(b)+n]
}

// dolbyVisionCodec is the codec string of a Dolby Vision configuration
// under sample entry type entry ("dvh1.05.06"; Dolby Vision streams in
// HTTP Live Streaming and DASH, section 2).
func dolbyVisionCodec(entry string, dv *mp4.DoViConfigurationBox) string {
	return fmt.Sprintf("%s.%02d.%02d", entry, dv.DVProfile, dv.DVLevel)
}

// dolbyVisionSupplemental returns the supplemental codec of a Dolby Vision
// track whose base layer plays without Dolby Vision (profiles 8.x, 9.x,
// 10.x: an hvc1, avc1 or av01 sample entry with a dvcC/dvvC/dvwC box), in
// the HLS SUPPLEMENTAL-CODECS form "dvh1.08.07/db1p": the Dolby codec and
// the brand of the base layer's compatibility (1 HDR10, 2 SDR, 4 HLG). It
// returns "" for a compatibility no player can use (profile 7's dual layer,
// or none).
func dolbyVisionSupplemental(entry string, dv *mp4.DoViConfigurationBox) string {
	var brand string
	switch dv.DVBLSignalCompatibilityID {
	case 1:
		brand = "db1p"
	case 2:
		brand = "db2g"
	case 4:
		brand = "db4h"
	default:
		return ""
	}
	var dvEntry string
	switch entry {
	case "hvc1", "hev1":
		dvEntry = "dvh1"
	case "avc1", "avc3":
		dvEntry = "dva1"
	case "av01":
		dvEntry = "dav1"
	default:
		return ""
	}
	return dolbyVisionCodec(dvEntry, dv) + "/" + brand
}

package ts

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/Eyevinn/mp4ff/aac"
	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/cmafkit/cmafkit/segment"
)

// compareTrack checks that a TS track carries the same samples as the MP4
// track made from the same encode: payload bytes, relative timing, sync flags.
func compareTrack(t *testing.T, tr *segment.Track, mt *mp4Track) {
	t.Helper()
	ss := samplesOf(tr)
	if len(ss) != len(mt.dts) {
		t.Fatalf("%s: %d samples, MP4 has %d", tr, len(ss), len(mt.dts))
	}
	data := payloads(t, tr)
	if se, ok := mt.entry.(*mp4.VisualSampleEntryBox); ok && se.HvcC != nil {
		// hevc_mp4toannexb also inserts the SEI NAL units of the MP4's hvcC
		// in front of each IRAP picture; in a TS they are ordinary in-band SEI.
		var sei [][]byte
		for _, arr := range se.HvcC.DecConfRec.NaluArrays {
			if arr.NaluType() == 39 || arr.NaluType() == 40 {
				sei = append(sei, arr.Nalus...)
			}
		}
		for i := range data {
			data[i] = dropNALUs(data[i], sei)
		}
	}
	ts, ms := int64(tr.Timescale), int64(mt.timescale)
	var sum uint64
	for i, s := range ss {
		if !bytes.Equal(data[i], mt.data[i]) {
			t.Fatalf("%s sample %d: payload differs (%d vs %d bytes): %x... vs %x...", tr, i+1,
				len(data[i]), len(mt.data[i]), data[i][:min(16, len(data[i]))], mt.data[i][:min(16, len(mt.data[i]))])
		}
		if s.Sync != mt.sync[i] {
			t.Errorf("%s sample %d: sync %v, MP4 %v", tr, i+1, s.Sync, mt.sync[i])
		}
		got := int64(s.DecodeTime-ss[0].DecodeTime) * ms
		want := int64(mt.dts[i]-mt.dts[0]) * ts
		if got != want {
			t.Fatalf("%s sample %d: relative decode time %d/%d, MP4 %d/%d", tr, i+1,
				s.DecodeTime-ss[0].DecodeTime, ts, mt.dts[i]-mt.dts[0], ms)
		}
		if int64(s.CompositionOffset)*ms != int64(mt.cto[i])*ts {
			t.Fatalf("%s sample %d: composition offset %d/%d, MP4 %d/%d", tr, i+1, s.CompositionOffset, ts, mt.cto[i], ms)
		}
		if i+1 < len(ss) && int64(s.Duration)*ms != int64(mt.dts[i+1]-mt.dts[i])*ts {
			t.Fatalf("%s sample %d: duration %d", tr, i+1, s.Duration)
		}
		sum += uint64(s.Duration)
	}
	if sum != tr.Duration {
		t.Errorf("%s: Duration %d, sum of samples %d", tr, tr.Duration, sum)
	}
}

// presentationStart is the presentation time of a track's first sample, in seconds.
func presentationStart(tr *segment.Track) float64 {
	s := samplesOf(tr)[0]
	return float64(s.PresentationTime()-tr.PresentationOffset) / float64(tr.Timescale)
}

func mp4PresentationStart(mt *mp4Track) float64 {
	return float64(int64(mt.dts[0])+int64(mt.cto[0])-mt.mediaTime) / float64(mt.timescale)
}

func TestRoundTripAgainstMP4(t *testing.T) {
	for _, c := range []struct {
		ts, mp4          string
		vcodec, acodec   string
		rate, ch         int
		frameRate        segment.Rational
		width, height    int
		videoSE, audioSE string
	}{
		{"h264_aac.ts", "ladder_360p.mp4", "avc1.64001e", "mp4a.40.2", 48000, 2, segment.Rational{Num: 30000, Den: 1001}, 640, 360, "avc1", "mp4a"},
		{"h264_aac_wrap.ts", "ladder_360p.mp4", "avc1.64001e", "mp4a.40.2", 48000, 2, segment.Rational{Num: 30000, Den: 1001}, 640, 360, "avc1", "mp4a"},
		{"hevc_ac3.ts", "hevc_ac3.mp4", "", "ac-3", 48000, 2, segment.Rational{Num: 25, Den: 1}, 640, 360, "hvc1", "ac-3"},
	} {
		t.Run(c.ts, func(t *testing.T) {
			src := mustOpen(t, readFile(t, c.ts), c.ts)
			ref := readMP4(t, c.mp4)
			if st := src.Stats; st != (Stats{Packets: st.Packets}) {
				t.Errorf("clean file reports repairs: %+v", st)
			}
			v, a := trackOf(t, src, segment.KindVideo), trackOf(t, src, segment.KindAudio)
			if len(src.Tracks) != 2 || v.ID != 256 || a.ID != 257 {
				t.Errorf("tracks %v", src.Tracks)
			}
			compareTrack(t, v, ref["vide"])
			compareTrack(t, a, ref["soun"])

			// The MP4 source of package segment describes the same tracks.
			raw := readFile(t, c.mp4)
			msrc, err := segment.Open(context.Background(), bytes.NewReader(raw), int64(len(raw)), c.mp4, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, mtr := range msrc.Tracks {
				tr := trackOf(t, src, mtr.Kind)
				if tr.Codec != mtr.Codec || tr.Width != mtr.Width || tr.Height != mtr.Height || tr.FrameRate != mtr.FrameRate ||
					tr.SampleRate != mtr.SampleRate || tr.Channels != mtr.Channels || tr.VideoRange != mtr.VideoRange ||
					tr.PixelAspect.Float() != mtr.PixelAspect.Float() {
					t.Errorf("TS track %+v\ndiffers from MP4 track %+v", describe(tr), describe(mtr))
				}
			}

			// Track description.
			vse := v.SampleEntry.(*mp4.VisualSampleEntryBox)
			rse := ref["vide"].entry.(*mp4.VisualSampleEntryBox)
			if vse.Type() != c.videoSE || v.Width != c.width || v.Height != c.height ||
				int(vse.Width) != int(rse.Width) || int(vse.Height) != int(rse.Height) {
				t.Errorf("video entry %s %dx%d (track %dx%d), MP4 %dx%d", vse.Type(), vse.Width, vse.Height, v.Width, v.Height, rse.Width, rse.Height)
			}
			if v.FrameRate != c.frameRate || v.PixelAspect != (segment.Rational{Num: 1, Den: 1}) || v.VideoRange != "SDR" || v.Timescale != 90000 {
				t.Errorf("video: frame rate %v, aspect %v, range %q, timescale %d", v.FrameRate, v.PixelAspect, v.VideoRange, v.Timescale)
			}
			switch c.videoSE {
			case "avc1":
				got, want := vse.AvcC.DecConfRec, rse.AvcC.DecConfRec
				if !equalNALUs(got.SPSnalus, want.SPSnalus) || !equalNALUs(got.PPSnalus, want.PPSnalus) {
					t.Errorf("avcC parameter sets differ from the MP4's")
				}
				if want := "avc1." + hex.EncodeToString(want.SPSnalus[0][1:4]); v.Codec != want || v.Codec != c.vcodec {
					t.Errorf("codec %q, want %q", v.Codec, want)
				}
			case "hvc1":
				got, want := vse.HvcC.DecConfRec, rse.HvcC.DecConfRec
				for _, typ := range []byte{32, 33, 34} {
					if !equalNALUs(got.GetNalusForType(hevcType(typ)), want.GetNalusForType(hevcType(typ))) {
						t.Errorf("hvcC NAL units of type %d differ from the MP4's", typ)
					}
				}
				if got.GeneralProfileIDC != want.GeneralProfileIDC || got.GeneralLevelIDC != want.GeneralLevelIDC {
					t.Errorf("hvcC profile/level %d/%d, MP4 %d/%d", got.GeneralProfileIDC, got.GeneralLevelIDC, want.GeneralProfileIDC, want.GeneralLevelIDC)
				}
				if !strings.HasPrefix(v.Codec, "hvc1.1.6.L") {
					t.Errorf("codec %q", v.Codec)
				}
			}
			ase := a.SampleEntry.(*mp4.AudioSampleEntryBox)
			rae := ref["soun"].entry.(*mp4.AudioSampleEntryBox)
			if ase.Type() != c.audioSE || a.Codec != c.acodec || a.SampleRate != c.rate || a.Channels != c.ch ||
				a.Timescale != uint32(c.rate) || ase.ChannelCount != rae.ChannelCount || ase.SampleRate != rae.SampleRate {
				t.Errorf("audio %s %s %d Hz %d ch (entry %d ch %d Hz), MP4 entry %d ch %d Hz", ase.Type(), a.Codec, a.SampleRate, a.Channels,
					ase.ChannelCount, ase.SampleRate, rae.ChannelCount, rae.SampleRate)
			}
			switch c.audioSE {
			case "mp4a":
				got := decodeASC(t, ase.Esds.DecConfigDescriptor.DecSpecificInfo.DecConfig)
				want := decodeASC(t, rae.Esds.DecConfigDescriptor.DecSpecificInfo.DecConfig)
				if *got != *want {
					t.Errorf("AudioSpecificConfig %+v, MP4 %+v", got, want)
				}
			case "ac-3":
				if !bytes.Equal(encodeBox(t, ase.Dac3), encodeBox(t, rae.Dac3)) {
					t.Errorf("dac3 %+v, MP4 %+v", ase.Dac3, rae.Dac3)
				}
			}

			// The A/V start offset survives: the first video frame is presented
			// as long after the first audio frame as in the MP4.
			gotOff := presentationStart(v) - presentationStart(a)
			wantOff := mp4PresentationStart(ref["vide"]) - mp4PresentationStart(ref["soun"])
			if math.Abs(gotOff-wantOff) > 2.0/90000 {
				t.Errorf("video starts %.6f s after audio, MP4 %.6f s", gotOff, wantOff)
			}
			// Presentation zero is the earliest presented sample of the program.
			if s := min(presentationStart(v), presentationStart(a)); s != 0 {
				t.Errorf("earliest presentation %.6f s, want 0", s)
			}
			if v.PresentationOffset*int64(a.Timescale) != a.PresentationOffset*int64(v.Timescale) &&
				math.Abs(float64(v.PresentationOffset)/90000-float64(a.PresentationOffset)/float64(a.Timescale)) > 1.0/float64(a.Timescale) {
				t.Errorf("presentation offsets name different instants: %d/%d vs %d/%d", v.PresentationOffset, v.Timescale, a.PresentationOffset, a.Timescale)
			}
		})
	}
}

type hevcType = hevcNaluType

// dropNALUs removes the length-prefixed NAL units equal to one of drop.
func dropNALUs(sample []byte, drop [][]byte) []byte {
	var out []byte
	for len(sample) >= 4 {
		n := int(sample[0])<<24 | int(sample[1])<<16 | int(sample[2])<<8 | int(sample[3])
		if 4+n > len(sample) {
			break
		}
		nalu := sample[4 : 4+n]
		found := false
		for _, d := range drop {
			found = found || bytes.Equal(d, nalu)
		}
		if !found {
			out = append(out, sample[:4+n]...)
		}
		sample = sample[4+n:]
	}
	return out
}

func equalNALUs(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

func decodeASC(t *testing.T, b []byte) *aac.AudioSpecificConfigHeader {
	t.Helper()
	h, err := aac.DecodeAudioSpecificConfigHeader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func describe(t *segment.Track) string {
	return fmt.Sprintf("%s %s %dx%d fr=%v par=%v range=%s %d Hz %d ch", t.Kind, t.Codec, t.Width, t.Height, t.FrameRate, t.PixelAspect, t.VideoRange, t.SampleRate, t.Channels)
}

var _ = errors.Is

func TestConcurrentReads(t *testing.T) {
	src := mustOpen(t, readFile(t, "hevc_ac3.ts"), "hevc_ac3.ts")
	want := map[uint32][][]byte{}
	for _, tr := range src.Tracks {
		want[tr.ID] = payloads(t, tr)
	}
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		go func() {
			for _, tr := range src.Tracks {
				ss := samplesOf(tr)
				for i := len(ss) - 1; i >= 0; i-- {
					b, err := tr.Data.AppendSample(nil, &ss[i])
					if err == nil && !bytes.Equal(b, want[tr.ID][i]) {
						err = fmt.Errorf("%s sample %d differs", tr, i+1)
					}
					if err != nil {
						errs <- err
						return
					}
				}
			}
			errs <- nil
		}()
	}
	for g := 0; g < 8; g++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

func TestCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b := readFile(t, "h264_aac.ts")
	if _, err := Open(ctx, bytes.NewReader(b), int64(len(b)), "x", nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

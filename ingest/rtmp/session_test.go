package rtmp

import (
	"bytes"
	"context"
	"encoding/hex"
	"io"
	"log/slog"
	"testing"
	"time"

	gomp4 "github.com/abema/go-mp4"
	"github.com/bluenviron/gortmplib/pkg/bytecounter"
	"github.com/bluenviron/gortmplib/pkg/message"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"

	"github.com/cmafkit/cmafkit/segment"
)

// An x264 SPS (320x240, constrained baseline 1.3) and two PPSs.
var (
	testSPS, _  = hex.DecodeString("6742c00dda0507ec0440000003004000000c83c50aa8")
	testPPS, _  = hex.DecodeString("68ce0fc8")
	testPPS2, _ = hex.DecodeString("68ce3c80")
)

func avcConfig(sps, pps []byte) *gomp4.AVCDecoderConfiguration {
	c := &gomp4.AVCDecoderConfiguration{
		ConfigurationVersion: 1, Profile: sps[1], ProfileCompatibility: sps[2], Level: sps[3],
		LengthSizeMinusOne: 3, NumOfSequenceParameterSets: 1, NumOfPictureParameterSets: 1,
		SequenceParameterSets: []gomp4.AVCParameterSet{{Length: uint16(len(sps)), NALUnit: sps}},
		PictureParameterSets:  []gomp4.AVCParameterSet{{Length: uint16(len(pps)), NALUnit: pps}},
	}
	c.SetType(gomp4.BoxTypeAvcC())
	return c
}

func configMsg(pps []byte) *message.Video {
	return &message.Video{ChunkStreamID: message.VideoChunkStreamID, MessageStreamID: 1, Codec: message.CodecH264, Type: message.VideoTypeConfig, IsKeyFrame: true, AVCConfig: avcConfig(testSPS, pps)}
}

// frameMsg is an access unit at ts ms: an IDR slice when key, else a
// non-IDR one, with 4-byte lengths.
func frameMsg(ts uint32, key bool) *message.Video {
	nal := []byte{0x41, 0x9a, 0x01, 0x02}
	if key {
		nal = []byte{0x65, 0x88, 0x84, 0x00}
	}
	return &message.Video{
		ChunkStreamID: message.VideoChunkStreamID, MessageStreamID: 1, Codec: message.CodecH264, Type: message.VideoTypeAU, IsKeyFrame: key,
		DTS: time.Duration(ts) * time.Millisecond,
		AU:  append([]byte{0, 0, 0, byte(len(nal))}, nal...),
	}
}

func aacConfigMsg(rate int) *message.Audio {
	return &message.Audio{ChunkStreamID: message.AudioChunkStreamID, MessageStreamID: 1, Codec: message.CodecMPEG4Audio, AACType: message.AudioAACTypeConfig,
		AACConfig: &mpeg4audio.AudioSpecificConfig{Type: 2, SampleRate: rate, ChannelConfig: 2, ChannelCount: 2}}
}

func aacMsg(ts uint32) *message.Audio {
	return &message.Audio{ChunkStreamID: message.AudioChunkStreamID, MessageStreamID: 1, Codec: message.CodecMPEG4Audio, AACType: message.AudioAACTypeAU,
		DTS: time.Duration(ts) * time.Millisecond, AU: []byte{0x21, 0x10, 0x04}}
}

func newTestSession(t *testing.T) (*session, *recorder) {
	r := newRecorder()
	log := slog.New(slog.NewTextHandler(testWriter{t}, nil))
	return newSession(context.Background(), r, log, DefaultMaxJump), r
}

func feed(t *testing.T, s *session, msgs ...message.Message) {
	t.Helper()
	for _, m := range msgs {
		if _, err := s.handle(m); err != nil {
			t.Fatal(err)
		}
	}
}

func TestTimestampWrap(t *testing.T) {
	s, r := newTestSession(t)
	start := uint32(1<<32 - 100)
	feed(t, s, configMsg(testPPS), aacConfigMsg(48000))
	for i := range 10 {
		ts := start + uint32(40*i) // wraps after the third frame
		feed(t, s, frameMsg(ts, i == 0), aacMsg(ts))
	}
	s.flush()
	if r.discont != 0 {
		t.Errorf("%d discontinuities across the 32-bit wrap", r.discont)
	}
	video, _ := r.byKind(segment.KindVideo)
	if len(video) != 10 {
		t.Fatalf("%d video samples", len(video))
	}
	for i, v := range video {
		if want := uint64(start)*90 + uint64(i)*3600; v.s.DecodeTime != want || v.s.Duration != 3600 {
			t.Errorf("video %d: decode time %d duration %d, want %d 3600", i, v.s.DecodeTime, v.s.Duration, want)
		}
	}
	audio, _ := r.byKind(segment.KindAudio)
	for i := 1; i < len(audio); i++ {
		if audio[i].s.DecodeTime <= audio[i-1].s.DecodeTime {
			t.Errorf("audio %d: decode time %d after %d", i, audio[i].s.DecodeTime, audio[i-1].s.DecodeTime)
		}
	}
}

func TestTimestampDiscontinuities(t *testing.T) {
	for _, tc := range []struct {
		name string
		ts   []uint32
	}{
		{"reset", []uint32{1000, 1040, 1080, 0, 40}},
		{"jump", []uint32{0, 40, 80, 80 + 60000, 80 + 60040}},
		{"back across zero", []uint32{10, 50, 1<<32 - 1000, 1<<32 - 960, 1<<32 - 920}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, r := newTestSession(t)
			feed(t, s, configMsg(testPPS))
			for i, ts := range tc.ts {
				feed(t, s, frameMsg(ts, i%3 == 0))
			}
			s.flush()
			if r.discont != 1 {
				t.Errorf("%d discontinuities, want 1", r.discont)
			}
			video, _ := r.byKind(segment.KindVideo)
			if len(video) != len(tc.ts) {
				t.Fatalf("%d samples, want %d", len(video), len(tc.ts))
			}
			for i, v := range video {
				if want := uint64(tc.ts[i]) * 90; v.s.DecodeTime != want {
					t.Errorf("sample %d: decode time %d, want %d", i, v.s.DecodeTime, want)
				}
				if v.s.Duration != 3600 {
					t.Errorf("sample %d: duration %d, want 3600 (no gap across the discontinuity)", i, v.s.Duration)
				}
			}
		})
	}
}

func TestSequenceHeaderChange(t *testing.T) {
	s, r := newTestSession(t)
	feed(t, s, configMsg(testPPS), frameMsg(0, true), configMsg(testPPS), frameMsg(40, false),
		configMsg(testPPS2), frameMsg(80, true))
	s.flush()
	if len(r.tracks) != 2 {
		t.Fatalf("%d tracks declared, want 2 (the same header again is no change)", len(r.tracks))
	}
	var got []int
	for _, smp := range r.samples {
		got = append(got, smp.track)
	}
	if want := []int{0, 0, 1}; len(got) != 3 || got[0] != 0 || got[1] != 0 || got[2] != 1 {
		t.Errorf("samples on tracks %v, want %v", got, want)
	}
}

func TestAACTiming(t *testing.T) {
	s, r := newTestSession(t)
	feed(t, s, aacConfigMsg(44100))
	const base = 5000
	for i := range 100 {
		// RTMP carries rounded milliseconds: 23.22 ms per frame.
		ts := uint32(base + (i*1024*1000+22050)/44100)
		if i >= 50 {
			ts += 500 // a 500 ms gap in the input
		}
		feed(t, s, aacMsg(ts))
	}
	audio, tr := r.byKind(segment.KindAudio)
	if tr[0].Timescale != 44100 || tr[0].Codec != "mp4a.40.2" || tr[0].Channels != 2 {
		t.Errorf("track timescale %d codec %s channels %d", tr[0].Timescale, tr[0].Codec, tr[0].Channels)
	}
	for i, a := range audio {
		want := uint64(base*44100/1000 + i*1024)
		if i >= 50 {
			want = uint64((base+500+(50*1024*1000+22050)/44100)*44100/1000 + (i-50)*1024)
		}
		if a.s.DecodeTime != want {
			t.Fatalf("frame %d: decode time %d, want %d", i, a.s.DecodeTime, want)
		}
	}
}

func TestMalformedInputDropped(t *testing.T) {
	s, r := newTestSession(t)
	bad := frameMsg(40, false)
	bad.AU = []byte{0, 0, 0, 9, 0x41}
	feed(t, s, frameMsg(0, true), // before the header
		configMsg(testPPS), frameMsg(0, true), bad, frameMsg(80, false),
		&message.Video{Codec: message.CodecH264, Type: message.VideoTypeConfig, AVCConfig: &gomp4.AVCDecoderConfiguration{}},
		frameMsg(120, false))
	s.flush()
	if len(r.tracks) != 1 || len(r.samples) != 3 {
		t.Errorf("%d tracks %d samples, want 1 and 3", len(r.tracks), len(r.samples))
	}
	if s.dropped != 3 {
		t.Errorf("%d dropped, want 3", s.dropped)
	}
}

func TestLengthPrefixed(t *testing.T) {
	for _, tc := range []struct {
		in         string
		lengthSize int
		hevc       bool
		want       string
		sync       bool
		err        bool
	}{
		{"0265aa0141", 1, false, "0000000265aa0000000141", true, false},
		{"00024101", 2, false, "000000024101", false, false},
		{"000000022601", 4, true, "000000022601", true, false},       // IDR_W_RADL
		{"000000020201", 4, true, "000000020201", false, false},      // TRAIL_R
		{"000000000000000141", 4, false, "0000000141", false, false}, // empty NAL skipped
		{"0005aa", 2, false, "", false, true},
	} {
		in, _ := hex.DecodeString(tc.in)
		got, sync, err := lengthPrefixed(nil, in, tc.lengthSize, tc.hevc)
		if (err != nil) != tc.err || hex.EncodeToString(got) != tc.want || sync != tc.sync {
			t.Errorf("%s/%d: %x %v %v, want %s %v", tc.in, tc.lengthSize, got, sync, err, tc.want, tc.sync)
		}
	}
	for _, in := range []string{"05aa", "000000ff41", "0000"} {
		b, _ := hex.DecodeString(in)
		if _, _, err := lengthPrefixed(nil, b, 4, false); err == nil {
			t.Errorf("%s: no error", in)
		}
	}
	if _, _, err := lengthPrefixed(nil, []byte{1, 0x41}, 3, false); err == nil {
		t.Error("length size 3: no error")
	}
}

func TestAV1Sample(t *testing.T) {
	// temporal delimiter, sequence header (3 bytes), key frame shown
	// (frame OBU without a size field, last).
	in, _ := hex.DecodeString("1200" + "0a03aabbcc" + "30" + "1011")
	got, sync, err := av1Sample(nil, in)
	if err != nil || !sync {
		t.Fatalf("sync %v err %v", sync, err)
	}
	if want := "0a03aabbcc" + "3202" + "1011"; hex.EncodeToString(got) != want {
		t.Errorf("got %x, want %s", got, want)
	}
	in, _ = hex.DecodeString("1200" + "3202" + "3011") // inter frame
	if _, sync, err := av1Sample(nil, in); err != nil || sync {
		t.Errorf("inter frame: sync %v err %v", sync, err)
	}
	for _, bad := range []string{"80", "0a05aa", "0aff"} {
		b, _ := hex.DecodeString(bad)
		if _, _, err := av1Sample(nil, b); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

func FuzzLengthPrefixed(f *testing.F) {
	f.Add([]byte{0, 0, 0, 2, 0x65, 0}, 4, false)
	f.Add([]byte{2, 0x26, 1, 1, 0x41}, 1, true)
	f.Fuzz(func(t *testing.T, in []byte, lengthSize int, hevc bool) {
		out, _, err := lengthPrefixed(nil, in, lengthSize, hevc)
		if err != nil {
			return
		}
		// The output has 4-byte lengths covering it exactly.
		for p := out; len(p) > 0; {
			if len(p) < 4 {
				t.Fatalf("truncated output %x", out)
			}
			n := int(p[0])<<24 | int(p[1])<<16 | int(p[2])<<8 | int(p[3])
			if n == 0 || n > len(p)-4 {
				t.Fatalf("bad length in output %x", out)
			}
			p = p[4+n:]
		}
	})
}

func FuzzAV1Sample(f *testing.F) {
	f.Add([]byte{0x12, 0, 0x0a, 3, 0xaa, 0xbb, 0xcc, 0x30, 0x10, 0x11})
	f.Fuzz(func(t *testing.T, in []byte) {
		out, _, err := av1Sample(nil, in)
		if err != nil {
			return
		}
		// Every output OBU has a size field and they cover it exactly.
		if err := forOBUs(out, func(_ byte, obu, _ []byte) error {
			if obu[0]&obuHasSizeField == 0 {
				t.Fatalf("OBU without size field in %x", out)
			}
			return nil
		}); err != nil {
			t.Fatalf("output %x does not parse: %v", out, err)
		}
	})
}

// FuzzSession feeds RTMP chunk-stream bytes (after the handshake) through
// gortmplib's message reader into a session: nothing may panic, and the
// Publisher only sees samples whose size matches their payload.
func FuzzSession(f *testing.F) {
	var seed bytes.Buffer
	w := message.NewWriter(&seed, bytecounter.NewWriter(io.Discard), false)
	for _, m := range []message.Message{
		configMsg(testPPS), aacConfigMsg(48000), frameMsg(0, true), aacMsg(0), frameMsg(40, false), aacMsg(21),
		frameMsg(1<<32-1, false), frameMsg(5, true),
	} {
		if err := w.Write(m); err != nil {
			f.Fatal(err)
		}
	}
	f.Add(seed.Bytes())
	seedBytes := bytes.Clone(seed.Bytes())
	f.Fuzz(func(t *testing.T, in []byte) {
		br := bytecounter.NewReader(bytes.NewReader(in))
		mr := message.NewReader(br, br, func(uint32) error { return nil })
		r := newRecorder()
		s := newSession(context.Background(), r, slog.New(slog.DiscardHandler), DefaultMaxJump)
		s.source = "fuzz"
		err := s.run(mr.Read)
		if bytes.Equal(in, seedBytes) && (len(r.tracks) != 2 || len(r.samples) != 6 || r.discont != 1) {
			// Four video frames (the one before the step back flushed by
			// the discontinuity, the last at the end of input) and two AAC frames.
			t.Fatalf("seed: %d tracks %d samples %d discontinuities (%v)", len(r.tracks), len(r.samples), r.discont, err)
		}
	})
}

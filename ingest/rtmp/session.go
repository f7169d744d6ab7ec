package rtmp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/Eyevinn/mp4ff/av1"
	"github.com/Eyevinn/mp4ff/avc"
	"github.com/Eyevinn/mp4ff/hevc"
	"github.com/Eyevinn/mp4ff/mp4"
	gomp4 "github.com/abema/go-mp4"
	"github.com/bluenviron/gortmplib/pkg/message"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/opus"

	"github.com/cmafkit/cmafkit/internal/avcsps"
	"github.com/cmafkit/cmafkit/live"
	"github.com/cmafkit/cmafkit/segment"
)

// videoTimescale is the timescale of video tracks: RTMP milliseconds × 90.
const videoTimescale = 90000

// audioResync is how far (in ms) the RTMP time of an audio frame may
// drift from the frame count before the audio is re-anchored on it.
const audioResync = 100

// clock unwraps RTMP's 32-bit millisecond timestamps into a 64-bit
// timeline: each timestamp moves the clock by its signed 32-bit
// difference from the previous one, so a wrap after 2^32 ms continues
// forward and a small step back stays a step back.
type clock struct {
	init bool
	last uint32
	ext  int64
}

func (c *clock) unwrap(t uint32) int64 {
	if !c.init {
		c.reset(t)
		return c.ext
	}
	c.ext += int64(int32(t - c.last))
	c.last = t
	return c.ext
}

func (c *clock) reset(t uint32) {
	c.init, c.last, c.ext = true, t, int64(t)
}

// trackTime is the last unwrapped time (ms) of a track.
type trackTime struct {
	have bool
	last int64
}

// videoTrack is the state of the session's video track.
type videoTrack struct {
	id         int
	added      bool
	entryType  string // avc1, hvc1, av01
	entry      []byte // encoded sample entry, to notice configuration changes
	lengthSize int    // NAL unit length size of the input (AVC, HEVC)
	tt         trackTime
	pending    bool
	pend       segment.Sample
	pendMS     int64
	pendBuf    []byte
	spare      []byte
	lastDur    uint32
	flagWarned bool
}

// audioTrack is the state of the session's audio track.
type audioTrack struct {
	id        int
	added     bool
	entryType string // mp4a, Opus
	entry     []byte
	rate      int    // timescale
	frameLen  uint32 // samples per frame (AAC); 0: from each packet (Opus)
	tt        trackTime
	anchored  bool
	next      int64 // decode time of the next frame, in rate units
}

// session maps one publish's RTMP messages onto a live.Publisher.
type session struct {
	ctx     context.Context
	pub     live.Publisher
	log     *slog.Logger
	source  string
	maxJump int64 // ms
	clk     clock
	video   videoTrack
	audio   audioTrack
	dropped int // samples dropped as malformed
}

func newSession(ctx context.Context, pub live.Publisher, log *slog.Logger, maxJump time.Duration) *session {
	return &session{ctx: ctx, pub: pub, log: log, maxJump: maxJump.Milliseconds()}
}

// run reads messages until the publisher ends the stream (nil), the
// connection fails, or the Publisher refuses a track or sample.
func (s *session) run(read func() (message.Message, error)) error {
	for {
		msg, err := read()
		if err != nil {
			s.flush()
			if isEOF(err) {
				return ErrDisconnected
			}
			return fmt.Errorf("rtmp: reading %s: %w", s.source, err)
		}
		end, err := s.handle(msg)
		if err != nil {
			return err
		}
		if end {
			s.flush()
			return nil
		}
	}
}

// handle processes one message; end is true when the publisher ended the
// stream. Malformed media is dropped with a warning; only the Publisher's
// errors are returned.
func (s *session) handle(msg message.Message) (end bool, err error) {
	switch m := msg.(type) {
	case *message.CommandAMF0:
		switch m.Name {
		case "FCUnpublish", "deleteStream", "closeStream":
			return true, nil
		}
	case *message.Video:
		return false, s.legacyVideo(m)
	case *message.VideoExSequenceStart:
		return false, s.videoConfig(m.FourCC, m.AVCConfig, m.HEVCConfig, m.AV1Config)
	case *message.VideoExCodedFrames:
		return false, s.videoFrame(m.FourCC, uint32(m.DTS/time.Millisecond), m.PTSDelta, m.Payload)
	case *message.VideoExFramesX:
		return false, s.videoFrame(m.FourCC, uint32(m.DTS/time.Millisecond), 0, m.Payload)
	case *message.VideoExMultitrack, *message.AudioExMultitrack:
		s.warn("rtmp: multitrack Enhanced RTMP is not supported; dropped")
	case *message.Audio:
		return false, s.legacyAudio(m)
	case *message.AudioExSequenceStart:
		return false, s.audioConfig(m.FourCC, m.AACConfig, m.OpusConfig)
	case *message.AudioExCodedFrames:
		return false, s.audioFrame(m.FourCC, uint32(m.DTS/time.Millisecond), m.Payload)
	case *message.DataAMF0:
		return false, s.cuePoint(m)
	}
	return false, nil
}

// warn logs a dropped piece of input: the first ten, then every 1000th.
func (s *session) warn(msg string, args ...any) {
	s.dropped++
	if s.dropped <= 10 || s.dropped%1000 == 0 {
		s.log.Warn(msg, append(args, "dropped", s.dropped)...)
	}
}

func (s *session) legacyVideo(m *message.Video) error {
	switch m.Type {
	case message.VideoTypeConfig:
		switch m.Codec {
		case message.CodecH264:
			return s.videoConfig(message.FourCCAVC, m.AVCConfig, nil, nil)
		case message.CodecH265:
			return s.videoConfig(message.FourCCHEVC, nil, m.HEVCConfig, nil)
		}
	case message.VideoTypeAU:
		fourCC := message.FourCC(message.FourCCAVC)
		if m.Codec == message.CodecH265 {
			fourCC = message.FourCCHEVC
		}
		return s.videoAU(fourCC, uint32(m.DTS/time.Millisecond), m.PTSDelta, m.AU, m.IsKeyFrame, true)
	}
	return nil
}

func (s *session) videoFrame(fourCC message.FourCC, ts uint32, cts time.Duration, payload []byte) error {
	return s.videoAU(fourCC, ts, cts, payload, false, false)
}

// videoConfig builds the video sample entry from a sequence header and
// declares the track when it is new or changed.
func (s *session) videoConfig(fourCC message.FourCC, avcC *gomp4.AVCDecoderConfiguration, hvcC *gomp4.HvcC, av1C *gomp4.Av1C) error {
	t, lengthSize, err := videoTrackFor(fourCC, avcC, hvcC, av1C)
	if err != nil {
		s.warn("rtmp: video configuration dropped", "err", err)
		return nil
	}
	t.Source = s.source
	v := &s.video
	enc, err := encodeBox(t.SampleEntry)
	if err != nil {
		s.warn("rtmp: video configuration dropped", "err", err)
		return nil
	}
	if v.added && bytes.Equal(enc, v.entry) {
		v.lengthSize = lengthSize
		return nil // the same configuration again
	}
	s.flushVideo()
	id, err := s.pub.AddTrack(s.ctx, t)
	if err != nil {
		return fmt.Errorf("rtmp: %s: adding %s track: %w", s.source, t.Codec, err)
	}
	v.id, v.added, v.entryType, v.entry, v.lengthSize = id, true, t.SampleEntry.Type(), enc, lengthSize
	return nil
}

// videoTrackFor builds a video Track (Kind, Timescale, SampleEntry,
// Codec, size) from a sequence header. It recovers from panics of the
// parameter set parsers on malformed input.
func videoTrackFor(fourCC message.FourCC, avcC *gomp4.AVCDecoderConfiguration, hvcC *gomp4.HvcC, av1C *gomp4.Av1C) (t *segment.Track, lengthSize int, err error) {
	defer func() {
		if r := recover(); r != nil {
			t, err = nil, fmt.Errorf("malformed %s configuration: %v", fourCCName(fourCC), r)
		}
	}()
	t = &segment.Track{Kind: segment.KindVideo, Timescale: videoTimescale}
	var cfg mp4.Box
	var w, h uint32
	switch {
	case fourCC == message.FourCCAVC && avcC != nil:
		var sps, pps [][]byte
		for _, p := range avcC.SequenceParameterSets {
			sps = append(sps, p.NALUnit)
		}
		for _, p := range avcC.PictureParameterSets {
			pps = append(pps, p.NALUnit)
		}
		if len(sps) == 0 || len(pps) == 0 {
			return nil, 0, errors.New("H.264 configuration without SPS or PPS")
		}
		p, err := avcsps.Parse(sps[0])
		if err != nil {
			return nil, 0, fmt.Errorf("H.264 SPS: %w", err)
		}
		c, err := mp4.CreateAvcC(sps, pps, true)
		if err != nil {
			return nil, 0, fmt.Errorf("H.264 configuration: %w", err)
		}
		cfg, w, h = c, uint32(p.Width), uint32(p.Height)
		t.Codec = avc.CodecString("avc1", p)
		if v := p.VUI; v != nil && v.TimingInfoPresentFlag && v.NumUnitsInTick > 0 && v.TimeScale > 0 {
			// Two ticks a frame (H.264 E.2.1, frame-coded streams).
			t.FrameRate = reduceRational(int64(v.TimeScale), 2*int64(v.NumUnitsInTick))
		}
		lengthSize = int(avcC.LengthSizeMinusOne) + 1
		t.SampleEntry = mp4.CreateVisualSampleEntryBox("avc1", 0, 0, nil)
	case fourCC == message.FourCCHEVC && hvcC != nil:
		var vps, sps, pps [][]byte
		for _, a := range hvcC.NaluArrays {
			for _, n := range a.Nalus {
				switch hevc.NaluType(a.NaluType) {
				case hevc.NALU_VPS:
					vps = append(vps, n.NALUnit)
				case hevc.NALU_SPS:
					sps = append(sps, n.NALUnit)
				case hevc.NALU_PPS:
					pps = append(pps, n.NALUnit)
				}
			}
		}
		if len(vps) == 0 || len(sps) == 0 || len(pps) == 0 {
			return nil, 0, errors.New("HEVC configuration without VPS, SPS or PPS")
		}
		p, err := hevc.ParseSPSNALUnit(sps[0])
		if err != nil {
			return nil, 0, fmt.Errorf("HEVC SPS: %w", err)
		}
		c, err := mp4.CreateHvcC(vps, sps, pps, true, true, true, true)
		if err != nil {
			return nil, 0, fmt.Errorf("HEVC configuration: %w", err)
		}
		cfg = c
		w, h = p.ImageSize()
		t.Codec = hevc.CodecString("hvc1", p)
		lengthSize = int(hvcC.LengthSizeMinusOne) + 1
		t.SampleEntry = mp4.CreateVisualSampleEntryBox("hvc1", 0, 0, nil)
	case fourCC == message.FourCCAV1 && av1C != nil:
		var buf bytes.Buffer
		if _, err := gomp4.Marshal(&buf, av1C, gomp4.Context{}); err != nil {
			return nil, 0, fmt.Errorf("AV1 configuration: %w", err)
		}
		rec, err := av1.DecodeAV1CodecConfRec(buf.Bytes())
		if err != nil {
			return nil, 0, fmt.Errorf("AV1 configuration: %w", err)
		}
		sh, err := av1SequenceHeader(av1C.ConfigOBUs)
		if err != nil {
			return nil, 0, err
		}
		cfg, w, h = &mp4.Av1CBox{CodecConfRec: rec}, sh.Width(), sh.Height()
		t.Codec = av1.CodecString("av01", sh)
		t.SampleEntry = mp4.CreateVisualSampleEntryBox("av01", 0, 0, nil)
	default:
		return nil, 0, fmt.Errorf("unsupported video codec %s", fourCCName(fourCC))
	}
	if lengthSize == 3 {
		return nil, 0, errors.New("NAL unit length size 3 is not allowed")
	}
	if w > math.MaxUint16 || h > math.MaxUint16 {
		return nil, 0, fmt.Errorf("picture size %dx%d too large", w, h)
	}
	t.Width, t.Height = int(w), int(h)
	t.SampleEntry = mp4.CreateVisualSampleEntryBox(t.SampleEntry.Type(), uint16(w), uint16(h), cfg)
	return t, lengthSize, nil
}

// av1SequenceHeader finds and parses the sequence header OBU among the
// configOBUs of an av1C.
func av1SequenceHeader(obus []byte) (*av1.SequenceHeader, error) {
	var sh *av1.SequenceHeader
	err := forOBUs(obus, func(typ byte, _, payload []byte) error {
		if typ == obuSequenceHeader && sh == nil {
			var err error
			sh, err = av1.ParseSequenceHeader(payload)
			return err
		}
		return nil
	})
	if err == nil && sh == nil {
		err = errors.New("no sequence header")
	}
	if err != nil {
		return nil, fmt.Errorf("AV1 configuration OBUs: %w", err)
	}
	return sh, nil
}

// videoAU hands over the previous access unit (now that its duration is
// known) and holds this one.
func (s *session) videoAU(fourCC message.FourCC, ts uint32, cts time.Duration, payload []byte, flagKey, haveFlag bool) error {
	v := &s.video
	if !v.added {
		s.warn("rtmp: video before its sequence header dropped")
		return nil
	}
	if fourCCEntry(fourCC) != v.entryType {
		s.warn("rtmp: video codec differs from its sequence header; dropped", "codec", fourCCName(fourCC), "entry", v.entryType)
		return nil
	}
	var out []byte
	var sync bool
	var err error
	if v.entryType == "av01" {
		out, sync, err = av1Sample(v.spare[:0], payload)
	} else {
		out, sync, err = lengthPrefixed(v.spare[:0], payload, v.lengthSize, v.entryType == "hvc1")
	}
	if err != nil {
		s.warn("rtmp: malformed video access unit dropped", "err", err)
		return nil
	}
	if len(out) == 0 {
		return nil // an empty access unit (some encoders send them)
	}
	if haveFlag && flagKey != sync && !v.flagWarned {
		v.flagWarned = true
		s.log.Warn("rtmp: FLV key frame flag disagrees with the NAL unit types; using the NAL unit types", "flag", flagKey)
	}
	if len(out) > math.MaxUint32 {
		s.warn("rtmp: video access unit too large; dropped")
		return nil
	}
	ms := s.time(&v.tt, ts)
	if v.pending {
		d := (ms - v.pendMS) * (videoTimescale / 1000)
		if d > 0 && d <= math.MaxUint32 {
			v.lastDur = uint32(d)
		}
		if err := s.writeVideo(); err != nil {
			return err
		}
	}
	v.pending = true
	v.pendMS = ms
	v.pend = segment.Sample{
		DecodeTime:        uint64(ms) * (videoTimescale / 1000),
		Size:              uint32(len(out)),
		CompositionOffset: int32(cts / time.Millisecond * (videoTimescale / 1000)),
		Sync:              sync,
	}
	v.spare, v.pendBuf = v.pendBuf, out
	return nil
}

// writeVideo writes the held access unit with the last known duration.
func (s *session) writeVideo() error {
	v := &s.video
	if !v.pending {
		return nil
	}
	v.pending = false
	if v.lastDur == 0 {
		v.lastDur = videoTimescale / 25 // before any measurement: assume 25 fps
	}
	v.pend.Duration = v.lastDur
	if err := s.pub.WriteSample(s.ctx, v.id, v.pend, v.pendBuf); err != nil {
		return fmt.Errorf("rtmp: %s: writing video: %w", s.source, err)
	}
	return nil
}

// flushVideo writes a held access unit, logging a Publisher error (the
// session ends on the next write anyway).
func (s *session) flushVideo() {
	if err := s.writeVideo(); err != nil {
		s.log.Warn("rtmp: flushing video", "err", err)
	}
}

// flush hands over what is held at the end of the stream.
func (s *session) flush() { s.flushVideo() }

// time unwraps ts and checks it against the track's last time: a step
// back or a jump beyond maxJump becomes a discontinuity.
func (s *session) time(tt *trackTime, ts uint32) int64 {
	ms := s.clk.unwrap(ts)
	if ms < 0 || tt.have && (ms < tt.last || ms-tt.last > s.maxJump) {
		s.log.Warn("rtmp: timestamp discontinuity", "from_ms", tt.last, "to_ms", ms)
		s.flushVideo()
		s.clk.reset(ts)
		ms = s.clk.ext
		s.video.tt.have, s.audio.tt.have, s.audio.anchored = false, false, false
		s.pub.Discontinuity(s.ctx)
	}
	tt.have, tt.last = true, ms
	return ms
}

func (s *session) legacyAudio(m *message.Audio) error {
	if m.Codec != message.CodecMPEG4Audio {
		s.warn("rtmp: unsupported audio codec dropped", "flv_codec", m.Codec)
		return nil
	}
	if m.AACType == message.AudioAACTypeConfig {
		if m.AACConfig == nil {
			return nil
		}
		return s.audioConfig(message.FourCCMP4A, m.AACConfig, nil)
	}
	return s.audioFrame(message.FourCCMP4A, uint32(m.DTS/time.Millisecond), m.AU)
}

// audioConfig builds the audio sample entry from a sequence header and
// declares the track when it is new or changed.
func (s *session) audioConfig(fourCC message.FourCC, asc *mpeg4audio.AudioSpecificConfig, opusHdr *opus.IDHeader) error {
	t, frameLen, err := audioTrackFor(fourCC, asc, opusHdr)
	if err != nil {
		s.warn("rtmp: audio configuration dropped", "err", err)
		return nil
	}
	t.Source = s.source
	a := &s.audio
	enc, err := encodeBox(t.SampleEntry)
	if err != nil {
		s.warn("rtmp: audio configuration dropped", "err", err)
		return nil
	}
	if a.added && bytes.Equal(enc, a.entry) {
		return nil
	}
	id, err := s.pub.AddTrack(s.ctx, t)
	if err != nil {
		return fmt.Errorf("rtmp: %s: adding %s track: %w", s.source, t.Codec, err)
	}
	a.id, a.added, a.entryType, a.entry = id, true, t.SampleEntry.Type(), enc
	if a.rate != int(t.Timescale) {
		a.anchored = false
	}
	a.rate, a.frameLen = int(t.Timescale), frameLen
	return nil
}

// audioTrackFor builds an audio Track from a sequence header.
func audioTrackFor(fourCC message.FourCC, asc *mpeg4audio.AudioSpecificConfig, opusHdr *opus.IDHeader) (t *segment.Track, frameLen uint32, err error) {
	defer func() {
		if r := recover(); r != nil {
			t, err = nil, fmt.Errorf("malformed %s configuration: %v", fourCCName(fourCC), r)
		}
	}()
	t = &segment.Track{Kind: segment.KindAudio}
	switch {
	case fourCC == message.FourCCMP4A && asc != nil:
		if asc.SampleRate <= 0 || asc.SampleRate > math.MaxUint16 {
			return nil, 0, fmt.Errorf("AAC sample rate %d", asc.SampleRate)
		}
		raw, err := asc.Marshal()
		if err != nil {
			return nil, 0, fmt.Errorf("AAC configuration: %w", err)
		}
		ch := int(asc.ChannelConfig)
		switch {
		case ch == 7:
			ch = 8
		case ch == 0 || ch > 7:
			ch = 2 // layout in a PCE: the sample entry's count is informative
		}
		frameLen = 1024
		if asc.FrameLengthFlag {
			frameLen = 960
		}
		t.Timescale, t.SampleRate, t.Channels = uint32(asc.SampleRate), asc.SampleRate, ch
		t.Codec = fmt.Sprintf("mp4a.40.%d", asc.Type)
		t.SampleEntry = mp4.CreateAudioSampleEntryBox("mp4a", uint16(ch), 16, uint16(asc.SampleRate), mp4.CreateEsdsBox(raw))
	case fourCC == message.FourCCOpus && opusHdr != nil:
		d := &mp4.DopsBox{
			OutputChannelCount:   opusHdr.ChannelCount,
			PreSkip:              opusHdr.PreSkip,
			InputSampleRate:      opusHdr.InputSampleRate,
			OutputGain:           int16(opusHdr.OutputGain),
			ChannelMappingFamily: opusHdr.ChannelMappingFamily,
		}
		if d.ChannelMappingFamily != 0 {
			tab := opusHdr.ChannelMappingTable
			if len(tab) < 2+int(d.OutputChannelCount) {
				return nil, 0, errors.New("Opus header: short channel mapping table")
			}
			d.StreamCount, d.CoupledCount = tab[0], tab[1]
			d.ChannelMapping = append([]byte(nil), tab[2:2+int(d.OutputChannelCount)]...)
		}
		if d.OutputChannelCount == 0 {
			return nil, 0, errors.New("Opus header: no channels")
		}
		t.Timescale, t.SampleRate, t.Channels = 48000, 48000, int(d.OutputChannelCount)
		t.Codec = "opus"
		t.SampleEntry = mp4.CreateAudioSampleEntryBox("Opus", uint16(d.OutputChannelCount), 16, 48000, d)
	default:
		return nil, 0, fmt.Errorf("unsupported audio codec %s", fourCCName(fourCC))
	}
	return t, frameLen, nil
}

// audioFrame writes one audio frame, timed by the frame count anchored on
// the RTMP time (see the package documentation).
func (s *session) audioFrame(fourCC message.FourCC, ts uint32, frame []byte) error {
	a := &s.audio
	if !a.added {
		s.warn("rtmp: audio before its sequence header dropped")
		return nil
	}
	if fourCCEntry(fourCC) != a.entryType {
		s.warn("rtmp: audio codec differs from its sequence header; dropped", "codec", fourCCName(fourCC))
		return nil
	}
	if len(frame) == 0 || len(frame) > math.MaxUint32 {
		s.warn("rtmp: malformed audio frame dropped", "size", len(frame))
		return nil
	}
	dur := a.frameLen
	if dur == 0 {
		d := opus.PacketDuration2(frame)
		if d <= 0 || d > 48000*120/1000 {
			s.warn("rtmp: malformed Opus packet dropped")
			return nil
		}
		dur = uint32(d)
	}
	ms := s.time(&a.tt, ts)
	at := ms * int64(a.rate) / 1000
	if !a.anchored || abs(at-a.next) > audioResync*int64(a.rate)/1000 {
		if a.anchored {
			s.log.Debug("rtmp: audio re-anchored on the RTMP time", "drift", at-a.next)
		}
		a.anchored, a.next = true, at
	}
	smp := segment.Sample{DecodeTime: uint64(a.next), Size: uint32(len(frame)), Duration: dur, Sync: true}
	a.next += int64(dur)
	if err := s.pub.WriteSample(s.ctx, a.id, smp, frame); err != nil {
		return fmt.Errorf("rtmp: %s: writing audio: %w", s.source, err)
	}
	return nil
}

func reduceRational(n, d int64) segment.Rational {
	a, b := n, d
	for b != 0 {
		a, b = b, a%b
	}
	return segment.Rational{Num: n / a, Den: d / a}
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

func encodeBox(b mp4.Box) ([]byte, error) {
	var buf bytes.Buffer
	if err := b.Encode(&buf); err != nil {
		return nil, fmt.Errorf("encoding %s: %w", b.Type(), err)
	}
	return buf.Bytes(), nil
}

// fourCCEntry names the sample entry type a FourCC's frames go into.
func fourCCEntry(f message.FourCC) string {
	switch f {
	case message.FourCCAVC:
		return "avc1"
	case message.FourCCHEVC:
		return "hvc1"
	case message.FourCCAV1:
		return "av01"
	case message.FourCCMP4A:
		return "mp4a"
	case message.FourCCOpus:
		return "Opus"
	}
	return ""
}

func fourCCName(f message.FourCC) string {
	b := []byte{byte(f >> 24), byte(f >> 16), byte(f >> 8), byte(f)}
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return fmt.Sprintf("0x%08x", uint32(f))
		}
	}
	return string(b)
}

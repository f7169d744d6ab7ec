package rtmp

import (
	"encoding/base64"
	"errors"
	"math"

	"github.com/bluenviron/gortmplib/pkg/amf0"
	"github.com/bluenviron/gortmplib/pkg/message"

	"github.com/cmafkit/cmafkit/live"
	"github.com/cmafkit/cmafkit/scte35"
)

// cuePoint handles an AMF0 data message. An onCuePoint (alone or after
// @setDataFrame) whose parameters hold an SCTE-35 splice_info_section in
// base64 (under any key: encoders name it "scte35", "cue" or otherwise) is
// handed to the publisher, if it takes cues (live.CuePublisher), at the cue
// point's time: its "time" in seconds on the stream's RTMP timestamp clock.
// gortmplib's DataAMF0 carries no message timestamp, so the cue point's own
// time is the only one. Cue points without SCTE-35 (navigation, captions,
// an encoder's own markers) are ignored; bad ones are logged and skipped.
func (s *session) cuePoint(m *message.DataAMF0) error {
	p := m.Payload
	if len(p) > 0 && p[0] == "@setDataFrame" {
		p = p[1:]
	}
	if len(p) < 2 || p[0] != "onCuePoint" {
		return nil
	}
	obj := amfObject(p[1])
	t, ok := obj.GetFloat64("time")
	if !ok || math.IsNaN(t) || math.IsInf(t, 0) || t < 0 || t > math.MaxUint32/1000 {
		s.warn("rtmp: onCuePoint without a usable time; skipped")
		return nil
	}
	params, _ := obj.Get("parameters")
	var section []byte
	for _, e := range amfObject(params) {
		str, ok := e.Value.(string)
		if !ok || len(str) < 20 || len(str) > 8192 {
			continue
		}
		b, err := base64.StdEncoding.DecodeString(str)
		if err != nil || len(b) == 0 || b[0] != scte35.TableID {
			continue
		}
		if _, err := scte35.Parse(b); err != nil {
			s.warn("rtmp: onCuePoint with a bad SCTE-35 section; skipped", "key", e.Key, "err", err)
			return nil
		}
		section = b
		break
	}
	cp, ok := s.pub.(live.CuePublisher)
	if section == nil || !ok {
		return nil
	}
	if !s.video.added || !s.clk.init {
		s.warn("rtmp: onCuePoint before the video; skipped")
		return nil
	}
	ms := s.clk.ext + int64(int32(uint32(int64(math.Round(t*1000)))-s.clk.last))
	if ms < 0 {
		s.warn("rtmp: onCuePoint before the stream's start; skipped")
		return nil
	}
	err := cp.WriteCue(s.ctx, s.video.id, uint64(ms)*(videoTimescale/1000), section)
	if errors.Is(err, live.ErrBadCue) {
		return nil // the channel said why
	}
	return err
}

// amfObject returns v as an AMF0 object (an Object or an ECMA array), or
// nil.
func amfObject(v any) amf0.Object {
	switch o := v.(type) {
	case amf0.Object:
		return o
	case amf0.ECMAArray:
		return amf0.Object(o)
	}
	return nil
}

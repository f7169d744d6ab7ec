package rtmp

import (
	"bytes"
	"context"
	"encoding/base64"
	"log/slog"
	"testing"

	"github.com/bluenviron/gortmplib/pkg/amf0"
	"github.com/bluenviron/gortmplib/pkg/message"

	"github.com/cmafkit/cmafkit/scte35"
)

// cueRecorder is a recorder that also takes cues (live.CuePublisher).
type cueRecorder struct {
	*recorder
	cues []recCue
}

type recCue struct {
	track   int
	pts     uint64
	section []byte
}

func (r *cueRecorder) WriteCue(_ context.Context, track int, pts uint64, section []byte) error {
	r.cues = append(r.cues, recCue{track, pts, bytes.Clone(section)})
	return nil
}

func cuePointMsg(setDataFrame bool, t float64, params amf0.Object) *message.DataAMF0 {
	obj := amf0.Object{{Key: "name", Value: "ad"}, {Key: "time", Value: t}, {Key: "type", Value: "event"}, {Key: "parameters", Value: params}}
	p := amf0.Data{"onCuePoint", obj}
	if setDataFrame {
		p = append(amf0.Data{"@setDataFrame"}, p...)
	}
	return &message.DataAMF0{Payload: p}
}

// TestCuePoint feeds onCuePoint data messages: one carrying an SCTE-35
// section in base64 reaches the publisher at its time on the video clock
// (past the 32-bit wrap of the RTMP timestamps); one with a bad CRC, one
// without SCTE-35 and one without a time are skipped.
func TestCuePoint(t *testing.T) {
	r := &cueRecorder{recorder: newRecorder()}
	s := newSession(context.Background(), r, slog.New(slog.NewTextHandler(testWriter{t}, nil)), DefaultMaxJump)
	start := uint32(1<<32 - 100)
	feed(t, s, configMsg(testPPS), aacConfigMsg(48000), frameMsg(start, true), frameMsg(start+40, false))
	pts := uint64(1234)
	sec, err := (&scte35.Section{SAPType: 3, Tier: 0xFFF, Command: &scte35.SpliceInsert{EventID: 1, OutOfNetwork: true, ProgramSplice: true, SpliceTime: &pts}}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Clone(sec)
	bad[len(bad)-1] ^= 1
	at := float64(uint32(start+2000)) / 1000 // 1.9 s after the wrap
	feed(t, s,
		cuePointMsg(false, at, amf0.Object{{Key: "scte35", Value: base64.StdEncoding.EncodeToString(sec)}}),
		cuePointMsg(true, at, amf0.Object{{Key: "cue", Value: base64.StdEncoding.EncodeToString(bad)}}),
		cuePointMsg(false, at, amf0.Object{{Key: "caption", Value: "hello, this is not a cue"}}),
		&message.DataAMF0{Payload: amf0.Data{"onCuePoint", amf0.Object{{Key: "parameters", Value: amf0.Object{{Key: "s", Value: base64.StdEncoding.EncodeToString(sec)}}}}}},
		cuePointMsg(true, at+1, amf0.Object{{Key: "splice", Value: base64.StdEncoding.EncodeToString(sec)}}),
	)
	if len(r.cues) != 2 {
		t.Fatalf("%d cues, want 2: %+v", len(r.cues), r.cues)
	}
	want := (uint64(start) + 2000) * 90
	if c := r.cues[0]; c.track != s.video.id || c.pts != want || !bytes.Equal(c.section, sec) {
		t.Errorf("cue %+v, want track %d at %d", c, s.video.id, want)
	}
	if c := r.cues[1]; c.pts != want+90000 {
		t.Errorf("@setDataFrame cue at %d, want %d", c.pts, want+90000)
	}
}

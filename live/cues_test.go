package live

import (
	"context"
	"errors"
	"testing"

	"github.com/cmafkit/cmafkit/scte35"
	"github.com/cmafkit/cmafkit/segment"
)

// TestWriteCueRefusals checks the cues a channel refuses (typed, counted,
// the stream goes on) and those it takes without signalling anything.
func TestWriteCueRefusals(t *testing.T) {
	ctx := context.Background()
	clk := &fakeClock{t: epoch}
	ch, _ := newTestChannel(clk, newMem())
	pub, err := ch.Publish(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	cp := pub.(CuePublisher)
	section := func(c scte35.Command) []byte {
		b, err := (&scte35.Section{SAPType: 3, Tier: 0xFFF, Command: c}).Encode()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	out := func(id uint32) []byte {
		return section(&scte35.SpliceInsert{EventID: id, OutOfNetwork: true, ProgramSplice: true, SpliceTime: new(uint64)})
	}
	var video *segment.Track
	for _, tr := range openTracks(t, "ladder_360p.mp4") {
		if tr.Kind == segment.KindVideo {
			video = tr
		}
	}
	n, err := pub.AddTrack(ctx, video)
	if err != nil {
		t.Fatal(err)
	}
	if err := cp.WriteCue(ctx, n, 0, out(1)); !errors.Is(err, ErrBadCue) {
		t.Errorf("cue before any sample: %v", err)
	}
	samples, err := video.AppendSamples(nil, 0, 60)
	if err != nil {
		t.Fatal(err)
	}
	var buf []byte
	for i := range samples {
		if buf, err = video.Data.AppendSample(buf[:0], &samples[i]); err != nil {
			t.Fatal(err)
		}
		if err := pub.WriteSample(ctx, n, samples[i], buf); err != nil {
			t.Fatal(err)
		}
	}
	ts := uint64(video.Timescale)
	bad := out(2)
	bad[5] ^= 1
	for name, c := range map[string]struct {
		pts     uint64
		section []byte
	}{
		"bad CRC":   {10 * ts, bad},
		"truncated": {10 * ts, out(2)[:10]},
		"past":      {0, out(3)},
	} {
		if err := cp.WriteCue(ctx, n, c.pts, c.section); !errors.Is(err, ErrBadCue) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := cp.WriteCue(ctx, n, 10*ts, section(&scte35.SpliceNull{})); err != nil {
		t.Errorf("splice_null: %v", err)
	}
	if err := cp.WriteCue(ctx, n, 10*ts, out(4)); err != nil {
		t.Errorf("break: %v", err)
	}
	if err := cp.WriteCue(ctx, n, 10*ts, out(4)); err != nil {
		t.Errorf("the break again (a repetition): %v", err)
	}
	if err := cp.WriteCue(ctx, n, 11*ts, out(5)); !errors.Is(err, ErrBadCue) {
		t.Errorf("a break while another waits: %v", err)
	}
	if st := ch.Stats(); st.Cues != 1 || st.BadCues != 5 {
		t.Errorf("took %d cues and refused %d, want 1 and 5", st.Cues, st.BadCues)
	}
	pub.Close(nil)
}

package live

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/cmafkit/cmafkit/segment"
)

// watchPub records, after every sample, the most parts a segment still
// being written held in the channel's memory.
type watchPub struct {
	Publisher
	ch       *Channel
	maxParts int
}

func (w *watchPub) WriteSample(ctx context.Context, track int, s segment.Sample, payload []byte) error {
	err := w.Publisher.WriteSample(ctx, track, s, payload)
	l := w.ch.ll
	l.mu.Lock()
	for _, r := range l.reps {
		for _, sg := range r.segs {
			if !sg.done {
				w.maxParts = max(w.maxParts, len(sg.parts))
			}
		}
	}
	l.mu.Unlock()
	return err
}

// TestLowLatencyParts replays a file through a channel with 0.5 s parts
// and checks that parts exist while their segment is still being cut, that
// each stored segment is exactly its parts joined (so a player that read
// the parts and one that reads the segment get the same bytes), that no
// part lasts longer than the part target and the parts add up to the
// segment, that a segment starts with styp, prft and an independent part,
// and that every fragment's decode time follows the previous one's.
func TestLowLatencyParts(t *testing.T) {
	clk := &fakeClock{t: epoch}
	st := newMem()
	ch, _ := newTestChannel(clk, st)
	ch.PartDuration = 500 * time.Millisecond
	ch.Window = -1
	tracks := openTracks(t, "ladder_720p.mp4")
	ctx := context.Background()
	pub, err := ch.Publish(ctx, "test")
	if err != nil {
		t.Fatal(err)
	}
	w := &watchPub{Publisher: pub, ch: ch}
	pp := &pacedPub{Publisher: w, clk: clk, base: clk.Now()}
	if err := Replay(ctx, tracks, pp, ReplayOptions{}); err != nil {
		t.Fatal(err)
	}
	pub.Close(nil)
	closeChannel(t, ch)
	if w.maxParts < 2 {
		t.Errorf("at most %d parts of a segment being written seen", w.maxParts)
	}
	p := ch.Presentation()
	if p.LowLatency == nil || p.LowLatency.PartTarget != ch.PartDuration {
		t.Fatalf("low latency model %+v", p.LowLatency)
	}
	validateLive(t, p)
	checked := 0
	for _, set := range p.Periods[0].Sets {
		for _, r := range set.Representations {
			if r.Template.Duration != ch.SegmentDuration || r.Template.StartNumber != 1 {
				t.Errorf("%s: template %+v", r.ID, r.Template)
			}
			var lastEnd uint64
			var haveEnd bool
			for _, s := range r.Segments {
				b := st.get(s.URI)
				if uint64(len(b)) != s.Size {
					t.Fatalf("%s: %d bytes stored, reference %d", s.URI, len(b), s.Size)
				}
				f, err := mp4.DecodeFile(bytes.NewReader(b))
				if err != nil || len(f.Segments) != 1 {
					t.Fatalf("%s: %v", s.URI, err)
				}
				seg := f.Segments[0]
				if seg.Styp == nil || len(seg.Fragments) == 0 {
					t.Fatalf("%s: no styp or fragments", s.URI)
				}
				// mp4ff's File does not keep a prft: read the second box.
				styp, _ := mp4.DecodeBox(0, bytes.NewReader(b))
				box, err := mp4.DecodeBox(styp.Size(), bytes.NewReader(b[styp.Size():]))
				if pr, ok := box.(*mp4.PrftBox); err != nil || !ok || pr.MediaTime != seg.Fragments[0].Moof.Traf.Tfdt.BaseMediaDecodeTime() {
					t.Errorf("%s: no prft at the first fragment's decode time after the styp (%v %+v)", s.URI, err, box)
				}
				var sum uint64
				for _, fr := range seg.Fragments {
					tfdt := fr.Moof.Traf.Tfdt.BaseMediaDecodeTime()
					if haveEnd && tfdt != lastEnd {
						t.Errorf("%s: fragment at %d, previous ended at %d", s.URI, tfdt, lastEnd)
					}
					d := fr.Moof.Traf.Trun.Duration(fr.Moof.Traf.Tfhd.DefaultSampleDuration)
					lastEnd, haveEnd = tfdt+d, true
					sum += d
				}
				if sum != s.Duration {
					t.Errorf("%s: fragments last %d, segment %d", s.URI, sum, s.Duration)
				}
				checked++
			}
			// The last segments are still in memory: compare with their parts.
			ch.ll.mu.Lock()
			lr := ch.ll.reps[r.ID]
			target := uint64(durToTicks(ch.PartDuration, r.Timescale))
			for _, sg := range lr.segs {
				var joined []byte
				var dur uint64
				for i, pt := range sg.parts {
					joined = append(joined, pt.data...)
					dur += pt.dur
					if pt.dur > target {
						t.Errorf("%s segment %d part %d lasts %d ticks, target %d", r.ID, sg.number, i, pt.dur, target)
					}
					if i == 0 && !pt.independent {
						t.Errorf("%s segment %d: first part not independent", r.ID, sg.number)
					}
				}
				if !sg.done || !bytes.Equal(joined, st.get(sg.ref.URI)) || dur != sg.ref.Duration {
					t.Errorf("%s segment %d: done %v, parts (%d bytes, %d ticks) differ from the stored segment (%d bytes, %d ticks)",
						r.ID, sg.number, sg.done, len(joined), dur, len(st.get(sg.ref.URI)), sg.ref.Duration)
				}
				if len(sg.parts) < 2 {
					t.Errorf("%s segment %d: %d parts", r.ID, sg.number, len(sg.parts))
				}
			}
			ch.ll.mu.Unlock()
		}
	}
	if checked < 6 {
		t.Errorf("%d segments checked", checked)
	}
}

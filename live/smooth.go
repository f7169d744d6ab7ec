package live

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"slices"
	"time"

	"github.com/cmafkit/cmafkit/manifest"
	"github.com/cmafkit/cmafkit/manifest/smooth"
	"github.com/cmafkit/cmafkit/segment"
	"github.com/cmafkit/cmafkit/segment/cmaf"
	"github.com/cmafkit/cmafkit/segment/piff"
)

// SmoothName names the live Smooth Streaming client manifest (Channel.Smooth);
// its fragments are under its directory, as smooth.FragmentName names them.
const SmoothName = "smooth/Manifest"

// smoothRep is the Smooth Streaming stream of one representation, kept
// across periods: Smooth has one timeline per stream.
type smoothRep struct {
	rep     string
	kind    segment.Kind
	track   *segment.Track // of the newest period
	cpd     []byte         // CodecPrivateData of track
	bitrate uint64         // names the fragments; fixed by the first segment
	frags   []manifest.SegmentRef
	pending []byte // the newest CMAF segment, stored once the next is known
	pendAt  manifest.SegmentRef
	period  *period // of the newest segment
	shift   uint64  // added to the times of period's fragments
}

// end is the end of the stream's newest fragment, stored or pending.
func (sr *smoothRep) end() uint64 {
	switch {
	case sr.pending != nil:
		return sr.pendAt.Start + sr.pendAt.Duration
	case len(sr.frags) > 0:
		f := sr.frags[len(sr.frags)-1]
		return f.Start + f.Duration
	}
	return 0
}

// checkSmoothTrack refuses, when the channel writes Smooth Streaming, a
// track Smooth cannot carry.
func (c *Channel) checkSmoothTrack(t *segment.Track) error {
	if !c.Smooth {
		return nil
	}
	if _, err := piff.CodecPrivateData(t); err != nil {
		return fmt.Errorf("%w: live Smooth Streaming: %w", ErrBadTrack, err)
	}
	return nil
}

// checkSmooth refuses the channel options live Smooth Streaming cannot be
// combined with.
func (c *Channel) checkSmooth() error {
	switch {
	case !c.Smooth:
		return nil
	case c.PartDuration > 0:
		return fmt.Errorf("live: Smooth Streaming with low latency (PartDuration) is not supported")
	case c.Encryption != nil:
		return fmt.Errorf("live: Smooth Streaming with encryption is not supported live (PlayReady live Smooth is not implemented)")
	}
	return nil
}

// smoothSegment takes the CMAF segment seg (one chunk) of pt just stored:
// the track's previous segment is now stored as a Smooth fragment
// announcing this one (smooth.LookAhead), and this one waits for its
// successor, so Smooth runs one segment behind HLS and DASH.
func (pt *ptrack) smoothSegment(ctx context.Context, seg []byte, ref manifest.SegmentRef, decodeTime uint64) {
	c := pt.p.c
	if c.smoothReps == nil {
		c.smoothReps = map[string]*smoothRep{}
	}
	sr := c.smoothReps[pt.st.rep]
	cpd, err := piff.CodecPrivateData(pt.out)
	if err != nil {
		return // refused by AddTrack
	}
	if sr == nil {
		sr = &smoothRep{rep: pt.st.rep, kind: pt.out.Kind}
		c.smoothReps[pt.st.rep] = sr
	}
	if sr.track != nil && !bytes.Equal(sr.cpd, cpd) {
		// A new configuration: the fragments described by the old
		// CodecPrivateData leave the manifest.
		c.storeSmooth(ctx, sr, nil)
		for _, f := range sr.frags {
			c.trash = append(c.trash, trashed{f.URI, c.Clock().Add(c.Grace)})
		}
		sr.frags = nil
	}
	sr.track, sr.cpd = pt.out, cpd
	if sr.bitrate == 0 {
		sr.bitrate = c.smoothBitrate(sr, ref)
	}
	// Smooth live times are wall-clock times (since 1970, in the track's
	// timescale), from which clients compute their latency.
	ts := int64(pt.out.Timescale)
	ref.Start = decodeTime + uint64(c.ast.Unix()*ts+int64(c.ast.Nanosecond())*ts/int64(time.Second))
	if sr.period != pt.p {
		// A new period may start a tick before the track's previous end
		// (its start is rounded to each timescale): Smooth fragments must
		// not overlap, so this period's are moved that tick later.
		sr.period, sr.shift = pt.p, 0
		if end := sr.end(); end > ref.Start && end-ref.Start < ref.Duration {
			sr.shift = end - ref.Start
		}
	}
	ref.Start += sr.shift
	c.storeSmooth(ctx, sr, []piff.Next{{Time: ref.Start, Duration: ref.Duration}})
	sr.pending, sr.pendAt = slices.Clone(seg), ref
}

// smoothBitrate is the bit rate naming a stream's fragments: its first
// segment's, made unique among the streams of its kind.
func (c *Channel) smoothBitrate(sr *smoothRep, ref manifest.SegmentRef) uint64 {
	b := uint64(1)
	if ref.Duration > 0 {
		b = max(1, ref.Size*8*uint64(sr.track.Timescale)/ref.Duration)
	}
	for {
		used := false
		for _, o := range c.smoothReps {
			if o != sr && o.kind == sr.kind && o.bitrate == b {
				used = true
			}
		}
		if !used {
			return b
		}
		b++
	}
}

// storeSmooth stores the pending fragment of sr, if any, announcing next.
func (c *Channel) storeSmooth(ctx context.Context, sr *smoothRep, next []piff.Next) {
	if sr.pending == nil {
		return
	}
	seg, at := sr.pending, sr.pendAt
	sr.pending = nil
	frag, err := piff.LiveFragment(seg, at.Start, at.Duration, next)
	if err == nil {
		at.URI = path.Join(path.Dir(SmoothName), smooth.FragmentName(sr.kind.String(), sr.bitrate, at.Start))
		at.Size = uint64(len(frag))
		err = c.put(ctx, at.URI, frag)
	}
	if err != nil {
		c.stats.Errors++
		c.warn("live: Smooth fragment not stored", "rep", sr.rep, "time", at.Start, "err", err)
		return
	}
	sr.frags = append(sr.frags, at)
}

// flushSmooth stores every pending fragment, announcing nothing: the
// period ended, and what follows is unknown.
func (c *Channel) flushSmooth(ctx context.Context) {
	for _, sr := range c.smoothReps {
		c.storeSmooth(ctx, sr, nil)
	}
}

// trimSmooth drops the fragments that ended more than Window before the
// newest end, queueing them for deletion.
func (c *Channel) trimSmooth() {
	if c.Window < 0 {
		return
	}
	at := c.Clock().Add(c.Grace)
	for _, sr := range c.smoothReps {
		k := 0
		edge := c.ast.Add(c.end - c.Window)
		for k < len(sr.frags) && !time.Unix(0, 0).Add(ticksToDur(int64(sr.frags[k].Start+sr.frags[k].Duration), sr.track.Timescale)).After(edge) {
			c.trash = append(c.trash, trashed{sr.frags[k].URI, at})
			k++
		}
		sr.frags = sr.frags[k:]
	}
}

// smoothPresentation is the live Smooth model: one period, a video and
// an audio set of the streams with fragments stored.
func (c *Channel) smoothPresentation() *manifest.Presentation {
	p := &manifest.Presentation{Type: manifest.Live, Ended: c.closed, TargetDuration: c.MaxSegmentDuration}
	if c.Window > 0 {
		p.TimeShiftBufferDepth = c.Window
	}
	reps := make([]string, 0, len(c.smoothReps))
	for name := range c.smoothReps {
		reps = append(reps, name)
	}
	slices.Sort(reps)
	var per manifest.Period
	for _, kind := range []segment.Kind{segment.KindVideo, segment.KindAudio} {
		set := manifest.SwitchingSet{ID: kind.String(), ContentType: kind}
		for _, name := range reps {
			sr := c.smoothReps[name]
			if sr.kind != kind || len(sr.frags) == 0 {
				continue
			}
			t := sr.track
			r := manifest.Representation{ID: sr.rep, Codecs: t.Codec, Timescale: t.Timescale,
				Segments: slices.Clone(sr.frags), AverageBandwidth: sr.bitrate, CodecPrivateData: sr.cpd}
			// The average names the fragments (smooth.Bitrate); the peak
			// stays a peak.
			r.Bandwidth = max(sr.bitrate, manifest.PeakBandwidth(r.Segments, t.Timescale, c.MaxSegmentDuration))
			if kind == segment.KindVideo {
				r.Width, r.Height = t.Width, t.Height
			} else {
				r.SampleRate, r.Channels = t.SampleRate, t.Channels
				set.Lang = t.Language
			}
			set.Representations = append(set.Representations, r)
		}
		if len(set.Representations) > 0 {
			per.Sets = append(per.Sets, set)
		}
	}
	if len(per.Sets) == 0 {
		return nil
	}
	// Streams cut at the same boundaries show the same fragment times;
	// representations of a set must, since fragment URLs share them.
	p.Periods = []manifest.Period{per}
	return p
}

// renderSmooth writes the live Smooth client manifest.
func (c *Channel) renderSmooth(ctx context.Context) error {
	if !c.Smooth {
		return nil
	}
	c.trimSmooth()
	p := c.smoothPresentation()
	if p == nil {
		return nil
	}
	var b bytes.Buffer
	if err := smooth.Render(&b, p); err != nil {
		return fmt.Errorf("live: %w", err)
	}
	return c.put(ctx, SmoothName, b.Bytes())
}

// writeCMAF writes a segment's CMAF bytes to obj, keeping a copy for
// Smooth Streaming when the channel writes it.
func (pt *ptrack) writeCMAF(ctx context.Context, obj interface{ Write([]byte) (int, error) }, number, first int, ss []segment.Sample, payload []byte) (cmaf.SegmentInfo, []byte, error) {
	opts := cmaf.Options{Protector: pt.protector()}
	if !pt.p.c.Smooth {
		info, err := cmaf.WriteSamples(ctx, obj, pt.out, number, first, ss, payload, opts)
		return info, nil, err
	}
	var b bytes.Buffer
	info, err := cmaf.WriteSamples(ctx, &b, pt.out, number, first, ss, payload, opts)
	if err != nil {
		return info, nil, err
	}
	_, err = obj.Write(b.Bytes())
	return info, b.Bytes(), err
}

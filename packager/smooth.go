package packager

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"

	"github.com/cmafkit/cmafkit/drm"
	"github.com/cmafkit/cmafkit/manifest"
	"github.com/cmafkit/cmafkit/manifest/smooth"
	"github.com/cmafkit/cmafkit/segment"
	"github.com/cmafkit/cmafkit/segment/cmaf"
	"github.com/cmafkit/cmafkit/segment/piff"
)

// ErrSmooth is wrapped, beside ErrCombination or the segment/piff error,
// by the errors of jobs whose inputs or options Smooth Streaming output
// (Format Smooth) cannot carry: a codec other than H.264 or AAC, cbcs,
// key rotation, protection without PlayReady or with a different key per
// track. A caller that can do without Smooth (a just-in-time origin
// serving it beside HLS and DASH) tells these apart with errors.Is and
// runs the job again without it.
var ErrSmooth = errors.New("packager: not carried by Smooth Streaming")

// smoothError is an error of Smooth Streaming output: it wraps err and
// ErrSmooth.
type smoothError struct{ err error }

func (e *smoothError) Error() string   { return e.err.Error() }
func (e *smoothError) Unwrap() []error { return []error{e.err, ErrSmooth} }

func smoothRefusal(format string, args ...any) error {
	return &smoothError{fmt.Errorf(format, args...)}
}

// smoothRep is what Smooth Streaming output needs of one audio or video
// representation: its stream (StreamIndex) name, the bit rate that names
// its fragments, its codec data, and the fragments once written.
type smoothRep struct {
	stream    string
	bitrate   uint64
	codecData []byte
	frags     []manifest.SegmentRef
}

// smoothDir is the directory of the Smooth client manifest, which the
// fragment names are relative to.
func (r *runner) smoothDir() string { return path.Dir(r.naming.Smooth) }

// checkSmooth refuses the job options Smooth Streaming output cannot be
// combined with.
func (r *runner) checkSmooth() error {
	if r.job.Formats&Smooth == 0 {
		return nil
	}
	if e := r.job.Encryption; e != nil {
		if e.Scheme != drm.SchemeCENC {
			return smoothRefusal("%w: Smooth Streaming with %s encryption (PlayReady in Smooth is cenc)", ErrCombination, e.Scheme)
		}
		if e.CryptoPeriod > 0 {
			return smoothRefusal("%w: Smooth Streaming with key rotation", ErrCombination)
		}
		if len(e.Systems) > 0 && !slices.Contains(e.Systems, drm.PlayReady) {
			return smoothRefusal("%w: Smooth Streaming encrypted without PlayReady (systems %v)", ErrCombination, e.Systems)
		}
	}
	return nil
}

// planSmooth decides, before anything is written, the stream name, bit
// rate and codec data of every audio and video representation for Smooth
// Streaming, refusing codecs Smooth cannot carry. The bit rate is the
// track's average over the plan (Smooth addresses fragments by it, so it
// must be known before they are named), raised by one bit per second
// where two representations of a stream would share it.
func (r *runner) planSmooth() error {
	if r.job.Formats&Smooth == 0 {
		return nil
	}
	used := map[string]map[uint64]bool{}
	for _, rep := range r.reps {
		t := rep.track
		if t.Kind != segment.KindVideo && t.Kind != segment.KindAudio {
			continue
		}
		cpd, err := piff.CodecPrivateData(t)
		if err != nil {
			return smoothRefusal("packager: Smooth Streaming: %w", err)
		}
		sw, err := cmaf.NewWriter(t, r.plan, cmaf.Options{})
		if err != nil {
			return err
		}
		var bytes, ticks uint64
		for i := 0; i < sw.Len(); i++ {
			info, ss, err := sw.Samples(i)
			if err != nil {
				return err
			}
			for k := range ss {
				bytes += uint64(ss[k].Size)
			}
			ticks += info.Duration
		}
		var bitrate uint64 = 1
		if ticks > 0 {
			bitrate = max(1, bytes*8*uint64(t.Timescale)/ticks)
		}
		stream := smooth.StreamName(&manifest.SwitchingSet{ID: setID(rep)})
		if used[stream] == nil {
			used[stream] = map[uint64]bool{}
		}
		for used[stream][bitrate] {
			bitrate++
		}
		used[stream][bitrate] = true
		rep.smooth = &smoothRep{stream: stream, bitrate: bitrate, codecData: cpd}
	}
	return nil
}

// checkSmoothKeys refuses, before anything is written, encrypted Smooth
// Streaming output whose tracks have different PlayReady objects (one key
// per track class, say): the client manifest has one ProtectionHeader.
func (r *runner) checkSmoothKeys() error {
	if r.job.Formats&Smooth == 0 || r.drm == nil {
		return nil
	}
	var first *repJob
	var pro []byte
	for _, rep := range r.reps {
		if rep.smooth == nil {
			continue
		}
		var got []byte
		if rep.protection != nil {
			for _, s := range rep.protection.Systems {
				if s.System == drm.PlayReady {
					got = s.PlayReadyObject
				}
			}
		}
		if first == nil {
			first, pro = rep, got
			continue
		}
		if !bytes.Equal(got, pro) {
			return smoothRefusal("%w: Smooth Streaming of %s and %s, encrypted with different keys (the client manifest has one PlayReady header: use one key for every track)", ErrCombination, first.track, rep.track)
		}
	}
	return nil
}

// writeSmooth writes the Smooth Streaming fragments of rep: each CMAF
// segment of one chunk rewritten by piff.Fragment, named as the client
// manifest's URL template says, timed by its decode time.
//
// protector, if not nil, encrypts them as the track's CMAF segments are
// (the same IVs, derived from sample positions), and piff.Fragment turns
// each senc into the PIFF sample encryption box.
func (r *runner) writeSmooth(ctx context.Context, rep *repJob, protector cmaf.FragmentProtector) error {
	sm := rep.smooth
	if sm == nil {
		return nil
	}
	if protector != nil {
		if cmaf.Sequential(protector) {
			return smoothRefusal("%w: Smooth Streaming of %s, whose encryption needs its fragments in order once (in-band parameter sets or AV1)", ErrCombination, rep.track)
		}
		// The protector learns the track from the init; Smooth clients
		// build theirs from the manifest.
		if err := cmaf.WriteInit(io.Discard, rep.track, protector); err != nil {
			return err
		}
	}
	sw, err := cmaf.NewWriter(rep.track, r.plan, cmaf.Options{NoStyp: true, Protector: protector})
	if err != nil {
		return err
	}
	var seg bytes.Buffer
	for i := 0; i < sw.Len(); i++ {
		seg.Reset()
		info, err := sw.WriteSegment(ctx, &seg, i)
		if err != nil {
			return err
		}
		frag, err := piff.Fragment(seg.Bytes(), info.DecodeTime, info.Duration)
		if err != nil {
			return fmt.Errorf("packager: %s segment %d: %w", rep.track, info.Number, err)
		}
		name := path.Join(r.smoothDir(), smooth.FragmentName(sm.stream, sm.bitrate, info.DecodeTime))
		n, err := r.put(ctx, name, func(w io.Writer) error {
			_, err := w.Write(frag)
			return err
		})
		if err != nil {
			return err
		}
		sm.frags = append(sm.frags, manifest.SegmentRef{URI: name, Number: uint64(info.Number), Start: info.DecodeTime, Duration: info.Duration, Size: uint64(n)})
		if r.job.Formats&(HLS|DASH) == 0 {
			r.progress(rep, i+1, sw.Len()) // else the other segments count
		}
	}
	return nil
}

// withSmooth returns a copy of p describing the Smooth Streaming
// fragments: each audio and video representation's segments are its
// fragments, its bandwidth the bit rate that names them; text sets are
// left out.
func (r *runner) withSmooth(p *manifest.Presentation) *manifest.Presentation {
	sm := map[string]*smoothRep{}
	for _, rep := range r.reps {
		if rep.smooth != nil {
			sm[rep.id] = rep.smooth
		}
	}
	c := *p
	c.Periods = append([]manifest.Period(nil), p.Periods...)
	for pi := range c.Periods {
		var sets []manifest.SwitchingSet
		for _, set := range c.Periods[pi].Sets {
			if set.ContentType != segment.KindVideo && set.ContentType != segment.KindAudio {
				continue
			}
			set.Representations = append([]manifest.Representation(nil), set.Representations...)
			for ri := range set.Representations {
				rr := &set.Representations[ri]
				if s := sm[rr.ID]; s != nil {
					rr.Segments, rr.Init, rr.IFrames, rr.SingleFile, rr.Template = s.frags, manifest.Resource{}, nil, nil, nil
					// The average bit rate names the fragments (smooth.Bitrate);
					// the peak stays a peak.
					rr.AverageBandwidth, rr.CodecPrivateData = s.bitrate, s.codecData
					rr.Bandwidth = max(s.bitrate, manifest.PeakBandwidth(s.frags, rr.Timescale, c.TargetDuration))
					rr.PresentationTimeOffset = 0
				}
			}
			sets = append(sets, set)
		}
		c.Periods[pi].Sets = sets
	}
	return &c
}

// writeSmoothManifest writes the Smooth Streaming client manifest.
func (r *runner) writeSmoothManifest(ctx context.Context, p *manifest.Presentation) error {
	if r.job.Formats&Smooth == 0 {
		return nil
	}
	var b bytes.Buffer
	if err := smooth.Render(&b, r.withSmooth(p)); err != nil {
		return fmt.Errorf("packager: %w", err)
	}
	if _, err := r.put(ctx, r.naming.Smooth, func(w io.Writer) error { _, err := w.Write(b.Bytes()); return err }); err != nil {
		return err
	}
	r.manifests = append(r.manifests, r.naming.Smooth)
	return nil
}

package packager

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/cmafkit/cmafkit/drm"
	"github.com/cmafkit/cmafkit/manifest"
	"github.com/cmafkit/cmafkit/manifest/dash"
	"github.com/cmafkit/cmafkit/manifest/hls"
	"github.com/cmafkit/cmafkit/segment"
)

// forFormat returns p without the text sets format f cannot carry: DASH
// has no segmented WebVTT (text/vtt sets are for HLS), and HLS has no
// wvtt in fMP4 (RFC 8216 allows WebVTT as text and IMSC1 in fMP4 only).
func forFormat(p *manifest.Presentation, f Format) *manifest.Presentation {
	c := *p
	c.Periods = append([]manifest.Period(nil), p.Periods...)
	for pi := range c.Periods {
		var sets []manifest.SwitchingSet
		for _, set := range c.Periods[pi].Sets {
			if set.ContentType == segment.KindText {
				vtt := set.MIME() == "text/vtt"
				wvtt := len(set.Representations) > 0 && set.Representations[0].Codecs == "wvtt"
				if (f == DASH && vtt) || (f == HLS && wvtt) {
					continue
				}
			}
			sets = append(sets, set)
		}
		c.Periods[pi].Sets = sets
	}
	return &c
}

// withTS returns a copy of p whose audio and video representations list
// their MPEG-TS segments instead of CMAF ones, for HLS: no init segment,
// no I-frame playlists (their byte ranges address CMAF fragments), and
// bandwidths measured on the TS segments. p must not be changed.
func (r *runner) withTS(p *manifest.Presentation) *manifest.Presentation {
	ts := map[string][]manifest.SegmentRef{}
	tmpl := map[string]string{}
	for _, rep := range r.reps {
		if len(rep.ts) > 0 {
			ts[rep.id], tmpl[rep.id] = rep.ts, r.tsTemplate(rep)
		}
	}
	c := withReps(p, func(rr *manifest.Representation) {
		segs, ok := ts[rr.ID]
		if !ok {
			return
		}
		rr.Segments, rr.Init, rr.IFrames, rr.SingleFile = segs, manifest.Resource{}, nil, nil
		rr.Template = &manifest.Template{Media: tmpl[rr.ID]}
		if k, scheme, uri := r.tsKey(); k != nil {
			rr.Protection = &drm.Protection{Scheme: scheme, Systems: []drm.SystemSignaling{{KeyURI: uri, IV: k.IV}}}
		}
	})
	c.CMAF = false
	c.FillBandwidth()
	return c
}

// writeManifests renders the requested formats into storage, after every
// segment has been committed.
func (r *runner) writeManifests(ctx context.Context, p *manifest.Presentation) error {
	if err := p.Validate(); err != nil {
		return fmt.Errorf("packager: %w", err)
	}
	if r.job.Formats&DASH != 0 {
		dp := forFormat(p, DASH)
		if !r.job.DASHTrickMode {
			dp = withoutIFrames(dp)
		}
		if _, err := r.put(ctx, r.naming.DASH, func(w io.Writer) error { return r.steer(w, dp, dash.Render, r.job.Steering.DASH) }); err != nil {
			return err
		}
		r.manifests = append(r.manifests, r.naming.DASH)
		r.rendered.DASH = dp
	}
	if err := r.writeSmoothManifest(ctx, p); err != nil {
		return err
	}
	if r.job.Formats&HLS != 0 {
		// Media playlists first, the multivariant playlist that names them last.
		type staged struct {
			uri string
			buf strings.Builder
		}
		var out []*staged
		hp := forFormat(p, HLS)
		if r.hlsTS() {
			hp = r.withTS(hp)
		}
		err := hls.RenderAll(hp, r.naming.HLS, func(uri string) (io.WriteCloser, error) {
			s := &staged{uri: uri}
			out = append(out, s)
			return nopCloser{&s.buf}, nil
		})
		if err != nil {
			return err
		}
		for i := len(out) - 1; i >= 0; i-- {
			s := out[i]
			if s.uri == r.naming.HLS && r.job.Steering != nil {
				b, err := r.job.Steering.HLS([]byte(s.buf.String()), "")
				if err != nil {
					return fmt.Errorf("packager: %w", err)
				}
				s.buf.Reset()
				s.buf.Write(b)
			}
			if _, err := r.put(ctx, s.uri, func(w io.Writer) error { _, err := io.WriteString(w, s.buf.String()); return err }); err != nil {
				return err
			}
		}
		r.manifests = append(r.manifests, r.naming.HLS)
		r.rendered.HLS = hp
	}
	return nil
}

// steer renders p with render, through the steering rewrite add when the
// job has steering.
func (r *runner) steer(w io.Writer, p *manifest.Presentation, render func(io.Writer, *manifest.Presentation) error, add func([]byte, string) ([]byte, error)) error {
	if r.job.Steering == nil {
		return render(w, p)
	}
	var b bytes.Buffer
	if err := render(&b, p); err != nil {
		return err
	}
	out, err := add(b.Bytes(), "")
	if err != nil {
		return fmt.Errorf("packager: %w", err)
	}
	_, err = w.Write(out)
	return err
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// withoutIFrames returns a copy of p whose representations carry no I-frame
// references, so the DASH renderer writes no trick-mode sets.
func withoutIFrames(p *manifest.Presentation) *manifest.Presentation {
	return withReps(p, func(rr *manifest.Representation) { rr.IFrames = nil })
}

// withReps returns a copy of p in which edit has changed each
// representation; p and what it shares are left as they are (periods,
// sets and representations are copied, what they point to is not).
func withReps(p *manifest.Presentation, edit func(*manifest.Representation)) *manifest.Presentation {
	c := *p
	c.Periods = append([]manifest.Period(nil), p.Periods...)
	for pi := range c.Periods {
		c.Periods[pi].Sets = append([]manifest.SwitchingSet(nil), c.Periods[pi].Sets...)
		for si := range c.Periods[pi].Sets {
			set := &c.Periods[pi].Sets[si]
			set.Representations = append([]manifest.Representation(nil), set.Representations...)
			for ri := range set.Representations {
				edit(&set.Representations[ri])
			}
		}
	}
	return &c
}

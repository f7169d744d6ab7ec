package live

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/cmafkit/cmafkit/manifest"
	"github.com/cmafkit/cmafkit/manifest/dash"
	"github.com/cmafkit/cmafkit/manifest/hls"
	"github.com/cmafkit/cmafkit/packager"
	"github.com/cmafkit/cmafkit/segment"
)

// writeManifests trims the window, rewrites the manifests (each an atomic
// overwrite, after every segment it names is stored) and deletes what left
// the window longer than Grace ago. Errors are counted and logged: the
// channel goes on, and the next update tries again.
func (c *Channel) writeManifests(ctx context.Context) error {
	c.trim()
	if len(c.periods) == 0 {
		return nil
	}
	p := c.presentation()
	if len(p.Periods) == 0 {
		return nil // nothing left to name (see trim): the manifests stored stay
	}
	err := c.render(ctx, p)
	if err != nil {
		c.stats.Errors++
		if msg := err.Error(); !c.warned[msg] {
			c.warned[msg] = true
			c.warn("live: manifests not written", "err", err)
		}
	} else {
		c.stats.Manifests++
	}
	now := c.Clock()
	k := 0
	for _, t := range c.trash {
		if now.Before(t.at) {
			c.trash[k] = t
			k++
			continue
		}
		c.remove(ctx, t.name)
	}
	c.trash = c.trash[:k]
	return err
}

func (c *Channel) remove(ctx context.Context, name string) {
	if err := c.Storage.Delete(ctx, name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		c.stats.Errors++
		c.Logger.Warn("live: delete", "name", name, "err", err)
		return
	}
	c.stats.Deleted++
}

// trim drops segments that ended more than Window before the newest end,
// and periods left without segments, queueing their objects for deletion.
// A segment that could not be stored (c.lost) takes every segment up to it
// out of the window, so that the manifests stay contiguous.
func (c *Channel) trim() {
	if c.Window < 0 && c.lost == 0 {
		return
	}
	edge := c.end - c.Window
	if c.Window < 0 {
		edge = -1 << 62
	}
	at := c.Clock().Add(c.Grace)
	for _, p := range c.periods {
		for _, pt := range p.tracks {
			if pt == nil {
				continue
			}
			k := 0
			for k < len(pt.segs) {
				s := pt.segs[k]
				if ticksToDur(int64(s.Start+s.Duration), pt.out.Timescale) > edge && s.Number > uint64(c.lost) {
					break
				}
				c.trash = append(c.trash, trashed{s.URI, at})
				k++
			}
			pt.segs = pt.segs[k:]
		}
	}
	for len(c.periods) > 0 {
		p := c.periods[0]
		if p == c.period || p.hasSegments() {
			break
		}
		for _, pt := range p.tracks {
			if pt != nil && pt.init != "" {
				c.trash = append(c.trash, trashed{pt.init, at})
			}
		}
		c.periods = c.periods[1:]
		if len(c.periods) > 0 {
			c.discSeq++
		}
	}
}

func (p *period) hasSegments() bool {
	for _, pt := range p.tracks {
		if pt != nil && len(pt.segs) > 0 {
			return true
		}
	}
	return false
}

// presentation builds the live model of what the window holds.
func (c *Channel) presentation() *manifest.Presentation {
	now := c.Clock()
	pres := &manifest.Presentation{
		Type:                       manifest.Live,
		CMAF:                       true,
		TargetDuration:             c.MaxSegmentDuration,
		AvailabilityStartTime:      c.ast,
		PublishTime:                now,
		MinimumUpdatePeriod:        c.SegmentDuration,
		SuggestedPresentationDelay: 3 * c.SegmentDuration,
		UTCTiming:                  c.UTCTiming,
		Ended:                      c.closed,
		DiscontinuitySequence:      c.discSeq,
		HLSInterstitials:           c.HLSInterstitials,
	}
	if c.Window > 0 {
		pres.TimeShiftBufferDepth = c.Window
	}
	if len(pres.UTCTiming) == 0 {
		pres.UTCTiming = []manifest.Descriptor{{SchemeIDURI: "urn:mpeg:dash:utc:direct:2014", Value: now.UTC().Format("2006-01-02T15:04:05.000Z")}}
	}
	for _, p := range c.periods {
		if !p.hasSegments() {
			continue
		}
		mp := manifest.Period{ID: p.id, Start: p.start}
		var video, audio *manifest.SwitchingSet
		for _, pt := range p.tracks {
			if pt == nil || len(pt.segs) == 0 {
				continue
			}
			t := pt.out
			fam := manifest.CodecFamily(t.Codec)
			r := manifest.Representation{
				ID: pt.st.rep, Codecs: t.Codec, Timescale: t.Timescale,
				PresentationTimeOffset: uint64(durToTicks(p.start, t.Timescale)),
				Init:                   manifest.Resource{URI: pt.init},
				Segments:               append([]manifest.SegmentRef(nil), pt.segs...),
				Template:               &manifest.Template{Init: "$RepresentationID$/init-" + p.id + ".mp4", Media: MediaTemplate},
			}
			var set **manifest.SwitchingSet
			switch t.Kind {
			case segment.KindVideo:
				r.Width, r.Height = t.Width, t.Height
				r.FrameRate = t.FrameRate
				r.PixelAspect = t.PixelAspect
				r.VideoRange = manifest.VideoRange(t.VideoRange)
				if cl := t.Color; cl != nil {
					r.Color = &manifest.Color{Primaries: cl.Primaries, Transfer: cl.Transfer, Matrix: cl.Matrix}
				}
				set = &video
				if video == nil {
					video = &manifest.SwitchingSet{ID: "video", ContentType: segment.KindVideo, CodecFamily: fam}
				}
			default:
				r.SampleRate, r.Channels = t.SampleRate, t.Channels
				set = &audio
				if audio == nil {
					audio = &manifest.SwitchingSet{ID: "audio", ContentType: segment.KindAudio, CodecFamily: fam, Lang: t.Language,
						Default: true, Autoselect: true, Label: t.Language}
				}
			}
			if e := pt.st.enc; e != nil {
				r.Protection = e.protection(r.Segments)
			}
			r.FillBandwidth(c.MaxSegmentDuration)
			(*set).Representations = append((*set).Representations, r)
		}
		for _, s := range []*manifest.SwitchingSet{video, audio} {
			if s != nil {
				mp.Sets = append(mp.Sets, *s)
			}
		}
		if p.ref != nil && len(p.ref.segs) > 0 {
			since := ticksToDur(int64(p.ref.segs[0].Start), p.ref.out.Timescale) - p.start
			mp.Cues = p.windowCues(since)
		}
		pres.Periods = append(pres.Periods, mp)
	}
	if c.ll != nil && len(pres.Periods) > 0 {
		c.lowLatencyModel(pres)
	}
	return pres
}

// render writes the manifests of p: HLS media playlists before the
// multivariant playlist naming them, each rendered whole before it is
// stored.
func (c *Channel) render(ctx context.Context, p *manifest.Presentation) error {
	if err := p.Validate(); err != nil {
		return fmt.Errorf("live: %w", err)
	}
	var errs []error
	if c.Formats&packager.DASH != 0 {
		dp := p
		if c.closed && c.StaticMPD {
			v := *p
			v.Type = manifest.VOD
			dp = &v
		}
		var buf bytes.Buffer
		if err := dash.Render(&buf, dp); err != nil {
			errs = append(errs, err)
		} else if err := c.put(ctx, DASHName, buf.Bytes()); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Formats&packager.HLS != 0 {
		type staged struct {
			uri string
			buf bytes.Buffer
		}
		var out []*staged
		hp := p
		if p.LowLatency != nil {
			// Stored playlists are for plain HTTP servers, which cannot
			// hold requests: low-latency playlists come from an Origin.
			v := *p
			v.LowLatency = nil
			hp = &v
		}
		err := hls.RenderAll(hp, HLSName, func(uri string) (io.WriteCloser, error) {
			s := &staged{uri: uri}
			out = append(out, s)
			return nopCloser{&s.buf}, nil
		})
		if err != nil {
			errs = append(errs, err)
		} else {
			for i := len(out) - 1; i >= 0; i-- {
				if err := c.put(ctx, out[i].uri, out[i].buf.Bytes()); err != nil {
					errs = append(errs, err)
					break
				}
			}
		}
	}
	if err := c.renderSmooth(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// put stores one whole object.
func (c *Channel) put(ctx context.Context, name string, b []byte) error {
	obj, err := c.Storage.Create(ctx, name)
	if err != nil {
		return err
	}
	if _, err := obj.Write(b); err != nil {
		obj.Abort()
		return err
	}
	return obj.Commit()
}

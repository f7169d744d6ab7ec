package packager

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sync"

	"github.com/cmafkit/cmafkit/drm"
	"github.com/cmafkit/cmafkit/manifest"
	"github.com/cmafkit/cmafkit/manifest/smooth"
	"github.com/cmafkit/cmafkit/segment"
	"github.com/cmafkit/cmafkit/segment/cmaf"
	"github.com/cmafkit/cmafkit/segment/piff"
	"github.com/cmafkit/cmafkit/storage"
)

// setupReps readies every representation before anything is written: text
// is cut exactly at the plan's boundaries (see segment.AlignText), the
// segments are counted, and with encryption each track's protector and
// Protection are made (every key fetched, the IV reuse check done).
func (r *runner) setupReps(ctx context.Context) error {
	for _, rep := range r.reps {
		aligned, err := segment.AlignText(rep.track, r.plan)
		if err != nil {
			return err
		}
		rep.track = aligned
		cuts, err := r.plan.Cuts(rep.track)
		if err != nil {
			return err
		}
		rep.nsegs = len(cuts) - 1
		r.total += rep.nsegs
	}
	if r.drm == nil {
		return nil
	}
	for _, rep := range r.reps {
		t := rep.track
		clear, err := cmaf.BuildInit(t)
		if err != nil {
			return err
		}
		// Unnamed inputs cannot be told apart: each track is one of its own.
		var id string
		if t.Source != "" {
			id = fmt.Sprintf("%q/%d", t.Source, t.ID)
		}
		tp, prot, err := r.drm.Track(ctx, clear, drm.TrackOptions{Name: t.String(), ID: id, Segments: rep.nsegs})
		if err != nil {
			if _, named := errors.AsType[*drm.IVReuseError](err); named {
				return err // it names the track (and the other one) itself
			}
			return fmt.Errorf("packager: %s: %w", t, err)
		}
		if tp != nil {
			rep.protector, rep.protection = tp, prot
		}
	}
	return nil
}

// segmentOptions returns the options of rep's CMAF segments.
func (r *runner) segmentOptions(rep *repJob) cmaf.Options {
	return cmaf.Options{
		ChunkDuration:     r.job.ChunkDuration,
		IsolateSyncSample: rep.track.Kind == segment.KindVideo,
		Protector:         rep.protector,
	}
}

// Prepared is a job opened and planned whose objects are written one at a
// time, on request, rather than all at once into a Storage: what a
// just-in-time origin serves. Every object has the bytes and the name that
// Run gives it for the same job, because Prepared runs Run's own code:
// segments (CMAF, WebVTT and Smooth Streaming fragments) are written from
// the index alone (any one, in any order), and the manifests are rendered once, on the first request for one, by a run
// that writes every segment to nowhere to learn their sizes.
//
// A Prepared is safe for concurrent use. Close it to close the inputs.
type Prepared struct {
	r         *runner
	objects   map[string]preparedObject
	manifests map[string]bool // the names rendering may produce

	mu        sync.Mutex
	rendered  chan struct{} // closed when rendering is done
	rendering bool
	out       map[string][]byte // the manifests rendered
	sizes     map[string]int64  // of every object, once rendered
	err       error             // of rendering
}

type objectKind int

const (
	objectInit objectKind = iota
	objectMedia
	objectWebVTT
	objectSmooth // a Smooth Streaming fragment (Format Smooth)
)

type preparedObject struct {
	kind  objectKind
	rep   *repJob
	index int // the 0-based segment index of media and WebVTT objects
	// writers pools *cmaf.Writer clones of the representation.
	writers *sync.Pool
}

// ErrNotPrepared is wrapped by the errors of Prepare for job options that
// a Prepared cannot write one object at a time (it wraps ErrCombination).
var ErrNotPrepared = fmt.Errorf("%w: not written one object at a time", ErrCombination)

// Prepare opens and plans job like Run, fetches its keys, and writes
// nothing: the objects Run would write are then written one at a time by
// WriteObject. job.Storage is not used. Single-file output, MPEG-TS
// segments for HLS (whose continuity counters run from segment to segment)
// and encrypted tracks whose protector needs the segments in order (AV1,
// avc3, hev1: see drm.TrackProtector.Sequential) are refused with an
// error wrapping ErrNotPrepared.
//
// With encryption, make the job's drm.Config give every track a fixed IV
// (a key's explicit IV or Config.IV): a random one would differ from one
// Prepare to the next, and with cbcs an init segment from one would not
// decrypt the segments of another.
func Prepare(ctx context.Context, job Job) (*Prepared, error) {
	switch {
	case job.SingleFile:
		return nil, fmt.Errorf("%w: single-file output", ErrNotPrepared)
	case job.HLSSegmentType == HLSSegmentTS && (job.Formats == 0 || job.Formats&HLS != 0):
		return nil, fmt.Errorf("%w: MPEG-TS segments", ErrNotPrepared)
	case job.HLSAES128 != nil:
		return nil, fmt.Errorf("%w: HLS AES-128", ErrNotPrepared)
	case job.HLSSampleAES != nil:
		return nil, fmt.Errorf("%w: HLS SAMPLE-AES", ErrNotPrepared)
	}
	job.Storage = nil
	r, err := prepare(ctx, job)
	if err != nil {
		return nil, err
	}
	p := &Prepared{r: r, objects: map[string]preparedObject{}, manifests: map[string]bool{}, rendered: make(chan struct{})}
	if err := p.index(); err != nil {
		r.closeSources()
		return nil, err
	}
	return p, nil
}

// index names every object the job writes, as Run names them.
func (p *Prepared) index() error {
	r := p.r
	for _, name := range r.manifestNames() {
		p.manifests[name] = true
	}
	add := func(name string, o preparedObject) error {
		if _, dup := p.objects[name]; dup || p.manifests[name] {
			return fmt.Errorf("packager: two objects named %q", name)
		}
		p.objects[name] = o
		return nil
	}
	for _, rep := range r.reps {
		t := rep.track
		if t.Codec == "wvtt" && r.job.Formats&HLS != 0 {
			sw, err := cmaf.NewWriter(t, r.plan, cmaf.Options{})
			if err != nil {
				return err
			}
			pool, err := r.writerPool(t, sw, cmaf.Options{})
			if err != nil {
				return err
			}
			for i := 0; i < sw.Len(); i++ {
				info, err := sw.Info(i)
				if err != nil {
					return err
				}
				name, err := manifest.ExpandTemplate(r.naming.WebVTT, webvttID(rep), 0, uint64(info.Number), info.MediaTime)
				if err != nil {
					return err
				}
				if err := add(name, preparedObject{kind: objectWebVTT, rep: rep, index: i, writers: pool}); err != nil {
					return err
				}
			}
			if r.job.Formats&DASH == 0 {
				continue
			}
		}
		if rep.protector != nil && cmaf.Sequential(rep.protector) {
			return fmt.Errorf("%w: %s: its encryption needs the segments in order", ErrNotPrepared, t)
		}
		if err := p.indexSmooth(rep, add); err != nil {
			return err
		}
		if r.job.Formats&(HLS|DASH) == 0 {
			continue // Smooth Streaming only
		}
		name, err := manifest.ExpandTemplate(r.naming.Init, rep.id, 0, 0, 0)
		if err != nil {
			return err
		}
		if err := add(name, preparedObject{kind: objectInit, rep: rep}); err != nil {
			return err
		}
		sw, err := cmaf.NewWriter(t, r.plan, r.segmentOptions(rep))
		if err != nil {
			return err
		}
		pool, err := r.writerPool(t, sw, r.segmentOptions(rep))
		if err != nil {
			return err
		}
		byTime := manifest.TemplateUses(r.naming.Media, "Time")
		for i := 0; i < sw.Len(); i++ {
			// Segment i of a plan is number i+1; only $Time$ needs the
			// index read (one pass over a long title's samples less).
			info := cmaf.SegmentInfo{Number: i + 1}
			if byTime {
				if info, err = sw.Info(i); err != nil {
					return err
				}
			}
			name, err := manifest.ExpandTemplate(r.naming.Media, rep.id, 0, uint64(info.Number), info.MediaTime)
			if err != nil {
				return err
			}
			if err := add(name, preparedObject{kind: objectMedia, rep: rep, index: i, writers: pool}); err != nil {
				return err
			}
		}
	}
	return nil
}

// indexSmooth names the Smooth Streaming fragments of rep, if it has
// any, as writeSmooth does: by stream, bit rate and decode time.
func (p *Prepared) indexSmooth(rep *repJob, add func(string, preparedObject) error) error {
	sm := rep.smooth
	if sm == nil {
		return nil
	}
	r := p.r
	opts := cmaf.Options{NoStyp: true, Protector: rep.protector}
	sw, err := cmaf.NewWriter(rep.track, r.plan, opts)
	if err != nil {
		return err
	}
	pool, err := r.writerPool(rep.track, sw, opts)
	if err != nil {
		return err
	}
	for i := 0; i < sw.Len(); i++ {
		info, err := sw.Info(i)
		if err != nil {
			return err
		}
		name := path.Join(r.smoothDir(), smooth.FragmentName(sm.stream, sm.bitrate, info.DecodeTime))
		if err := add(name, preparedObject{kind: objectSmooth, rep: rep, index: i, writers: pool}); err != nil {
			return err
		}
	}
	return nil
}

// writerPool returns a pool of writers of the same segments as sw, each
// with buffers of its own (the track's cuts are planned once).
func (r *runner) writerPool(t *segment.Track, sw *cmaf.Writer, opts cmaf.Options) (*sync.Pool, error) {
	cuts, err := r.plan.Cuts(t)
	if err != nil {
		return nil, err
	}
	pool := &sync.Pool{New: func() any {
		w, err := cmaf.NewWriterAt(t, cuts, 1, opts)
		if err != nil {
			return nil
		}
		return w
	}}
	pool.Put(sw)
	return pool, nil
}

// Close closes the job's inputs. Writes still running may fail.
func (p *Prepared) Close() error {
	p.r.closeSources()
	return nil
}

// Has reports whether name is an object of the job (a segment, an init
// segment or a manifest that Run may write: an I-frame playlist is only
// written for video).
func (p *Prepared) Has(name string) bool {
	_, ok := p.objects[name]
	return ok || p.manifests[name]
}

// IsManifest reports whether name is a manifest of the job (a playlist,
// an MPD or a Smooth client manifest), which WriteObject renders, on first use, from every segment.
func (p *Prepared) IsManifest(name string) bool { return p.manifests[name] }

// SegmentCount returns the number of media segments over every
// representation (WebVTT segments and Smooth Streaming fragments included).
func (p *Prepared) SegmentCount() int { return len(p.objects) }

// WriteObject writes the object Run would store under name to w. An
// unknown name returns an error wrapping fs.ErrNotExist. A manifest is
// rendered on the first request for one (concurrent requests wait for
// that one rendering, which a cancelled ctx does not stop); a segment is
// written from the index alone.
func (p *Prepared) WriteObject(ctx context.Context, name string, w io.Writer) error {
	if p.manifests[name] {
		out, err := p.render(ctx)
		if err != nil {
			return err
		}
		b, ok := out[name]
		if !ok {
			return fmt.Errorf("packager: %s: %w", name, fs.ErrNotExist)
		}
		_, err = w.Write(b)
		return err
	}
	o, ok := p.objects[name]
	if !ok {
		return fmt.Errorf("packager: %s: %w", name, fs.ErrNotExist)
	}
	switch o.kind {
	case objectInit:
		return cmaf.WriteInit(w, o.rep.track, o.rep.protector)
	}
	sw, ok := o.writers.Get().(*cmaf.Writer)
	if !ok || sw == nil {
		return fmt.Errorf("packager: %s: no segment writer", name)
	}
	defer o.writers.Put(sw)
	var err error
	switch o.kind {
	case objectWebVTT:
		_, err = sw.WriteWebVTT(ctx, w, o.index)
	case objectSmooth:
		var seg bytes.Buffer
		info, err := sw.WriteSegment(ctx, &seg, o.index)
		if err != nil {
			return err
		}
		frag, err := piff.Fragment(seg.Bytes(), info.DecodeTime, info.Duration)
		if err != nil {
			return fmt.Errorf("packager: %s segment %d: %w", o.rep.track, info.Number, err)
		}
		_, err = w.Write(frag)
		return err
	default:
		_, err = sw.WriteSegment(ctx, w, o.index)
	}
	return err
}

// Size returns the size of the named object once the manifests have been
// rendered (which writes, and measures, every object); before that, or for
// an unknown name, it reports false.
func (p *Prepared) Size(name string) (int64, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n, ok := p.sizes[name]
	return n, ok
}

// render writes the job's segments to nowhere, once, to learn their
// sizes, and renders the manifests as Run does.
func (p *Prepared) render(ctx context.Context) (map[string][]byte, error) {
	p.mu.Lock()
	if !p.rendering {
		p.rendering = true
		go func() {
			// Not the caller's ctx: waiters share this rendering.
			out, err := p.renderOnce(context.WithoutCancel(ctx))
			sizes := map[string]int64{}
			for _, o := range p.r.objects {
				sizes[o.Name] = o.Size
			}
			p.mu.Lock()
			p.out, p.err = out, err
			if err == nil {
				p.sizes = sizes
			}
			p.mu.Unlock()
			close(p.rendered)
		}()
	}
	p.mu.Unlock()
	select {
	case <-p.rendered:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out, p.err
}

func (p *Prepared) renderOnce(ctx context.Context) (map[string][]byte, error) {
	r := p.r
	sink := &sizingStorage{keep: p.manifests, kept: map[string][]byte{}}
	r.job.Storage = sink
	if err := r.writeTracks(ctx); err != nil {
		return nil, err
	}
	if err := r.writeManifests(ctx, r.presentation()); err != nil {
		return nil, err
	}
	return sink.kept, nil
}

// sizingStorage discards every object but those named in keep, which it
// keeps in memory.
type sizingStorage struct {
	keep map[string]bool
	mu   sync.Mutex
	kept map[string][]byte
}

func (s *sizingStorage) Create(ctx context.Context, name string) (storage.Object, error) {
	if s.keep[name] {
		return &keptObject{s: s, name: name}, nil
	}
	return discardObject{}, nil
}

func (s *sizingStorage) Delete(ctx context.Context, name string) error {
	return fmt.Errorf("packager: %s: %w", name, fs.ErrNotExist)
}

type discardObject struct{}

func (discardObject) Write(b []byte) (int, error) { return len(b), nil }
func (discardObject) Commit() error               { return nil }
func (discardObject) Abort() error                { return nil }

type keptObject struct {
	s    *sizingStorage
	name string
	buf  bytes.Buffer
}

func (o *keptObject) Write(b []byte) (int, error) { return o.buf.Write(b) }
func (o *keptObject) Abort() error                { return nil }
func (o *keptObject) Commit() error {
	o.s.mu.Lock()
	o.s.kept[o.name] = o.buf.Bytes()
	o.s.mu.Unlock()
	return nil
}

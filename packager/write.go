package packager

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/cmafkit/cmafkit/manifest"
	"github.com/cmafkit/cmafkit/segment"
	"github.com/cmafkit/cmafkit/segment/cmaf"
)

// writeTracks packages every representation, in parallel up to
// job.Parallelism. The first error cancels the others.
func (r *runner) writeTracks(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	par := r.job.Parallelism
	if par <= 0 {
		par = runtime.GOMAXPROCS(0)
	}
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	var once sync.Once
	var firstErr error
	for _, rep := range r.reps {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func(rep *repJob) {
			defer wg.Done()
			defer func() { <-sem }()
			if err := r.writeRep(ctx, rep); err != nil {
				once.Do(func() { firstErr = err; cancel(err) })
			}
		}(rep)
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return context.Cause(ctx)
}

// put writes one object through write and registers it once committed.
func (r *runner) put(ctx context.Context, name string, write func(w io.Writer) error) (int64, error) {
	obj, err := r.job.Storage.Create(ctx, name)
	if err != nil {
		return 0, fmt.Errorf("packager: create %s: %w", name, err)
	}
	cw := &counter{w: obj}
	var w io.Writer = cw
	if rf, ok := obj.(io.ReaderFrom); ok {
		// Keep the object's ReadFrom visible (Dir objects copy clear sample
		// runs from file to file with it).
		w = &readFromCounter{cw, rf}
	}
	if err := write(w); err != nil {
		obj.Abort()
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		obj.Abort()
		return 0, err
	}
	if err := obj.Commit(); err != nil {
		return 0, fmt.Errorf("packager: write %s: %w", name, err)
	}
	r.mu.Lock()
	r.objects = append(r.objects, ObjectInfo{Name: name, Size: cw.n})
	r.bytes += cw.n
	r.mu.Unlock()
	return cw.n, nil
}

func (r *runner) progress(rep *repJob, seg, segs int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done++
	if r.job.Progress != nil {
		r.job.Progress(Progress{Representation: rep.id, Segment: seg, Segments: segs, Done: r.done, Total: r.total, Bytes: r.bytes})
	}
}

type counter struct {
	w io.Writer
	n int64
}

func (c *counter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// readFromCounter is a counter over an object that implements io.ReaderFrom.
type readFromCounter struct {
	*counter
	rf io.ReaderFrom
}

func (c *readFromCounter) ReadFrom(r io.Reader) (int64, error) {
	n, err := c.rf.ReadFrom(r)
	c.n += n
	return n, err
}

func (r *runner) writeRep(ctx context.Context, rep *repJob) error {
	t := rep.track
	if t.Kind == segment.KindVideo && r.job.Captions.Scan >= 0 {
		cc, err := segment.DetectCaptions(ctx, t, r.job.Captions.Scan)
		if err != nil {
			return err
		}
		rep.captions = cc
		if !cc.IsZero() {
			r.log.Info("closed captions in the video", "track", t.String(), "cea608", cc.CEA608, "cea708", cc.CEA708)
		}
	}
	if t.Codec == "wvtt" {
		if r.job.Formats&HLS != 0 {
			if err := r.writeWebVTT(ctx, rep); err != nil {
				return err
			}
		}
		if r.job.Formats&DASH == 0 {
			return nil // wvtt in CMAF is for DASH only
		}
	}
	if r.hlsTS() && (t.Kind == segment.KindVideo || t.Kind == segment.KindAudio) {
		if err := r.writeTS(ctx, rep); err != nil {
			return err
		}
		if r.job.Formats&DASH == 0 {
			// The CMAF segments are for DASH only. (TS output is never
			// encrypted with a CMAF scheme: Smooth's are clear too.)
			return r.writeSmooth(ctx, rep, nil)
		}
	}
	opts := r.segmentOptions(rep)
	if err := r.writeSmooth(ctx, rep, opts.Protector); err != nil {
		return err
	}
	if r.job.Formats&(HLS|DASH) == 0 {
		return nil // Smooth Streaming only
	}
	if r.job.SingleFile {
		return r.writeSingle(ctx, rep, opts)
	}
	initName, err := manifest.ExpandTemplate(r.naming.Init, rep.id, 0, 0, 0)
	if err != nil {
		return err
	}
	if _, err := r.put(ctx, initName, func(w io.Writer) error { return cmaf.WriteInit(w, t, opts.Protector) }); err != nil {
		return err
	}
	rep.init = manifest.Resource{URI: initName}
	sw, err := cmaf.NewWriter(t, r.plan, opts)
	if err != nil {
		return err
	}
	return r.writeSegments(ctx, rep, sw)
}

// segmentWorkers is how many segments of one track are written at once: one
// when the job asks for no parallelism, else two — a track's segments are
// independent (encrypted ones too, unless the protector is Sequential), and
// one goroutine copying in the kernel, or reading, encrypting and storing,
// leaves the second core idle once the small audio tracks are done.
func (r *runner) segmentWorkers() int {
	if r.job.Parallelism == 1 || runtime.GOMAXPROCS(0) == 1 {
		return 1
	}
	return 2
}

// writeSegments writes and stores the media segments of a track,
// segmentWorkers at once (cmaf.Writer.WriteSegments), and reports them in
// order.
func (r *runner) writeSegments(ctx context.Context, rep *repJob, sw *cmaf.Writer) error {
	names := make([]string, sw.Len())
	var done atomic.Int64
	infos, err := sw.WriteSegments(ctx, r.segmentWorkers(), func(ctx context.Context, i int, pre cmaf.SegmentInfo, write func(io.Writer) (cmaf.SegmentInfo, error)) error {
		name, err := manifest.ExpandTemplate(r.naming.Media, rep.id, 0, uint64(pre.Number), pre.MediaTime)
		if err != nil {
			return err
		}
		names[i] = name
		if _, err := r.put(ctx, name, func(w io.Writer) error {
			_, err := write(w)
			return err
		}); err != nil {
			return err
		}
		r.progress(rep, int(done.Add(1)), len(names))
		return nil
	})
	if err != nil {
		return err
	}
	for i := range names {
		rep.addSegment(names[i], infos[i])
	}
	return nil
}

func (rep *repJob) addSegment(uri string, info cmaf.SegmentInfo) {
	ref := manifest.SegmentRef{URI: uri, Number: uint64(info.Number), Start: info.MediaTime, Duration: info.Duration, Size: uint64(info.Size)}
	if rep.single != nil {
		ref.Range = manifest.ByteRange{Offset: uint64(info.Offset), Length: uint64(info.Size)}
	}
	rep.segments = append(rep.segments, ref)
	if info.SyncSampleEnd > 0 {
		rep.iframes = append(rep.iframes, manifest.IFrameRef{
			URI:      uri,
			Range:    manifest.ByteRange{Offset: uint64(info.Offset + info.FragmentOffset), Length: uint64(info.SyncSampleEnd - info.FragmentOffset)},
			Start:    info.MediaTime,
			Duration: info.Duration,
		})
	}
}

func (r *runner) writeSingle(ctx context.Context, rep *repJob, opts cmaf.Options) error {
	name, err := manifest.ExpandTemplate(r.naming.SingleFile, rep.id, 0, 0, 0)
	if err != nil {
		return err
	}
	var info cmaf.SingleFileInfo
	if _, err := r.put(ctx, name, func(w io.Writer) error {
		var err error
		info, err = cmaf.WriteSingleFile(ctx, w, rep.track, r.plan, opts, r.job.TempDir)
		return err
	}); err != nil {
		return err
	}
	rep.init = manifest.Resource{URI: name, Range: manifest.ByteRange{Offset: 0, Length: uint64(info.InitSize)}}
	rep.single = &manifest.SingleFile{URI: name, IndexRange: manifest.ByteRange{Offset: uint64(info.IndexOffset), Length: uint64(info.IndexSize)}}
	for _, s := range info.Segments {
		rep.addSegment(name, s)
		r.progress(rep, s.Number, len(info.Segments))
	}
	return nil
}

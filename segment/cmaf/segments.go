package cmaf

import (
	"context"
	"io"
	"sync"
	"sync/atomic"
)

// Store stores media segment i (0-based) for Writer.WriteSegments: it
// calls write with the destination, which writes the segment there and
// reports it, and returns write's error or its own. pre describes the
// segment before it is written, like Writer.Info (numbers and times, no
// sizes): enough to name it.
type Store func(ctx context.Context, i int, pre SegmentInfo, write func(w io.Writer) (SegmentInfo, error)) error

// WriteSegments writes every media segment of the track through store and
// returns their infos in order. Any segment can be written from the index
// alone, so with workers above one that many segments are written at once,
// each goroutine with buffers of its own: store is then called from several
// goroutines, for different segments, in no particular order. A protector
// that is Sequential needs the fragments one at a time, in order: then one
// goroutine reads and encrypts segment i+1 into memory while store writes
// segment i, whatever workers is, and store is called in order. Either
// way the bytes written are those of WriteSegment. The first error (of
// store, of writing, or ctx's) stops the writing and is returned.
func (sw *Writer) WriteSegments(ctx context.Context, workers int, store Store) ([]SegmentInfo, error) {
	if sw.opts.Protector != nil && Sequential(sw.opts.Protector) {
		return sw.writePipelined(ctx, store)
	}
	return sw.writeConcurrently(ctx, max(workers, 1), store)
}

// writeConcurrently writes the segments with workers goroutines, the first
// using sw and the others clones of it.
func (sw *Writer) writeConcurrently(ctx context.Context, workers int, store Store) ([]SegmentInfo, error) {
	n := sw.Len()
	infos := make([]SegmentInfo, n)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// Clone before any goroutine starts: a writer caches what it learns
	// about the source (minKernelRun) while it writes.
	writers := []*Writer{sw}
	for len(writers) < workers {
		writers = append(writers, sw.clone())
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for _, w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				pre, err := w.Info(i)
				if err == nil {
					err = store(ctx, i, pre, func(out io.Writer) (SegmentInfo, error) {
						var err error
						infos[i], err = w.WriteSegment(ctx, out, i)
						return infos[i], err
					})
				}
				if err != nil {
					cancel(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	return infos, nil
}

// writePipelined writes the segments in two stages: a goroutine reads and
// encrypts the next segment into memory (prepare) while this one stores
// the previous one. Encrypted payload has to pass through user space
// (clear payload is copied file to file in the kernel), and the stages let
// two cores share that work. The protector still sees the fragments in
// order, so the output is the same as written one by one; two payload
// buffers take turns.
func (sw *Writer) writePipelined(ctx context.Context, store Store) ([]SegmentInfo, error) {
	type built struct {
		seg *preparedSegment
		err error
	}
	n := sw.Len()
	ctx, cancel := context.WithCancel(ctx)
	ready := make(chan built, 1)
	free := make(chan []byte, 2)
	free <- nil
	free <- nil
	go func() {
		defer close(ready)
		for i := 0; i < n; i++ {
			var buf []byte
			select {
			case buf = <-free:
			case <-ctx.Done():
				return
			}
			var b built
			b.seg, b.err = sw.prepare(ctx, i, buf)
			select {
			case ready <- b:
			case <-ctx.Done():
				return
			}
			if b.err != nil {
				return
			}
		}
	}()
	defer func() {
		cancel()
		for range ready { // wait for the producer to stop using the track
		}
	}()
	infos := make([]SegmentInfo, 0, n)
	for b := range ready {
		if b.err != nil {
			return nil, b.err
		}
		var info SegmentInfo
		if err := store(ctx, len(infos), b.seg.info, func(w io.Writer) (SegmentInfo, error) {
			var err error
			info, err = b.seg.write(w)
			return info, err
		}); err != nil {
			return nil, err
		}
		infos = append(infos, info)
		free <- b.seg.buf
	}
	if len(infos) < n {
		return nil, ctx.Err() // cancelled: the producer stopped early
	}
	return infos, nil
}

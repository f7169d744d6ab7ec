package packager

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/cmafkit/cmafkit/internal/fastcopy"
)

// Storage receives the objects a job writes: segments, init segments and
// manifests. Names are slash-separated relative paths such as
// "video_720p/seg-1.m4s". Implementations must be safe for concurrent use.
type Storage interface {
	// Create starts writing the named object. The object becomes visible
	// under its name only when Commit succeeds; Abort discards it.
	Create(ctx context.Context, name string) (Object, error)
}

// Object is one object being written to a Storage.
type Object interface {
	io.Writer
	// Commit finishes the object and makes it visible under its name.
	Commit() error
	// Abort discards the object. It is safe to call after Commit (it then
	// does nothing).
	Abort() error
}

// ErrBadName is returned for object names that are absolute, empty or
// escape the storage root with "..".
var ErrBadName = errors.New("packager: bad object name")

// CheckName validates an object name for storages.
func CheckName(name string) error {
	if name == "" || strings.HasPrefix(name, "/") || strings.Contains(name, "\\") {
		return fmt.Errorf("%w: %q", ErrBadName, name)
	}
	for _, part := range strings.Split(name, "/") {
		if part == "" || part == "." || part == ".." {
			return fmt.Errorf("%w: %q", ErrBadName, name)
		}
	}
	return nil
}

// Dir is a Storage writing into a local directory. Each object is written
// to a temporary file in the target directory and renamed into place on
// Commit, so a reader never sees a partial object.
type Dir string

// Create implements Storage.
func (d Dir) Create(ctx context.Context, name string) (Object, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	path := filepath.Join(string(d), filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return nil, err
	}
	return &fileObject{f: f, path: path, w: newBufWriter(f)}, nil
}

type fileObject struct {
	f    *os.File
	path string
	w    *bufWriter
	done bool
}

func (o *fileObject) Write(p []byte) (int, error) { return o.w.Write(p) }

// ReadFrom takes runs of sample data from segment writers. When r is a
// section of a file (an *io.SectionReader over an *os.File, as
// segment.SegmentWriter passes clear sample runs), the bytes go from file to
// file inside the kernel (copy_file_range on Linux) without a user-space copy.
func (o *fileObject) ReadFrom(r io.Reader) (int64, error) {
	if sr, ok := r.(*io.SectionReader); ok {
		ra, off, n := sr.Outer()
		pos, err := sr.Seek(0, io.SeekCurrent)
		if err != nil {
			return 0, err
		}
		if err := o.w.Flush(); err != nil {
			return 0, err
		}
		written, handled, err := fastcopy.CopyRange(o.f, ra, off+pos, n-pos)
		if handled {
			_, serr := sr.Seek(written, io.SeekCurrent)
			return written, errors.Join(err, serr)
		}
	}
	buf := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(buf)
	return io.CopyBuffer(onlyWriter{o.w}, r, *buf)
}

// copyBufs holds buffers for ReadFrom's ordinary copy; large writes pass
// straight through bufWriter.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}

// onlyWriter hides any ReadFrom of the wrapped writer, so io.CopyBuffer uses
// the buffer it is given.
type onlyWriter struct{ io.Writer }

func (o *fileObject) Commit() error {
	if o.done {
		return errors.New("packager: object already finished")
	}
	o.done = true
	err := o.w.Flush()
	if err == nil {
		err = o.f.Chmod(0o644)
	}
	if cerr := o.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(o.f.Name(), o.path)
	}
	if err != nil {
		os.Remove(o.f.Name())
	}
	return err
}

func (o *fileObject) Abort() error {
	if o.done {
		return nil
	}
	o.done = true
	o.f.Close()
	return os.Remove(o.f.Name())
}

// bufWriter batches small writes (box headers) but passes large ones (sample
// runs) straight through, so payload bytes are copied once.
type bufWriter struct {
	w   io.Writer
	buf []byte
}

const bufSize = 64 << 10

func newBufWriter(w io.Writer) *bufWriter { return &bufWriter{w: w, buf: make([]byte, 0, bufSize)} }

func (b *bufWriter) Write(p []byte) (int, error) {
	if len(b.buf)+len(p) <= cap(b.buf) {
		b.buf = append(b.buf, p...)
		return len(p), nil
	}
	if err := b.Flush(); err != nil {
		return 0, err
	}
	if len(p) >= cap(b.buf)/2 {
		return b.w.Write(p)
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

func (b *bufWriter) Flush() error {
	if len(b.buf) == 0 {
		return nil
	}
	_, err := b.w.Write(b.buf)
	b.buf = b.buf[:0]
	return err
}

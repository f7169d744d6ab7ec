package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/cmafkit/cmafkit/internal/fastcopy"
)

// Dir is a Storage writing into a local directory.
//
// Each object is written to a temporary file in its target directory, named
// with TempPrefix, and renamed into place on Commit. A rename within a
// directory replaces an existing file atomically, so a reader opening the
// name sees the old file or the new one, whole. Commit does not sync the
// file to disk: atomicity holds for readers, not across a power failure.
//
// A writer holds a lock on its temporary file (flock, where the system has
// it) until it commits or aborts. The temporary files of a killed writer
// stay behind until Sweep removes them; packager.Run sweeps the directories
// it writes into before it writes.
type Dir string

// TempPrefix starts the names of Dir's temporary files. Names whose last
// element starts with it are not valid object names for a Dir.
const TempPrefix = ".cmafkit-tmp-"

// Sweep's thresholds: a temporary file that no writer has locked is removed
// once it is older than tempGrace (a writer locks its file right after
// creating it); where files cannot be locked, once it is older than
// tempMaxAge.
const (
	tempGrace  = 5 * time.Second
	tempMaxAge = time.Hour
)

func (d Dir) path(name string) (string, error) {
	if err := CheckName(name); err != nil {
		return "", err
	}
	if strings.HasPrefix(name[strings.LastIndexByte(name, '/')+1:], TempPrefix) {
		return "", fmt.Errorf("%w: %q: names starting with %q are Dir's temporary files", ErrBadName, name, TempPrefix)
	}
	return filepath.Join(string(d), filepath.FromSlash(name)), nil
}

// Create implements Storage. It creates the directories the name needs.
func (d Dir) Create(ctx context.Context, name string) (Object, error) {
	path, err := d.path(name)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(filepath.Dir(path), TempPrefix+filepath.Base(path)+".*")
	if err != nil {
		return nil, err
	}
	// Tell Sweep that a live writer uses the file. Where files cannot be
	// locked, Sweep goes by age instead.
	_ = lockFile(f)
	return &fileObject{f: f, path: path, w: newBufWriter(f)}, nil
}

// Delete implements Storage. It removes the named file (not a directory)
// and leaves its directories in place, empty or not.
func (d Dir) Delete(ctx context.Context, name string) error {
	path, err := d.path(name)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("storage: delete %s: %w", name, err)
	}
	if fi.IsDir() {
		return fmt.Errorf("storage: delete %s: a directory: %w", name, fs.ErrInvalid)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("storage: delete %s: %w", name, err)
	}
	return nil
}

// Sweep implements Sweeper: it removes the temporary files (TempPrefix) in
// dirs that no writer holds, as a killed process leaves them: unlocked
// files older than a few seconds, and where files cannot be locked, files
// older than an hour. Missing directories are nothing to sweep.
func (d Dir) Sweep(ctx context.Context, dirs ...string) error {
	now := time.Now()
	var errs []error
	for _, dir := range dirs {
		if dir != "." {
			if err := CheckName(dir); err != nil {
				return err
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		full := filepath.Join(string(d), filepath.FromSlash(dir))
		entries, err := os.ReadDir(full)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
			continue
		}
		for _, e := range entries {
			if !e.Type().IsRegular() || !strings.HasPrefix(e.Name(), TempPrefix) {
				continue
			}
			fi, err := e.Info()
			if err != nil {
				continue // gone meanwhile
			}
			age := now.Sub(fi.ModTime())
			if age < tempGrace {
				continue
			}
			p := filepath.Join(full, e.Name())
			switch held, err := fileLocked(p); {
			case err == nil && held:
				continue
			case err != nil && age < tempMaxAge:
				continue
			}
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("storage: sweep %s: %w", string(d), errors.Join(errs...))
	}
	return nil
}

type fileObject struct {
	f    *os.File
	path string
	w    *bufWriter
	done bool
}

func (o *fileObject) Write(p []byte) (int, error) {
	if o.done {
		return 0, errFinished
	}
	return o.w.Write(p)
}

// ReadFrom takes runs of sample data from segment writers. When r is a
// section of a file (an *io.SectionReader over an *os.File, as
// cmaf.Writer passes clear sample runs), the bytes go from file to
// file inside the kernel (copy_file_range on Linux) without a user-space copy.
func (o *fileObject) ReadFrom(r io.Reader) (int64, error) {
	if o.done {
		return 0, errFinished
	}
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

// errFinished is returned by Write and Commit after Commit or Abort.
var errFinished = errors.New("storage: object already finished")

// Commit writes what is buffered and renames the temporary file into place.
// Where the system allows it (not Windows), the file is renamed while still
// open and locked, so Sweep can never take it for a dead writer's.
func (o *fileObject) Commit() error {
	if o.done {
		return errFinished
	}
	o.done = true
	err := o.w.Flush()
	o.w.release()
	if err == nil {
		err = o.f.Chmod(0o644)
	}
	if err == nil && renameOpen {
		err = os.Rename(o.f.Name(), o.path)
		if err == nil {
			return o.f.Close()
		}
	}
	if cerr := o.f.Close(); err == nil {
		err = cerr
	}
	if err == nil && !renameOpen {
		err = os.Rename(o.f.Name(), o.path)
	}
	if err != nil {
		os.Remove(o.f.Name())
	}
	return err
}

// Abort removes the temporary file (before closing it where the system
// allows it, for the same reason as in Commit).
func (o *fileObject) Abort() error {
	if o.done {
		return nil
	}
	o.done = true
	o.w.release()
	var err error
	if renameOpen {
		err = os.Remove(o.f.Name())
		o.f.Close()
	} else {
		o.f.Close()
		err = os.Remove(o.f.Name())
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// renameOpen tells whether an open file can be renamed and removed (POSIX
// systems, not Windows).
const renameOpen = runtime.GOOS != "windows"

// bufWriter batches small writes (box headers) but passes large ones (sample
// runs) straight through, so payload bytes are copied once.
type bufWriter struct {
	w   io.Writer
	buf []byte
}

const bufSize = 64 << 10

// writeBufs recycles bufWriter buffers: a live channel creates several
// objects per segment (the segments and each manifest), and a fresh 64 KiB
// buffer each time was a large allocation to clear and collect.
var writeBufs = sync.Pool{New: func() any { b := make([]byte, 0, bufSize); return &b }}

func newBufWriter(w io.Writer) *bufWriter {
	return &bufWriter{w: w, buf: (*writeBufs.Get().(*[]byte))[:0]}
}

// release returns the buffer to writeBufs; the writer passes writes
// straight through afterwards.
func (b *bufWriter) release() {
	if b.buf != nil {
		buf := b.buf[:0]
		b.buf = nil
		writeBufs.Put(&buf)
	}
}

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

package origin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
)

// Source is where titles are read from: a directory (Dir) or a blob bucket
// (Bucket). Names are slash-separated paths relative to the source's root,
// already checked by the handler (no "..", no empty or dot elements).
type Source interface {
	// Open opens the named file for random access. A missing file returns
	// an error wrapping fs.ErrNotExist.
	Open(ctx context.Context, name string) (File, error)
}

// File is an opened source file, read with ReadAt.
type File interface {
	io.ReaderAt
	io.Closer
	// Size is the file's size in bytes.
	Size() int64
	// Version identifies the file's content: its ETag, or its modification
	// time and size. Responses' ETags derive from it.
	Version() string
	// ModTime is the file's modification time (zero if unknown).
	ModTime() time.Time
}

// Dir returns a Source reading the files under root. Symbolic links that
// lead out of root are refused (os.Root), like paths with "..".
func Dir(root string) (Source, error) {
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, err
	}
	return dirSource{r}, nil
}

type dirSource struct{ root *os.Root }

func (d dirSource) Open(ctx context.Context, name string) (File, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := d.root.Open(name)
	if err != nil {
		// Missing, a directory on the way missing, a symbolic link out of
		// the root, no permission: not found, whichever it is.
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("origin: %s is not a regular file: %w", name, fs.ErrNotExist)
	}
	return &dirFile{File: f, fi: fi}, nil
}

type dirFile struct {
	*os.File
	fi fs.FileInfo
}

func (f *dirFile) Size() int64        { return f.fi.Size() }
func (f *dirFile) ModTime() time.Time { return f.fi.ModTime() }
func (f *dirFile) Version() string {
	return fmt.Sprintf("%x-%x", f.fi.ModTime().UnixNano(), f.fi.Size())
}

// Bucket returns a Source reading the objects of b under prefix (a
// "directory/" or empty). Files are read by byte range (one range request
// per read of at least blockSize, through a small cache of blocks, so the
// many small reads of opening an MP4 cost few requests); no object is
// downloaded whole.
func Bucket(b *blob.Bucket, prefix string) Source {
	return bucketSource{b: b, prefix: prefix}
}

type bucketSource struct {
	b      *blob.Bucket
	prefix string
}

func (s bucketSource) Open(ctx context.Context, name string) (File, error) {
	key := s.prefix + name
	a, err := s.b.Attributes(ctx, key)
	if err != nil {
		if gcerrors.Code(err) == gcerrors.NotFound {
			return nil, fmt.Errorf("origin: %s: %w", name, fs.ErrNotExist)
		}
		return nil, err
	}
	v := a.ETag
	if v == "" {
		v = fmt.Sprintf("%x-%x", a.ModTime.UnixNano(), a.Size)
	}
	return &bucketFile{b: s.b, key: key, size: a.Size, mod: a.ModTime, version: v}, nil
}

// blockSize is the unit of bucket reads; cachedBlocks how many a file
// keeps (the most recently used).
const (
	blockSize    = 64 << 10
	cachedBlocks = 8
)

type bucketFile struct {
	b       *blob.Bucket
	key     string
	size    int64
	mod     time.Time
	version string

	mu     sync.Mutex
	blocks []block // most recently used last
}

type block struct {
	off  int64
	data []byte
}

func (f *bucketFile) Size() int64        { return f.size }
func (f *bucketFile) ModTime() time.Time { return f.mod }
func (f *bucketFile) Version() string    { return f.version }
func (f *bucketFile) Close() error       { return nil }

// ReadAt reads len(p) bytes at off: reads of a block or more go to the
// bucket as one range request; smaller ones through the block cache.
func (f *bucketFile) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("origin: negative offset")
	}
	if off >= f.size {
		return 0, io.EOF
	}
	var err error
	if end := off + int64(len(p)); end > f.size {
		p, err = p[:f.size-off], io.EOF
	}
	if len(p) >= blockSize {
		if rerr := f.readRange(p, off); rerr != nil {
			return 0, rerr
		}
		return len(p), err
	}
	n := 0
	for n < len(p) {
		bo := (off + int64(n)) / blockSize * blockSize
		data, rerr := f.block(bo)
		if rerr != nil {
			return n, rerr
		}
		c := copy(p[n:], data[off+int64(n)-bo:])
		if c == 0 {
			return n, io.ErrUnexpectedEOF
		}
		n += c
	}
	return n, err
}

func (f *bucketFile) block(off int64) ([]byte, error) {
	f.mu.Lock()
	for i, b := range f.blocks {
		if b.off == off {
			f.blocks = append(append(f.blocks[:i:i], f.blocks[i+1:]...), b)
			f.mu.Unlock()
			return b.data, nil
		}
	}
	f.mu.Unlock()
	data := make([]byte, min(blockSize, f.size-off))
	if err := f.readRange(data, off); err != nil {
		return nil, err
	}
	f.mu.Lock()
	if len(f.blocks) >= cachedBlocks {
		f.blocks = append(f.blocks[:0], f.blocks[1:]...)
	}
	f.blocks = append(f.blocks, block{off, data})
	f.mu.Unlock()
	return data, nil
}

func (f *bucketFile) readRange(p []byte, off int64) error {
	r, err := f.b.NewRangeReader(context.Background(), f.key, off, int64(len(p)), nil)
	if err != nil {
		return err
	}
	defer r.Close()
	_, err = io.ReadFull(r, p)
	return err
}

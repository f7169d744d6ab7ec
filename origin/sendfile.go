package origin

import (
	"io"
	"net/http"
	"os"
	"runtime"
	"strconv"
)

// ReadFrom takes the runs of clear sample data a segment writer copies from
// the source (cmaf copies a run to an io.ReaderFrom as an io.SectionReader
// of the source's *os.File). Handed to net/http as an io.LimitedReader of
// an *os.File positioned at the run, a run goes from the page cache to the
// socket with sendfile, through no buffer of ours: a clear segment in flight
// then holds no copy of its payload. The source's own *os.File is shared by
// concurrent requests and read with pread; sendfile reads at a file's
// offset, so each request reads through a description of its own, opened
// once (/proc/self/fd on Linux: the same file, even if renamed since).
// Elsewhere, or for other readers, the copy is net/http's.
func (r *recorder) ReadFrom(src io.Reader) (int64, error) {
	r.wrote = true
	rf, ok := r.ResponseWriter.(io.ReaderFrom)
	if !ok {
		n, err := io.Copy(writerOnly{r.ResponseWriter}, src)
		r.n += n
		return n, err
	}
	if sr, ok := src.(*io.SectionReader); ok {
		if f, n, ok := r.positioned(sr); ok {
			m, err := rf.ReadFrom(&io.LimitedReader{R: f, N: n})
			r.n += m
			if _, serr := sr.Seek(m, io.SeekCurrent); err == nil {
				err = serr
			}
			if err == nil && m < n {
				err = io.ErrUnexpectedEOF
			}
			return m, err
		}
	}
	n, err := rf.ReadFrom(src)
	r.n += n
	return n, err
}

// positioned returns a private *os.File of the file under sr, positioned
// at sr's current offset, and the bytes left in sr.
func (r *recorder) positioned(sr *io.SectionReader) (f *os.File, n int64, ok bool) {
	ra, base, size := sr.Outer()
	src, isFile := ra.(*os.File)
	if !isFile || runtime.GOOS != "linux" {
		return nil, 0, false
	}
	cur, err := sr.Seek(0, io.SeekCurrent)
	if err != nil || cur >= size {
		return nil, 0, false
	}
	f = r.reopened[src]
	if f == nil {
		sc, err := src.SyscallConn()
		if err != nil {
			return nil, 0, false
		}
		var fd uintptr
		if sc.Control(func(d uintptr) { fd = d }) != nil {
			return nil, 0, false
		}
		if f, err = os.Open("/proc/self/fd/" + strconv.FormatUint(uint64(fd), 10)); err != nil {
			return nil, 0, false
		}
		if !sameFile(f, src) {
			f.Close()
			return nil, 0, false
		}
		if r.reopened == nil {
			r.reopened = map[*os.File]*os.File{}
		}
		r.reopened[src] = f
	}
	if _, err := f.Seek(base+cur, io.SeekStart); err != nil {
		return nil, 0, false
	}
	return f, size - cur, true
}

func sameFile(a, b *os.File) bool {
	ai, err := a.Stat()
	if err != nil {
		return false
	}
	bi, err := b.Stat()
	return err == nil && os.SameFile(ai, bi)
}

// closeFiles closes the descriptions ReadFrom opened.
func (r *recorder) closeFiles() {
	for _, f := range r.reopened {
		f.Close()
	}
	r.reopened = nil
}

// writerOnly hides a writer's other methods (io.Copy must not call back
// into ReadFrom).
type writerOnly struct{ w http.ResponseWriter }

func (w writerOnly) Write(p []byte) (int, error) { return w.w.Write(p) }

package fastcopy

import (
	"errors"
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// maxChunk bounds one copy_file_range call; the kernel copies at most about
// 2 GiB per call anyway.
const maxChunk = 1 << 30

func copyFileRange(dst, src *os.File, off, n int64) (written int64, handled bool, err error) {
	if n == 0 {
		return 0, true, nil
	}
	dc, err := dst.SyscallConn()
	if err != nil {
		return 0, false, nil
	}
	sc, err := src.SyscallConn()
	if err != nil {
		return 0, false, nil
	}
	// A failed Control (a closed file) leaves handled false: the caller's
	// ordinary copy then reports the error.
	var opErr error
	sc.Control(func(sfd uintptr) {
		dc.Control(func(dfd uintptr) {
			for written < n {
				roff := off + written
				m, e := unix.CopyFileRange(int(sfd), &roff, int(dfd), nil, int(min(n-written, maxChunk)), 0)
				if e == unix.EINTR {
					continue
				}
				if e != nil {
					if written == 0 && unsupported(e) {
						return // not handled: the caller falls back
					}
					handled, opErr = true, &os.PathError{Op: "copy_file_range", Path: src.Name(), Err: e}
					return
				}
				if m == 0 {
					handled, opErr = true, io.ErrUnexpectedEOF // src shorter than off+n
					return
				}
				written += int64(m)
				handled = true
			}
		})
	})
	return written, handled, opErr
}

// unsupported reports errors that mean "this pair of files cannot be copied
// in the kernel" rather than an I/O failure.
func unsupported(err error) bool {
	return errors.Is(err, syscall.ENOSYS) || errors.Is(err, syscall.EXDEV) || errors.Is(err, syscall.EINVAL) ||
		errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.EBADF) || errors.Is(err, syscall.EPERM)
}

// onTmpfs reports whether f lives on tmpfs (the page cache is the file).
func onTmpfs(f *os.File) bool {
	sc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	var st unix.Statfs_t
	serr := errors.New("no descriptor")
	_ = sc.Control(func(fd uintptr) { serr = unix.Fstatfs(int(fd), &st) })
	return serr == nil && st.Type == unix.TMPFS_MAGIC
}

// maxIovecs keeps a preadv under the kernel's IOV_MAX (1024).
const maxIovecs = 1000

func readPieces(dst []byte, f *os.File, pieces []Piece, scratch []byte) (handled bool, err error) {
	sc, err := f.SyscallConn()
	if err != nil {
		return false, nil
	}
	iovs := make([][]byte, 0, min(2*len(pieces), maxIovecs+1))
	pos := 0
	for i := 0; i < len(pieces); {
		start, end := pieces[i].Off, pieces[i].Off
		iovs = iovs[:0]
		want := 0
		for i < len(pieces) {
			p := pieces[i]
			gap := p.Off - end
			if len(iovs)+int((gap+int64(len(scratch))-1)/int64(len(scratch)))+1 > maxIovecs && len(iovs) > 0 {
				break // the next call starts at this piece, without its gap
			}
			for gap > 0 {
				g := min(gap, int64(len(scratch)))
				iovs = append(iovs, scratch[:g])
				gap -= g
				want += int(g)
			}
			iovs = append(iovs, dst[pos:pos+int(p.N)])
			pos += int(p.N)
			want += int(p.N)
			end = p.Off + p.N
			i++
		}
		var n int
		var rerr error
		if cerr := sc.Control(func(fd uintptr) {
			for {
				n, rerr = unix.Preadv(int(fd), iovs, start)
				if rerr != unix.EINTR {
					return
				}
			}
		}); cerr != nil {
			rerr = cerr
		}
		if rerr != nil {
			if !handled && unsupported(rerr) {
				return false, nil
			}
			return true, &os.PathError{Op: "preadv", Path: f.Name(), Err: rerr}
		}
		handled = true
		if n < want { // regular files read short only at their end
			return true, io.ErrUnexpectedEOF
		}
	}
	return true, nil
}

// Package fastcopy copies byte ranges from one file to another inside the
// kernel where the operating system can (copy_file_range on Linux), so that
// packaging clear media moves sample data without passing it through user
// space.
package fastcopy

import (
	"errors"
	"io"
	"os"
)

// CopyRange writes the n bytes of src at offset off to dst. It handles only
// the case where dst and src are both *os.File and the system can copy
// between them; then it reports handled == true with the result. Otherwise
// it writes nothing and reports handled == false, and the caller copies
// through memory. The file offset of src is not used or changed, so
// goroutines may share src; dst is written at its current offset, which
// advances.
func CopyRange(dst io.Writer, src io.ReaderAt, off, n int64) (written int64, handled bool, err error) {
	df, ok := dst.(*os.File)
	if !ok {
		return 0, false, nil
	}
	sf, ok := src.(*os.File)
	if !ok {
		return 0, false, nil
	}
	return copyFileRange(df, sf, off, n)
}

// CheapPerCall reports whether CopyRange from src costs little per call,
// so that copying even runs of a few KiB in the kernel beats reading them
// into memory: true for a file on tmpfs. On disk file systems (ext4
// measured) each copy_file_range costs several microseconds more, and
// runs of tens of KiB are cheaper read into memory a segment at a time (see
// bench/README.md, session 4). False when src is not a file.
func CheapPerCall(src io.ReaderAt) bool {
	f, ok := src.(*os.File)
	return ok && onTmpfs(f)
}

// Piece is a byte range of a file: N bytes at offset Off.
type Piece struct{ Off, N int64 }

// ReadPieces reads pieces of src (in increasing, non-overlapping order)
// back to back into dst, whose length must be their total. The bytes
// between pieces are read into scratch (any non-empty size) and dropped, so
// pieces interleaved with other data, such as one track's samples among
// another's, take one system call per up to a thousand pieces and are not
// moved in memory afterwards. It reports handled == false, having read
// nothing, when src is not a file or the system cannot do this (preadv);
// the caller then reads another way. Pieces out of order or not adding up
// to len(dst) are refused the same way, with an error.
func ReadPieces(dst []byte, src io.ReaderAt, pieces []Piece, scratch []byte) (handled bool, err error) {
	f, ok := src.(*os.File)
	if !ok || len(scratch) == 0 {
		return false, nil
	}
	var total, end int64
	for _, p := range pieces {
		if p.N < 0 || p.Off < end {
			return false, errPieces
		}
		total += p.N
		end = p.Off + p.N
	}
	if total != int64(len(dst)) {
		return false, errPieces
	}
	return readPieces(dst, f, pieces, scratch)
}

var errPieces = errors.New("fastcopy: pieces out of order, overlapping or not the size of dst")

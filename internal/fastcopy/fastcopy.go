// Package fastcopy copies byte ranges from one file to another inside the
// kernel where the operating system can (copy_file_range on Linux), so that
// packaging clear media moves sample data without passing it through user
// space.
package fastcopy

import (
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

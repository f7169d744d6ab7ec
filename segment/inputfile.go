package segment

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// ErrNotRegularFile means an input path names something other than a
// regular file: a FIFO, a device, a socket or a directory. Inputs are read
// at random offsets and their size must be known before indexing, which a
// stream cannot offer (and opening a FIFO nobody writes to blocks forever).
var ErrNotRegularFile = errors.New("not a regular file")

// FileTypeError reports an input path that is not a regular file (after
// symbolic links). It wraps ErrNotRegularFile.
type FileTypeError struct {
	Path string
	Mode fs.FileMode // the file's mode; Mode.Type() tells what it is
}

func (e *FileTypeError) Error() string {
	return fmt.Sprintf("%s: %s, %v: inputs are read at random offsets; save the stream to a file first", e.Path, fileTypeName(e.Mode), ErrNotRegularFile)
}

func (e *FileTypeError) Unwrap() error { return ErrNotRegularFile }

func fileTypeName(m fs.FileMode) string {
	switch t := m.Type(); {
	case t&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case t&fs.ModeSocket != 0:
		return "a socket"
	case t&fs.ModeCharDevice != 0:
		return "a character device"
	case t&fs.ModeDevice != 0:
		return "a block device"
	case t&fs.ModeDir != 0:
		return "a directory"
	}
	return "an irregular file"
}

// OpenInputFile opens the file at path as an input that is read at random
// offsets (see OpenFileWith) and returns it with its FileInfo. Anything but
// a regular file (symbolic links are followed) is refused with a
// *FileTypeError before it is opened, and the open itself does not block
// should path be replaced by a FIFO in between.
func OpenInputFile(path string) (*os.File, fs.FileInfo, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, &FileTypeError{Path: path, Mode: fi.Mode()}
	}
	f, err := openNoBlock(path)
	if err != nil {
		return nil, nil, err
	}
	if fi, err = f.Stat(); err == nil && !fi.Mode().IsRegular() {
		err = &FileTypeError{Path: path, Mode: fi.Mode()}
	}
	if err == nil {
		err = setBlocking(f)
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

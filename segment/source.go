package segment

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
)

// OpenOptions configures Open. The zero value is ready to use.
type OpenOptions struct {
	// Logger receives warnings (ignored edits, skipped tracks). Nil discards them.
	Logger *slog.Logger
}

// Log returns the logger readers write warnings to: o.Logger, or one that
// discards everything when o or o.Logger is nil.
func (o *OpenOptions) Log() *slog.Logger {
	if o == nil || o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger
}

// Source is an opened input: its tracks with their sample indexes. Sample
// payloads stay in the input and are read when segments are written.
type Source struct {
	// Name identifies the input in errors and logs (usually its file name).
	Name string
	// Format is the Name of the registered Format that read the input
	// (e.g. "MP4", "MPEG-TS", "WebVTT") when Open read it; a reader called
	// directly may leave it empty.
	Format string
	// Size is the input size in bytes.
	Size int64
	// Fragmented reports whether the input was a fragmented MP4 (moof/mdat).
	Fragmented bool
	// Tracks are the usable tracks in input order.
	Tracks []*Track
	// Cues are the SCTE-35 cues found in the input, in time order (see
	// Cue); nil when the demuxer reads none.
	Cues []Cue

	closer io.Closer
}

// Close releases the input if the Source opened it (OpenFile). It is safe to
// call on a Source made by Open, where it does nothing.
func (s *Source) Close() error {
	if s.closer == nil {
		return nil
	}
	err := s.closer.Close()
	s.closer = nil
	return err
}

// OpenFile opens the file at path with Open. Close the Source when done.
func OpenFile(ctx context.Context, path string, opts *OpenOptions) (*Source, error) {
	return OpenFileWith(ctx, path, func(ctx context.Context, r io.ReaderAt, size int64, name string) (*Source, error) {
		return Open(ctx, r, size, name, opts)
	})
}

// OpenFileWith opens the file at path and hands it to open (a source reader
// such as Open); the returned Source closes the file on Close, and the file
// is closed at once if open fails. A path that is not a regular file (a
// FIFO, a device, a directory) is refused with a *FileTypeError (see
// OpenInputFile).
func OpenFileWith(ctx context.Context, path string, open func(ctx context.Context, r io.ReaderAt, size int64, name string) (*Source, error)) (*Source, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, fi, err := OpenInputFile(path)
	if err != nil {
		return nil, err
	}
	src, err := open(ctx, f, fi.Size(), path)
	if err != nil {
		f.Close()
		return nil, err
	}
	src.closer = f
	return src, nil
}

// A Format is an input format Open can read. Each reader package (an MP4
// reader, an MPEG-TS demuxer, ...) registers its format with
// RegisterFormat in its init function; a program reads the formats of the
// reader packages it imports, for their side effect if need be:
//
//	import _ "github.com/cmafkit/cmafkit/segment/ts"
type Format struct {
	// Name names the format in Source.Format and in messages, e.g. "MP4".
	Name string
	// Match reports whether an input that starts with head is in this
	// format. head holds the input's first SniffLen bytes, or all of it
	// when it is shorter. Match must recognise its format by a signature,
	// not by an absence of others: inputs no format matches are named by
	// Open (raw ADTS, Annex B, Matroska, ...) and refused.
	Match func(head []byte) bool
	// Open reads an input Match accepted; see Open.
	Open func(ctx context.Context, r io.ReaderAt, size int64, name string, opts *OpenOptions) (*Source, error)
}

// SniffLen is how many bytes at the start of an input Open reads to choose
// a format (and after an ID3 tag, to name raw audio): enough to check a
// second ADTS or MPEG audio frame.
const SniffLen = sniffLen

// formats holds the registered formats, in registration order. Writers
// hold formatsMu; Open reads the slice without locking.
var (
	formatsMu sync.Mutex
	formats   atomic.Pointer[[]Format]
)

// RegisterFormat makes Open read format f. It is meant to be called from
// the init function of the package that reads f, and panics when f lacks
// a Name, Match or Open, or when a format of that name is registered
// already: both are programming errors.
func RegisterFormat(f Format) {
	if f.Name == "" || f.Match == nil || f.Open == nil {
		panic("segment: RegisterFormat: format without name, Match or Open")
	}
	formatsMu.Lock()
	defer formatsMu.Unlock()
	var list []Format
	if p := formats.Load(); p != nil {
		list = *p
	}
	for _, g := range list {
		if g.Name == f.Name {
			panic("segment: RegisterFormat: format " + f.Name + " registered twice")
		}
	}
	list = append(list[:len(list):len(list)], f)
	formats.Store(&list)
}

// registered returns the registered formats.
func registered() []Format {
	if p := formats.Load(); p != nil {
		return *p
	}
	return nil
}

// Open reads the input r (size bytes, named name in errors and logs) with
// the first registered Format that recognises its first bytes, and sets
// the Source's Format. r must stay open while the Source is used: sample
// payloads are read from it when segments are written.
//
// An input no registered format recognises is refused with a *FormatError
// wrapping ErrUnsupportedFormat that names what the input looks like (raw
// ADTS AAC, MP3, Annex B H.264, Matroska, an HLS playlist, ...) and how to
// make it packageable. Errors of the format's reader are returned as they
// are: see the reader package.
func Open(ctx context.Context, r io.ReaderAt, size int64, name string, opts *OpenOptions) (*Source, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	head := make([]byte, min(max(size, 0), sniffLen))
	if n, err := r.ReadAt(head, 0); n < len(head) {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("%s: read at 0: %w", name, err)
	}
	for _, f := range registered() {
		if f.Match(head) {
			src, err := f.Open(ctx, r, size, name, opts)
			if err != nil {
				return nil, err
			}
			src.Format = f.Name
			return src, nil
		}
	}
	return nil, unsupported(r, size, head, name)
}

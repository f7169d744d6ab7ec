package ts

import (
	"context"
	"io"

	"github.com/cmafkit/cmafkit/segment"
)

// Importing the package registers the format "MPEG-TS" with segment.Open.
func init() {
	segment.RegisterFormat(segment.Format{Name: "MPEG-TS", Match: isTS, Open: openSource})
}

// isTS reports whether head starts like an MPEG-TS (188-byte packets) or
// M2TS (192-byte packets) stream: sync bytes at the start of two packets.
func isTS(head []byte) bool {
	if len(head) < 2*192 {
		return false
	}
	return (head[0] == 0x47 && head[188] == 0x47) || (head[4] == 0x47 && head[196] == 0x47)
}

// openSource is Open for segment.Open.
func openSource(ctx context.Context, r io.ReaderAt, size int64, name string, opts *segment.OpenOptions) (*segment.Source, error) {
	src, err := Open(ctx, r, size, name, &Options{Logger: opts.Log()})
	if err != nil {
		return nil, err
	}
	return &src.Source, nil
}

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

// isTS reports whether head starts like an MPEG-TS (188- or 204-byte
// packets) or M2TS (192-byte packets) stream: sync bytes at the start of
// two packets, or, after leading junk or a cut through a packet (a
// recording joined late), five packets in a row. The demuxer skips what
// comes before the first packet, with a warning.
func isTS(head []byte) bool {
	if len(head) < 2*192 {
		return false
	}
	if (head[0] == 0x47 && head[188] == 0x47) || (head[4] == 0x47 && head[196] == 0x47) {
		return true
	}
	switch string(head[4:8]) {
	case "ftyp", "styp", "moov", "moof", "mdat", "free", "skip", "wide", "sidx", "uuid":
		return false // an MP4 box, whose payload may hold sync bytes by chance
	}
	for q, c := range head {
		if c != 0x47 {
			continue
		}
		for _, ps := range []int{188, 192, 204} {
			if q+4*ps < len(head) && head[q+ps] == 0x47 && head[q+2*ps] == 0x47 && head[q+3*ps] == 0x47 && head[q+4*ps] == 0x47 {
				return true
			}
		}
	}
	return false
}

// openSource is Open for segment.Open.
func openSource(ctx context.Context, r io.ReaderAt, size int64, name string, opts *segment.OpenOptions) (*segment.Source, error) {
	src, err := Open(ctx, r, size, name, &Options{Logger: opts.Log()})
	if err != nil {
		return nil, err
	}
	return &src.Source, nil
}

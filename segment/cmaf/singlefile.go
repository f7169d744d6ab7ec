package cmaf

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/cmafkit/cmafkit/segment"
)

// SingleFileInfo reports a track written as one file: init segment, a sidx,
// then every segment's fragments. Ranges are byte offsets in that file.
type SingleFileInfo struct {
	// InitSize is the size of the init segment at the start of the file.
	InitSize int64
	// IndexOffset and IndexSize locate the sidx box.
	IndexOffset, IndexSize int64
	// Segments report each segment with Offset set to its position in the file.
	Segments []SegmentInfo
	// Size is the total file size.
	Size int64
}

// WriteSingleFile writes all of t's fragments into w as one file with a sidx
// indexing every segment (the DASH on-demand profile and HLS byte ranges).
// The fragments are staged in a temporary file in tempDir (os.TempDir() when
// empty) because the sidx that precedes them needs their sizes; memory stays
// bounded by one segment.
func WriteSingleFile(ctx context.Context, w io.Writer, t *segment.Track, p *segment.Plan, opts Options, tempDir string) (SingleFileInfo, error) {
	var out SingleFileInfo
	opts.NoStyp = true
	sw, err := NewWriter(t, p, opts)
	if err != nil {
		return out, err
	}
	tmp, err := os.CreateTemp(tempDir, "cmafkit-*.m4s")
	if err != nil {
		return out, err
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	var mediaSize int64
	for i := 0; i < sw.Len(); i++ {
		info, err := sw.WriteSegment(ctx, tmp, i)
		if err != nil {
			return out, err
		}
		info.Offset = mediaSize
		mediaSize += info.Size
		out.Segments = append(out.Segments, info)
	}

	init, err := BuildInit(t)
	if err != nil {
		return out, err
	}
	if opts.Protector != nil {
		if err := opts.Protector.ProtectInit(init); err != nil {
			return out, fmt.Errorf("%s: protect init: %w", t, err)
		}
	}
	sidx := &mp4.SidxBox{
		Version:                  1,
		ReferenceID:              outputTrackID,
		Timescale:                t.Timescale,
		EarliestPresentationTime: out.Segments[0].MediaTime,
	}
	for _, s := range out.Segments {
		if s.Size >= 1<<31 || s.Duration >= 1<<32 {
			return out, fmt.Errorf("%s: segment %d too large for a sidx reference", t, s.Number)
		}
		sidx.SidxRefs = append(sidx.SidxRefs, mp4.SidxRef{
			ReferencedSize:     uint32(s.Size),
			SubSegmentDuration: uint32(s.Duration),
			StartsWithSAP:      1,
			SAPType:            1,
		})
	}
	cw := &countingWriter{w: w}
	if err := init.Encode(cw); err != nil {
		return out, err
	}
	out.InitSize = cw.n
	out.IndexOffset = cw.n
	if err := sidx.Encode(cw); err != nil {
		return out, err
	}
	out.IndexSize = cw.n - out.IndexOffset
	base := cw.n
	for i := range out.Segments {
		out.Segments[i].Offset += base
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return out, err
	}
	if _, err := io.Copy(cw, tmp); err != nil {
		return out, err
	}
	out.Size = cw.n
	return out, nil
}

package webvtt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/cmafkit/cmafkit/segment"
)

// webvttTimescale is the timescale of tracks read from WebVTT documents,
// whose times have millisecond precision.
const webvttTimescale = 1000

// Open reads a WebVTT document (a .vtt file) as a source with one
// wvtt text track, timescale 1000, language "und". The document and its
// wvtt samples are held in memory (at most MaxDocumentSize and
// MaxSamplesSize bytes); a document with more than
// MaxActiveCues cues active at once is refused with a *segment.FormatError
// wrapping a *LimitError. The conversion stops with ctx's error
// when ctx is done.
func Open(ctx context.Context, r io.Reader, name string, opts *segment.OpenOptions) (*segment.Source, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	doc, err := ParseContext(ctx, r)
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return nil, err
	}
	if err != nil {
		return nil, &segment.FormatError{Source: name, Offset: -1, Err: segment.ErrMalformed, Detail: err.Error()}
	}
	if len(doc.Cues) == 0 {
		return nil, &segment.FormatError{Source: name, Offset: -1, Err: segment.ErrNoTracks, Detail: "WebVTT document without cues"}
	}
	entry := mp4.NewWvttBox()
	cfg := "WEBVTT"
	if doc.Header != "" {
		cfg += "\n" + doc.Header
	}
	entry.AddChild(&mp4.VttCBox{Config: cfg})
	data := &memSamples{}
	// At most two samples a cue and one more; usually about that many.
	list := make(segment.SampleList, 0, 2*len(doc.Cues)+1)
	err = ToSamples(ctx, doc.Cues, 0, func(s Sample) error {
		start, end := s.Start.Milliseconds(), s.End.Milliseconds()
		if end <= start {
			return nil
		}
		if end-start > math.MaxUint32 {
			return &segment.FormatError{Source: name, Offset: -1, Err: segment.ErrMalformed,
				Detail: fmt.Sprintf("%s to %s without a cue starting or ending: longer than a sample can last", FormatTimestamp(s.Start), FormatTimestamp(s.End))}
		}
		off := int64(len(data.b))
		data.b = AppendSample(data.b, s.Cues)
		list = append(list, segment.Sample{DecodeTime: uint64(start), Offset: off, Size: uint32(int64(len(data.b)) - off), Duration: uint32(end - start), Sync: true})
		return nil
	})
	if err != nil {
		var fe *segment.FormatError
		if errors.As(err, &fe) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return nil, err
		}
		// A *LimitError: cues that overlap too much.
		return nil, &segment.FormatError{Source: name, Offset: -1, Err: err}
	}
	t := &segment.Track{ID: 1, Source: name, Kind: segment.KindText, Codec: "wvtt", Timescale: webvttTimescale, Language: "und",
		SampleEntry: entry, Index: list, Data: data}
	for _, s := range list {
		t.Duration += uint64(s.Duration)
	}
	opts.Log().Debug("read WebVTT document", "source", name, "cues", len(doc.Cues), "samples", len(list))
	return &segment.Source{Name: name, Size: int64(len(data.b)), Tracks: []*segment.Track{t}}, nil
}

// memSamples serves sample payloads from memory; Sample.Offset indexes b.
type memSamples struct{ b []byte }

func (m *memSamples) AppendSample(dst []byte, s *segment.Sample) ([]byte, error) {
	if s.Offset < 0 || s.Offset+int64(s.Size) > int64(len(m.b)) {
		return dst, fmt.Errorf("%w: sample at %d+%d outside the document", segment.ErrMalformed, s.Offset, s.Size)
	}
	return append(dst, m.b[s.Offset:s.Offset+int64(s.Size)]...), nil
}

func init() {
	segment.RegisterFormat(segment.Format{Name: "WebVTT", Match: isDocument, Open: openAt})
}

// isDocument reports whether head starts with the WebVTT signature (after
// an optional byte order mark).
func isDocument(head []byte) bool {
	b := bytes.TrimPrefix(head, []byte("\xef\xbb\xbf"))
	return bytes.HasPrefix(b, []byte("WEBVTT")) && (len(b) == 6 || strings.ContainsRune(" \t\r\n", rune(b[6])))
}

// openAt is Open for segment.Open.
func openAt(ctx context.Context, r io.ReaderAt, size int64, name string, opts *segment.OpenOptions) (*segment.Source, error) {
	return Open(ctx, io.NewSectionReader(r, 0, size), name, opts)
}

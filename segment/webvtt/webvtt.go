// Package webvtt reads and writes WebVTT: text documents (W3C WebVTT, the
// subtitle format of HLS) and their ISO/IEC 14496-30 sample form ('wvtt'
// tracks in MP4: vttc cues with payl/sttg/iden boxes, vtte for no cue).
//
// A WebVTT document's cues may overlap; a wvtt track cannot, so ToSamples
// cuts the timeline at every cue start and end, and each sample carries
// every cue active during it (a cue longer than one sample is repeated).
// FromSamples merges such repeats back into one cue.
//
// Open reads a WebVTT side file as a segment.Source with one wvtt track;
// importing the package registers the format "WebVTT" with segment.Open.
package webvtt

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ErrSyntax means a WebVTT document or a wvtt sample cannot be read.
var ErrSyntax = errors.New("webvtt: syntax error")

// MaxDocumentSize bounds the WebVTT documents Parse reads (64 MiB, far more
// than the subtitles of any film).
const MaxDocumentSize = 64 << 20

// Cue is one WebVTT cue.
type Cue struct {
	// ID is the optional cue identifier.
	ID string
	// Start and End are the cue times on the document's timeline.
	Start, End time.Duration
	// Settings holds the cue settings after the timing, e.g. "line:0 align:start".
	Settings string
	// Text is the cue payload; lines are separated by "\n".
	Text string
}

// Document is a parsed WebVTT file.
type Document struct {
	// Header holds the lines after the "WEBVTT" signature up to the first
	// cue (header text, STYLE and REGION blocks), as the wvtt sample entry's
	// configuration carries them.
	Header string
	Cues   []Cue
}

// Parse reads a WebVTT document. NOTE blocks are dropped; cues are returned
// sorted by start time (stable).
func Parse(r io.Reader) (*Document, error) {
	return ParseContext(context.Background(), r)
}

// ParseContext is Parse that stops with ctx's error when ctx is done (a
// document of MaxDocumentSize bytes takes seconds).
func ParseContext(ctx context.Context, r io.Reader) (*Document, error) {
	text, err := readDocument(ctx, r)
	if err != nil {
		return nil, err
	}
	text = strings.TrimPrefix(text, "\xef\xbb\xbf")
	text = strings.ReplaceAll(strings.ReplaceAll(text, "\r\n", "\n"), "\r", "\n")
	first, rest, more := strings.Cut(text, "\n\n")
	if !strings.HasPrefix(first, "WEBVTT") || (len(first) > 6 && first[6] != ' ' && first[6] != '\t' && first[6] != '\n') {
		return nil, fmt.Errorf("%w: no WEBVTT signature", ErrSyntax)
	}
	doc := &Document{}
	if n := strings.Count(text, "-->"); n > 0 {
		doc.Cues = make([]Cue, 0, n)
	}
	var header []string
	if _, h, ok := strings.Cut(first, "\n"); ok {
		header = append(header, h)
	}
	line := strings.Count(first, "\n") + 3
	cues := false
	for n := 0; more; n++ {
		if n%4096 == 4095 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		var blk string
		blk, rest, more = strings.Cut(rest, "\n\n")
		at := line
		line += strings.Count(blk, "\n") + 2
		blk = strings.Trim(blk, "\n")
		if blk == "" {
			continue
		}
		// A cue is an optional identifier line, the timing line, and text.
		var id string
		timing, text, _ := strings.Cut(blk, "\n")
		if !strings.Contains(timing, "-->") {
			l1, rest1, ok := strings.Cut(text, "\n")
			if text == "" || !strings.Contains(l1, "-->") {
				// NOTE, STYLE and REGION blocks; the latter two belong in the header.
				if !cues && (strings.HasPrefix(blk, "STYLE") || strings.HasPrefix(blk, "REGION")) {
					header = append(header, blk)
				}
				continue
			}
			id, timing, text = timing, l1, rest1
			if !ok {
				text = ""
			}
			at++
		}
		cues = true
		c, err := parseTiming(timing)
		if err != nil {
			return nil, fmt.Errorf("%w (line %d)", err, at)
		}
		c.ID, c.Text = id, text
		doc.Cues = append(doc.Cues, c)
	}
	doc.Header = strings.Join(header, "\n\n")
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	byStart := func(a, b Cue) int { return cmp.Compare(a.Start, b.Start) }
	if !slices.IsSortedFunc(doc.Cues, byStart) {
		slices.SortStableFunc(doc.Cues, byStart)
	}
	return doc, nil
}

// readDocument reads r whole (at most MaxDocumentSize bytes) into a string,
// sized from r's size when r tells it (io.SectionReader, bytes.Reader...),
// so the text is read and kept once.
func readDocument(ctx context.Context, r io.Reader) (string, error) {
	var sb strings.Builder
	if s, ok := r.(interface{ Size() int64 }); ok {
		sb.Grow(int(min(max(s.Size(), 0), MaxDocumentSize) + 1))
	}
	buf := make([]byte, 64<<10)
	for {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		n, err := r.Read(buf)
		sb.Write(buf[:n])
		if sb.Len() > MaxDocumentSize {
			return "", fmt.Errorf("%w: document larger than %d bytes", ErrSyntax, MaxDocumentSize)
		}
		if err == io.EOF {
			return sb.String(), nil
		}
		if err != nil {
			return "", err
		}
	}
}

func parseTiming(l string) (Cue, error) {
	var c Cue
	a, b, _ := strings.Cut(l, "-->")
	b = strings.TrimLeft(b, " \t")
	end, settings, _ := strings.Cut(b, " ")
	var err error
	if c.Start, err = ParseTimestamp(strings.TrimSpace(a)); err != nil {
		return c, err
	}
	if c.End, err = ParseTimestamp(strings.TrimSpace(end)); err != nil {
		return c, err
	}
	if c.End < c.Start {
		return c, fmt.Errorf("%w: cue ends before it starts: %q", ErrSyntax, l)
	}
	c.Settings = strings.Join(strings.Fields(settings), " ")
	return c, nil
}

// ParseTimestamp reads a WebVTT timestamp, "mm:ss.ttt" or "hh:mm:ss.ttt".
func ParseTimestamp(s string) (time.Duration, error) {
	bad := func() error { return fmt.Errorf("%w: timestamp %q", ErrSyntax, s) }
	hms, ms, ok := strings.Cut(s, ".")
	if !ok || len(ms) != 3 {
		return 0, bad()
	}
	// fields: hours (or none), minutes, seconds, milliseconds.
	var fields [4]string
	n := 0 // fields before the milliseconds
	for rest, more := hms, true; more; n++ {
		if n == 3 {
			return 0, bad()
		}
		fields[n], rest, more = strings.Cut(rest, ":")
	}
	if n < 2 {
		return 0, bad()
	}
	fields[n] = ms
	var v [4]int64 // hours, minutes, seconds, milliseconds
	for i, f := range fields[:n+1] {
		if f == "" || len(f) > 10 {
			return 0, bad()
		}
		x, err := strconv.ParseUint(f, 10, 32)
		if err != nil {
			return 0, bad()
		}
		v[3-n+i] = int64(x)
	}
	h, m, sec, milli := v[0], v[1], v[2], v[3]
	if m > 59 || sec > 59 || (n == 3 && len(fields[0]) < 2) || len(fields[n-1]) != 2 {
		return 0, bad()
	}
	total := ((h*60+m)*60+sec)*1000 + milli // < 2^32 hours: no overflow
	if total > int64(math.MaxInt64/time.Millisecond) {
		return 0, bad() // past time.Duration's 292 years
	}
	return time.Duration(total) * time.Millisecond, nil
}

// FormatTimestamp writes d as "hh:mm:ss.ttt" (rounded down to milliseconds;
// negative values as zero).
func FormatTimestamp(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	ms := int64(d / time.Millisecond)
	return fmt.Sprintf("%02d:%02d:%02d.%03d", ms/3_600_000, ms/60_000%60, ms/1000%60, ms%1000)
}

// Write writes a WebVTT document: the signature, the extra header lines
// (such as an X-TIMESTAMP-MAP line; each ends the line it is on), a blank
// line, the cues in order, and a final blank line.
func Write(w io.Writer, header []string, cues []Cue) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("WEBVTT\n")
	for _, h := range header {
		bw.WriteString(h)
		bw.WriteString("\n")
	}
	for _, c := range cues {
		bw.WriteString("\n")
		if c.ID != "" {
			bw.WriteString(c.ID)
			bw.WriteString("\n")
		}
		bw.WriteString(FormatTimestamp(c.Start))
		bw.WriteString(" --> ")
		bw.WriteString(FormatTimestamp(c.End))
		if c.Settings != "" {
			bw.WriteString(" ")
			bw.WriteString(c.Settings)
		}
		bw.WriteString("\n")
		bw.WriteString(c.Text)
		bw.WriteString("\n")
	}
	// End with a blank line: readers that concatenate HLS segments (FFmpeg)
	// would otherwise take the next segment's header for cue text.
	bw.WriteString("\n")
	return bw.Flush()
}

package webvtt

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"
)

// Sample is one wvtt sample: the cues active during [Start, End). No cues
// means an empty sample (a vtte box).
type Sample struct {
	Start, End time.Duration
	Cues       []Cue
}

// MaxActiveCues is the most cues ToSamples accepts active at one time. A
// wvtt sample repeats every cue active during it, so n cues that all
// overlap make about 2n samples of up to n cues each: output quadratic in
// the document. Real subtitles show a handful of cues at once.
const MaxActiveCues = 128

// MaxSamplesSize bounds the total size in bytes of the wvtt sample payloads
// (as AppendSample writes them) that ToSamples lets one document make:
// 256 MiB, four times MaxDocumentSize, which documents whose cues overlap
// a few at a time stay far below.
const MaxSamplesSize = 256 << 20

// Errors of the limits above, wrapped by a *LimitError.
var (
	// ErrTooManyActiveCues means more than MaxActiveCues cues are active at once.
	ErrTooManyActiveCues = errors.New("webvtt: too many cues active at once")
	// ErrSamplesTooLarge means the wvtt samples would exceed MaxSamplesSize bytes.
	ErrSamplesTooLarge = errors.New("webvtt: wvtt samples too large")
)

// LimitError reports a document whose wvtt samples would exceed
// MaxActiveCues or MaxSamplesSize, and where on its timeline.
type LimitError struct {
	Err   error         // ErrTooManyActiveCues or ErrSamplesTooLarge
	At    time.Duration // start of the first sample over the limit
	Limit int64         // the limit: cues or bytes
}

func (e *LimitError) Error() string {
	what := "cues"
	if e.Err == ErrSamplesTooLarge {
		what = "bytes"
	}
	return fmt.Sprintf("%v: more than %d %s at %s (a wvtt sample repeats every cue active during it)", e.Err, e.Limit, what, FormatTimestamp(e.At))
}

func (e *LimitError) Unwrap() error { return e.Err }

// ToSamples cuts the timeline [0, end) at every cue start and end and calls
// fn with each sample in order, gaps included as empty samples, so that the
// samples are contiguous from 0 (ISO/IEC 14496-30 5.3: samples do not
// overlap, and a cue active over several samples is repeated in each, in
// the order of cues). end is extended to the last cue end if it is
// earlier. Zero-length cues and cues that end at or before 0 are dropped;
// a cue that starts before 0 is active from 0.
//
// The Cues slice fn is given is reused once fn returns. ToSamples stops
// with fn's error if fn returns one, with ctx.Err() if ctx is done (it is
// checked every few thousand samples), and with a *LimitError when more
// than MaxActiveCues cues are active at once or the samples, encoded, would
// exceed MaxSamplesSize bytes; samples already given to fn are then part of
// a conversion that did not finish. Time and memory are linear in the
// number of cues (plus sorting, where cues are not sorted by start time).
func ToSamples(ctx context.Context, cues []Cue, end time.Duration, fn func(Sample) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	startOf := func(i int) time.Duration { return max(cues[i].Start, 0) }
	// The cues that make samples, by start and by end time (stable: ties
	// in the order of cues).
	byStart := make([]int, 0, len(cues))
	for i, c := range cues {
		if c.End > c.Start && c.End > 0 {
			byStart = append(byStart, i)
			end = max(end, c.End)
		}
	}
	byEnd := slices.Clone(byStart)
	if !slices.IsSortedFunc(byStart, func(a, b int) int { return cmp.Compare(startOf(a), startOf(b)) }) {
		slices.SortStableFunc(byStart, func(a, b int) int { return cmp.Compare(startOf(a), startOf(b)) })
	}
	if !slices.IsSortedFunc(byEnd, func(a, b int) int { return cmp.Compare(cues[a].End, cues[b].End) }) {
		slices.SortStableFunc(byEnd, func(a, b int) int { return cmp.Compare(cues[a].End, cues[b].End) })
	}
	var (
		active     []int // indexes of the active cues, ascending
		activeSize int64 // their encoded size
		total      int64 // encoded size of the samples so far
		buf        []Cue
	)
	si, ei := 0, 0
	for n, t := 0, time.Duration(0); t < end; n++ {
		if n%4096 == 4095 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		// Every start and end is a cut, so a cue joins at a t before the
		// one where it leaves.
		for ; si < len(byStart) && startOf(byStart[si]) <= t; si++ {
			i := byStart[si]
			k, _ := slices.BinarySearch(active, i)
			active = slices.Insert(active, k, i)
			activeSize += cueSize(&cues[i])
			if len(active) > MaxActiveCues {
				return &LimitError{Err: ErrTooManyActiveCues, At: t, Limit: MaxActiveCues}
			}
		}
		for ; ei < len(byEnd) && cues[byEnd[ei]].End <= t; ei++ {
			i := byEnd[ei]
			if k, ok := slices.BinarySearch(active, i); ok {
				active = slices.Delete(active, k, k+1)
				activeSize -= cueSize(&cues[i])
			}
		}
		next := end
		if si < len(byStart) {
			next = min(next, startOf(byStart[si]))
		}
		if ei < len(byEnd) {
			next = min(next, cues[byEnd[ei]].End)
		}
		size := activeSize
		if len(active) == 0 {
			size = 8 // vtte
		}
		if total += size; total > MaxSamplesSize {
			return &LimitError{Err: ErrSamplesTooLarge, At: t, Limit: MaxSamplesSize}
		}
		buf = buf[:0]
		for _, i := range active {
			buf = append(buf, cues[i])
		}
		if err := fn(Sample{Start: t, End: next, Cues: buf}); err != nil {
			return err
		}
		t = next
	}
	return nil
}

// cueSize is the size of the vttc box AppendSample writes for c.
func cueSize(c *Cue) int64 {
	n := int64(8 + 8 + len(c.Text)) // vttc, payl
	if c.ID != "" {
		n += int64(8 + len(c.ID))
	}
	if c.Settings != "" {
		n += int64(8 + len(c.Settings))
	}
	return n
}

// Box types of ISO/IEC 14496-30.
const (
	boxVTTC = "vttc" // a cue
	boxVTTE = "vtte" // no cue
	boxVTTA = "vtta" // additional text (comments)
	boxIDEN = "iden" // cue identifier
	boxSTTG = "sttg" // cue settings
	boxPAYL = "payl" // cue payload
)

// AppendSample appends the wvtt sample payload for cues (their times are
// not part of it) to dst: one vttc box per cue, or one vtte box when there
// is none.
func AppendSample(dst []byte, cues []Cue) []byte {
	if len(cues) == 0 {
		return appendBox(dst, boxVTTE, "")
	}
	for i := range cues {
		c := &cues[i]
		dst = binary.BigEndian.AppendUint32(dst, uint32(cueSize(c)))
		dst = append(dst, boxVTTC...)
		if c.ID != "" {
			dst = appendBox(dst, boxIDEN, c.ID)
		}
		if c.Settings != "" {
			dst = appendBox(dst, boxSTTG, c.Settings)
		}
		dst = appendBox(dst, boxPAYL, c.Text)
	}
	return dst
}

func appendBox(dst []byte, typ string, payload string) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(8+len(payload)))
	dst = append(dst, typ...)
	return append(dst, payload...)
}

// DecodeSample reads the cues of a wvtt sample payload (without times). An
// empty sample (vtte) yields no cues; vtta boxes and unknown boxes are
// skipped.
func DecodeSample(b []byte) ([]Cue, error) {
	var cues []Cue
	err := boxes(b, func(typ string, payload []byte) error {
		if typ != boxVTTC {
			return nil
		}
		var c Cue
		err := boxes(payload, func(typ string, p []byte) error {
			switch typ {
			case boxIDEN:
				c.ID = string(p)
			case boxSTTG:
				c.Settings = string(p)
			case boxPAYL:
				c.Text = string(p)
			}
			return nil
		})
		if err != nil {
			return err
		}
		cues = append(cues, c)
		return nil
	})
	return cues, err
}

func boxes(b []byte, f func(typ string, payload []byte) error) error {
	for len(b) > 0 {
		if len(b) < 8 {
			return fmt.Errorf("%w: %d trailing bytes in a wvtt sample", ErrSyntax, len(b))
		}
		size := binary.BigEndian.Uint32(b)
		if size < 8 || uint64(size) > uint64(len(b)) {
			return fmt.Errorf("%w: box size %d in a wvtt sample of %d bytes", ErrSyntax, size, len(b))
		}
		if err := f(string(b[4:8]), b[8:size]); err != nil {
			return err
		}
		b = b[size:]
	}
	return nil
}

// Merge turns a run of timed samples back into cues: a cue repeated in
// consecutive samples (same identifier, settings and text) becomes one cue
// spanning them. Cues come out sorted by start time.
func Merge(samples []Sample) []Cue {
	var out []Cue
	// open holds the indexes into out of the cues of the previous sample,
	// ascending, -1 once continued in the current one.
	var open, next []int
	for _, s := range samples {
		next = next[:0]
		for _, c := range s.Cues {
			found := -1
			for k, i := range open {
				if i >= 0 {
					o := &out[i]
					if o.End == s.Start && o.ID == c.ID && o.Settings == c.Settings && o.Text == c.Text {
						found, open[k] = i, -1
						break
					}
				}
			}
			if found >= 0 {
				out[found].End = s.End
				next = append(next, found)
				continue
			}
			c.Start, c.End = s.Start, s.End
			out = append(out, c)
			next = append(next, len(out)-1)
		}
		slices.Sort(next)
		open, next = next, open
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start < out[j].Start })
	return out
}

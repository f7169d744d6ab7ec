package encode

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cmafkit/cmafkit/abr"
)

// Frame is a video frame's presentation time and whether it is a key frame.
type Frame struct {
	Time time.Duration
	Key  bool
}

// maxProbeFrames bounds what Frames reads; key-frame checks are for short
// test encodes, and the bound keeps a huge file from exhausting memory.
const maxProbeFrames = 1 << 20

// Frames lists the frames of the first video stream of file in presentation
// order, using ffprobe's packet list (no decoding): the path, or "ffprobe"
// from PATH when empty.
func Frames(ctx context.Context, ffprobe, file string) ([]Frame, error) {
	out, err := run(ctx, cmp.Or(ffprobe, "ffprobe"), []string{"-v", "error", "-select_streams", "v:0",
		"-show_entries", "packet=pts_time,flags", "-of", "csv=p=0", file})
	if err != nil {
		return nil, err
	}
	var frames []Frame
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		pts, flags, ok := strings.Cut(line, ",")
		t, err := strconv.ParseFloat(pts, 64)
		if !ok || err != nil {
			return nil, fmt.Errorf("%w: ffprobe %s: unexpected line %q", ErrTool, file, line)
		}
		if len(frames) >= maxProbeFrames {
			return nil, fmt.Errorf("%w: %s has more than %d frames", ErrTool, file, maxProbeFrames)
		}
		frames = append(frames, Frame{Time: time.Duration(math.Round(t * 1e9)), Key: strings.Contains(flags, "K")})
	}
	slices.SortStableFunc(frames, func(a, b Frame) int { return cmp.Compare(a.Time, b.Time) })
	return frames, nil
}

// AlignmentError describes a key frame that is missing at, or present off, a
// segment boundary.
type AlignmentError struct {
	File   string
	Time   time.Duration // presentation time of the offending frame or boundary
	Detail string
}

func (e *AlignmentError) Error() string {
	return fmt.Sprintf("%v: %s at %v: %s", ErrMisaligned, e.File, e.Time, e.Detail)
}

func (e *AlignmentError) Unwrap() error { return ErrMisaligned }

// CheckKeyframes verifies that every file has a key frame on each segment
// boundary (k × segment seconds, within half a frame) and nowhere else, so
// that segmenting any of them at the boundaries yields segments that start
// with a key frame at the same times. segment is exact, in seconds, as in
// Plan.Segment.
func CheckKeyframes(ctx context.Context, ffprobe string, segment abr.Rational, files ...string) error {
	if segment.IsZero() {
		return fmt.Errorf("%w: segment duration %v", ErrInvalidOptions, segment)
	}
	for _, f := range files {
		frames, err := Frames(ctx, ffprobe, f)
		if err != nil {
			return err
		}
		if len(frames) == 0 {
			return &AlignmentError{File: f, Detail: "no video frames"}
		}
		if err := checkFrames(f, frames, segment); err != nil {
			return err
		}
	}
	return nil
}

func checkFrames(file string, frames []Frame, segment abr.Rational) error {
	seg := segment.Float()
	start := frames[0].Time
	// Half the smallest frame interval is the tolerance for "on the boundary".
	tol := time.Duration(math.MaxInt64)
	for i := 1; i < len(frames); i++ {
		if d := frames[i].Time - frames[i-1].Time; d > 0 {
			tol = min(tol, d/2)
		}
	}
	if tol == time.Duration(math.MaxInt64) {
		tol = time.Millisecond
	}
	next := 0 // index of the next boundary expected to carry a key frame
	for _, fr := range frames {
		rel := fr.Time - start
		k := int(math.Round(rel.Seconds() / seg))
		boundary := time.Duration(math.Round(float64(k) * seg * 1e9))
		on := (rel - boundary).Abs() <= tol
		switch {
		case fr.Key && !on:
			return &AlignmentError{File: file, Time: fr.Time, Detail: "key frame between segment boundaries"}
		case on && !fr.Key:
			return &AlignmentError{File: file, Time: fr.Time, Detail: fmt.Sprintf("no key frame at boundary %d", k)}
		case on && k != next:
			return &AlignmentError{File: file, Time: fr.Time, Detail: fmt.Sprintf("boundary %d has no frame", next)}
		case on:
			next++
		}
	}
	return nil
}

// Package abr decides which renditions to encode: a Calculator turns a
// description of a source into a Ladder of rungs (resolution, frame rate,
// codec profile and level, target and peak bitrate, buffer size).
//
// Three calculators are built in:
//
//   - Apple: the recommended variants of Apple's HLS Authoring Specification,
//     cut to the source's resolution and frame rate;
//   - Geometric: bitrates in a geometric series between a minimum and a
//     maximum, with the resolution of each rung from a bits-per-pixel rule;
//   - Hull: a per-title ladder chosen from probe encodes on the convex hull of
//     quality versus bitrate.
//
// Whatever the policy, every ladder passes through the same constraints: no
// rung is larger than the source, rungs keep the display aspect ratio with
// dimensions aligned for the codec, each rung fits a level of its codec,
// bitrates increase strictly from rung to rung, and the rung count is bounded.
//
// A Ladder is plain data with JSON tags, so it can be stored, edited and fed
// to an encoder (see package abr/encode) or to the QoE simulator (abr/sim).
package abr

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/cmafkit/cmafkit/internal/mediatime"
)

// Sentinel errors. Errors returned by this package wrap one of these.
var (
	// ErrInvalidSource means a Source field is missing or out of range.
	ErrInvalidSource = errors.New("abr: invalid source")
	// ErrInvalidLadder means a Ladder breaks one of the ladder invariants.
	ErrInvalidLadder = errors.New("abr: invalid ladder")
	// ErrNoRungs means no rung survives the constraints.
	ErrNoRungs = errors.New("abr: no rung satisfies the constraints")
	// ErrUnsupportedCodec means a codec family is not known to the package.
	ErrUnsupportedCodec = errors.New("abr: unsupported codec")
	// ErrUnknownCalculator means a calculator name is not registered.
	ErrUnknownCalculator = errors.New("abr: unknown calculator")
	// ErrNoProbes means the hull calculator got no usable probe encodes.
	ErrNoProbes = errors.New("abr: no usable probe encodes")
	// ErrMalformed means a probe or ladder file cannot be parsed.
	ErrMalformed = errors.New("abr: malformed input")
)

// FieldError names the field of a Source, Rung or Probe that is wrong.
type FieldError struct {
	Field  string // such as "width" or "rungs[2].bitrate"
	Value  any    // the offending value
	Err    error  // one of the sentinel errors
	Reason string // what is wrong, in a few words
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("%v: %s %v: %s", e.Err, e.Field, e.Value, e.Reason)
}

func (e *FieldError) Unwrap() error { return e.Err }

// Codec is a video codec family.
type Codec string

// Codec families known to the calculators and their level tables.
const (
	H264 Codec = "h264"
	HEVC Codec = "hevc"
	AV1  Codec = "av1"
)

// ParseCodec accepts the usual spellings of a codec family ("h264", "avc",
// "h.265", "hevc", "av1", ...), case-insensitively.
func ParseCodec(s string) (Codec, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "h264", "h.264", "avc", "avc1", "x264", "libx264":
		return H264, nil
	case "hevc", "h265", "h.265", "hvc1", "hev1", "x265", "libx265":
		return HEVC, nil
	case "av1", "av01", "libsvtav1", "libaom-av1":
		return AV1, nil
	}
	return "", fmt.Errorf("%w: %q", ErrUnsupportedCodec, s)
}

func (c Codec) known() bool { return c == H264 || c == HEVC || c == AV1 }

// Rational is an exact fraction such as a frame rate (30000/1001) or a pixel
// aspect ratio (4/3). The zero value means "not given".
//
// In JSON and on command lines it is written "30000/1001", "4:3" or "25"; a
// decimal such as "29.97" is read as the usual NTSC fraction.
type Rational struct {
	Num int64 `json:"num"`
	Den int64 `json:"den"`
}

// R returns the reduced fraction num/den.
func R(num, den int64) Rational { return Rational{num, den}.reduce() }

// IsZero reports whether r is unset (or meaningless: a zero denominator or
// a non-positive value).
func (r Rational) IsZero() bool { return r.Den <= 0 || r.Num <= 0 }

// Float returns r as a float64, or 0 when r is unset.
func (r Rational) Float() float64 {
	if r.IsZero() {
		return 0
	}
	return float64(r.Num) / float64(r.Den)
}

// String formats r as "num/den", or "num" when the denominator is 1.
func (r Rational) String() string {
	if r.Den == 1 {
		return strconv.FormatInt(r.Num, 10)
	}
	return strconv.FormatInt(r.Num, 10) + "/" + strconv.FormatInt(r.Den, 10)
}

// MarshalText implements encoding.TextMarshaler.
func (r Rational) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with the forms of ParseRational.
func (r *Rational) UnmarshalText(b []byte) error {
	v, err := ParseRational(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// ParseRational reads "30000/1001", "4:3", "25" or a decimal such as "29.97",
// "23.976" or "59.94" (read as the NTSC fractions 30000/1001, 24000/1001 and
// 60000/1001). Values must be positive and at most 1e6.
func ParseRational(s string) (Rational, error) {
	s = strings.TrimSpace(s)
	bad := func(why string) (Rational, error) {
		return Rational{}, fmt.Errorf("%w: rational %q: %s", ErrMalformed, s, why)
	}
	if i := strings.IndexAny(s, "/:"); i >= 0 {
		n, err1 := strconv.ParseInt(s[:i], 10, 64)
		d, err2 := strconv.ParseInt(s[i+1:], 10, 64)
		if err1 != nil || err2 != nil {
			return bad("want num/den")
		}
		if n <= 0 || d <= 0 || n > 1e9 || d > 1e9 || n > 1e6*d {
			return bad("out of range")
		}
		return R(n, d), nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || f <= 0 || f > 1e6 {
		return bad("want a positive number")
	}
	for _, ntsc := range []int64{24, 30, 48, 60, 120} {
		v := float64(ntsc*1000) / 1001
		if math.Abs(f-v) < 0.006 {
			return Rational{ntsc * 1000, 1001}, nil
		}
	}
	n := int64(math.Round(f * 1000))
	if n == 0 {
		return bad("below 0.0005")
	}
	return R(n, 1000), nil
}

func (r Rational) reduce() Rational {
	if r.Den == 0 {
		return r
	}
	g := mediatime.GCD(r.Num, r.Den)
	if g > 1 {
		return Rational{r.Num / g, r.Den / g}
	}
	return r
}

// Half returns r/2 reduced.
func (r Rational) Half() Rational { return Rational{r.Num, r.Den * 2}.reduce() }

// Less reports whether r < o.
func (r Rational) Less(o Rational) bool { return r.Num*o.Den < o.Num*r.Den }

// Probe is one measured encode of the source: the per-title hull calculator
// chooses its rungs among these.
type Probe struct {
	Width     int      `json:"width"`
	Height    int      `json:"height"`
	FrameRate Rational `json:"frame_rate,omitzero"` // zero: the source's
	Bitrate   int      `json:"bitrate"`             // bits per second
	Quality   float64  `json:"quality"`             // e.g. VMAF; higher is better
}

// Source describes the input a ladder is made for.
type Source struct {
	// Width and Height are the stored (coded, cropped) picture size in pixels.
	Width  int `json:"width"`
	Height int `json:"height"`
	// PixelAspect is the sample aspect ratio; zero means square pixels.
	// 1440x1080 with 4:3 pixels displays as 1920x1080.
	PixelAspect Rational `json:"pixel_aspect,omitzero"`
	// FrameRate is the source frame rate.
	FrameRate Rational `json:"frame_rate"`
	// Duration is the programme length; informative.
	Duration time.Duration `json:"duration,omitempty"`
	// Codec is the codec family the ladder is for; empty means H264.
	Codec Codec `json:"codec,omitempty"`
	// HDR asks for a 10-bit HDR ladder (HEVC or AV1 only).
	HDR bool `json:"hdr,omitempty"`
	// Probes are measured encodes, used by the Hull calculator.
	Probes []Probe `json:"probes,omitempty"`
}

// Limits on source values: anything larger is certainly a mistake, and the
// bound keeps every product of dimensions, rates and bitrates within int64.
const (
	maxDimension = 16384
	maxFrameRate = 1000
	maxBitrate   = 10_000_000_000
	maxProbes    = 10000
)

func (s Source) codec() Codec {
	if s.Codec == "" {
		return H264
	}
	return s.Codec
}

func (s Source) pixelAspect() Rational {
	if s.PixelAspect.IsZero() {
		return Rational{1, 1}
	}
	return s.PixelAspect
}

// DisplayAspect returns the width/height ratio of the displayed picture.
func (s Source) DisplayAspect() float64 {
	if s.Height <= 0 {
		return 0
	}
	return float64(s.Width) * s.pixelAspect().Float() / float64(s.Height)
}

// Validate checks that s can be given to a calculator.
func (s Source) Validate() error {
	bad := func(field string, v any, why string) error {
		return &FieldError{Field: field, Value: v, Err: ErrInvalidSource, Reason: why}
	}
	switch {
	case s.Width < 16 || s.Width > maxDimension:
		return bad("width", s.Width, fmt.Sprintf("must be within [16, %d]", maxDimension))
	case s.Height < 16 || s.Height > maxDimension:
		return bad("height", s.Height, fmt.Sprintf("must be within [16, %d]", maxDimension))
	case s.FrameRate.IsZero() || s.FrameRate.Float() > maxFrameRate || s.FrameRate.Den > 1e6:
		return bad("frame_rate", s.FrameRate, fmt.Sprintf("must be within (0, %d]", maxFrameRate))
	case s.PixelAspect != (Rational{}) && (s.PixelAspect.IsZero() ||
		s.PixelAspect.Float() < 0.1 || s.PixelAspect.Float() > 10 || s.PixelAspect.Den > 1e6):
		return bad("pixel_aspect", s.PixelAspect, "must be within [1/10, 10]")
	case !s.codec().known():
		return bad("codec", s.Codec, "want h264, hevc or av1")
	case s.HDR && s.codec() == H264:
		return bad("hdr", s.HDR, "HDR needs hevc or av1")
	case len(s.Probes) > maxProbes:
		return bad("probes", len(s.Probes), fmt.Sprintf("at most %d", maxProbes))
	}
	if a := s.DisplayAspect(); a < 0.1 || a > 10 {
		return bad("display_aspect", a, "must be within [1/10, 10]")
	}
	return nil
}

// Rung is one rendition of a ladder.
type Rung struct {
	// Name is a stable identifier such as "1280x720-3000k", fit for file names.
	Name   string `json:"name"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
	// PixelAspect is the sample aspect ratio of the output; omitted for square pixels.
	PixelAspect Rational `json:"pixel_aspect,omitzero"`
	FrameRate   Rational `json:"frame_rate"`
	Codec       Codec    `json:"codec"`
	Profile     string   `json:"profile"`
	// Level is the lowest level of Codec that admits the rung, such as "4.0".
	Level string `json:"level"`
	// Bitrate is the target average bitrate in bits per second.
	Bitrate int `json:"bitrate"`
	// MaxBitrate is the peak (VBV/HRD maximum) bitrate in bits per second.
	MaxBitrate int `json:"max_bitrate"`
	// BufferSize is the VBV/HRD buffer size in bits.
	BufferSize int `json:"buffer_size"`
	// Quality is the probe's quality score (Hull ladders only).
	Quality float64 `json:"quality,omitempty"`
}

// Ladder is an ordered set of rungs, lowest bitrate first.
type Ladder struct {
	// Calculator names the policy that made the ladder.
	Calculator string `json:"calculator,omitempty"`
	Codec      Codec  `json:"codec"`
	Rungs      []Rung `json:"rungs"`
}

// Bitrates returns the target bitrates of the rungs, lowest first.
func (l Ladder) Bitrates() []int {
	b := make([]int, len(l.Rungs))
	for i, r := range l.Rungs {
		b[i] = r.Bitrate
	}
	return b
}

// Validate checks the ladder invariants every calculator guarantees: at
// least one rung, positive even dimensions, a frame rate, strictly
// increasing bitrates, non-decreasing picture size and frame rate, and
// MaxBitrate >= Bitrate. It does not check levels (see CheckLevel).
func (l Ladder) Validate() error {
	if len(l.Rungs) == 0 {
		return fmt.Errorf("%w: no rungs", ErrInvalidLadder)
	}
	bad := func(i int, field string, v any, why string) error {
		return &FieldError{Field: fmt.Sprintf("rungs[%d].%s", i, field), Value: v, Err: ErrInvalidLadder, Reason: why}
	}
	for i, r := range l.Rungs {
		switch {
		case r.Width <= 0 || r.Height <= 0 || r.Width > maxDimension || r.Height > maxDimension:
			return bad(i, "width", fmt.Sprintf("%dx%d", r.Width, r.Height), "out of range")
		case r.Width%2 != 0 || r.Height%2 != 0:
			return bad(i, "width", fmt.Sprintf("%dx%d", r.Width, r.Height), "dimensions must be even")
		case r.FrameRate.IsZero():
			return bad(i, "frame_rate", r.FrameRate, "missing")
		case r.Bitrate <= 0 || r.Bitrate > maxBitrate:
			return bad(i, "bitrate", r.Bitrate, "out of range")
		case r.MaxBitrate != 0 && r.MaxBitrate < r.Bitrate:
			return bad(i, "max_bitrate", r.MaxBitrate, "below bitrate")
		case r.BufferSize < 0:
			return bad(i, "buffer_size", r.BufferSize, "negative")
		}
		if i == 0 {
			continue
		}
		p := l.Rungs[i-1]
		switch {
		case r.Bitrate <= p.Bitrate:
			return bad(i, "bitrate", r.Bitrate, "bitrates must increase strictly")
		case r.Width*r.Height < p.Width*p.Height:
			return bad(i, "width", fmt.Sprintf("%dx%d", r.Width, r.Height), "smaller picture than the rung below")
		case r.FrameRate.Less(p.FrameRate):
			return bad(i, "frame_rate", r.FrameRate, "lower frame rate than the rung below")
		}
	}
	return nil
}

// Calculator turns a source description into a ladder. Implementations must
// honour ctx cancellation for long computations and must not keep src.
type Calculator interface {
	Calculate(ctx context.Context, src Source) (Ladder, error)
}

// CalculatorFunc adapts a function to the Calculator interface.
type CalculatorFunc func(ctx context.Context, src Source) (Ladder, error)

// Calculate calls f(ctx, src).
func (f CalculatorFunc) Calculate(ctx context.Context, src Source) (Ladder, error) {
	return f(ctx, src)
}

// Names of the built-in calculators, as accepted by New.
const (
	NameApple     = "apple"
	NameGeometric = "geometric"
	NameHull      = "hull"
)

// New returns a built-in calculator with default settings by name
// ("apple", "geometric" or "hull").
func New(name string) (Calculator, error) {
	switch strings.ToLower(name) {
	case NameApple:
		return &Apple{}, nil
	case NameGeometric:
		return &Geometric{}, nil
	case NameHull:
		return &Hull{}, nil
	}
	return nil, fmt.Errorf("%w: %q (want apple, geometric or hull)", ErrUnknownCalculator, name)
}

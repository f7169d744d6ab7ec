// Package encode hands a ladder to ffmpeg: it builds the arguments of one
// ffmpeg run that decodes the source once and writes every rung, with key
// frames forced at segment boundaries so that the renditions package into
// aligned CMAF segments, and it checks the result with ffprobe.
//
// Alignment is planned in frames, not seconds: a segment is a whole number
// of source frames, divisible by every rung's frame-rate divisor (a rung at
// half the source rate gets a key frame every half as many frames). At
// 30000/1001 fps a 2 s target becomes 60 frames, that is 2.002 s; every
// rung then has key frames at exactly the same presentation times. Scene-cut
// key frames are disabled and GOPs are closed, so no rung gains a key frame
// the others lack and every segment starts with an IDR (or AV1 key frame).
package encode

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"math/big"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cmafkit/cmafkit/abr"
	"github.com/cmafkit/cmafkit/internal/mediatime"
)

// Sentinel errors.
var (
	// ErrFrameRate means a rung's frame rate is not the source's divided by a whole number.
	ErrFrameRate = errors.New("encode: rung frame rate does not divide the source frame rate")
	// ErrUnsupportedEncoder means the encoder cannot produce the ladder's codec.
	ErrUnsupportedEncoder = errors.New("encode: unsupported encoder")
	// ErrInvalidOptions means an Options field is missing or out of range.
	ErrInvalidOptions = errors.New("encode: invalid options")
	// ErrMisaligned means key frames are not exactly at segment boundaries.
	ErrMisaligned = errors.New("encode: key frames not at segment boundaries")
	// ErrTool means ffmpeg or ffprobe failed.
	ErrTool = errors.New("encode: external tool failed")
)

// Encoder is an ffmpeg video encoder name.
type Encoder string

// Encoders with key-frame control this package knows.
const (
	X264   Encoder = "libx264"
	X265   Encoder = "libx265"
	SVTAV1 Encoder = "libsvtav1"
	AOMAV1 Encoder = "libaom-av1"
)

// DefaultEncoder returns the usual ffmpeg encoder for a codec family.
func DefaultEncoder(c abr.Codec) Encoder {
	switch c {
	case abr.HEVC:
		return X265
	case abr.AV1:
		return SVTAV1
	}
	return X264
}

func (e Encoder) codec() abr.Codec {
	switch e {
	case X264:
		return abr.H264
	case X265:
		return abr.HEVC
	case SVTAV1, AOMAV1:
		return abr.AV1
	}
	return ""
}

// Options configure the encode. SegmentDuration is required.
type Options struct {
	// SegmentDuration is the target segment duration; the planned duration
	// is the nearest whole number of frames (see Plan).
	SegmentDuration time.Duration
	// SourceFrameRate is the input's frame rate; zero means the highest
	// frame rate of the ladder's rungs.
	SourceFrameRate abr.Rational
	// Encoder overrides DefaultEncoder(ladder codec).
	Encoder Encoder
	// Preset is the encoder speed preset ("ultrafast".."veryslow" for x264
	// and x265, "0".."13" for SVT-AV1, cpu-used "0".."8" for libaom); ""
	// leaves the encoder's default.
	Preset string
	// OutputDir receives one MP4 per rung, named after the rung ("<name>.mp4").
	OutputDir string
	// Duration limits the encoded length; 0 encodes the whole input.
	Duration time.Duration
	// Threads limits encoder threads per rung; 0 leaves ffmpeg's default.
	Threads int
}

// Plan is the key-frame schedule shared by all rungs.
type Plan struct {
	// SourceFrames is the segment length in source frames.
	SourceFrames int
	// Segment is the exact segment duration in seconds.
	Segment abr.Rational
	// RungFrames is the key-frame interval of each rung, in its own frames.
	RungFrames []int
}

// SegmentDuration returns the planned segment duration, rounded to the
// nanosecond (use Segment for exact arithmetic).
func (p Plan) SegmentDuration() time.Duration {
	return time.Duration(math.Round(p.Segment.Float() * 1e9))
}

// NewPlan computes the key-frame schedule for a ladder.
func NewPlan(l abr.Ladder, opts Options) (Plan, error) {
	if opts.SegmentDuration <= 0 || opts.SegmentDuration > time.Hour {
		return Plan{}, fmt.Errorf("%w: segment duration %v", ErrInvalidOptions, opts.SegmentDuration)
	}
	if len(l.Rungs) == 0 {
		return Plan{}, fmt.Errorf("%w: empty ladder", ErrInvalidOptions)
	}
	src := opts.SourceFrameRate
	if src.IsZero() {
		for _, r := range l.Rungs {
			if src.IsZero() || src.Less(r.FrameRate) {
				src = r.FrameRate
			}
		}
	}
	if src.IsZero() || src.Float() > 1000 {
		return Plan{}, fmt.Errorf("%w: source frame rate %v", ErrInvalidOptions, src)
	}
	divs := make([]int64, len(l.Rungs))
	lcm := int64(1)
	for i, r := range l.Rungs {
		if r.FrameRate.IsZero() {
			return Plan{}, fmt.Errorf("%w: rung %s has no frame rate", ErrFrameRate, r.Name)
		}
		// divisor = src / rung must be a whole number.
		q := new(big.Rat).Quo(big.NewRat(src.Num, src.Den), big.NewRat(r.FrameRate.Num, r.FrameRate.Den))
		if !q.IsInt() || q.Num().Int64() < 1 || q.Num().Int64() > 1000 {
			return Plan{}, fmt.Errorf("%w: rung %s at %v fps, source %v fps", ErrFrameRate, r.Name, r.FrameRate, src)
		}
		divs[i] = q.Num().Int64()
		lcm = lcm / mediatime.GCD(lcm, divs[i]) * divs[i]
		if lcm > 1000 {
			return Plan{}, fmt.Errorf("%w: frame-rate divisors of the ladder have no small common multiple", ErrFrameRate)
		}
	}
	frames := opts.SegmentDuration.Seconds() * src.Float()
	n := max(int64(math.Round(frames/float64(lcm))), 1) * lcm
	p := Plan{SourceFrames: int(n), Segment: abr.R(n*src.Den, src.Num)}
	for _, d := range divs {
		p.RungFrames = append(p.RungFrames, int(n/d))
	}
	return p, nil
}

// OutputPath returns where Args writes rung r.
func OutputPath(opts Options, r abr.Rung) string {
	return filepath.Join(opts.OutputDir, r.Name+".mp4")
}

// Args returns the ffmpeg arguments (without the program name) that encode
// every rung of the ladder from input in one run, decoding the input once.
// Each rung gets its own scaler, frame rate, rate control (Bitrate,
// MaxBitrate, BufferSize), profile and level, and key frames every
// Plan.RungFrames frames, forced, in closed GOPs, with scene-cut detection
// off.
func Args(input string, l abr.Ladder, opts Options) ([]string, error) {
	plan, err := NewPlan(l, opts)
	if err != nil {
		return nil, err
	}
	enc := cmp.Or(opts.Encoder, DefaultEncoder(l.Codec))
	if enc.codec() == "" {
		return nil, fmt.Errorf("%w: %q", ErrUnsupportedEncoder, enc)
	}
	if opts.Threads < 0 || opts.Duration < 0 {
		return nil, fmt.Errorf("%w: negative threads or duration", ErrInvalidOptions)
	}
	args := []string{"-hide_banner", "-nostdin", "-y"}
	if opts.Duration > 0 { // an input option, so that it limits every output
		args = append(args, "-t", strconv.FormatFloat(opts.Duration.Seconds(), 'f', -1, 64))
	}
	args = append(args, "-i", input)
	for i, r := range l.Rungs {
		codec := cmp.Or(r.Codec, l.Codec, enc.codec())
		if codec != enc.codec() {
			return nil, fmt.Errorf("%w: %s cannot encode rung %s (%s)", ErrUnsupportedEncoder, enc, r.Name, codec)
		}
		if r.Width <= 0 || r.Height <= 0 || r.Width%2 != 0 || r.Height%2 != 0 || r.Bitrate <= 0 {
			return nil, fmt.Errorf("%w: rung %s: %dx%d at %d bit/s", abr.ErrInvalidLadder, r.Name, r.Width, r.Height, r.Bitrate)
		}
		if strings.ContainsAny(r.Name, "/\\") || r.Name == "" || r.Name == "." || r.Name == ".." {
			return nil, fmt.Errorf("%w: rung name %q is not a file name", abr.ErrInvalidLadder, r.Name)
		}
		k := plan.RungFrames[i]
		args = append(args, "-map", "0:v:0", "-an", "-sn", "-dn", "-map_metadata", "-1")
		args = append(args, "-vf", filterChain(r, plan.RungFrames[i] != plan.SourceFrames))
		args = append(args, "-c:v", string(enc))
		if opts.Preset != "" {
			if enc == AOMAV1 {
				args = append(args, "-cpu-used", opts.Preset)
			} else {
				args = append(args, "-preset", opts.Preset)
			}
		}
		if opts.Threads > 0 {
			args = append(args, "-threads", strconv.Itoa(opts.Threads))
		}
		args = append(args, "-b:v", strconv.Itoa(r.Bitrate))
		if r.MaxBitrate > 0 {
			args = append(args, "-maxrate", strconv.Itoa(r.MaxBitrate))
		}
		if r.BufferSize > 0 {
			args = append(args, "-bufsize", strconv.Itoa(r.BufferSize))
		}
		pix := "yuv420p"
		if r.Profile == "main10" || r.Profile == "high10" {
			pix = "yuv420p10le"
		}
		args = append(args, "-pix_fmt", pix)
		// GOP size and forced key frames agree: both every k output frames.
		ks := strconv.Itoa(k)
		args = append(args, "-g", ks, "-keyint_min", ks, "-sc_threshold", "0")
		if enc != AOMAV1 {
			// ffmpeg's libaom wrapper turns a forced key frame into two
			// consecutive ones (seen with ffmpeg 5.1, libaom 3.6), so libaom
			// relies on its fixed key-frame distance (-g = -keyint_min) alone.
			args = append(args, "-force_key_frames", "expr:eq(mod(n,"+ks+"),0)")
		}
		switch enc {
		case X264:
			if r.Profile != "" {
				args = append(args, "-profile:v", r.Profile)
			}
			if r.Level != "" {
				args = append(args, "-level:v", r.Level)
			}
			args = append(args, "-flags", "+cgop", "-x264-params", "keyint="+ks+":min-keyint="+ks+":scenecut=0:open-gop=0")
		case X265:
			if r.Profile != "" {
				args = append(args, "-profile:v", r.Profile)
			}
			p := "keyint=" + ks + ":min-keyint=" + ks + ":scenecut=0:open-gop=0:log-level=error"
			if r.Level != "" {
				p += ":level-idc=" + r.Level
			}
			args = append(args, "-tag:v", "hvc1", "-x265-params", p)
		case SVTAV1:
			// irefresh-type=2: key frames are closed-GOP IDR-like key frames.
			args = append(args, "-svtav1-params", "keyint="+ks+":scd=0:irefresh-type=2")
		case AOMAV1:
			args = append(args, "-row-mt", "1")
		}
		args = append(args, "-f", "mp4", OutputPath(opts, r))
	}
	return args, nil
}

func filterChain(r abr.Rung, lowerRate bool) string {
	var f []string
	if lowerRate {
		f = append(f, "fps="+r.FrameRate.String())
	}
	f = append(f, fmt.Sprintf("scale=%d:%d:flags=bicubic", r.Width, r.Height))
	sar := "1"
	if !r.PixelAspect.IsZero() {
		sar = r.PixelAspect.String()
	}
	f = append(f, "setsar="+sar)
	return strings.Join(f, ",")
}

// Output is one encoded rung.
type Output struct {
	Rung abr.Rung
	Path string
}

// Encode runs ffmpeg (the path, or "ffmpeg" from PATH when empty) with
// Args and returns the files written, in ladder order. On failure the error
// wraps ErrTool and carries the end of ffmpeg's log.
func Encode(ctx context.Context, ffmpeg, input string, l abr.Ladder, opts Options) ([]Output, error) {
	args, err := Args(input, l, opts)
	if err != nil {
		return nil, err
	}
	if _, err := run(ctx, cmp.Or(ffmpeg, "ffmpeg"), args); err != nil {
		return nil, err
	}
	out := make([]Output, len(l.Rungs))
	for i, r := range l.Rungs {
		out[i] = Output{Rung: r, Path: OutputPath(opts, r)}
	}
	return out, nil
}

// run executes a tool and returns its stdout; stderr is kept for errors only.
func run(ctx context.Context, tool string, args []string) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, tool, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &tailBuffer{max: 4096, buf: &stderr}
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: %s: %v: %s", ErrTool, tool, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// tailBuffer keeps the last max bytes written, bounding memory on chatty tools.
type tailBuffer struct {
	max int
	buf *bytes.Buffer
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) > t.max {
		p = p[len(p)-t.max:]
	}
	if over := t.buf.Len() + len(p) - t.max; over > 0 {
		rest := append([]byte(nil), t.buf.Bytes()[over:]...)
		t.buf.Reset()
		t.buf.Write(rest)
	}
	t.buf.Write(p)
	return n, nil
}

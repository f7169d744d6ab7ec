package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cmafkit/cmafkit/abr"
	"github.com/cmafkit/cmafkit/abr/encode"
	"github.com/cmafkit/cmafkit/abr/sim"
)

const ladderUsage = `Usage:
  cmafkit ladder --width W --height H [--fps F] [flags]
  cmafkit ladder simulate --ladder L.json --trace T.csv [--ladder2 L2.json] [flags]

The first form plans the renditions to encode for a source: sizes that never
upscale and keep the display aspect, frame rates, codec profile and level,
average and peak bitrates and buffer sizes. --json prints the ladder in the
form "ladder simulate" and the abr package read back.

Calculators:
  apple      Apple's HLS Authoring Specification recommended ladder, cut to the source
  geometric  bitrates in a geometric series, sizes from a bits-per-pixel rule
  hull       per-title: the convex hull of probe encodes given with --probes
             (CSV width,height,bitrate,quality or JSON; quality such as VMAF)

Examples:
  cmafkit ladder --width 1920 --height 1080 --fps 30
  cmafkit ladder --width 3840 --height 2160 --fps 24000/1001 --codec hevc --hdr --json > hdr.json
  cmafkit ladder --width 1440 --height 1080 --par 4:3 --fps 25 --calculator geometric
  cmafkit ladder --width 1280 --height 720 --calculator hull --probes probes.csv
  cmafkit ladder --width 1920 --height 1080 --ffmpeg-input in.mp4 --segment 2s --out renditions

Flags:
`

const simulateUsage = `Usage: cmafkit ladder simulate --ladder L.json --trace T.csv [--ladder2 L2.json] [flags]

Plays the ladder's segments over a bandwidth trace with a throughput-based and
a buffer-based (BOLA) player and reports average bitrate, startup delay,
rebuffering and switches. With --ladder2 both ladders play the same trace,
for comparison. A trace is CSV lines "time,bandwidth": seconds, kbit/s (a
header may name the unit: bandwidth_bps, bandwidth_kbps, bandwidth_mbps); it
repeats when the session outlasts it.

Flags:
`

// runLadder implements "cmafkit ladder" and "cmafkit ladder simulate".
func runLadder(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "simulate" {
		return runLadderSimulate(ctx, args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("ladder", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, ladderUsage)
		fs.PrintDefaults()
	}
	width := fs.Int("width", 0, "source width in pixels (required)")
	height := fs.Int("height", 0, "source height in pixels (required)")
	fps := fs.String("fps", "30", "source frame rate: 25, 29.97, 30000/1001, ...")
	par := fs.String("par", "1:1", "source pixel aspect ratio, such as 4:3 for anamorphic 1440x1080")
	codec := fs.String("codec", "h264", "codec family: h264, hevc or av1")
	calc := fs.String("calculator", "apple", "ladder policy: apple, geometric or hull")
	probes := fs.String("probes", "", "probe encodes for the hull calculator (CSV or JSON `FILE`)")
	hdr := fs.Bool("hdr", false, "HDR ladder (10-bit; hevc or av1)")
	maxRungs := fs.Int("max-rungs", 0, "most rungs in the ladder (default 12)")
	maxLevel := fs.String("max-level", "", "highest codec level a rung may need, such as 4.1 (apple default: 5.0 for h264, 5.1 for hevc, 6.2 for av1)")
	keepPAR := fs.Bool("keep-par", false, "keep an anamorphic source's pixel aspect instead of square pixels")
	asJSON := fs.Bool("json", false, "print the ladder as JSON")
	ffIn := fs.String("ffmpeg-input", "", "print the ffmpeg command that encodes the ladder from this `FILE`")
	segment := fs.Duration("segment", 2*time.Second, "segment duration for key-frame placement (with --ffmpeg-input)")
	outDir := fs.String("out", ".", "output directory of the encodes (with --ffmpeg-input)")
	if err := fs.Parse(args); err != nil {
		return cliError(err)
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return usageError{fmt.Sprintf("ladder: unexpected argument %q", fs.Arg(0))}
	}
	if *width == 0 || *height == 0 {
		fs.Usage()
		return usageError{"ladder needs --width and --height"}
	}
	src := abr.Source{Width: *width, Height: *height, HDR: *hdr}
	var err error
	if src.FrameRate, err = abr.ParseRational(*fps); err != nil {
		return usageError{fmt.Sprintf("--fps: %v", err)}
	}
	if *par != "1:1" && *par != "1" {
		if src.PixelAspect, err = abr.ParseRational(*par); err != nil {
			return usageError{fmt.Sprintf("--par: %v", err)}
		}
	}
	if src.Codec, err = abr.ParseCodec(*codec); err != nil {
		return usageError{fmt.Sprintf("--codec: %v", err)}
	}
	if *probes != "" {
		if src.Probes, err = readFileWith(*probes, abr.ReadProbes); err != nil {
			return err
		}
	}
	c := abr.Constraints{MaxRungs: *maxRungs, MaxLevel: *maxLevel, KeepPixelAspect: *keepPAR}
	var calculator abr.Calculator
	switch strings.ToLower(*calc) {
	case abr.NameApple:
		calculator = &abr.Apple{Constraints: c}
	case abr.NameGeometric:
		calculator = &abr.Geometric{Constraints: c}
	case abr.NameHull:
		if *probes == "" {
			return usageError{"--calculator hull needs --probes FILE"}
		}
		calculator = &abr.Hull{Constraints: c}
	default:
		return usageError{fmt.Sprintf("--calculator: unknown %q (want apple, geometric or hull)", *calc)}
	}
	l, err := calculator.Calculate(ctx, src)
	if err != nil {
		if errors.Is(err, abr.ErrInvalidSource) {
			return usageError{err.Error()}
		}
		return err
	}
	switch {
	case *ffIn != "":
		args, err := encode.Args(*ffIn, l, encode.Options{SegmentDuration: *segment, SourceFrameRate: src.FrameRate, OutputDir: *outDir})
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(stdout, shellJoin(append([]string{"ffmpeg"}, args...)))
		return err
	case *asJSON:
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(l)
	}
	return l.WriteTable(stdout)
}

func runLadderSimulate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ladder simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, simulateUsage)
		fs.PrintDefaults()
	}
	ladder1 := fs.String("ladder", "", "ladder JSON `FILE`, as printed by \"cmafkit ladder --json\" (required)")
	ladder2 := fs.String("ladder2", "", "a second ladder JSON `FILE` to compare with the first")
	tracePath := fs.String("trace", "", "bandwidth trace CSV `FILE` (required)")
	algo := fs.String("algorithm", "all", "player: throughput, bola or all")
	segment := fs.Duration("segment", 4*time.Second, "segment duration")
	duration := fs.Duration("duration", 0, "session length (default: one pass of the trace)")
	maxBuffer := fs.Duration("max-buffer", 30*time.Second, "player buffer capacity")
	latency := fs.Duration("latency", 0, "request latency added to every download")
	asJSON := fs.Bool("json", false, "print results as JSON")
	if err := fs.Parse(args); err != nil {
		return cliError(err)
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return usageError{fmt.Sprintf("ladder simulate: unexpected argument %q", fs.Arg(0))}
	}
	if *ladder1 == "" || *tracePath == "" {
		fs.Usage()
		return usageError{"ladder simulate needs --ladder and --trace"}
	}
	var algs []sim.Algorithm
	switch *algo {
	case "all":
		algs = []sim.Algorithm{sim.Throughput{}, sim.BOLA{}}
	case "throughput":
		algs = []sim.Algorithm{sim.Throughput{}}
	case "bola":
		algs = []sim.Algorithm{sim.BOLA{}}
	default:
		return usageError{fmt.Sprintf("--algorithm: unknown %q (want throughput, bola or all)", *algo)}
	}
	trace, err := readFileWith(*tracePath, func(r io.Reader) (sim.Trace, error) {
		return sim.ReadTrace(r, strings.TrimSuffix(filepath.Base(*tracePath), filepath.Ext(*tracePath)))
	})
	if err != nil {
		return err
	}
	var cands []sim.Candidate
	for _, p := range []string{*ladder1, *ladder2} {
		if p == "" {
			continue
		}
		l, err := readFileWith(p, abr.ReadLadder)
		if err != nil {
			return err
		}
		cands = append(cands, sim.Candidate{Name: strings.TrimSuffix(filepath.Base(p), filepath.Ext(p)), Ladder: l})
	}
	if len(cands) == 2 && cands[0].Name == cands[1].Name {
		cands[0].Name, cands[1].Name = "ladder", "ladder2"
	}
	cfg := sim.Config{SegmentDuration: *segment, Duration: *duration, MaxBuffer: *maxBuffer, Latency: *latency}
	results, err := sim.Compare(ctx, trace, cfg, algs, cands...)
	if err != nil {
		if errors.Is(err, sim.ErrInvalidConfig) {
			return usageError{err.Error()}
		}
		return err
	}
	if *asJSON {
		type row struct {
			sim.Result
			StartupS  float64 `json:"startup_seconds"`
			RebufferS float64 `json:"rebuffer_seconds"`
		}
		rows := make([]row, len(results))
		for i, r := range results {
			rows[i] = row{r, r.Startup.Seconds(), r.Rebuffer.Seconds()}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	return sim.WriteReport(stdout, results)
}

// readFileWith opens path and parses it with parse, naming the file in errors.
func readFileWith[T any](path string, parse func(io.Reader) (T, error)) (T, error) {
	var zero T
	f, err := os.Open(path)
	if err != nil {
		return zero, err
	}
	defer f.Close()
	v, err := parse(f)
	if err != nil {
		return zero, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

// cliError turns a flag parsing error into a usage error; -h stays flag.ErrHelp.
func cliError(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	return usageError{err.Error()}
}

// shellJoin quotes arguments for a POSIX shell where needed.
func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.IndexFunc(a, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=+,", r))
		}) < 0 {
			out[i] = a
			continue
		}
		out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(out, " ")
}

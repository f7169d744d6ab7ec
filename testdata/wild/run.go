package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// result is one row of results.tsv.
type result struct {
	File, Kind       string
	Bytes            int64
	Class            string // OK, REFUSED, PANIC, TIMEOUT
	Exit             int
	Secs             float64
	RSSKB            int64
	Message          string // the error line, or the panic line
	Warnings         string // WARN lines, joined with " | "
	Inspect          string // packageable: yes, no, error
	Src, HLS, DASH   probe
	MPD              string // xmllint verdict
	Flags            []string
	Verdict, Comment string // for REFUSED: honest or misleading (verdicts.tsv)
}

// probe is what ffprobe and an ffmpeg decode say about one file or manifest.
type probe struct {
	Streams  string  // e.g. "v:h264 a:aac"
	VDur     float64 // span of the video packets' presentation (ffprobe), NaN when none
	ADur     float64 // span of the audio packets' presentation, NaN when none
	Frames   int     // video frames decoded (first video stream), -1 when not decoded
	Errs     int     // error lines while decoding
	FirstErr string
	Open     bool
	TimedOut bool // a decode ran out of time: its figures are partial
}

type runConfig struct {
	ctx                     context.Context // ends on SIGINT/SIGTERM: running tools are killed
	bin, schema, work, logs string
	timeout, ffTimeout      time.Duration
	keep                    bool
	quick                   bool // no ffprobe/ffmpeg: package, inspect and the MPD schema only
	pkgArgs                 []string
}

func runAll(args []string) error {
	fl := flag.NewFlagSet("run", flag.ContinueOnError)
	list := fl.String("list", "", "files.tsv written by collect (paths in it are relative to its directory)")
	out := fl.String("out", "", "results directory (results.tsv, summary.md, logs/)")
	bin := fl.String("bin", "", "cmafkit binary (default: build ./cmd/cmafkit to OUT/cmafkit)")
	schema := fl.String("schema", "/work/shared/dash-schema/DASH-MPD.xsd", "DASH MPD schema for xmllint (empty: skip)")
	timeout := fl.Duration("timeout", 60*time.Second, "time limit of one cmafkit run")
	ffTimeout := fl.Duration("ff-timeout", 120*time.Second, "time limit of one ffmpeg or ffprobe run")
	jobs := fl.Int("j", 1, "files processed at once")
	match := fl.String("match", "", "only files whose path matches this regular expression")
	keep := fl.Bool("keep", false, "keep each file's package output under OUT/work")
	quick := fl.Bool("quick", false, "no FFmpeg checks: package, inspect and the MPD schema only (minutes instead of hours; compares outcomes and messages)")
	verdicts := fl.String("verdicts", "", "verdict rules for refusal messages (default: verdicts.tsv beside this program)")
	extra := fl.String("args", "", "extra arguments for cmafkit package, space-separated")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *list == "" || *out == "" {
		fl.Usage()
		return errors.New("need -list and -out")
	}
	rules, err := loadVerdicts(*verdicts)
	if err != nil {
		return err
	}
	entries, err := readList(*list)
	if err != nil {
		return err
	}
	if *match != "" {
		re, err := regexp.Compile(*match)
		if err != nil {
			return err
		}
		var kept []listEntry
		for _, e := range entries {
			if re.MatchString(e.file) {
				kept = append(kept, e)
			}
		}
		entries = kept
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg := runConfig{ctx: ctx, schema: *schema, timeout: *timeout, ffTimeout: *ffTimeout, keep: *keep, quick: *quick,
		work: filepath.Join(*out, "work"), logs: filepath.Join(*out, "logs"), pkgArgs: strings.Fields(*extra)}
	for _, d := range []string{cfg.work, cfg.logs} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	cfg.bin = *bin
	if cfg.bin == "" {
		cfg.bin, err = filepath.Abs(filepath.Join(*out, "cmafkit"))
		if err != nil {
			return err
		}
		build := exec.Command("go", "build", "-o", cfg.bin, "./cmd/cmafkit")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("go build (run from the module root): %w", err)
		}
	}
	if rev, err := exec.Command("git", "log", "-1", "--format=%h %s").Output(); err == nil {
		os.WriteFile(filepath.Join(*out, "revision.txt"), rev, 0o644)
	}

	results := make([]*result, len(entries))
	var mu sync.Mutex
	done := 0
	sem := make(chan struct{}, max(1, *jobs))
	var wg sync.WaitGroup
	for i, e := range entries {
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			r := runOne(cfg, i, e)
			applyVerdict(rules, r)
			mu.Lock()
			results[i] = r
			done++
			fmt.Fprintf(os.Stderr, "[%d/%d] %-8s %5.1fs %s %s %s\n", done, len(entries), r.Class, r.Secs, r.File, strings.Join(r.Flags, ","), r.Message)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return errors.New("interrupted")
	}
	if err := writeResults(filepath.Join(*out, "results.tsv"), results); err != nil {
		return err
	}
	return writeSummary(filepath.Join(*out, "summary.md"), results)
}

type listEntry struct{ file, abs, kind, note string }

func readList(p string) ([]listEntry, error) {
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(p)
	var es []listEntry
	for i, line := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		f := strings.Split(line, "\t")
		if i == 0 || len(f) < 4 {
			continue
		}
		e := listEntry{file: f[0], abs: filepath.Join(dir, filepath.FromSlash(f[0])), kind: f[3]}
		if len(f) > 5 {
			e.note = f[5]
		}
		es = append(es, e)
	}
	return es, nil
}

// runOne packages one file and checks the output.
func runOne(cfg runConfig, i int, e listEntry) *result {
	r := &result{File: e.file, Kind: e.kind, Exit: -1, Src: noProbe(), HLS: noProbe(), DASH: noProbe()}
	if fi, err := os.Stat(e.abs); err == nil {
		r.Bytes = fi.Size()
	}
	outDir := filepath.Join(cfg.work, strconv.Itoa(i))
	os.RemoveAll(outDir)
	defer func() {
		if !cfg.keep {
			os.RemoveAll(outDir)
		}
	}()
	var log bytes.Buffer
	fmt.Fprintf(&log, "file: %s (%s, %d bytes) %s\n", e.file, e.kind, r.Bytes, e.note)

	// inspect
	ctx, cancel := context.WithTimeout(cfg.ctx, cfg.timeout)
	ins, _, err := runCmd(ctx, cfg.bin, "inspect", "-json", e.abs)
	cancel()
	r.Inspect = "error"
	if err == nil {
		var reps []struct {
			Packageable bool `json:"packageable"`
		}
		var one struct {
			Packageable *bool `json:"packageable"`
		}
		if json.Unmarshal(ins, &reps) == nil && len(reps) > 0 {
			r.Inspect = map[bool]string{true: "yes", false: "no"}[reps[0].Packageable]
		} else if json.Unmarshal(ins, &one) == nil && one.Packageable != nil {
			r.Inspect = map[bool]string{true: "yes", false: "no"}[*one.Packageable]
		}
	}

	// package, under GNU time for the peak RSS
	timeFile := filepath.Join(cfg.work, strconv.Itoa(i)+".time")
	defer os.Remove(timeFile)
	pkg := append([]string{"-f", "%M %e", "-o", timeFile, cfg.bin, "package", "-q", "-o", outDir}, cfg.pkgArgs...)
	pkg = append(pkg, e.abs)
	ctx, cancel = context.WithTimeout(cfg.ctx, cfg.timeout)
	start := time.Now()
	_, stderr, err := runCmd(ctx, "/usr/bin/time", pkg...)
	r.Secs = time.Since(start).Seconds()
	stderr = bytes.ReplaceAll(bytes.ReplaceAll(stderr, []byte(e.abs), []byte(e.file)), []byte(outDir), []byte("OUT"))
	timedOut := ctx.Err() != nil
	cancel()
	if tb, terr := os.ReadFile(timeFile); terr == nil {
		lines := strings.Split(strings.TrimSpace(string(tb)), "\n")
		if f := strings.Fields(lines[len(lines)-1]); len(f) == 2 {
			r.RSSKB, _ = strconv.ParseInt(f[0], 10, 64)
		}
	}
	fmt.Fprintf(&log, "\n$ cmafkit package -q -o OUT %s %s\n%s", strings.Join(cfg.pkgArgs, " "), e.file, stderr)
	var ee *exec.ExitError
	switch {
	case err == nil:
		r.Exit = 0
	case errors.As(err, &ee):
		r.Exit = ee.ExitCode()
	}
	var warns []string
	for _, l := range strings.Split(string(stderr), "\n") {
		switch {
		case strings.HasPrefix(l, "cmafkit: ") && r.Message == "":
			r.Message = strings.TrimPrefix(l, "cmafkit: ")
		case strings.Contains(l, "level=WARN"):
			warns = append(warns, cleanWarn(l))
		case (strings.HasPrefix(l, "panic: ") || strings.HasPrefix(l, "fatal error: ")) && !strings.HasPrefix(r.Message, "panic"):
			r.Message = l
		}
	}
	r.Warnings = strings.Join(warns, " | ")
	isPanic := bytes.Contains(stderr, []byte("\ngoroutine ")) || bytes.HasPrefix(stderr, []byte("panic: ")) || bytes.Contains(stderr, []byte("\npanic: "))
	switch {
	case timedOut:
		r.Class = "TIMEOUT"
	case isPanic:
		r.Class = "PANIC"
	case r.Exit == 0:
		r.Class = "OK"
	default:
		r.Class = "REFUSED"
		if r.Message == "" {
			r.Message = lastLine(stderr)
		}
	}
	if r.Inspect == "yes" && r.Class == "REFUSED" {
		r.Flags = append(r.Flags, "INSPECT-SAYS-YES")
	}
	if r.Class != "OK" {
		writeLog(cfg, i, e.file, log.Bytes())
		return r
	}
	if r.Inspect == "no" {
		r.Flags = append(r.Flags, "INSPECT-SAYS-NO")
	}

	// The source, then each manifest, through ffprobe and an ffmpeg decode.
	check := func(p string) probe {
		if cfg.quick {
			return probe{VDur: math.NaN(), ADur: math.NaN(), Frames: -1, Open: true}
		}
		return probeFile(cfg, p, &log)
	}
	r.Src = check(e.abs)
	hlsPath := filepath.Join(outDir, "master.m3u8")
	mpdPath := filepath.Join(outDir, "manifest.mpd")
	if _, err := os.Stat(hlsPath); err == nil {
		r.HLS = check(hlsPath)
		if b, _ := os.ReadFile(hlsPath); !bytes.Contains(b, []byte("#EXT-X-STREAM-INF")) {
			r.Flags = append(r.Flags, "HLS-NO-STREAM-INF")
		}
	}
	if _, err := os.Stat(mpdPath); err == nil {
		r.DASH = check(mpdPath)
		r.MPD = "skipped"
		if cfg.schema != "" {
			ctx, cancel := context.WithTimeout(cfg.ctx, cfg.ffTimeout)
			_, xerr, err := runCmd(ctx, "xmllint", "--noout", "--schema", cfg.schema, mpdPath)
			cancel()
			if err == nil {
				r.MPD = "valid"
			} else {
				r.MPD = "INVALID: " + firstLine(bytes.ReplaceAll(xerr, []byte(outDir+"/"), nil))
				r.Flags = append(r.Flags, "MPD-INVALID")
				fmt.Fprintf(&log, "\n$ xmllint --schema DASH-MPD.xsd manifest.mpd\n%s", xerr)
			}
		}
	}
	if !cfg.keep {
		fmt.Fprintf(&log, "\n$ ls -R OUT\n")
		listTree(&log, outDir)
	}
	for _, o := range []struct {
		name string
		p    probe
	}{{"source", r.Src}, {"HLS", r.HLS}, {"DASH", r.DASH}} {
		fmt.Fprintf(&log, "%-6s open=%v streams=[%s] video=%.3fs audio=%.3fs video-frames=%d error-lines=%d\n", o.name, o.p.Open, o.p.Streams, o.p.VDur, o.p.ADur, o.p.Frames, o.p.Errs)
		if o.name != "source" {
			r.Flags = append(r.Flags, compare(o.name, r.Src, o.p)...)
		}
	}
	writeLog(cfg, i, e.file, log.Bytes())
	return r
}

// compare flags an output that decodes worse than its source.
func compare(name string, src, out probe) []string {
	var flags []string
	if !out.Open {
		return []string{name + "-UNREADABLE"}
	}
	if src.TimedOut || out.TimedOut {
		return []string{name + "-DECODE-TIMEOUT"}
	}
	if out.Errs > src.Errs+2 && out.Errs > 2*src.Errs {
		flags = append(flags, fmt.Sprintf("%s-CORRUPT(%d>%d errors)", name, out.Errs, src.Errs))
	}
	for _, d := range []struct {
		kind     string
		src, out float64
	}{{"VIDEO", src.VDur, out.VDur}, {"AUDIO", src.ADur, out.ADur}} {
		if !math.IsNaN(d.src) && !math.IsNaN(d.out) && math.Abs(d.src-d.out) > 0.5 {
			flags = append(flags, fmt.Sprintf("%s-%s-DURATION(%.2f vs %.2f)", name, d.kind, d.out, d.src))
		}
	}
	if src.Frames > 0 && out.Frames >= 0 && (out.Frames-src.Frames > 1 || src.Frames-out.Frames > 1) {
		flags = append(flags, fmt.Sprintf("%s-FRAMES(%d vs %d)", name, out.Frames, src.Frames))
	}
	for _, k := range []string{"v:", "a:"} {
		if strings.Contains(src.Streams, k) && !strings.Contains(out.Streams, k) {
			flags = append(flags, fmt.Sprintf("%s-LOST-%s", name, map[string]string{"v:": "VIDEO", "a:": "AUDIO"}[k]))
		}
	}
	return flags
}

func noProbe() probe { return probe{VDur: math.NaN(), ADur: math.NaN(), Frames: -1} }

// probeFile lists a file's streams with ffprobe, then decodes its video and
// its audio with ffmpeg, each on its own: FFmpeg's DASH demuxer stops at the
// end of the shortest stream when it reads them together.
func probeFile(cfg runConfig, p string, log *bytes.Buffer) probe {
	pr := noProbe()
	ctx, cancel := context.WithTimeout(cfg.ctx, cfg.ffTimeout)
	out, perr, err := runCmd(ctx, "ffprobe", "-v", "error", "-show_entries", "stream=codec_type,codec_name", "-of", "json", p)
	cancel()
	var raw struct {
		Streams []struct {
			CodecType string `json:"codec_type"`
			CodecName string `json:"codec_name"`
		} `json:"streams"`
	}
	if err != nil || json.Unmarshal(out, &raw) != nil {
		fmt.Fprintf(log, "\n$ ffprobe %s\n%s", path.Base(p), perr)
		return pr
	}
	pr.Open = true
	var st []string
	has := map[string]bool{}
	for _, s := range raw.Streams {
		st = append(st, s.CodecType[:min(1, len(s.CodecType))]+":"+s.CodecName)
		has[s.CodecType] = true
	}
	pr.Streams = strings.Join(st, " ")
	var errLines []string
	for _, kind := range []string{"video", "audio"} {
		if !has[kind] {
			continue
		}
		ctx, cancel = context.WithTimeout(cfg.ctx, cfg.ffTimeout)
		prog, ferr, _ := runCmd(ctx, "ffmpeg", "-nostdin", "-hide_banner", "-nostats", "-v", "error", "-i", p,
			"-map", "0:"+kind[:1], "-f", "null", "-", "-progress", "pipe:1")
		if ctx.Err() != nil {
			pr.TimedOut = true
		}
		cancel()
		end := math.NaN()
		sc := bufio.NewScanner(bytes.NewReader(prog))
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "frame="); ok && kind == "video" {
				pr.Frames, _ = strconv.Atoi(strings.TrimSpace(v))
			}
			if v, ok := strings.CutPrefix(sc.Text(), "out_time_us="); ok {
				if us, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil && us > 0 {
					end = float64(us) / 1e6
				}
			}
		}
		if span, ok := packetSpan(cfg, p, kind[:1]); ok {
			end = span
		}
		if kind == "video" {
			pr.VDur = end
		} else {
			pr.ADur = end
		}
		for _, l := range strings.Split(strings.TrimSpace(string(ferr)), "\n") {
			if l != "" {
				errLines = append(errLines, kind+": "+l)
			}
		}
	}
	pr.Errs = len(errLines)
	if len(errLines) > 0 {
		pr.FirstErr = errLines[0]
		fmt.Fprintf(log, "\n$ ffmpeg -v error -i %s -map 0:v|0:a -f null -   (%d error lines, first 20)\n%s\n", path.Base(p), len(errLines), strings.Join(errLines[:min(20, len(errLines))], "\n"))
	}
	return pr
}

// packetSpan returns the span of one kind of stream ("v" or "a") from the
// earliest presentation time of a packet to the latest end of one, as the
// demuxer reads them: ffmpeg's out_time counts from a start that demuxers
// choose differently (MPEG-TS: the stream's own start, MP4: the file's).
func packetSpan(cfg runConfig, p, kind string) (float64, bool) {
	ctx, cancel := context.WithTimeout(cfg.ctx, cfg.ffTimeout)
	out, _, err := runCmd(ctx, "ffprobe", "-v", "error", "-select_streams", kind,
		"-show_entries", "packet=pts_time,duration_time", "-of", "csv=p=0", p)
	cancel()
	if err != nil {
		return 0, false
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Split(line, ",")
		if len(f) < 2 {
			continue
		}
		pts, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		dur, _ := strconv.ParseFloat(f[1], 64)
		lo, hi = min(lo, pts), max(hi, pts+dur)
	}
	return hi - lo, hi >= lo
}

// runCmd runs a command in its own process group, which is killed when ctx
// ends, and returns its stdout and stderr.
func runCmd(ctx context.Context, name string, args ...string) ([]byte, []byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	return so.Bytes(), se.Bytes(), err
}

var warnMsg = regexp.MustCompile(`msg=("(?:[^"\\]|\\.)*"|\S+)(.*)`)

func cleanWarn(l string) string {
	if m := warnMsg.FindStringSubmatch(l); m != nil {
		msg := m[1]
		if s, err := strconv.Unquote(msg); err == nil {
			msg = s
		}
		return strings.TrimSpace(msg + " " + strings.TrimSpace(m[2]))
	}
	return l
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return s
}

func lastLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	return s[strings.LastIndex(s, "\n")+1:]
}

func writeLog(cfg runConfig, i int, file string, b []byte) {
	name := fmt.Sprintf("%04d-%s.log", i, strings.NewReplacer("/", "_", " ", "_").Replace(file))
	os.WriteFile(filepath.Join(cfg.logs, name), b, 0o644)
}

func listTree(w *bytes.Buffer, dir string) {
	n := 0
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if n++; n > 40 {
			return filepath.SkipAll
		}
		if err == nil && !fi.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			fmt.Fprintf(w, "%9d %s\n", fi.Size(), rel)
		}
		return nil
	})
}

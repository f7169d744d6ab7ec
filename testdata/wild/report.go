package main

import (
	"bufio"
	"cmp"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
)

// verdictRule judges refusal messages: the first rule whose expression
// matches "file=FILE kind=KIND msg=MESSAGE" gives the verdict.
type verdictRule struct {
	verdict, comment string
	re               *regexp.Regexp
}

func loadVerdicts(p string) ([]verdictRule, error) {
	if p == "" {
		_, self, _, _ := runtime.Caller(0)
		p = filepath.Join(filepath.Dir(self), "verdicts.tsv")
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var rules []verdictRule
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fs := strings.Split(line, "\t")
		if len(fs) < 2 || (fs[0] != "honest" && fs[0] != "misleading") {
			return nil, fmt.Errorf("%s:%d: want honest|misleading TAB regexp [TAB comment]", p, n)
		}
		re, err := regexp.Compile(fs[1])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", p, n, err)
		}
		r := verdictRule{verdict: fs[0], re: re}
		if len(fs) > 2 {
			r.comment = fs[2]
		}
		rules = append(rules, r)
	}
	return rules, sc.Err()
}

func applyVerdict(rules []verdictRule, r *result) {
	r.Verdict, r.Comment = "", ""
	if r.Class != "REFUSED" {
		return
	}
	key := fmt.Sprintf("file=%s kind=%s msg=%s", r.File, r.Kind, r.Message)
	for _, rule := range rules {
		if rule.re.MatchString(key) {
			r.Verdict, r.Comment = rule.verdict, rule.comment
			return
		}
	}
	r.Verdict = "unjudged"
}

var columns = strings.Fields(`file kind bytes class exit secs rss_kb inspect verdict flags message warnings
	src_streams src_vdur src_adur src_frames src_errs hls_streams hls_vdur hls_adur hls_frames hls_errs
	dash_streams dash_vdur dash_adur dash_frames dash_errs mpd src_err hls_err dash_err comment`)

func tsvField(s string) string {
	return strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(s)
}

func fmtDur(d float64) string {
	if math.IsNaN(d) {
		return ""
	}
	return strconv.FormatFloat(d, 'f', 3, 64)
}

func writeResults(p string, rs []*result) error {
	var b strings.Builder
	b.WriteString(strings.Join(columns, "\t") + "\n")
	for _, r := range rs {
		f := []string{r.File, r.Kind, strconv.FormatInt(r.Bytes, 10), r.Class, strconv.Itoa(r.Exit),
			strconv.FormatFloat(r.Secs, 'f', 2, 64), strconv.FormatInt(r.RSSKB, 10), r.Inspect, r.Verdict,
			strings.Join(r.Flags, ","), r.Message, r.Warnings}
		for _, pr := range []probe{r.Src, r.HLS, r.DASH} {
			f = append(f, pr.Streams, fmtDur(pr.VDur), fmtDur(pr.ADur), strconv.Itoa(pr.Frames), strconv.Itoa(pr.Errs))
		}
		f = append(f, r.MPD, r.Src.FirstErr, r.HLS.FirstErr, r.DASH.FirstErr, r.Comment)
		for i := range f {
			f[i] = tsvField(f[i])
		}
		b.WriteString(strings.Join(f, "\t") + "\n")
	}
	return os.WriteFile(p, []byte(b.String()), 0o644)
}

func readResults(p string) ([]*result, error) {
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	var rs []*result
	for i, line := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		f := strings.Split(line, "\t")
		if i == 0 {
			continue
		}
		if len(f) != len(columns) {
			return nil, fmt.Errorf("%s:%d: %d fields, want %d", p, i+1, len(f), len(columns))
		}
		r := &result{File: f[0], Kind: f[1], Class: f[3], Inspect: f[7], Verdict: f[8], Message: f[10], Warnings: f[11], MPD: f[27], Comment: f[31]}
		r.Bytes, _ = strconv.ParseInt(f[2], 10, 64)
		r.Exit, _ = strconv.Atoi(f[4])
		r.Secs, _ = strconv.ParseFloat(f[5], 64)
		r.RSSKB, _ = strconv.ParseInt(f[6], 10, 64)
		if f[9] != "" {
			r.Flags = strings.Split(f[9], ",")
		}
		for j, pr := range []*probe{&r.Src, &r.HLS, &r.DASH} {
			*pr = noProbe()
			g := f[12+5*j:]
			pr.Streams = g[0]
			if d, err := strconv.ParseFloat(g[1], 64); err == nil {
				pr.VDur = d
			}
			if d, err := strconv.ParseFloat(g[2], 64); err == nil {
				pr.ADur = d
			}
			pr.Frames, _ = strconv.Atoi(g[3])
			pr.Errs, _ = strconv.Atoi(g[4])
			pr.FirstErr = f[28+j]
		}
		rs = append(rs, r)
	}
	return rs, nil
}

// reportCmd re-judges refusals with the current verdicts and rewrites the
// summary, without running anything again.
func reportCmd(args []string) error {
	fl := flag.NewFlagSet("report", flag.ContinueOnError)
	out := fl.String("out", "", "results directory of an earlier run")
	verdicts := fl.String("verdicts", "", "verdict rules (default: verdicts.tsv beside this program)")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("need -out")
	}
	rules, err := loadVerdicts(*verdicts)
	if err != nil {
		return err
	}
	rs, err := readResults(filepath.Join(*out, "results.tsv"))
	if err != nil {
		return err
	}
	for _, r := range rs {
		applyVerdict(rules, r)
		reflag(r)
	}
	if err := writeResults(filepath.Join(*out, "results.tsv"), rs); err != nil {
		return err
	}
	return writeSummary(filepath.Join(*out, "summary.md"), rs)
}

// note says what a flagged file turned out to be after looking at it.
type note struct {
	re   *regexp.Regexp
	text string
}

// loadNotes reads notes.tsv beside this program: regexp TAB note per line.
func loadNotes() ([]note, error) {
	_, self, _, _ := runtime.Caller(0)
	data, err := os.ReadFile(filepath.Join(filepath.Dir(self), "notes.tsv"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	var ns []note
	for i, line := range strings.Split(string(data), "\n") {
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		re, text, ok := strings.Cut(line, "\t")
		if !ok {
			return nil, fmt.Errorf("notes.tsv:%d: want regexp TAB note", i+1)
		}
		rx, err := regexp.Compile(re)
		if err != nil {
			return nil, fmt.Errorf("notes.tsv:%d: %w", i+1, err)
		}
		ns = append(ns, note{rx, text})
	}
	return ns, nil
}

func noteFor(ns []note, file string) string {
	for _, n := range ns {
		if n.re.MatchString(file) {
			return n.text
		}
	}
	return ""
}

// reflag recomputes the flags that compare derives from the stored probe
// figures, so a change of thresholds needs no new run.
func reflag(r *result) {
	if r.Class != "OK" {
		return
	}
	var kept []string
	for _, f := range r.Flags {
		if !regexp.MustCompile(`^(HLS|DASH)-(CORRUPT|VIDEO-DURATION|AUDIO-DURATION|FRAMES|LOST)`).MatchString(f) {
			kept = append(kept, f)
		}
	}
	for _, o := range []struct {
		name string
		p    *probe
	}{{"HLS", &r.HLS}, {"DASH", &r.DASH}} {
		if slices.Contains(kept, o.name+"-UNREADABLE") || slices.Contains(kept, o.name+"-DECODE-TIMEOUT") {
			continue
		}
		o.p.Open = true
		kept = append(kept, compare(o.name, r.Src, *o.p)...)
	}
	r.Flags = kept
}

// outputFlag tells whether a flag is about the packaged output (rather than
// about inspect disagreeing).
func outputFlag(f string) bool { return !strings.HasPrefix(f, "INSPECT-") }

// category is the one-word outcome a file is counted under.
func category(r *result) string {
	switch r.Class {
	case "OK":
		var out []string
		for _, f := range r.Flags {
			if outputFlag(f) {
				out = append(out, f)
			}
		}
		if len(out) == 0 {
			return "clean"
		}
		textOnly := slices.Contains(out, "HLS-NO-STREAM-INF") // FFmpeg cannot open such a playlist: that is the finding
		for _, f := range out {
			// A stream dropped with a warning naming it is a partial result the user was told about.
			warned := strings.Contains(f, "LOST-") && (strings.Contains(r.Warnings, "ignoring elementary stream") || strings.Contains(r.Warnings, "no usable samples"))
			if strings.Contains(f, "CORRUPT") || (strings.Contains(f, "LOST-") && !warned) || (strings.Contains(f, "UNREADABLE") && !textOnly) {
				return "corrupt"
			}
		}
		return "flagged"
	case "REFUSED":
		return "refused-" + r.Verdict
	}
	return strings.ToLower(r.Class)
}

var digitsRe = regexp.MustCompile(`\d+`)

func normalize(msg, file string) string {
	msg = strings.ReplaceAll(msg, file, "FILE")
	if base := filepath.Base(file); base != "." {
		msg = strings.ReplaceAll(msg, base, "FILE")
	}
	return digitsRe.ReplaceAllString(msg, "N")
}

func source(file string) string {
	s, _, _ := strings.Cut(file, "/")
	return s
}

func mdCell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

func writeSummary(p string, rs []*result) error {
	var b strings.Builder
	cats := []string{"clean", "flagged", "corrupt", "refused-honest", "refused-misleading", "refused-unjudged", "panic", "timeout"}
	count := map[string]int{}
	bySrc := map[string]map[string]int{}
	for _, r := range rs {
		c := category(r)
		count[c]++
		s := source(r.File)
		if bySrc[s] == nil {
			bySrc[s] = map[string]int{}
		}
		bySrc[s][c]++
	}
	fmt.Fprintf(&b, "# cmafkit package on the wild corpus\n\n")
	if rev, err := os.ReadFile(filepath.Join(filepath.Dir(p), "revision.txt")); err == nil {
		fmt.Fprintf(&b, "Revision: `%s`\n\n", strings.TrimSpace(string(rev)))
	}
	fmt.Fprintf(&b, "%d inputs. clean: packaged (exit 0) and the HLS and DASH outputs decode with no more errors than the source, "+
		"same video and audio span (±0.5 s) and video frame count (±1 frame), valid MPD; flagged: packaged, but a duration, frame count, MPD or "+
		"playlist check failed (text-only inputs whose multivariant playlist has no variant are counted here); corrupt: packaged, but an output decodes with many more errors than the source, cannot be opened, "+
		"or lost the source's video or audio without a warning naming the stream; refused-*: non-zero exit, its message judged by verdicts.tsv.\n\n", len(rs))
	b.WriteString("| outcome | files |\n|---|---:|\n")
	for _, c := range cats {
		fmt.Fprintf(&b, "| %s | %d |\n", c, count[c])
	}
	b.WriteString("\n## By source\n\n| source | " + strings.Join(cats, " | ") + " |\n|---|" + strings.Repeat("---:|", len(cats)) + "\n")
	srcs := make([]string, 0, len(bySrc))
	for s := range bySrc {
		srcs = append(srcs, s)
	}
	slices.Sort(srcs)
	for _, s := range srcs {
		row := []string{s}
		for _, c := range cats {
			row = append(row, strconv.Itoa(bySrc[s][c]))
		}
		fmt.Fprintf(&b, "| %s |\n", strings.Join(row, " | "))
	}

	byKind := map[string]map[string]int{}
	for _, r := range rs {
		k := r.Kind
		if strings.HasPrefix(k, "other:") {
			k = "other (not MP4 or TS)"
		}
		if byKind[k] == nil {
			byKind[k] = map[string]int{}
		}
		byKind[k][category(r)]++
	}
	b.WriteString("\n## By kind of input\n\n| kind | " + strings.Join(cats, " | ") + " |\n|---|" + strings.Repeat("---:|", len(cats)) + "\n")
	kinds := make([]string, 0, len(byKind))
	for k := range byKind {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	for _, k := range kinds {
		row := []string{k}
		for _, c := range cats {
			row = append(row, strconv.Itoa(byKind[k][c]))
		}
		fmt.Fprintf(&b, "| %s |\n", strings.Join(row, " | "))
	}

	notes, err := loadNotes()
	if err != nil {
		return err
	}
	b.WriteString("\n## Packaged, with output problems\n\n| outcome | file | flags | first output error (HLS / DASH) | warnings | after looking (notes.tsv) |\n|---|---|---|---|---|---|\n")
	for _, r := range rs {
		if c := category(r); c == "corrupt" || c == "flagged" {
			fmt.Fprintf(&b, "| %s | %s | %s | %s / %s | %s | %s |\n", c, mdCell(r.File), mdCell(strings.Join(r.Flags, " ")), mdCell(r.HLS.FirstErr), mdCell(r.DASH.FirstErr), mdCell(r.Warnings), mdCell(noteFor(notes, r.File)))
		}
	}

	b.WriteString("\n## Panics and timeouts\n\n")
	n := 0
	for _, r := range rs {
		if r.Class == "PANIC" || r.Class == "TIMEOUT" {
			fmt.Fprintf(&b, "- %s %s: %s\n", r.Class, r.File, mdCell(r.Message))
			n++
		}
	}
	if n == 0 {
		b.WriteString("None.\n")
	}

	type group struct {
		msg, verdict, comment string
		files                 []string
	}
	groups := map[string]*group{}
	var order []string
	for _, r := range rs {
		if r.Class != "REFUSED" {
			continue
		}
		k := r.Verdict + "\x00" + r.Comment + "\x00" + normalize(r.Message, r.File)
		g := groups[k]
		if g == nil {
			g = &group{msg: normalize(r.Message, r.File), verdict: r.Verdict, comment: r.Comment}
			groups[k] = g
			order = append(order, k)
		}
		g.files = append(g.files, r.File)
	}
	slices.SortStableFunc(order, func(a, b string) int {
		return cmp.Or(strings.Compare(groups[a].verdict, groups[b].verdict), len(groups[b].files)-len(groups[a].files))
	})
	b.WriteString("\n## Refusals, grouped by message (numbers shown as N)\n\n| verdict | files | message | why (verdicts.tsv) | examples |\n|---|---:|---|---|---|\n")
	for _, k := range order {
		g := groups[k]
		ex := g.files[:min(3, len(g.files))]
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s |\n", g.verdict, len(g.files), mdCell(g.msg), mdCell(g.comment), mdCell(strings.Join(ex, " ")))
	}

	b.WriteString("\n## Inspect disagrees with package\n\n")
	n = 0
	for _, r := range rs {
		for _, f := range r.Flags {
			if !outputFlag(f) {
				fmt.Fprintf(&b, "- %s: %s (%s)\n", r.File, f, mdCell(cmp.Or(r.Message, "packaged")))
				n++
			}
		}
	}
	if n == 0 {
		b.WriteString("None.\n")
	}

	wgroups := map[string][]string{}
	var worder []string
	for _, r := range rs {
		if r.Class != "OK" || r.Warnings == "" {
			continue
		}
		for _, w := range strings.Split(r.Warnings, " | ") {
			k := normalize(w, r.File)
			if _, ok := wgroups[k]; !ok {
				worder = append(worder, k)
			}
			if fs := wgroups[k]; len(fs) == 0 || fs[len(fs)-1] != r.File {
				wgroups[k] = append(fs, r.File)
			}
		}
	}
	slices.SortStableFunc(worder, func(a, b string) int { return len(wgroups[b]) - len(wgroups[a]) })
	b.WriteString("\n## Warnings on packaged files\n\n| files | warning | examples |\n|---:|---|---|\n")
	for _, k := range worder {
		fs := wgroups[k]
		fmt.Fprintf(&b, "| %d | %s | %s |\n", len(fs), mdCell(k), mdCell(strings.Join(fs[:min(3, len(fs))], " ")))
	}

	sorted := slices.Clone(rs)
	slices.SortFunc(sorted, func(a, b *result) int { return cmp.Compare(b.RSSKB, a.RSSKB) })
	b.WriteString("\n## Largest peak RSS and longest runs\n\n| file | bytes | peak RSS MiB | seconds | outcome |\n|---|---:|---:|---:|---|\n")
	for _, r := range sorted[:min(5, len(sorted))] {
		fmt.Fprintf(&b, "| %s | %d | %.1f | %.2f | %s |\n", r.File, r.Bytes, float64(r.RSSKB)/1024, r.Secs, category(r))
	}
	slices.SortFunc(sorted, func(a, b *result) int { return cmp.Compare(b.Secs, a.Secs) })
	for _, r := range sorted[:min(5, len(sorted))] {
		fmt.Fprintf(&b, "| %s | %d | %.1f | %.2f | %s |\n", r.File, r.Bytes, float64(r.RSSKB)/1024, r.Secs, category(r))
	}
	return os.WriteFile(p, []byte(b.String()), 0o644)
}

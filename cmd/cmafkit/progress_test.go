package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/packager"
)

// TestProgressNotTerminal: when stderr is not a terminal (a buffer, a pipe),
// progress is plain lines, at most one per 10%, and no carriage return is
// written anywhere, the final summary included.
func TestProgressNotTerminal(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var fromPipe bytes.Buffer
	copied := make(chan struct{})
	go func() { fromPipe.ReadFrom(r); close(copied) }()
	var buf bytes.Buffer
	for _, stderr := range []struct {
		name string
		w    interface{ Write([]byte) (int, error) }
	}{{"buffer", &buf}, {"pipe", w}} {
		var out bytes.Buffer
		args := []string{"package", "-o", t.TempDir(), "--segment-duration", "1s", "../../testdata/ladder_360p.mp4"}
		if err := run(context.Background(), args, &out, stderr.w); err != nil {
			t.Fatalf("%s: %v", stderr.name, err)
		}
	}
	w.Close()
	<-copied
	for name, b := range map[string]*bytes.Buffer{"buffer": &buf, "pipe": &fromPipe} {
		s := b.String()
		if strings.ContainsAny(s, "\r\x1b") {
			t.Errorf("%s: carriage return or escape written to a non-terminal: %q", name, s)
		}
		lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
		progress := 0
		for _, l := range lines {
			if strings.HasPrefix(l, "progress: ") {
				progress++
			}
		}
		if progress < 2 || progress > 11 || !strings.HasPrefix(lines[len(lines)-1], "wrote ") {
			t.Errorf("%s: %d progress lines (want 2 to 11, one per 10%%), then the summary:\n%s", name, progress, s)
		}
	}
}

// TestProgressTerminal: on a terminal the bar is redrawn in place, at most
// every barInterval (and always at 100%), log lines clear it first, and
// Finish leaves a clean line for what follows.
func TestProgressTerminal(t *testing.T) {
	var b bytes.Buffer
	p := &progressWriter{w: &b, tty: true, decile: -1}
	start := time.Now()
	const total = 20_000
	for i := 1; i <= total; i++ {
		p.Update(packager.Progress{Done: i, Total: total, Bytes: int64(i) * 1000})
		if i == total/2 {
			fmt.Fprintf(p, "level=WARN msg=%q\n", "half way")
		}
	}
	elapsed := time.Since(start)
	s := b.String()
	draws := strings.Count(s, clearLine+"[")
	if max := 3 + int(elapsed/barInterval); draws < 2 || draws > max {
		t.Errorf("%d redraws for %d updates in %s, want 2 to %d", draws, total, elapsed, max)
	}
	if !strings.Contains(s, clearLine+"level=WARN msg=\"half way\"\n") {
		t.Errorf("log line not on a cleared line: %q", s)
	}
	if !strings.HasSuffix(s, fmt.Sprintf("100%%  %d/%d segments  %.1f MB", total, total, float64(total)*1000/1e6)) {
		t.Errorf("the last draw is not at 100%%: %q", s[max(len(s)-80, 0):])
	}
	p.Finish()
	if !strings.HasSuffix(b.String(), clearLine) {
		t.Errorf("Finish did not clear the bar")
	}
	n := b.Len()
	p.Finish()
	if b.Len() != n {
		t.Errorf("Finish without a bar wrote %q", b.String()[n:])
	}
}

// TestIsTerminal: buffers and pipes are not terminals; a pseudo-terminal is.
func TestIsTerminal(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if isTerminal(&bytes.Buffer{}) || isTerminal(w) {
		t.Error("a buffer or a pipe taken for a terminal")
	}
	pt, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skip("no pseudo-terminal:", err)
	}
	defer pt.Close()
	if !isTerminal(pt) {
		t.Error("a pseudo-terminal not taken for a terminal")
	}
}

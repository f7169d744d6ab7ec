//go:build unix

package main

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/segment"
)

// TestFIFOInput: "package" and "inspect" refuse a FIFO nobody writes to
// with an error naming it (exit status 1) instead of hanging.
func TestFIFOInput(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "live.ts")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	for _, args := range [][]string{
		{"package", "-q", "-o", filepath.Join(dir, "out"), fifo},
		{"inspect", fifo},
	} {
		done := make(chan error, 1)
		go func() {
			var out, errb bytes.Buffer
			done <- run(context.Background(), args, &out, &errb)
		}()
		select {
		case err := <-done:
			if !errors.Is(err, segment.ErrNotRegularFile) || !strings.Contains(err.Error(), fifo) || !strings.Contains(err.Error(), "named pipe") || exitCode(err) != 1 {
				t.Errorf("%s: got %v (exit %d)", args[0], err, exitCode(err))
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: still blocked on the FIFO after 20 s", args[0])
		}
	}
}

//go:build unix

package packager_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/packager"
	"github.com/cmafkit/cmafkit/segment"
	"github.com/cmafkit/cmafkit/storage"
)

// TestNonRegularInput: a FIFO (which nobody writes to) and a directory as
// input are refused at once with a *segment.FileTypeError naming the path
// and what it is, instead of blocking forever in open or read.
func TestNonRegularInput(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "in.mp4")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	link := filepath.Join(dir, "link.mp4")
	if err := os.Symlink(fifo, link); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path string
		mode fs.FileMode
		what string
	}{
		{fifo, fs.ModeNamedPipe, "named pipe"},
		{link, fs.ModeNamedPipe, "named pipe"},
		{dir, fs.ModeDir, "directory"},
	} {
		done := make(chan error, 1)
		go func() {
			_, err := packager.Run(context.Background(), packager.Job{
				Inputs:  []packager.Input{{Path: c.path}},
				Storage: storage.Dir(t.TempDir()),
			})
			done <- err
		}()
		var err error
		select {
		case err = <-done:
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: Run still blocked after 20 s", c.path)
		}
		var fe *segment.FileTypeError
		if !errors.As(err, &fe) || !errors.Is(err, segment.ErrNotRegularFile) || fe.Path != c.path || fe.Mode.Type() != c.mode {
			t.Fatalf("%s: got %v, want a FileTypeError", c.path, err)
		}
		if msg := err.Error(); !strings.Contains(msg, c.path) || !strings.Contains(msg, c.what) {
			t.Errorf("message %q does not name the path and its type", msg)
		}
	}
	// The helper the CLI's inspect uses refuses it too, and opens regular files.
	if _, _, err := segment.OpenInputFile(fifo); !errors.Is(err, segment.ErrNotRegularFile) {
		t.Errorf("OpenInputFile(fifo): %v", err)
	}
	f, fi, err := segment.OpenInputFile("../testdata/ladder_360p.mp4")
	if err != nil || !fi.Mode().IsRegular() || fi.Size() == 0 {
		t.Fatalf("regular file: %v %v", fi, err)
	}
	defer f.Close()
	var b [8]byte
	if _, err := f.ReadAt(b[:], 0); err != nil || string(b[4:]) != "ftyp" {
		t.Errorf("read %q, %v", b, err)
	}
}

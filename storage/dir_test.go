package storage_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/storage"
)

// storageFiles returns every regular file under dir, keyed by slash path.
func storageFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		out[filepath.ToSlash(rel)] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDirCommit(t *testing.T) {
	dir := t.TempDir()
	obj, err := storage.Dir(dir).Create(context.Background(), "video_360p_avc/seg-1.m4s")
	if err != nil {
		t.Fatal(err)
	}
	// Small writes are buffered, large ones pass straight through; the file
	// must hold them all, in order.
	var want bytes.Buffer
	for i, n := range []int{8, 100, 200 << 10, 16, 40 << 10, 3} {
		p := bytes.Repeat([]byte{byte('a' + i)}, n)
		want.Write(p)
		if _, err := obj.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	final := filepath.Join(dir, "video_360p_avc", "seg-1.m4s")
	if _, err := os.Stat(final); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("object visible before Commit (stat: %v)", err)
	}
	if err := obj.Commit(); err != nil {
		t.Fatal(err)
	}
	got := storageFiles(t, dir)
	if len(got) != 1 || !bytes.Equal(got["video_360p_avc/seg-1.m4s"], want.Bytes()) {
		names := make([]string, 0, len(got))
		for k := range got {
			names = append(names, k)
		}
		t.Fatalf("after Commit the dir holds %q; want only the segment with its %d bytes", names, want.Len())
	}
	if err := obj.Abort(); err != nil {
		t.Errorf("Abort after Commit: %v", err)
	}
	if _, err := os.Stat(final); err != nil {
		t.Errorf("Abort after Commit removed the object: %v", err)
	}
	if err := obj.Commit(); err == nil {
		t.Error("second Commit succeeded")
	}
}

func TestDirAbort(t *testing.T) {
	dir := t.TempDir()
	for _, size := range []int{0, 10, 1 << 20} {
		obj, err := storage.Dir(dir).Create(context.Background(), "a/manifest.mpd")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := obj.Write(make([]byte, size)); err != nil {
			t.Fatal(err)
		}
		if err := obj.Abort(); err != nil {
			t.Fatal(err)
		}
		if left := storageFiles(t, dir); len(left) != 0 {
			t.Fatalf("size %d: aborted object left %d files (temp files included)", size, len(left))
		}
	}
}

func TestCheckName(t *testing.T) {
	for _, name := range []string{"../x", "/abs", "a//b", "", "a/../../b", "./a", `a\b`, "a/"} {
		if err := storage.CheckName(name); !errors.Is(err, storage.ErrBadName) {
			t.Errorf("CheckName(%q) = %v, want ErrBadName", name, err)
		}
		dir := t.TempDir()
		if _, err := storage.Dir(filepath.Join(dir, "out")).Create(context.Background(), name); !errors.Is(err, storage.ErrBadName) {
			t.Errorf("Dir.Create(%q) = %v, want ErrBadName", name, err)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("Dir.Create(%q) created something", name)
		}
	}
	for _, name := range []string{"master.m3u8", "video_720p_avc/seg-00001.m4s", "a..b/c.mp4"} {
		if err := storage.CheckName(name); err != nil {
			t.Errorf("CheckName(%q) = %v", name, err)
		}
	}
}

// TestDirReadFrom checks the object's ReadFrom, which segment writers use for
// clear sample runs: a section of a file (copied in the kernel), a section
// already partly read, and an ordinary reader, mixed with buffered writes.
func TestDirReadFrom(t *testing.T) {
	dir := t.TempDir()
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(i * 31)
	}
	srcPath := filepath.Join(dir, "src.bin")
	if err := os.WriteFile(srcPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := os.Open(srcPath)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	obj, err := storage.Dir(filepath.Join(dir, "out")).Create(context.Background(), "a/b.m4s")
	if err != nil {
		t.Fatal(err)
	}
	rf, ok := obj.(io.ReaderFrom)
	if !ok {
		t.Fatal("Dir objects do not implement io.ReaderFrom")
	}
	var want []byte
	write := func(p string) {
		obj.Write([]byte(p))
		want = append(want, p...)
	}
	write("moof")
	if n, err := rf.ReadFrom(io.NewSectionReader(src, 100, 5000)); err != nil || n != 5000 {
		t.Fatalf("section: %d, %v", n, err)
	}
	want = append(want, data[100:5100]...)
	write("mdat")
	sr := io.NewSectionReader(src, 1000, 3000)
	sr.Read(make([]byte, 10)) // partly read: ReadFrom must start at offset 1010
	if n, err := rf.ReadFrom(sr); err != nil || n != 2990 {
		t.Fatalf("partly read section: %d, %v", n, err)
	}
	want = append(want, data[1010:4000]...)
	if n, err := rf.ReadFrom(bytes.NewReader(data[:777])); err != nil || n != 777 {
		t.Fatalf("plain reader: %d, %v", n, err)
	}
	want = append(want, data[:777]...)
	if err := obj.Commit(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "out", "a", "b.m4s"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("object holds %d bytes, want %d (or content differs)", len(got), len(want))
	}
}

// version returns the content of version v of an object: its own byte,
// and a length of its own (over 1 MiB, so writing it takes several writes
// to the file).
func version(v int) []byte {
	return bytes.Repeat([]byte{byte('A' + v%26)}, 1<<20+v*4097)
}

// checkVersion reports whether data is one whole version.
func checkVersion(data []byte) error {
	v := (len(data) - 1<<20) / 4097
	if v < 0 || !bytes.Equal(data, version(v)) {
		return fmt.Errorf("read %d bytes starting %q: not one whole version", len(data), data[:min(len(data), 1)])
	}
	return nil
}

// writeVersion writes version v through obj in pieces, calling between
// after the first piece.
func writeVersion(t *testing.T, obj storage.Object, v int, between func()) {
	t.Helper()
	data := version(v)
	for i, n := 0, 0; n < len(data); i++ {
		end := min(n+300_000, len(data))
		if _, err := obj.Write(data[n:end]); err != nil {
			t.Fatal(err)
		}
		n = end
		if i == 0 && between != nil {
			between()
		}
	}
}

// TestDirOverwriteAtomic rewrites one name many times while readers open
// and read it without pause: every read must return one whole version,
// never a part or a mix, and the name must never be missing.
func TestDirOverwriteAtomic(t *testing.T) {
	dir := t.TempDir()
	s := storage.Dir(dir)
	ctx := context.Background()
	const name = "video/playlist.m3u8"
	put := func(v int, between func()) {
		obj, err := s.Create(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		writeVersion(t, obj, v, between)
		if err := obj.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	put(0, nil)
	// While version 1 is half written, the name holds version 0 whole.
	put(1, func() {
		data, err := os.ReadFile(filepath.Join(dir, "video", "playlist.m3u8"))
		if err != nil {
			t.Fatal(err)
		}
		if err := checkVersion(data); err != nil || !bytes.Equal(data, version(0)) {
			t.Fatalf("while version 1 is written, the name holds %d bytes (%v), want version 0", len(data), err)
		}
	})

	stop := make(chan struct{})
	errc := make(chan error, 2)
	var reads atomic.Int64
	for range 2 {
		go func() {
			for {
				select {
				case <-stop:
					errc <- nil
					return
				default:
				}
				data, err := os.ReadFile(filepath.Join(dir, "video", "playlist.m3u8"))
				if err == nil {
					err = checkVersion(data)
				}
				if err != nil {
					errc <- err
					return
				}
				reads.Add(1)
			}
		}()
	}
	for v := 2; v < 40; v++ {
		put(v, nil)
	}
	close(stop)
	for range 2 {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d reads during 38 overwrites", reads.Load())
	left := storageFiles(t, dir)
	if len(left) != 1 || !bytes.Equal(left["video/playlist.m3u8"], version(39)) {
		t.Errorf("after the overwrites the dir holds %d files (want the last version only)", len(left))
	}
}

func TestDirDelete(t *testing.T) {
	dir := t.TempDir()
	s := storage.Dir(dir)
	ctx := context.Background()
	obj, err := s.Create(ctx, "a/seg-1.m4s")
	if err != nil {
		t.Fatal(err)
	}
	obj.Write([]byte("segment"))
	if err := obj.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "a/seg-1.m4s"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "a", "seg-1.m4s")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("deleted object still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "a")); err != nil {
		t.Errorf("Delete removed the object's directory: %v", err)
	}
	err = s.Delete(ctx, "a/seg-1.m4s")
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "a/seg-1.m4s") {
		t.Errorf("deleting a missing object: %v, want fs.ErrNotExist naming it", err)
	}
	if err := s.Delete(ctx, "a"); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("deleting a directory: %v, want fs.ErrInvalid", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "a")); err != nil {
		t.Errorf("Delete of a directory removed it: %v", err)
	}
	for _, name := range []string{"../x", "", "a/" + storage.TempPrefix + "x"} {
		if err := s.Delete(ctx, name); !errors.Is(err, storage.ErrBadName) {
			t.Errorf("Delete(%q) = %v, want ErrBadName", name, err)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.Delete(cctx, "a/x"); !errors.Is(err, context.Canceled) {
		t.Errorf("Delete with a cancelled context = %v", err)
	}
}

// TestDirTempFiles: an object being written is a temporary file named with
// TempPrefix beside its final name; Create refuses names that look like one.
func TestDirTempFiles(t *testing.T) {
	dir := t.TempDir()
	obj, err := storage.Dir(dir).Create(context.Background(), "v/seg-1.m4s")
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Abort()
	entries, err := os.ReadDir(filepath.Join(dir, "v"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || !strings.HasPrefix(entries[0].Name(), storage.TempPrefix+"seg-1.m4s.") {
		t.Errorf("while writing, the directory holds %v", entries)
	}
	if _, err := storage.Dir(dir).Create(context.Background(), storage.TempPrefix+"x"); !errors.Is(err, storage.ErrBadName) {
		t.Errorf("Create of a temporary name: %v, want ErrBadName", err)
	}
}

// TestDirSweep: Sweep removes the temporary files of dead writers (old and
// unlocked, as a killed process leaves them) in the directories it is given,
// and keeps those of live writers, files just created, files in other
// directories and everything else.
func TestDirSweep(t *testing.T) {
	dir := t.TempDir()
	s := storage.Dir(dir)
	ctx := context.Background()
	old := time.Now().Add(-2 * time.Hour)
	write := func(name string, mtime time.Time) string {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		if !mtime.IsZero() {
			if err := os.Chtimes(p, mtime, mtime); err != nil {
				t.Fatal(err)
			}
		}
		return p
	}
	stale := []string{
		write(storage.TempPrefix+"master.m3u8.123", old),
		write("video/"+storage.TempPrefix+"seg-1.m4s.456", old),
		write("a/b/c/"+storage.TempPrefix+"init.mp4.789", time.Now().Add(-time.Minute)),
	}
	kept := []string{
		write(storage.TempPrefix+"fresh.m4s.1", time.Time{}), // just created: its writer may be about to lock it
		write("video/seg-1.m4s", old),
		write("video/.hidden", old),
		write("notes"+storage.TempPrefix, old),
		write("other/"+storage.TempPrefix+"seg-1.m4s.1", old), // not a directory swept
		write("video/deeper/"+storage.TempPrefix+"seg-1.m4s.1", old),
	}
	// A live writer's temporary file, however old.
	live, err := s.Create(ctx, "video/seg-2.m4s")
	if err != nil {
		t.Fatal(err)
	}
	live.Write([]byte("live"))
	entries, _ := filepath.Glob(filepath.Join(dir, "video", storage.TempPrefix+"seg-2.m4s.*"))
	if len(entries) != 1 {
		t.Fatalf("live temporary file: %v", entries)
	}
	if err := os.Chtimes(entries[0], old, old); err != nil {
		t.Fatal(err)
	}
	if err := s.Sweep(ctx, ".", "video", "a/b/c", "missing"); err != nil {
		t.Fatal(err)
	}
	for _, p := range stale {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("stale %s not removed (%v)", p, err)
		}
	}
	for _, p := range kept {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("Sweep removed %s: %v", p, err)
		}
	}
	if runtime.GOOS == "linux" || runtime.GOOS == "darwin" {
		if _, err := os.Stat(entries[0]); err != nil {
			t.Errorf("Sweep removed a live writer's file: %v", err)
		}
		if err := live.Commit(); err != nil {
			t.Fatalf("Commit after Sweep: %v", err)
		}
		if got, _ := os.ReadFile(filepath.Join(dir, "video", "seg-2.m4s")); string(got) != "live" {
			t.Errorf("committed object holds %q", got)
		}
	}
	if err := storage.Dir(filepath.Join(dir, "missing")).Sweep(ctx, "."); err != nil {
		t.Errorf("Sweep of a missing directory: %v", err)
	}
	if err := s.Sweep(ctx, "../x"); !errors.Is(err, storage.ErrBadName) {
		t.Errorf("Sweep(../x) = %v, want ErrBadName", err)
	}
}

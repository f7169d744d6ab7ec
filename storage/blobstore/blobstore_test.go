package blobstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cmafkit/cmafkit/storage"
	"github.com/cmafkit/cmafkit/storage/blobstore"
	"gocloud.dev/gcerrors"
)

// buckets returns the URLs the tests run against: memory and a fresh local
// directory (with and without fileblob's .attrs sidecars).
func buckets(t *testing.T) map[string]string {
	return map[string]string{
		"mem":       "mem://",
		"file":      "file://" + filepath.ToSlash(t.TempDir()),
		"file_skip": "file://" + filepath.ToSlash(t.TempDir()) + "?metadata=skip",
	}
}

func open(t *testing.T, url string) *blobstore.Storage {
	t.Helper()
	s, err := blobstore.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func exists(t *testing.T, s *blobstore.Storage, key string) bool {
	t.Helper()
	ok, err := s.Bucket().Exists(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func TestCommitMakesVisible(t *testing.T) {
	ctx := context.Background()
	for name, url := range buckets(t) {
		t.Run(name, func(t *testing.T) {
			s := open(t, url)
			obj, err := s.Create(ctx, "video_360p_avc/seg-1.m4s")
			if err != nil {
				t.Fatal(err)
			}
			// Large enough to pass gocloud's buffering and reach the driver.
			want := []byte(strings.Repeat("cmaf", 300_000))
			if _, err := obj.Write(want[:10]); err != nil {
				t.Fatal(err)
			}
			if _, err := obj.Write(want[10:]); err != nil {
				t.Fatal(err)
			}
			if exists(t, s, "video_360p_avc/seg-1.m4s") {
				t.Fatal("object visible before Commit")
			}
			if err := obj.Commit(); err != nil {
				t.Fatal(err)
			}
			got, err := s.Bucket().ReadAll(ctx, "video_360p_avc/seg-1.m4s")
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Fatalf("read back %d bytes, want the %d written", len(got), len(want))
			}
			attrs, err := s.Bucket().Attributes(ctx, "video_360p_avc/seg-1.m4s")
			if err != nil {
				t.Fatal(err)
			}
			if name != "file_skip" && attrs.ContentType != "video/mp4" {
				t.Errorf("content type %q, want video/mp4", attrs.ContentType)
			}
			if err := obj.Abort(); err != nil {
				t.Errorf("Abort after Commit: %v", err)
			}
			if !exists(t, s, "video_360p_avc/seg-1.m4s") {
				t.Error("Abort after Commit removed the object")
			}
			if err := obj.Commit(); err == nil {
				t.Error("second Commit succeeded")
			}
		})
	}
}

func TestAbortLeavesNothing(t *testing.T) {
	ctx := context.Background()
	for name, url := range buckets(t) {
		t.Run(name, func(t *testing.T) {
			s := open(t, url)
			for _, size := range []int{0, 100, 1 << 20} {
				obj, err := s.Create(ctx, "a/b/manifest.mpd")
				if err != nil {
					t.Fatal(err)
				}
				if _, err := obj.Write(make([]byte, size)); err != nil {
					t.Fatal(err)
				}
				if err := obj.Abort(); err != nil {
					t.Fatalf("size %d: Abort: %v", size, err)
				}
				if err := obj.Abort(); err != nil {
					t.Fatalf("size %d: second Abort: %v", size, err)
				}
				if _, err := obj.Write([]byte("x")); err == nil {
					t.Errorf("size %d: Write after Abort succeeded", size)
				}
			}
			if keys := list(t, s); len(keys) != 0 {
				t.Fatalf("bucket holds %q after aborted writes", keys)
			}
			if dir, ok := strings.CutPrefix(url, "file://"); ok {
				dir, _, _ = strings.Cut(dir, "?")
				filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
					if err == nil && !d.IsDir() {
						t.Errorf("file %s left behind by aborted writes", p)
					}
					return err
				})
			}
		})
	}
}

func TestCreateChecksNames(t *testing.T) {
	s := open(t, "mem://")
	for _, name := range []string{"", "../x", "/abs", "a//b", "a/./b", `a\b`} {
		if _, err := s.Create(context.Background(), name); !errors.Is(err, storage.ErrBadName) {
			t.Errorf("Create(%q) = %v, want ErrBadName", name, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Create(ctx, "ok.mp4"); !errors.Is(err, context.Canceled) {
		t.Errorf("Create with cancelled context = %v, want context.Canceled", err)
	}
}

func TestPrefix(t *testing.T) {
	ctx := context.Background()
	all := open(t, "mem://")
	s := blobstore.New(all.Bucket(), "vod/title/")
	obj, err := s.Create(ctx, "master.m3u8")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := obj.Write([]byte("#EXTM3U\n")); err != nil {
		t.Fatal(err)
	}
	if err := obj.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil { // must not close the borrowed bucket
		t.Fatal(err)
	}
	attrs, err := all.Bucket().Attributes(ctx, "vod/title/master.m3u8")
	if err != nil {
		t.Fatal(err)
	}
	if attrs.ContentType != "application/vnd.apple.mpegurl" {
		t.Errorf("content type %q", attrs.ContentType)
	}
}

func TestContentType(t *testing.T) {
	for name, want := range map[string]string{
		"master.m3u8":                  "application/vnd.apple.mpegurl",
		"manifest.mpd":                 "application/dash+xml",
		"video_720p_avc/seg-3.m4s":     "video/mp4",
		"audio_und_aac_2ch/init.mp4":   "video/mp4",
		"audio_und_aac_2ch/seg-12.m4s": "video/mp4",
		"notes.bin":                    "application/octet-stream",
	} {
		if got := blobstore.ContentType(name); got != want {
			t.Errorf("ContentType(%q) = %q, want %q", name, got, want)
		}
	}
}

func list(t *testing.T, s *blobstore.Storage) []string {
	t.Helper()
	var keys []string
	it := s.Bucket().List(nil)
	for {
		obj, err := it.Next(context.Background())
		if err != nil {
			if errors.Is(err, io.EOF) {
				return keys
			}
			t.Fatal(err)
		}
		keys = append(keys, obj.Key)
	}
}

// version returns the content of version v of an object: its own byte and
// a length of its own, over 1 MiB so that it reaches the driver in parts.
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

// TestOverwriteAtomic rewrites one key many times while readers read it
// without pause: every read returns one whole version, never a part, a mix
// or nothing, and while a new version is half written the key holds the
// old one.
//
// With fileblob's .attrs sidecars (file:// without metadata=skip), the
// readers read the object's file as a web server serving the directory
// would: fileblob rewrites a sidecar in place (os.Create, outside the rename
// that publishes the object), so a read through the bucket that overlaps an
// overwrite can fail decoding it (see the package documentation).
func TestOverwriteAtomic(t *testing.T) {
	ctx := context.Background()
	for name, url := range buckets(t) {
		t.Run(name, func(t *testing.T) {
			s := open(t, url)
			const key = "video/playlist.m3u8"
			read := func() ([]byte, error) { return s.Bucket().ReadAll(ctx, key) }
			if name == "file" {
				dir := strings.TrimPrefix(url, "file://")
				read = func() ([]byte, error) {
					return os.ReadFile(filepath.Join(filepath.FromSlash(dir), "video", "playlist.m3u8"))
				}
			}
			put := func(v int, between func()) {
				obj, err := s.Create(ctx, key)
				if err != nil {
					t.Fatal(err)
				}
				data := version(v)
				half := len(data) / 2
				if _, err := obj.Write(data[:half]); err != nil {
					t.Fatal(err)
				}
				if between != nil {
					between()
				}
				if _, err := obj.Write(data[half:]); err != nil {
					t.Fatal(err)
				}
				if err := obj.Commit(); err != nil {
					t.Fatal(err)
				}
			}
			put(0, nil)
			put(1, func() {
				got, err := read()
				if err != nil || !bytes.Equal(got, version(0)) {
					t.Fatalf("while version 1 is written, the key holds %d bytes (%v), want version 0", len(got), err)
				}
			})
			stop := make(chan struct{})
			errc := make(chan error, 2)
			for range 2 {
				go func() {
					for {
						select {
						case <-stop:
							errc <- nil
							return
						default:
						}
						got, err := read()
						if err == nil {
							err = checkVersion(got)
						}
						if err != nil {
							errc <- err
							return
						}
					}
				}()
			}
			for v := 2; v < 20; v++ {
				put(v, nil)
			}
			close(stop)
			for range 2 {
				if err := <-errc; err != nil {
					t.Fatal(err)
				}
			}
			if got, err := s.Bucket().ReadAll(ctx, key); err != nil || !bytes.Equal(got, version(19)) {
				t.Errorf("after the overwrites the key holds %d bytes (%v), want the last version", len(got), err)
			}
			if keys := list(t, s); len(keys) != 1 {
				t.Errorf("bucket holds %q, want the one key", keys)
			}
			if got, err := s.Bucket().ReadAll(ctx, key); err != nil || !bytes.Equal(got, version(19)) {
				t.Errorf("read through the bucket: %d bytes (%v), want the last version", len(got), err)
			}
		})
	}
}

func TestDelete(t *testing.T) {
	ctx := context.Background()
	for name, url := range buckets(t) {
		t.Run(name, func(t *testing.T) {
			all := open(t, url)
			s := blobstore.New(all.Bucket(), "title/")
			for _, key := range []string{"a/seg-1.m4s", "a/seg-2.m4s"} {
				obj, err := s.Create(ctx, key)
				if err != nil {
					t.Fatal(err)
				}
				obj.Write([]byte("segment"))
				if err := obj.Commit(); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Delete(ctx, "a/seg-1.m4s"); err != nil {
				t.Fatal(err)
			}
			if exists(t, all, "title/a/seg-1.m4s") || !exists(t, all, "title/a/seg-2.m4s") {
				t.Errorf("after Delete the bucket holds %q", list(t, all))
			}
			err := s.Delete(ctx, "a/seg-1.m4s")
			if !errors.Is(err, fs.ErrNotExist) || gcerrors.Code(err) != gcerrors.NotFound || !strings.Contains(err.Error(), "title/a/seg-1.m4s") {
				t.Errorf("deleting a missing object: %v, want fs.ErrNotExist and gcerrors.NotFound naming the key", err)
			}
			for _, bad := range []string{"", "../x", "a//b"} {
				if err := s.Delete(ctx, bad); !errors.Is(err, storage.ErrBadName) {
					t.Errorf("Delete(%q) = %v, want ErrBadName", bad, err)
				}
			}
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			if err := s.Delete(cctx, "a/seg-2.m4s"); !errors.Is(err, context.Canceled) {
				t.Errorf("Delete with a cancelled context = %v", err)
			}
		})
	}
}

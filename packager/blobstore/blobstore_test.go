package blobstore_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"io/fs"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/packager"
	"github.com/cmafkit/cmafkit/packager/blobstore"
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
		if _, err := s.Create(context.Background(), name); !errors.Is(err, packager.ErrBadName) {
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

// TestRun packages a real rendition into each bucket and checks that both
// manifests exist and every URI the HLS playlists reference is in the bucket.
func TestRun(t *testing.T) {
	ctx := context.Background()
	for name, url := range buckets(t) {
		t.Run(name, func(t *testing.T) {
			s := open(t, url)
			res, err := packager.Run(ctx, packager.Job{
				Inputs:          []packager.Input{{Path: "../../testdata/ladder_360p.mp4"}},
				SegmentDuration: 2 * time.Second,
				Storage:         s,
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range res.Objects {
				attrs, err := s.Bucket().Attributes(ctx, o.Name)
				if err != nil {
					t.Fatalf("object %s of the result: %v", o.Name, err)
				}
				if attrs.Size != o.Size {
					t.Errorf("%s: %d bytes in bucket, result says %d", o.Name, attrs.Size, o.Size)
				}
			}
			for _, m := range []string{"manifest.mpd", "master.m3u8"} {
				if !exists(t, s, m) {
					t.Fatalf("%s missing", m)
				}
			}
			playlists := uris(t, s, "master.m3u8")
			if len(playlists) < 2 {
				t.Fatalf("master.m3u8 names %d playlists, want video and audio", len(playlists))
			}
			segments := 0
			for _, pl := range playlists {
				if path.Ext(pl) != ".m3u8" {
					t.Fatalf("master.m3u8 names %q, not a playlist", pl)
				}
				for _, u := range uris(t, s, pl) {
					segments++
					if !exists(t, s, u) {
						t.Errorf("%s references %s, which is not in the bucket", pl, u)
					}
				}
			}
			// 8 s in 2 s segments plus an init segment, for video and audio.
			if segments < 2*5 {
				t.Errorf("HLS playlists reference only %d segments", segments)
			}
		})
	}
}

// uris reads playlist key and returns the keys of every URI it names (URI
// lines and URI="..." attributes), resolved against the playlist's key.
func uris(t *testing.T, s *blobstore.Storage, key string) []string {
	t.Helper()
	data, err := s.Bucket().ReadAll(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var out []string
	add := func(u string) {
		u = path.Join(path.Dir(key), u)
		if !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
		case !strings.HasPrefix(line, "#"):
			add(line)
		default:
			if _, rest, ok := strings.Cut(line, `URI="`); ok {
				u, _, _ := strings.Cut(rest, `"`)
				add(u)
			}
		}
	}
	return out
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

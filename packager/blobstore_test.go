package packager_test

import (
	"bufio"
	"context"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/packager"
	"github.com/cmafkit/cmafkit/storage/blobstore"
)

// bucketURLs returns the gocloud buckets the tests write to: memory and a
// fresh local directory (with and without fileblob's .attrs sidecars).
func bucketURLs(t *testing.T) map[string]string {
	return map[string]string{
		"mem":       "mem://",
		"file":      "file://" + filepath.ToSlash(t.TempDir()),
		"file_skip": "file://" + filepath.ToSlash(t.TempDir()) + "?metadata=skip",
	}
}

func openBucket(t *testing.T, url string) *blobstore.Storage {
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

func bucketHas(t *testing.T, s *blobstore.Storage, key string) bool {
	t.Helper()
	ok, err := s.Bucket().Exists(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// TestRunToBucket packages a real rendition into each bucket and checks that both
// manifests exist and every URI the HLS playlists reference is in the bucket.
func TestRunToBucket(t *testing.T) {
	ctx := context.Background()
	for name, url := range bucketURLs(t) {
		t.Run(name, func(t *testing.T) {
			s := openBucket(t, url)
			res, err := packager.Run(ctx, packager.Job{
				Inputs:          []packager.Input{{Path: "../testdata/ladder_360p.mp4"}},
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
				if !bucketHas(t, s, m) {
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
					if !bucketHas(t, s, u) {
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

package blobstore_test

import (
	"context"
	"errors"
	"io/fs"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/cmafkit/cmafkit/storage"
	"github.com/cmafkit/cmafkit/storage/blobstore"
)

// FuzzOpenURL opens arbitrary bucket URLs (file:// ones excepted: their
// query parameters create directories and read files on the host) and
// stores two objects in what opens: an error comes with no Storage and
// names the URL; an opened Storage keeps the two names apart (each reads
// back its own bytes, under its own name, with the media type of its
// name), deletes one without touching the other, refuses names
// storage.CheckName refuses (and may refuse names that are not UTF-8), and
// closes cleanly.
func FuzzOpenURL(f *testing.F) {
	for _, s := range []string{
		"mem://", "mem://?prefix=vod/title/", "mem://bucket/path?prefix=a", "mem://?key=master.m3u8",
		"s3://bucket?region=eu-west-1", "MEM://", "mem:", "://", "", "mem://?prefix=%zz",
	} {
		f.Add(s, "master.m3u8", "video_360p_avc/seg-1.m4s")
	}
	f.Add("mem://", "a/../b", "b")
	f.Fuzz(func(t *testing.T, urlstr, name1, name2 string) {
		if u, err := url.Parse(urlstr); err == nil && strings.EqualFold(u.Scheme, "file") {
			return
		}
		ctx := context.Background()
		s, err := blobstore.Open(ctx, urlstr)
		if err != nil {
			if s != nil || !strings.HasPrefix(err.Error(), "blobstore: open ") || errors.Unwrap(err) == nil {
				t.Fatalf("%q: %v, %v", urlstr, s, err)
			}
			return
		}
		defer func() {
			if err := s.Close(); err != nil {
				t.Errorf("%q: close: %v", urlstr, err)
			}
		}()
		stored := map[string]string{}
		for i, name := range []string{name1, name2} {
			obj, err := s.Create(ctx, name)
			if nameErr := storage.CheckName(name); nameErr != nil {
				if !errors.Is(err, storage.ErrBadName) {
					t.Fatalf("%q: Create(%q) = %v, want ErrBadName", urlstr, name, err)
				}
				continue
			}
			if err != nil && !utf8.ValidString(name) {
				continue // gocloud.dev refuses keys that are not UTF-8
			}
			if err != nil {
				t.Fatalf("%q: Create(%q): %v", urlstr, name, err)
			}
			data := string(rune('1'+i)) + ":" + name
			if _, err := obj.Write([]byte(data)); err != nil {
				t.Fatalf("%q: write %q: %v", urlstr, name, err)
			}
			if err := obj.Commit(); err != nil {
				t.Fatalf("%q: commit %q: %v", urlstr, name, err)
			}
			stored[name] = data
		}
		for name, data := range stored {
			got, err := s.Bucket().ReadAll(ctx, name)
			if err != nil || string(got) != data {
				t.Fatalf("%q: %q reads back %q, %v; want %q", urlstr, name, got, err, data)
			}
			attrs, err := s.Bucket().Attributes(ctx, name)
			if err != nil || attrs.ContentType != blobstore.ContentType(name) {
				t.Fatalf("%q: %q attributes %+v, %v", urlstr, name, attrs, err)
			}
		}
		// Deleting one name removes that object only, and only once.
		if _, ok := stored[name1]; ok {
			if err := s.Delete(ctx, name1); err != nil {
				t.Fatalf("%q: delete %q: %v", urlstr, name1, err)
			}
			if err := s.Delete(ctx, name1); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("%q: second delete of %q: %v, want fs.ErrNotExist", urlstr, name1, err)
			}
			if data, ok := stored[name2]; ok && name2 != name1 {
				if got, err := s.Bucket().ReadAll(ctx, name2); err != nil || string(got) != data {
					t.Fatalf("%q: after deleting %q, %q reads back %q, %v", urlstr, name1, name2, got, err)
				}
			}
		}
	})
}

// TestOpenRefusesSingleKey: gocloud.dev's "key" parameter turns a bucket
// into a single object, which every segment and manifest would overwrite.
func TestOpenRefusesSingleKey(t *testing.T) {
	s, err := blobstore.Open(context.Background(), "mem://?key=master.m3u8")
	if !errors.Is(err, blobstore.ErrSingleKey) || s != nil {
		t.Fatalf("Open with key=: %v, %v; want ErrSingleKey", s, err)
	}
}

// Package blobstore adapts a gocloud.dev/blob bucket to storage.Storage, so a
// packaging job can write straight to S3, Google Cloud Storage, Azure Blob
// Storage, a local directory or memory.
//
// The mem:// and file:// drivers are linked in by this package. To keep the
// dependency graph small, cloud drivers are not: import the one you need for
// its side effect, for example
//
//	import _ "gocloud.dev/blob/s3blob"    // s3://
//	import _ "gocloud.dev/blob/gcsblob"   // gs://
//	import _ "gocloud.dev/blob/azureblob" // azblob://
//
// Every object is streamed through a blob.Writer and becomes visible only
// when it is committed; an aborted object is discarded by cancelling the
// writer's context, so a failed or cancelled job never publishes a partial
// segment or manifest. Committing over an existing key replaces the object
// atomically, as blob stores do (an upload is published whole when it
// completes; fileblob renames a finished temporary file over the key, though
// it rewrites its metadata sidecar in place: see Open).
package blobstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/fileblob" // file:// URLs
	_ "gocloud.dev/blob/memblob"  // mem:// URLs
	"gocloud.dev/gcerrors"

	"github.com/cmafkit/cmafkit/storage"
)

// Storage is a storage.Storage writing objects into a blob bucket. It is
// safe for concurrent use.
type Storage struct {
	bucket *blob.Bucket
	prefix string
	owned  bool // opened by Open, so closed by Close
}

var _ storage.Storage = (*Storage)(nil)

// New returns a Storage writing into bucket, with prefix prepended verbatim
// to every object name (use a trailing slash, such as "vod/title/", to write
// into a "directory"). The caller keeps ownership of bucket: Close does not
// close it.
func New(bucket *blob.Bucket, prefix string) *Storage {
	return &Storage{bucket: bucket, prefix: prefix}
}

// ErrSingleKey is returned by Open for a URL with gocloud.dev's "key"
// query parameter, which would store every object under that one key.
var ErrSingleKey = errors.New("blobstore: a single-key bucket (the key parameter) cannot hold an output of several objects")

// Open opens the bucket at urlstr with blob.OpenBucket, for example
// "mem://", "file:///srv/vod?metadata=skip" or "s3://bucket?region=eu-west-1"
// (after importing the s3blob driver). The generic "prefix" query parameter
// of gocloud.dev URLs selects a key prefix; the "key" parameter is refused
// with ErrSingleKey. Close the Storage when done.
//
// With file:// URLs, fileblob writes a ".attrs" sidecar file next to every
// object unless the URL has "metadata=skip". It rewrites a sidecar in place
// when it overwrites an object, so a read through a bucket that overlaps
// the overwrite can fail (the object's own file is replaced atomically): for
// output that is rewritten while it is read, such as live playlists, use
// "metadata=skip" or storage.Dir.
func Open(ctx context.Context, urlstr string) (*Storage, error) {
	if u, err := url.Parse(urlstr); err == nil && u.Query().Get("key") != "" {
		return nil, fmt.Errorf("blobstore: open %s: %w", urlstr, ErrSingleKey)
	}
	b, err := blob.OpenBucket(ctx, urlstr)
	if err != nil {
		return nil, fmt.Errorf("blobstore: open %s: %w", urlstr, err)
	}
	return &Storage{bucket: b, owned: true}, nil
}

// Bucket returns the underlying bucket, for reading back what a job wrote.
func (s *Storage) Bucket() *blob.Bucket { return s.bucket }

// Close releases the bucket if the Storage opened it with Open; for a
// Storage made by New it does nothing.
func (s *Storage) Close() error {
	if !s.owned {
		return nil
	}
	s.owned = false
	return s.bucket.Close()
}

// Create implements storage.Storage. The object is stored under the key
// prefix+name with a Content-Type chosen from the name's extension.
func (s *Storage) Create(ctx context.Context, name string) (storage.Object, error) {
	if err := storage.CheckName(name); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// A context of our own lets Abort discard the upload: gocloud drivers
	// drop a write whose context is cancelled before Close.
	wctx, cancel := context.WithCancel(ctx)
	key := s.prefix + name
	w, err := s.bucket.NewWriter(wctx, key, &blob.WriterOptions{ContentType: ContentType(name)})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("blobstore: create %s: %w", key, err)
	}
	return &object{w: w, cancel: cancel, key: key}, nil
}

// Delete implements storage.Storage: it deletes the key prefix+name. For a
// key that does not exist the error wraps fs.ErrNotExist as well as the
// bucket's error (gcerrors.NotFound).
func (s *Storage) Delete(ctx context.Context, name string) error {
	if err := storage.CheckName(name); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	key := s.prefix + name
	if err := s.bucket.Delete(ctx, key); err != nil {
		if gcerrors.Code(err) == gcerrors.NotFound {
			return fmt.Errorf("blobstore: delete %s: %w (%w)", key, fs.ErrNotExist, err)
		}
		return fmt.Errorf("blobstore: delete %s: %w", key, err)
	}
	return nil
}

// ContentType returns the MIME type used for an object name: the streaming
// types for playlists, manifests and CMAF segments (audio included, since
// CMAF audio segments are MP4 too) and application/octet-stream otherwise.
// A fixed table keeps the result independent of the host's MIME database.
func ContentType(name string) string {
	switch path.Ext(name) {
	case ".m3u8":
		return "application/vnd.apple.mpegurl"
	case ".mpd":
		return "application/dash+xml"
	case ".m4s", ".mp4", ".cmfv", ".cmfa":
		return "video/mp4"
	case ".m4a":
		return "audio/mp4"
	case ".vtt":
		return "text/vtt"
	case ".ts":
		return "video/mp2t"
	}
	return "application/octet-stream"
}

// errFinished is returned by Write and Commit after Commit or Abort.
var errFinished = errors.New("blobstore: object already finished")

type object struct {
	w      *blob.Writer
	cancel context.CancelFunc
	key    string
	done   bool
}

func (o *object) Write(p []byte) (int, error) {
	if o.done {
		return 0, errFinished
	}
	return o.w.Write(p)
}

// Commit closes the writer, which is when the object becomes visible.
func (o *object) Commit() error {
	if o.done {
		return errFinished
	}
	o.done = true
	defer o.cancel()
	if err := o.w.Close(); err != nil {
		return fmt.Errorf("blobstore: commit %s: %w", o.key, err)
	}
	return nil
}

// Abort cancels the writer's context before closing it, so the driver
// discards the upload. The error Close reports for the cancellation is the
// expected outcome and is not returned.
func (o *object) Abort() error {
	if o.done {
		return nil
	}
	o.done = true
	o.cancel()
	if err := o.w.Close(); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("blobstore: abort %s: %w", o.key, err)
	}
	return nil
}

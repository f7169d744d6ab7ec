// Package storage is where packaged objects go: segments, init segments and
// manifests, named by slash-separated relative paths such as
// "video_720p/seg-1.m4s".
//
// A [Storage] creates objects that become visible under their name only
// when committed, replaces an existing object of the same name atomically,
// and deletes objects. [Dir] stores into a local directory; package
// storage/blobstore stores into gocloud.dev/blob buckets (S3, Google Cloud
// Storage, Azure, memory). A job writes to any Storage:
//
//	obj, err := storage.Dir("out").Create(ctx, "video/seg-1.m4s")
//	if err != nil {
//		return err
//	}
//	if _, err := obj.Write(data); err != nil {
//		obj.Abort()
//		return err
//	}
//	return obj.Commit()
package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Storage receives the objects a job writes. Implementations must be safe
// for concurrent use.
type Storage interface {
	// Create starts writing the named object. The object becomes visible
	// under its name only when Commit succeeds; Abort discards it. If an
	// object of that name exists, Commit replaces it atomically: a reader
	// sees the old content or the new, whole, never a mix or a part, and
	// the name never goes missing in between.
	Create(ctx context.Context, name string) (Object, error)

	// Delete removes the named object. Deleting an object that does not
	// exist returns an error for which errors.Is(err, fs.ErrNotExist)
	// holds.
	Delete(ctx context.Context, name string) error
}

// Object is one object being written to a Storage.
type Object interface {
	io.Writer
	// Commit finishes the object and makes it visible under its name.
	Commit() error
	// Abort discards the object. It is safe to call after Commit (it then
	// does nothing).
	Abort() error
}

// Sweeper is implemented by storages whose writers leave temporary objects
// behind when their process is killed (Dir's temporary files). Sweep removes
// those in the named directories (slash-separated, "." for the root; not
// their subdirectories) that no live writer is using. packager.Run sweeps
// the directories it writes into before it writes anything.
type Sweeper interface {
	Sweep(ctx context.Context, dirs ...string) error
}

// ErrBadName is returned for object names that are absolute, empty or
// escape the storage root with "..".
var ErrBadName = errors.New("storage: bad object name")

// CheckName reports whether name is a valid object name: a non-empty
// relative slash-separated path without empty, "." or ".." elements and
// without backslashes. The error wraps ErrBadName.
func CheckName(name string) error {
	if name == "" || strings.HasPrefix(name, "/") || strings.Contains(name, "\\") {
		return fmt.Errorf("%w: %q", ErrBadName, name)
	}
	for _, part := range strings.Split(name, "/") {
		if part == "" || part == "." || part == ".." {
			return fmt.Errorf("%w: %q", ErrBadName, name)
		}
	}
	return nil
}

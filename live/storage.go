package live

import (
	"context"
	"os"
	"path/filepath"

	"github.com/cmafkit/cmafkit/packager"
)

// Storage is where a Channel writes segments, init segments and manifests,
// and deletes segments that left the window. Create must replace an
// existing object atomically on Commit (manifests are rewritten in place).
type Storage interface {
	Create(ctx context.Context, name string) (packager.Object, error)
	// Delete removes the named object.
	Delete(ctx context.Context, name string) error
}

// Dir is a Storage in a local directory: packager.Dir (a temporary file
// renamed into place, so a rewrite is atomic) with Delete.
type Dir string

// Create implements Storage.
func (d Dir) Create(ctx context.Context, name string) (packager.Object, error) {
	return packager.Dir(d).Create(ctx, name)
}

// Delete implements Storage.
func (d Dir) Delete(ctx context.Context, name string) error {
	if err := packager.CheckName(name); err != nil {
		return err
	}
	return os.Remove(filepath.Join(string(d), filepath.FromSlash(name)))
}

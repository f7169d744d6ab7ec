package origin

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"

	"github.com/cmafkit/cmafkit/drm"
	"github.com/cmafkit/cmafkit/drm/cpix"
)

// Keys supplies the content keys of a title for encryption on request.
// Implementations must be safe for concurrent use and give the same keys
// for the same title every time (any number of origins may serve it).
type Keys interface {
	// TitleKeys returns the key provider of the title (its path in the
	// source, e.g. "movies/a.mp4").
	TitleKeys(ctx context.Context, title string) (drm.KeyProvider, error)
}

// StaticKeys encrypts every title with the same keys (drm.StaticKeys
// semantics: by track class, falling back to Default).
type StaticKeys drm.StaticKeys

// TitleKeys implements Keys.
func (k *StaticKeys) TitleKeys(ctx context.Context, title string) (drm.KeyProvider, error) {
	return (*drm.StaticKeys)(k), nil
}

// KeyFunc is a Keys calling a function per key request, for a key server.
type KeyFunc func(ctx context.Context, title string, req drm.KeyRequest) (drm.ContentKey, error)

// TitleKeys implements Keys.
func (f KeyFunc) TitleKeys(ctx context.Context, title string) (drm.KeyProvider, error) {
	return titleFunc{f, title}, nil
}

type titleFunc struct {
	f     KeyFunc
	title string
}

func (t titleFunc) ContentKey(ctx context.Context, req drm.KeyRequest) (drm.ContentKey, error) {
	return t.f(ctx, t.title, req)
}

// CPIXKeys reads each title's keys from a CPIX document beside it in the
// source: the title's path with Suffix appended (".cpix.xml" when empty),
// e.g. "movies/a.mp4.cpix.xml". The handler never serves that file: only
// the objects of titles are served.
type CPIXKeys struct {
	Source Source
	Suffix string
}

// maxCPIX bounds the size of a CPIX document read from the source.
const maxCPIX = 4 << 20

// TitleKeys implements Keys.
func (c *CPIXKeys) TitleKeys(ctx context.Context, title string) (drm.KeyProvider, error) {
	suffix := c.Suffix
	if suffix == "" {
		suffix = ".cpix.xml"
	}
	f, err := c.Source.Open(ctx, title+suffix)
	if err != nil {
		return nil, fmt.Errorf("origin: keys of %s: %w", title, err)
	}
	defer f.Close()
	if f.Size() > maxCPIX {
		return nil, fmt.Errorf("origin: keys of %s: CPIX document of %d bytes is over %d: %w", title, f.Size(), maxCPIX, fs.ErrInvalid)
	}
	doc, err := cpix.Read(io.NewSectionReader(f, 0, f.Size()))
	if err != nil {
		return nil, fmt.Errorf("origin: keys of %s: %w", title, err)
	}
	return doc, nil
}

// stableIVs gives every key without an explicit IV one derived from the
// key, the title and the track (HMAC-SHA-256 keyed by the content key), so
// that every origin, and every reopening of a title, writes the same bytes
// (a random IV per open would break cbcs, whose constant IV is in the init
// segment, across instances) while no two tracks share a cenc IV.
type stableIVs struct {
	kp     drm.KeyProvider
	title  string
	scheme drm.Scheme
}

func (s stableIVs) ContentKey(ctx context.Context, req drm.KeyRequest) (drm.ContentKey, error) {
	k, err := s.kp.ContentKey(ctx, req)
	if err != nil || len(k.IV) > 0 || k.Key.IsZero() {
		return k, err
	}
	m := hmac.New(sha256.New, k.Key.Secret())
	fmt.Fprintf(m, "cmafkit origin IV\x00%s\x00%s\x00%s\x00%d", s.scheme, s.title, req.Track, req.Period)
	n := 8
	if s.scheme == drm.SchemeCBCS {
		n = 16
	}
	k.IV = drm.IV(m.Sum(nil)[:n])
	return k, nil
}

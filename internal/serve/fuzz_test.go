package serve

import (
	"io/fs"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzContainsDotDot checks the request-path check of the handler on
// arbitrary paths. containsDotDot must report exactly the paths with a ".."
// element, with '/' or '\' as separator (an independent formulation is the
// oracle), and a path it lets through must not name anything outside the
// served root: joined to a root with either separator it stays inside, and
// the name handed to the file system is refused by fs.ValidPath or stays
// below the root when cleaned.
func FuzzContainsDotDot(f *testing.F) {
	for _, p := range []string{
		"/video/seg-1.m4s", "/../etc/passwd", "/a/../b", "/..", "/a/..", "/a\\..\\b", "/..\\x",
		"/...", "/a..b/..c", "/a/.../b", "//..//", "", "..", "/%2e%2e/x", "/.\\./x",
	} {
		f.Add(p)
	}
	const root = "/srv/out"
	f.Fuzz(func(t *testing.T, p string) {
		got := containsDotDot(p)
		norm := "/" + strings.ReplaceAll(p, "\\", "/") + "/"
		if want := strings.Contains(norm, "/../"); got != want {
			t.Fatalf("containsDotDot(%q) = %v, want %v", p, got, want)
		}
		if got {
			return
		}
		name := strings.TrimPrefix(p, "/")
		for _, joined := range []string{
			filepath.Join(root, filepath.FromSlash(name)),
			path.Join(root, strings.ReplaceAll(name, "\\", "/")),
		} {
			if joined != root && !strings.HasPrefix(joined, root+"/") {
				t.Fatalf("%q reaches %q, outside %s", p, joined, root)
			}
		}
		if c := path.Clean(name); fs.ValidPath(name) && (c == ".." || strings.HasPrefix(c, "../")) {
			t.Fatalf("%q: fs.ValidPath accepts %q, which leaves the root", p, name)
		}
	})
}

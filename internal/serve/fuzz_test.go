package serve

import (
	"io/fs"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzPathChecks checks the request-path gate of the handler on arbitrary
// paths. Each check must report exactly what its doc says, against an
// independent formulation: containsDotDot a ".." element with '/' or '\'
// as separator, hasDotElement an element starting with a dot, hasControl a
// control byte. A path the gate lets through must not name anything outside
// the served root (joined to a root with either separator it stays inside,
// and the name handed to the file system never cleans to something above
// the root while fs.ValidPath accepts it), nor a dot-file, nor a NUL.
func FuzzPathChecks(f *testing.F) {
	for _, p := range []string{
		"/video/seg-1.m4s", "/../etc/passwd", "/a/../b", "/..", "/a/..", "/a\\..\\b", "/..\\x",
		"/...", "/a..b/..c", "/a/.../b", "//..//", "", "..", "/%2e%2e/x", "/.\\./x",
		"/.env", "/.git/config", "/a/.b/c", "/a\\.b", "/seg\x00.m4s", "/a\x7fb", "/a\nb",
	} {
		f.Add(p)
	}
	const root = "/srv/out"
	const controls = "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f" +
		"\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x7f"
	f.Fuzz(func(t *testing.T, p string) {
		dotDot := containsDotDot(p)
		if want := strings.Contains("/"+strings.ReplaceAll(p, "\\", "/")+"/", "/../"); dotDot != want {
			t.Fatalf("containsDotDot(%q) = %v, want %v", p, dotDot, want)
		}
		dot := hasDotElement(p)
		want := false
		for _, e := range strings.Split(p, "/") {
			want = want || strings.HasPrefix(e, ".")
		}
		if dot != want {
			t.Fatalf("hasDotElement(%q) = %v, want %v", p, dot, want)
		}
		control := hasControl(p)
		if want := strings.ContainsAny(p, controls); control != want {
			t.Fatalf("hasControl(%q) = %v, want %v", p, control, want)
		}
		if !strings.HasPrefix(p, "/") || control || dotDot || dot {
			return // refused: 400 or 404
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
		if strings.HasPrefix(path.Base(path.Clean("/"+name)), ".") || strings.Contains(name, "\x00") {
			t.Fatalf("%q passes the gate and names %q", p, name)
		}
	})
}

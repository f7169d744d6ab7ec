package origin

import (
	"path"
	"strings"
	"testing"
)

// FuzzParsePath feeds request paths to the path parser: it never panics,
// and what it accepts is a clean relative title path ending in a title
// name and a clean object name, neither with "..", a dot element, a
// backslash or a control character.
func FuzzParsePath(f *testing.F) {
	for _, s := range []string{
		"/movies/a.mp4/master.m3u8", "/cbcs/movies/a.json/video_720p_avc/seg-1.m4s",
		"/movies/../a.mp4/x", "/%2e%2e/a.mp4/x", "/a%2fb.mp4/x", "//a.mp4/x", "/a.mp4/", "/.a.mp4/x",
		"/a.mp4/x%00y", "/a\\b.mp4/x", "/%zz", "/cenc/a.mp4", "/a.MP4/b/c/d.m4s",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		tg, err := parsePath(p, true)
		if err != nil {
			return
		}
		for _, name := range []string{tg.title, tg.object} {
			if name == "" || path.Clean("/"+name) != "/"+name || hasDotElement(name) || strings.ContainsAny(name, "\\\x00") {
				t.Fatalf("parsePath(%q) accepted %q", p, name)
			}
			for i := 0; i < len(name); i++ {
				if name[i] < 0x20 || name[i] == 0x7f {
					t.Fatalf("parsePath(%q) accepted control characters in %q", p, name)
				}
			}
		}
		if !isTitleName(path.Base(tg.title)) {
			t.Fatalf("parsePath(%q): title %q", p, tg.title)
		}
		if tg.scheme != "" && tg.scheme != "cenc" && tg.scheme != "cbcs" {
			t.Fatalf("parsePath(%q): scheme %q", p, tg.scheme)
		}
	})
}

package hls_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cmafkit/cmafkit/internal/testutil"
	"github.com/cmafkit/cmafkit/manifest/hls"
	"github.com/cmafkit/cmafkit/manifest/internal/manifesttest"
)

// TestLowLatencyGolden renders the low-latency fixture's media playlists,
// whole and as delta updates, and compares them with
// testdata/lowlatency/.
func TestLowLatencyGolden(t *testing.T) {
	p := manifesttest.LowLatencyModel()
	dir := filepath.Join("testdata", "lowlatency")
	if testutil.Update() {
		os.MkdirAll(dir, 0o755)
	}
	for _, id := range []string{"video", "audio"} {
		for _, skip := range []bool{false, true} {
			var b bytes.Buffer
			render, name := hls.RenderMedia, id+".m3u8"
			if skip {
				render, name = hls.RenderMediaSkip, id+"-skip.m3u8"
			}
			if err := render(&b, p, id); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, name)
			if testutil.Update() {
				os.WriteFile(path, b.Bytes(), 0o644)
				continue
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if !bytes.Equal(b.Bytes(), want) {
				t.Errorf("%s differs from %s:\n%s", name, path, b.Bytes())
			}
		}
	}
}

// TestLowLatencyTags checks the rules of RFC 8216bis the fixture's
// playlists must follow: PART-HOLD-BACK at least three part targets,
// parts only before the segments that have them and after the last one,
// the preload hint last before the rendition reports, and a delta update
// that skips the segments older than CAN-SKIP-UNTIL with version 9.
func TestLowLatencyTags(t *testing.T) {
	p := manifesttest.LowLatencyModel()
	var full, delta bytes.Buffer
	if err := hls.RenderMedia(&full, p, "video"); err != nil {
		t.Fatal(err)
	}
	if err := hls.RenderMediaSkip(&delta, p, "video"); err != nil {
		t.Fatal(err)
	}
	f := full.String()
	for _, want := range []string{
		"#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=12.000,HOLD-BACK=6.000,PART-HOLD-BACK=1.500\n",
		"#EXT-X-PART-INF:PART-TARGET=0.500\n",
		"#EXT-X-PART:DURATION=0.500,URI=\"video/part-10.1.m4s\"\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"video/part-10.2.m4s\"\n",
		"#EXT-X-RENDITION-REPORT:URI=\"audio.m3u8\",LAST-MSN=10,LAST-PART=1\n",
		"#EXT-X-PART:DURATION=0.500,URI=\"video/part-8.0.m4s\",INDEPENDENT=YES\n",
	} {
		if !strings.Contains(f, want) {
			t.Errorf("playlist lacks %q:\n%s", want, f)
		}
	}
	if strings.Contains(f, "part-7.") {
		t.Error("parts of an old segment listed")
	}
	if strings.Contains(f, "EXT-X-SKIP") || !strings.Contains(f, "#EXT-X-VERSION:6\n") {
		t.Error("full playlist: EXT-X-SKIP or a version other than 6")
	}
	d := delta.String()
	// Segments 2 and 3 end at 4 and 6 s, 12 s or more before the end (18 s).
	if !strings.Contains(d, "#EXT-X-VERSION:9\n") || !strings.Contains(d, "#EXT-X-SKIP:SKIPPED-SEGMENTS=2\n") ||
		strings.Contains(d, "video/seg-3.m4s") || !strings.Contains(d, "video/seg-4.m4s") || !strings.Contains(d, "#EXT-X-MEDIA-SEQUENCE:2\n") {
		t.Errorf("delta update:\n%s", d)
	}
}

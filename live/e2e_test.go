package live_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cmafkit/cmafkit/internal/testutil"
	"github.com/cmafkit/cmafkit/live"
	"github.com/cmafkit/cmafkit/manifest"
	"github.com/cmafkit/cmafkit/segment"
	"github.com/cmafkit/cmafkit/storage"
)

// TestReplayDecodes replays testdata/ladder_720p.mp4 at four times real
// speed through a Channel into a directory, and checks with ffprobe that
// every frame comes out decodable: each representation's init segment
// followed by its media segments, and the HLS playlist once it is written.
func TestReplayDecodes(t *testing.T) {
	ffprobe := testutil.NeedTool(t, "ffprobe")
	ctx := context.Background()
	src, err := segment.OpenFile(ctx, "../testdata/ladder_720p.mp4", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dir := t.TempDir()
	ch := &live.Channel{Storage: storage.Dir(dir), Window: -1}
	pub, err := ch.Publish(ctx, "test")
	if err != nil {
		t.Fatal(err)
	}
	speed := 4.0
	if testing.Short() {
		speed = 0
	}
	if err := live.Replay(ctx, src.Tracks, pub, live.ReplayOptions{Speed: speed}); err != nil {
		t.Fatal(err)
	}
	pub.Close(nil)
	err = ch.Close(ctx)
	p := ch.Presentation()
	if p == nil {
		t.Fatal("nothing packaged")
	}
	want := map[segment.Kind]int{}
	for _, tr := range src.Tracks {
		want[tr.Kind] = tr.SampleCount()
	}
	for _, set := range p.Periods[0].Sets {
		for _, r := range set.Representations {
			cat := filepath.Join(dir, r.ID+".mp4")
			var b []byte
			for _, uri := range append([]string{r.Init.URI}, segURIs(r.Segments)...) {
				d, err := os.ReadFile(filepath.Join(dir, uri))
				if err != nil {
					t.Fatal(err)
				}
				b = append(b, d...)
			}
			if err := os.WriteFile(cat, b, 0o644); err != nil {
				t.Fatal(err)
			}
			kind := segment.KindVideo
			if r.Width == 0 {
				kind = segment.KindAudio
			}
			if n := countFrames(t, ffprobe, cat); n != want[kind] {
				t.Errorf("%s: ffprobe decodes %d frames, the source has %d", r.ID, n, want[kind])
			}
		}
	}
	if err != nil {
		// The renderers do not write live manifests yet.
		t.Logf("manifests: %v", err)
		return
	}
	if n := countFrames(t, ffprobe, filepath.Join(dir, live.HLSName)); n < want[segment.KindVideo] {
		t.Errorf("HLS: ffprobe decodes %d frames, want %d", n, want[segment.KindVideo])
	}
}

func segURIs(ss []manifest.SegmentRef) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.URI)
	}
	return out
}

// countFrames returns the frames ffprobe decodes in the first stream of
// name, failing on any decoding error.
func countFrames(t *testing.T, ffprobe, name string) int {
	t.Helper()
	cmd := exec.Command(ffprobe, "-v", "error", "-count_frames", "-select_streams", "0",
		"-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", name)
	out, err := cmd.CombinedOutput()
	// A playlist lists its stream under [PROGRAM] too: the last line is
	// the stream's own.
	lines := strings.Fields(string(out))
	if err != nil || len(lines) == 0 {
		t.Fatalf("ffprobe %s: %v\n%s", name, err, out)
	}
	n, err := strconv.Atoi(strings.TrimSuffix(lines[len(lines)-1], ","))
	if err != nil {
		t.Fatalf("ffprobe %s: %q", name, out)
	}
	return n
}

package packager_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cmafkit/cmafkit/internal/testutil"
	"github.com/cmafkit/cmafkit/manifest/hls"
	"github.com/cmafkit/cmafkit/packager"
	"github.com/cmafkit/cmafkit/storage"
)

// TestTextOnlyInput: text alone has no valid multivariant playlist (no
// variant stream). A job asking for HLS is refused before anything is
// written, with hls.ErrNoVariant naming the inputs; DASH alone is written
// and valid. Before, an HLS playlist without EXT-X-STREAM-INF was written
// with no warning.
func TestTextOnlyInput(t *testing.T) {
	inputs := []packager.Input{{Path: "../testdata/wvtt.mp4"}, {Path: "../testdata/subtitles_en.vtt", Language: "de"}}
	for _, f := range []packager.Format{0, packager.HLS, packager.HLS | packager.DASH} {
		out := t.TempDir()
		_, err := packager.Run(context.Background(), packager.Job{Inputs: inputs, Formats: f, Storage: storage.Dir(out)})
		if !errors.Is(err, hls.ErrNoVariant) || !strings.Contains(err.Error(), "wvtt.mp4, ../testdata/subtitles_en.vtt") {
			t.Errorf("formats %d: %v, want hls.ErrNoVariant naming the inputs", f, err)
		}
		if ents, _ := os.ReadDir(out); len(ents) != 0 {
			t.Errorf("formats %d: wrote %d objects", f, len(ents))
		}
	}
	dir := runJob(t, packager.Job{Inputs: inputs, Formats: packager.DASH})
	checkContains(t, "manifest.mpd", readOut(t, dir, "manifest.mpd"), `contentType="text"`, `lang="de"`, `lang="eng"`)
	testutil.ValidateMPD(t, filepath.Join(dir, "manifest.mpd"))

	// Text with audio is a presentation HLS can describe.
	dir = runJob(t, packager.Job{Inputs: append(inputs, packager.Input{Path: "../testdata/opus.mp4"})})
	checkContains(t, "master.m3u8", readOut(t, dir, "master.m3u8"), "#EXT-X-STREAM-INF:", `SUBTITLES="subs"`)
}

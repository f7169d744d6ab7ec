package packager_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/internal/testutil"

	"github.com/cmafkit/cmafkit/packager"
	"github.com/cmafkit/cmafkit/storage"
)

// TestLadderManifestsGolden keeps the manifests of the packaged test-data
// ladder (segmented and single-file) as golden files. Regenerate with
// go test ./packager -run Golden -update and review the diff.
func TestLadderManifestsGolden(t *testing.T) {
	for _, single := range []bool{false, true} {
		dir := t.TempDir()
		res, err := packager.Run(context.Background(), packager.Job{
			Inputs:          ladderInputs(),
			SegmentDuration: 2 * time.Second,
			SingleFile:      single,
			Storage:         storage.Dir(dir),
		})
		if err != nil {
			t.Fatal(err)
		}
		testutil.ValidateMPDs(t, dir)
		sub := "segmented"
		if single {
			sub = "singlefile"
		}
		for _, o := range res.Objects {
			if ext := filepath.Ext(o.Name); ext != ".m3u8" && ext != ".mpd" {
				continue
			}
			got, err := os.ReadFile(filepath.Join(dir, o.Name))
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", sub, o.Name)
			if testutil.Update() {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if string(want) != string(got) {
				t.Errorf("%s differs from %s; regenerate with -update and review the diff", o.Name, golden)
			}
		}
	}
}

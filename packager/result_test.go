package packager_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/manifest"
	"github.com/cmafkit/cmafkit/manifest/dash"
	"github.com/cmafkit/cmafkit/manifest/hls"
	"github.com/cmafkit/cmafkit/packager"
	"github.com/cmafkit/cmafkit/storage"
)

// TestResultRendered: Result.HLS and Result.DASH are exactly what the
// manifests were rendered from: rendering them again gives the stored
// manifests byte for byte, for jobs where each format's view differs from
// the common model (text in both carriages, MPEG-TS segments for HLS,
// trick-mode sets for DASH, one format alone).
func TestResultRendered(t *testing.T) {
	for _, tc := range []struct {
		name string
		job  packager.Job
	}{
		{"text", packager.Job{Inputs: textInputs()}},
		{"hls-ts", packager.Job{Inputs: ladderInputs()[:1], HLSSegmentType: packager.HLSSegmentTS}},
		{"trick-mode", packager.Job{Inputs: ladderInputs()[:1], DASHTrickMode: true}},
		{"hls-only", packager.Job{Inputs: ladderInputs()[:1], Formats: packager.HLS}},
		{"dash-only", packager.Job{Inputs: ladderInputs()[:1], Formats: packager.DASH}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			job := tc.job
			job.Storage, job.SegmentDuration = storage.Dir(dir), 2*time.Second
			res, err := packager.Run(context.Background(), job)
			if err != nil {
				t.Fatal(err)
			}
			formats := job.Formats
			if formats == 0 {
				formats = packager.HLS | packager.DASH
			}
			if (res.DASH != nil) != (formats&packager.DASH != 0) || (res.HLS != nil) != (formats&packager.HLS != 0) {
				t.Fatalf("Result.DASH %v, Result.HLS %v for formats %v", res.DASH != nil, res.HLS != nil, formats)
			}
			if res.DASH != nil {
				var b bytes.Buffer
				if err := dash.Render(&b, res.DASH); err != nil {
					t.Fatal(err)
				}
				sameAsStored(t, dir, "manifest.mpd", b.Bytes())
			}
			if res.HLS != nil {
				n := 0
				err := hls.RenderAll(res.HLS, "master.m3u8", func(uri string) (io.WriteCloser, error) {
					n++
					return &storedCheck{t: t, dir: dir, name: uri}, nil
				})
				if err != nil {
					t.Fatal(err)
				}
				if n < 2 {
					t.Errorf("Result.HLS renders %d playlists", n)
				}
			}
			// Every representation of the views is one of the common model
			// or, for HLS, the MPEG-TS or WebVTT rendition of one of its tracks.
			ids := map[string]bool{}
			for _, set := range res.Presentation.Periods[0].Sets {
				for _, r := range set.Representations {
					ids[r.ID] = true
				}
			}
			for _, v := range []*manifest.Presentation{res.HLS, res.DASH} {
				if v == nil {
					continue
				}
				for _, set := range v.Periods[0].Sets {
					for _, r := range set.Representations {
						if !ids[r.ID] {
							t.Errorf("representation %q is not in Result.Presentation", r.ID)
						}
					}
				}
			}
		})
	}
}

func sameAsStored(t *testing.T, dir, name string, got []byte) {
	t.Helper()
	want, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s rendered from the Result differs from the stored one:\n%s\nstored:\n%s", name, got, want)
	}
}

// storedCheck compares what is written to it with a stored object on Close.
type storedCheck struct {
	t         *testing.T
	dir, name string
	buf       bytes.Buffer
}

func (s *storedCheck) Write(p []byte) (int, error) { return s.buf.Write(p) }

func (s *storedCheck) Close() error {
	sameAsStored(s.t, s.dir, s.name, s.buf.Bytes())
	return nil
}

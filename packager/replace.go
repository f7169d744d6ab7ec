package packager

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"

	"github.com/cmafkit/cmafkit/manifest"
	"github.com/cmafkit/cmafkit/manifest/hls"
	"github.com/cmafkit/cmafkit/manifest/smooth"
	"github.com/cmafkit/cmafkit/storage"
)

// replaceOutput readies the storage for a run over an earlier output, before
// the first object is written: it sweeps the temporary files of killed runs
// from the directories this job writes into (storage.Sweeper) and deletes
// every manifest this job writes, in either format. The new segments replace old ones of the same names, so an old
// manifest left in place would point at a mix of the two runs if this run
// stopped early, and, for a format this run does not write, for good. With
// the manifests gone first and written last (after every segment is
// committed), an interrupted run leaves no manifest at all or complete new
// ones, never one pointing at a mix. This works on any Storage, blob
// buckets included, where a directory cannot be switched atomically.
func (r *runner) replaceOutput(ctx context.Context) error {
	if s, ok := r.job.Storage.(storage.Sweeper); ok {
		if err := s.Sweep(ctx, r.outputDirs()...); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			r.log.Warn("cannot remove temporary files left by an earlier run", "err", err)
		}
	}
	for _, name := range r.manifestNames() {
		err := r.job.Storage.Delete(ctx, name)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("packager: remove the earlier output's manifest %s: %w", name, err)
		}
	}
	return nil
}

// manifestNames lists the names of every manifest a run of this job can
// write, the multivariant playlist and the MPD first (so a player never
// finds them naming a playlist already deleted).
func (r *runner) manifestNames() []string {
	names := []string{r.naming.HLS, r.naming.DASH}
	for _, rep := range r.reps {
		m := &manifest.Representation{ID: rep.id}
		names = append(names, hls.PlaylistURI(m), hls.IFramePlaylistURI(m))
		if rep.track.Codec == "wvtt" {
			names = append(names, hls.PlaylistURI(&manifest.Representation{ID: webvttID(rep)}))
		}
	}
	if r.job.Formats&Smooth != 0 {
		names = append(names, r.naming.Smooth)
	}
	return names
}

// outputDirs lists the directories this job writes objects into: the
// directory of every manifest and of each representation's init, media (as
// named for the first segment), single-file and WebVTT objects.
func (r *runner) outputDirs() []string {
	seen := map[string]bool{}
	var dirs []string
	add := func(name string, err error) {
		if d := path.Dir(name); err == nil && !seen[d] {
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
	for _, name := range r.manifestNames() {
		add(name, nil)
	}
	for _, rep := range r.reps {
		for _, t := range []string{r.naming.Init, r.naming.Media, r.naming.SingleFile} {
			add(manifest.ExpandTemplate(t, rep.id, 0, 1, 0))
		}
		if rep.track.Codec == "wvtt" {
			add(manifest.ExpandTemplate(r.naming.WebVTT, webvttID(rep), 0, 1, 0))
		}
		if sm := rep.smooth; sm != nil {
			add(path.Join(r.smoothDir(), smooth.FragmentName(sm.stream, sm.bitrate, 0)), nil)
		}
	}
	return dirs
}

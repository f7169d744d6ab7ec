package packager

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/cmafkit/cmafkit/manifest"
	"github.com/cmafkit/cmafkit/manifest/hls"
	"github.com/cmafkit/cmafkit/storage"
)

// replaceOutput readies the storage for a run over an earlier output, before
// the first object is written: it sweeps the temporary files of killed runs
// (storage.Sweeper) and deletes every manifest this job writes, in either
// format. The new segments replace old ones of the same names, so an old
// manifest left in place would point at a mix of the two runs if this run
// stopped early, and, for a format this run does not write, for good. With
// the manifests gone first and written last (after every segment is
// committed), an interrupted run leaves no manifest at all or complete new
// ones, never one pointing at a mix. This works on any Storage, blob
// buckets included, where a directory cannot be switched atomically.
func (r *runner) replaceOutput(ctx context.Context) error {
	if s, ok := r.job.Storage.(storage.Sweeper); ok {
		if err := s.Sweep(ctx); err != nil {
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
	return names
}

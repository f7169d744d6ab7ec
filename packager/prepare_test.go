package packager_test

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"sync"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/drm"
	"github.com/cmafkit/cmafkit/packager"
	"github.com/cmafkit/cmafkit/storage"
)

// TestPreparedMatchesRun writes every object of a job one at a time, in
// reverse order and concurrently, through Prepare, and compares each byte
// for byte with what Run stored for the same job, clear and encrypted with
// cenc and cbcs; nothing else is written, and unknown names are not found.
func TestPreparedMatchesRun(t *testing.T) {
	key := drm.ContentKey{KID: drm.MustParseKID("00112233445566778899aabbccddeeff"), Key: mustKey(t, "000102030405060708090a0b0c0d0e0f")}
	// Each class its own key and IV: cenc IVs are fixed, never random.
	videoKey := drm.ContentKey{KID: drm.MustParseKID("10112233445566778899aabbccddeeff"), Key: mustKey(t, "100102030405060708090a0b0c0d0e0f"), IV: drm.IV{1, 2, 3, 4, 5, 6, 7, 8}}
	sdKey := drm.ContentKey{KID: drm.MustParseKID("20112233445566778899aabbccddeeff"), Key: mustKey(t, "200102030405060708090a0b0c0d0e0f"), IV: drm.IV{2, 2, 3, 4, 5, 6, 7, 8}}
	audioKey := drm.ContentKey{KID: key.KID, Key: key.Key, IV: drm.IV{8, 7, 6, 5, 4, 3, 2, 1}}
	perClass := &drm.StaticKeys{Default: []drm.ContentKey{audioKey}, ByClass: map[drm.TrackClass][]drm.ContentKey{
		drm.ClassSD: {sdKey}, drm.ClassHD: {videoKey}}}
	inputs := []packager.Input{{Path: "../testdata/ladder_720p.mp4"}, {Path: "../testdata/ladder_360p.mp4"},
		{Path: "../testdata/subtitles_en.vtt", Language: "en"}}
	for _, tc := range []struct {
		name string
		enc  *drm.Config
	}{
		{"clear", nil},
		{"cenc", &drm.Config{Scheme: drm.SchemeCENC, Keys: perClass}},
		{"cbcs", &drm.Config{Scheme: drm.SchemeCBCS, Keys: &drm.StaticKeys{Default: []drm.ContentKey{key}}, IV: make(drm.IV, 16)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			job := packager.Job{Inputs: inputs, SegmentDuration: 2 * time.Second, Encryption: tc.enc}
			dir := t.TempDir()
			job.Storage = storage.Dir(dir)
			res, err := packager.Run(t.Context(), job)
			if err != nil {
				t.Fatal(err)
			}
			want := storageFiles(t, dir)
			job.Storage = nil
			p, err := packager.Prepare(t.Context(), job)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			var wg sync.WaitGroup
			for i := len(res.Objects) - 1; i >= 0; i-- {
				name := res.Objects[i].Name
				wg.Go(func() {
					if !p.Has(name) {
						t.Errorf("%s: not an object of the prepared job", name)
						return
					}
					var b bytes.Buffer
					if err := p.WriteObject(t.Context(), name, &b); err != nil {
						t.Errorf("%s: %v", name, err)
						return
					}
					if !bytes.Equal(b.Bytes(), want[name]) {
						t.Errorf("%s: %d bytes differ from Run's %d", name, b.Len(), len(want[name]))
					}
				})
			}
			wg.Wait()
			// Rendered (the manifests were written): every size is known.
			for name, b := range want {
				if n, ok := p.Size(name); !ok || n != int64(len(b)) {
					t.Errorf("Size(%q) = %d, %v, want %d", name, n, ok, len(b))
				}
			}
			for _, name := range []string{"nope.m4s", "video_720p_avc/seg-999.m4s", "video_720p_avc/iframes.m3u8x"} {
				if err := p.WriteObject(t.Context(), name, io.Discard); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("WriteObject(%q) = %v, want fs.ErrNotExist", name, err)
				}
			}
			if got := len(want); got != len(res.Objects) {
				t.Errorf("%d files, %d objects", got, len(res.Objects))
			}
		})
	}
}

// TestPrepareRefuses: options whose objects cannot be written one at a
// time are refused, by name.
func TestPrepareRefuses(t *testing.T) {
	key := drm.ContentKey{KID: drm.MustParseKID("00112233445566778899aabbccddeeff"), Key: mustKey(t, "000102030405060708090a0b0c0d0e0f")}
	for name, job := range map[string]packager.Job{
		"single file": {Inputs: ladderInputs(), SingleFile: true},
		"ts":          {Inputs: ladderInputs(), HLSSegmentType: packager.HLSSegmentTS},
		"av1 cbcs":    {Inputs: []packager.Input{{Path: "../testdata/av1.mp4"}}, Encryption: &drm.Config{Scheme: drm.SchemeCBCS, Keys: &drm.StaticKeys{Default: []drm.ContentKey{key}}, IV: make(drm.IV, 16)}},
	} {
		if _, err := packager.Prepare(t.Context(), job); !errors.Is(err, packager.ErrNotPrepared) {
			t.Errorf("%s: Prepare = %v, want ErrNotPrepared", name, err)
		}
	}
}

func mustKey(t *testing.T, s string) drm.Key {
	t.Helper()
	k, err := drm.ParseKey(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestPreparedNamingByTime: with $Time$ in the media template the names
// come from each segment's media time, as Run gives them.
func TestPreparedNamingByTime(t *testing.T) {
	job := packager.Job{Inputs: ladderInputs(), SegmentDuration: 2 * time.Second,
		Naming: packager.Naming{Media: "$RepresentationID$/t-$Time$.m4s"}}
	dir := t.TempDir()
	job.Storage = storage.Dir(dir)
	res, err := packager.Run(t.Context(), job)
	if err != nil {
		t.Fatal(err)
	}
	want := storageFiles(t, dir)
	job.Storage = nil
	p, err := packager.Prepare(t.Context(), job)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for _, o := range res.Objects {
		var b bytes.Buffer
		if err := p.WriteObject(t.Context(), o.Name, &b); err != nil || !bytes.Equal(b.Bytes(), want[o.Name]) {
			t.Errorf("%s: %v, %d bytes, want %d", o.Name, err, b.Len(), len(want[o.Name]))
		}
	}
}

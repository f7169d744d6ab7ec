package packager_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/drm"
	"github.com/cmafkit/cmafkit/internal/fastcopy"
	"github.com/cmafkit/cmafkit/packager"
	"github.com/cmafkit/cmafkit/storage"
)

// storageFiles returns every regular file under dir, keyed by slash path.
func storageFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		out[filepath.ToSlash(rel)] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func storageLadder() []packager.Input {
	return []packager.Input{{Path: "../testdata/ladder_720p.mp4"}, {Path: "../testdata/ladder_360p.mp4"}}
}

// TestCancelLeavesNoManifest cancels a job from its Progress callback after
// the first segment: Run must return context.Canceled promptly, without
// writing any manifest or leaving temporary files behind.
func TestCancelLeavesNoManifest(t *testing.T) {
	for _, c := range []struct {
		par int
		enc *drm.Config
	}{{1, nil}, {8, nil}, {1, testEncryption(t)}, {8, testEncryption(t)}} {
		par := c.par
		dir := t.TempDir()
		ctx, cancel := context.WithCancel(context.Background())
		total := 0
		start := time.Now()
		_, err := packager.Run(ctx, packager.Job{
			Inputs:          storageLadder(),
			SegmentDuration: 2 * time.Second,
			Storage:         storage.Dir(dir),
			Parallelism:     par,
			Encryption:      c.enc,
			Progress: func(p packager.Progress) {
				total = p.Total
				if p.Done == 1 {
					cancel()
				}
			},
		})
		elapsed := time.Since(start)
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("parallelism %d: Run = %v, want context.Canceled", par, err)
		}
		if elapsed > 5*time.Second {
			t.Errorf("parallelism %d: Run took %v after cancellation", par, elapsed)
		}
		segs := 0
		for name := range storageFiles(t, dir) {
			switch {
			case strings.HasSuffix(name, ".m3u8"), strings.HasSuffix(name, ".mpd"):
				t.Errorf("parallelism %d: manifest %s written by a cancelled job", par, name)
			case strings.HasPrefix(path.Base(name), storage.TempPrefix):
				t.Errorf("parallelism %d: temporary file %s left behind", par, name)
			case strings.HasSuffix(name, ".m4s"):
				segs++
			}
		}
		// One track at a time: the segment that triggered the cancel is the
		// only one; in parallel, others may finish but not the whole job.
		if par == 1 && segs != 1 {
			t.Errorf("parallelism 1: %d media segments written, want 1", segs)
		}
		if segs >= total {
			t.Errorf("parallelism %d: %d of %d segments written; cancellation did not stop the job", par, segs, total)
		}
	}
}

// testEncryption encrypts with cbcs, a fixed key and a fixed constant IV,
// so that output is deterministic.
func testEncryption(t *testing.T) *drm.Config {
	t.Helper()
	key, err := drm.ParseKey("0123456789abcdef0123456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	return &drm.Config{Scheme: drm.SchemeCBCS, IV: mustIV(t, "00112233445566778899aabbccddeeff"),
		Keys: &drm.StaticKeys{Default: []drm.ContentKey{{KID: drm.MustParseKID("00112233445566778899aabbccddeeff"), Key: key}}}}
}

// testEncryptionCENC encrypts with cenc and a fixed IV, so that output is
// deterministic; each track has its own key (perTrackKeys), without which
// a fixed cenc IV is refused. With a crypto period, keys rotate.
func testEncryptionCENC(t *testing.T, ivHex string, cryptoPeriod int) *drm.Config {
	t.Helper()
	return &drm.Config{Scheme: drm.SchemeCENC, IV: mustIV(t, ivHex), Keys: perTrackKeys{}, CryptoPeriod: cryptoPeriod}
}

func mustIV(t *testing.T, ivHex string) drm.IV {
	t.Helper()
	iv, err := drm.ParseIV(ivHex)
	if err != nil {
		t.Fatal(err)
	}
	return iv
}

// perTrackKeys derives a KID and key from the name of the track asking and
// the crypto period: the two audio tracks of the ladder make otherwise the
// same drm.KeyRequest.
type perTrackKeys struct{}

func (perTrackKeys) ContentKey(ctx context.Context, req drm.KeyRequest) (drm.ContentKey, error) {
	if req.Track == "" {
		return drm.ContentKey{}, fmt.Errorf("perTrackKeys: no track name in the request: %w", drm.ErrNoKey)
	}
	h := sha256.Sum256(fmt.Appendf(nil, "%s/%d", req.Track, req.Period))
	key, err := drm.KeyFromBytes(h[16:])
	if err != nil {
		return drm.ContentKey{}, err
	}
	return drm.ContentKey{KID: drm.KID(h[:16]), Key: key}, nil
}

// TestDeterministicOutput packages the ladder one track and one segment at a
// time, and eight tracks and two segments of each at a time, clear and
// encrypted (cenc IVs follow from sample positions, not from the order in
// which segments are encrypted, and key rotation's periods are known before
// the first segment): every object must be byte-identical.
func TestDeterministicOutput(t *testing.T) {
	for _, enc := range []*drm.Config{nil, testEncryption(t),
		testEncryptionCENC(t, "0011223344556677", 0),
		testEncryptionCENC(t, "00112233445566778899aabbccddeeff", 0),
		testEncryptionCENC(t, "0011223344556677", 1),
	} {
		checkDeterministic(t, enc)
	}
}

func checkDeterministic(t *testing.T, enc *drm.Config) {
	trees := make([]map[string][]byte, 2)
	for i, par := range []int{1, 8} {
		dir := t.TempDir()
		if _, err := packager.Run(context.Background(), packager.Job{
			Inputs:          storageLadder(),
			SegmentDuration: 2 * time.Second,
			Storage:         storage.Dir(dir),
			Parallelism:     par,
			Encryption:      enc,
		}); err != nil {
			t.Fatal(err)
		}
		trees[i] = storageFiles(t, dir)
	}
	a, b := trees[0], trees[1]
	if len(a) < 10 {
		t.Fatalf("only %d files written", len(a))
	}
	for name, data := range a {
		other, ok := b[name]
		switch {
		case !ok:
			t.Errorf("%s written with parallelism 1 only", name)
		case !bytes.Equal(data, other):
			t.Errorf("%s differs between parallelism 1 and 8 (%d vs %d bytes)", name, len(data), len(other))
		}
	}
	for name := range b {
		if _, ok := a[name]; !ok {
			t.Errorf("%s written with parallelism 8 only", name)
		}
	}
}

// readFromStorage is a Dir whose objects record how sample data reached them.
type readFromStorage struct {
	storage.Dir
	sections atomic.Int64
}

type readFromObject struct {
	storage.Object
	s *readFromStorage
}

func (s *readFromStorage) Create(ctx context.Context, name string) (storage.Object, error) {
	o, err := s.Dir.Create(ctx, name)
	if err != nil {
		return nil, err
	}
	return &readFromObject{o, s}, nil
}

func (o *readFromObject) ReadFrom(r io.Reader) (int64, error) {
	if _, ok := r.(*io.SectionReader); ok {
		o.s.sections.Add(1)
	}
	return o.Object.(io.ReaderFrom).ReadFrom(r)
}

// TestClearRunsUseReadFrom: clear sample runs reach a storage object
// through its io.ReaderFrom as sections of the input (how Dir copies them in
// the kernel), not through Write, when they are long enough for a kernel copy
// a run to pay: from 64 KiB on any file system, from 8 KiB on tmpfs.
// Segments of shorter runs (an interleaved low-rate source: about 1 KiB a
// frame) are read into memory and written at once instead.
func TestClearRunsUseReadFrom(t *testing.T) {
	ctx := context.Background()
	// A single-file copy of the 720p rung has one run per segment and
	// track, over 100 KiB of video each.
	single := t.TempDir()
	if _, err := packager.Run(ctx, packager.Job{Inputs: []packager.Input{{Path: "../testdata/ladder_720p.mp4"}},
		Storage: storage.Dir(single), SingleFile: true, Formats: packager.DASH}); err != nil {
		t.Fatal(err)
	}
	videos, _ := filepath.Glob(filepath.Join(single, "video*.mp4"))
	if len(videos) != 1 {
		t.Fatalf("single-file video output: %v", videos)
	}
	// fragmented.mp4 has 30 KiB video and 10 KiB audio runs: kernel copies
	// only where they are cheap per call.
	f, err := os.Open("../testdata/fragmented.mp4")
	if err != nil {
		t.Fatal(err)
	}
	cheap := fastcopy.CheapPerCall(f)
	f.Close()
	for _, tc := range []struct {
		path  string
		large bool
		runs  int64 // at least, when large
	}{
		{videos[0], true, 2},                     // 2 segments
		{"../testdata/fragmented.mp4", cheap, 4}, // 2 segments × (video + audio)
		{"../testdata/ladder_360p.mp4", false, 0},
	} {
		st := &readFromStorage{Dir: storage.Dir(t.TempDir())}
		_, err := packager.Run(ctx, packager.Job{Inputs: []packager.Input{{Path: tc.path}}, Storage: st, Formats: packager.DASH})
		if err != nil {
			t.Fatal(err)
		}
		n := st.sections.Load()
		if tc.large && n < tc.runs {
			t.Errorf("%s: %d sample runs went through ReadFrom", filepath.Base(tc.path), n)
		}
		if !tc.large && n != 0 {
			t.Errorf("%s: %d small sample runs went through ReadFrom, want none", filepath.Base(tc.path), n)
		}
		t.Logf("%s: %d runs through ReadFrom", filepath.Base(tc.path), n)
	}
}

// failingStorage fails creating its nth object.
type failingStorage struct {
	storage.Dir
	n     atomic.Int64
	after int64
}

var errStorageFull = errors.New("storage full")

func (s *failingStorage) Create(ctx context.Context, name string) (storage.Object, error) {
	if s.n.Add(1) > s.after {
		return nil, errStorageFull
	}
	return s.Dir.Create(ctx, name)
}

// TestStorageErrorStopsJob: a storage error in the middle of a track, clear
// or encrypted, ends the job with that error and no manifest.
func TestStorageErrorStopsJob(t *testing.T) {
	for _, enc := range []*drm.Config{nil, testEncryption(t)} {
		dir := t.TempDir()
		st := &failingStorage{Dir: storage.Dir(dir), after: 3}
		_, err := packager.Run(context.Background(), packager.Job{Inputs: storageLadder(), SegmentDuration: 2 * time.Second,
			Storage: st, Parallelism: 1, Encryption: enc})
		if !errors.Is(err, errStorageFull) {
			t.Fatalf("encrypted=%v: Run = %v, want the storage error", enc != nil, err)
		}
		for name := range storageFiles(t, dir) {
			if strings.HasSuffix(name, ".m3u8") || strings.HasSuffix(name, ".mpd") {
				t.Errorf("manifest %s written by a failed job", name)
			}
		}
	}
}

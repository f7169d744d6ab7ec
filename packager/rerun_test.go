package packager_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/drm"
	"github.com/cmafkit/cmafkit/packager"
	"github.com/cmafkit/cmafkit/storage"
	"github.com/cmafkit/cmafkit/storage/blobstore"
)

// The tests below package the ladder twice into one place: a clear first
// run ("old") and an encrypted second run ("new"), which writes objects of
// the same names with other bytes. The second run is cut short after each
// possible number of objects; what is left must be consistent: every
// manifest there is one run's manifest, and every object it references is
// there with that run's bytes.

// rerunJob is the job of both runs; the new run encrypts.
func rerunJob(st storage.Storage, enc *drm.Config) packager.Job {
	return packager.Job{Inputs: storageLadder(), SegmentDuration: 2 * time.Second, Storage: st, Encryption: enc, Parallelism: 1}
}

// rerunOutputs returns the complete outputs of the old and the new run.
func rerunOutputs(t *testing.T) (prev, next map[string][]byte) {
	t.Helper()
	outs := make([]map[string][]byte, 2)
	for i, protect := range []*drm.Config{nil, testEncryption(t)} {
		dir := t.TempDir()
		if _, err := packager.Run(context.Background(), rerunJob(storage.Dir(dir), protect)); err != nil {
			t.Fatal(err)
		}
		outs[i] = storageFiles(t, dir)
	}
	prev, next = outs[0], outs[1]
	differ := 0
	for name, data := range next {
		if o, ok := prev[name]; ok && !bytes.Equal(o, data) {
			differ++
		}
	}
	if differ < 10 {
		t.Fatalf("only %d objects of the two runs share a name and differ: the test would not see a mix", differ)
	}
	return prev, next
}

func isManifest(name string) bool {
	return strings.HasSuffix(name, ".m3u8") || strings.HasSuffix(name, ".mpd")
}

// checkConsistent checks files (what a cut-short second run left) against
// the complete outputs of the two runs, and returns how many manifests
// files holds.
func checkConsistent(t *testing.T, what string, files, prev, next map[string][]byte) int {
	t.Helper()
	runs := []struct {
		name  string
		files map[string][]byte
	}{{"old", prev}, {"new", next}}
	var manifests []string
	for name := range files {
		if isManifest(name) {
			manifests = append(manifests, name)
		}
		if strings.HasPrefix(path.Base(name), storage.TempPrefix) {
			t.Errorf("%s: temporary file %s left behind", what, name)
		}
	}
	sort.Strings(manifests)
	for _, m := range manifests {
		run := -1
		for i, r := range runs {
			if bytes.Equal(files[m], r.files[m]) {
				run = i
			}
		}
		if run < 0 {
			t.Errorf("%s: manifest %s is neither run's", what, m)
			continue
		}
		refs, err := references(m, files[m])
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if len(refs) == 0 {
			t.Fatalf("%s: %s references nothing", what, m)
		}
		for _, ref := range refs {
			data, ok := files[ref]
			switch {
			case !ok:
				t.Errorf("%s: the %s run's %s references %s, which is missing", what, runs[run].name, m, ref)
			case !bytes.Equal(data, runs[run].files[ref]):
				t.Errorf("%s: the %s run's %s references %s, which holds the other run's bytes", what, runs[run].name, m, ref)
			}
		}
	}
	return len(manifests)
}

// references returns the names of the objects a manifest references,
// resolved against its name.
func references(name string, data []byte) ([]string, error) {
	var refs []string
	add := func(u string) {
		if strings.Contains(u, ":") {
			return // data: key URIs, license servers: not objects
		}
		refs = append(refs, path.Join(path.Dir(name), u))
	}
	if strings.HasSuffix(name, ".m3u8") {
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			switch {
			case line == "":
			case !strings.HasPrefix(line, "#"):
				add(line)
			default:
				if _, rest, ok := strings.Cut(line, `URI="`); ok {
					u, _, _ := strings.Cut(rest, `"`)
					add(u)
				}
			}
		}
		return refs, sc.Err()
	}
	uris, err := mpdURIs(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	for _, u := range uris {
		add(u)
	}
	return refs, nil
}

// mpdURIs expands the SegmentTemplates of an MPD (with SegmentTimeline, as
// the packager writes them) into the URIs of every init and media segment.
func mpdURIs(data []byte) ([]string, error) {
	type s struct {
		T *uint64 `xml:"t,attr"`
		D uint64  `xml:"d,attr"`
		R int     `xml:"r,attr"`
	}
	type template struct {
		Init        string `xml:"initialization,attr"`
		Media       string `xml:"media,attr"`
		StartNumber uint64 `xml:"startNumber,attr"`
		Timeline    []s    `xml:"SegmentTimeline>S"`
	}
	type rep struct {
		ID       string    `xml:"id,attr"`
		Template *template `xml:"SegmentTemplate"`
	}
	var mpd struct {
		Periods []struct {
			Sets []struct {
				Template *template `xml:"SegmentTemplate"`
				Reps     []rep     `xml:"Representation"`
			} `xml:"AdaptationSet"`
		} `xml:"Period"`
	}
	if err := xml.Unmarshal(data, &mpd); err != nil {
		return nil, err
	}
	var out []string
	for _, p := range mpd.Periods {
		for _, set := range p.Sets {
			for _, r := range set.Reps {
				tmpl := r.Template
				if tmpl == nil {
					tmpl = set.Template
				}
				if tmpl == nil {
					return nil, fmt.Errorf("representation %s has no SegmentTemplate", r.ID)
				}
				expand := func(s string, number, time uint64) string {
					return strings.NewReplacer("$RepresentationID$", r.ID, "$Number$", strconv.FormatUint(number, 10),
						"$Time$", strconv.FormatUint(time, 10)).Replace(s)
				}
				out = append(out, expand(tmpl.Init, 0, 0))
				number, t := tmpl.StartNumber, uint64(0)
				for _, e := range tmpl.Timeline {
					if e.T != nil {
						t = *e.T
					}
					for range e.R + 1 {
						out = append(out, expand(tmpl.Media, number, t))
						number++
						t += e.D
					}
				}
			}
		}
	}
	return out, nil
}

// writeFiles puts files into dir.
func writeFiles(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestInterruptedRerunDir re-packages into a directory holding an earlier
// output, failing the storage after each possible number of objects and,
// separately, cancelling after each segment: the directory must hold a
// consistent output each time, and the complete run the new output.
func TestInterruptedRerunDir(t *testing.T) {
	prev, next := rerunOutputs(t)
	protect := testEncryption(t)
	partial := 0 // runs cut short that left some new manifests
	for after := int64(0); after <= int64(len(next)); after++ {
		dir := t.TempDir()
		writeFiles(t, dir, prev)
		st := &failingStorage{Dir: storage.Dir(dir), after: after}
		_, err := packager.Run(context.Background(), rerunJob(st, protect))
		what := fmt.Sprintf("storage failing after %d objects", after)
		if after < int64(len(next)) && !errors.Is(err, errStorageFull) {
			t.Fatalf("%s: Run = %v", what, err)
		}
		if after == int64(len(next)) && err != nil {
			t.Fatalf("%s: Run = %v", what, err)
		}
		if n := checkConsistent(t, what, storageFiles(t, dir), prev, next); n > 0 && after < int64(len(next)) {
			partial++
		}
	}
	if partial == 0 {
		t.Error("no storage failure fell among the manifests: the test misses that case")
	}
	for cancelAt := 1; ; cancelAt++ {
		dir := t.TempDir()
		writeFiles(t, dir, prev)
		ctx, cancel := context.WithCancel(context.Background())
		job := rerunJob(storage.Dir(dir), protect)
		total := 0
		job.Progress = func(p packager.Progress) {
			total = p.Total
			if p.Done == cancelAt {
				cancel()
			}
		}
		_, err := packager.Run(ctx, job)
		cancel()
		what := fmt.Sprintf("cancelled after %d segments", cancelAt)
		if err == nil {
			break // cancelled after the last segment: nothing left to stop
		}
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("%s: Run = %v", what, err)
		}
		checkConsistent(t, what, storageFiles(t, dir), prev, next)
		if cancelAt > total {
			t.Fatalf("%s of %d: Run still fails", what, total)
		}
	}
	// The complete run leaves the new output (old objects it does not
	// write may stay; here it writes every name the old run wrote).
	dir := t.TempDir()
	writeFiles(t, dir, prev)
	if _, err := packager.Run(context.Background(), rerunJob(storage.Dir(dir), protect)); err != nil {
		t.Fatal(err)
	}
	got := storageFiles(t, dir)
	for name, data := range next {
		if !bytes.Equal(got[name], data) {
			t.Errorf("after a complete re-run, %s is not the new run's", name)
		}
	}
	// A complete DASH-only run over an HLS and DASH output replaces the
	// segments the old playlists name: they must not stay.
	dir = t.TempDir()
	writeFiles(t, dir, prev)
	job := rerunJob(storage.Dir(dir), protect)
	job.Formats = packager.DASH
	if _, err := packager.Run(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	got = storageFiles(t, dir)
	if n := checkConsistent(t, "DASH-only re-run", got, prev, next); n != 1 || got["manifest.mpd"] == nil {
		t.Errorf("DASH-only re-run left %d manifests, want the MPD alone", n)
	}
}

// failingBucket is a bucket storage failing to create its nth object.
type failingBucket struct {
	*blobstore.Storage
	n, after int
}

func (s *failingBucket) Create(ctx context.Context, name string) (storage.Object, error) {
	if s.n++; s.n > s.after {
		return nil, errStorageFull
	}
	return s.Storage.Create(ctx, name)
}

// TestInterruptedRerunBucket is TestInterruptedRerunDir's storage failure
// for a gocloud bucket (in memory), where no directory can be switched.
func TestInterruptedRerunBucket(t *testing.T) {
	prev, next := rerunOutputs(t)
	protect := testEncryption(t)
	ctx := context.Background()
	for after := 0; after <= len(next); after++ {
		s := openBucket(t, "mem://")
		for name, data := range prev {
			if err := s.Bucket().WriteAll(ctx, name, data, nil); err != nil {
				t.Fatal(err)
			}
		}
		_, err := packager.Run(ctx, rerunJob(&failingBucket{Storage: s, after: after}, protect))
		what := fmt.Sprintf("bucket failing after %d objects", after)
		if (after < len(next)) != errors.Is(err, errStorageFull) || (after == len(next) && err != nil) {
			t.Fatalf("%s: Run = %v", what, err)
		}
		files := map[string][]byte{}
		it := s.Bucket().List(nil)
		for {
			obj, err := it.Next(ctx)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if files[obj.Key], err = s.Bucket().ReadAll(ctx, obj.Key); err != nil {
				t.Fatal(err)
			}
		}
		checkConsistent(t, what, files, prev, next)
	}
}

// TestRerunSweepsTempFiles: a run into a directory removes the temporary
// files a killed run left in the directories it writes into, and nothing
// else.
func TestRerunSweepsTempFiles(t *testing.T) {
	prev, _ := rerunOutputs(t)
	dir := t.TempDir()
	writeFiles(t, dir, prev)
	stale := []string{
		filepath.Join(dir, storage.TempPrefix+"master.m3u8.1234"),
		filepath.Join(dir, "video_720p_avc", storage.TempPrefix+"seg-3.m4s.99"),
		filepath.Join(dir, "audio_und_aac_2ch", storage.TempPrefix+"init.mp4.7"),
	}
	elsewhere := filepath.Join(dir, "other", storage.TempPrefix+"x.mp4.1")
	mtime := time.Now().Add(-time.Hour)
	for _, p := range append(stale, elsewhere) {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("half"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	mine := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(mine, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := packager.Run(context.Background(), rerunJob(storage.Dir(dir), nil)); err != nil {
		t.Fatal(err)
	}
	for _, p := range stale {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("stale temporary file %s still there", p)
		}
	}
	for _, p := range []string{mine, elsewhere} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("the run removed %s, not in a directory it writes: %v", p, err)
		}
	}
}

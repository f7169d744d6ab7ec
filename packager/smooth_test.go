package packager_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/Eyevinn/mp4ff/mp4"

	"github.com/cmafkit/cmafkit/drm"
	"github.com/cmafkit/cmafkit/internal/playertest"
	"github.com/cmafkit/cmafkit/internal/testutil"
	"github.com/cmafkit/cmafkit/packager"
	"github.com/cmafkit/cmafkit/segment/piff"
	"github.com/cmafkit/cmafkit/storage"
)

// smoothManifest is the part of a Smooth client manifest the tests read.
type smoothManifest struct {
	Streams []struct {
		Type      string `xml:"Type,attr"`
		TimeScale uint64 `xml:"TimeScale,attr"`
		URL       string `xml:"Url,attr"`
		Levels    []struct {
			Bitrate uint64 `xml:"Bitrate,attr"`
		} `xml:"QualityLevel"`
		C []struct {
			T *uint64 `xml:"t,attr"`
			D uint64  `xml:"d,attr"`
		} `xml:"c"`
	} `xml:"StreamIndex"`
}

// TestSmooth packages the ladder as Smooth Streaming alone and with DASH:
// the client manifest is kept as a golden file; every fragment its URL
// template and chunk list name exists as a file, decodes with mp4ff as one
// moof/mdat whose tfxd says the chunk's time and duration, and holds the
// samples the chunk's duration says; a Smooth-only run writes nothing
// else, and adding Smooth to DASH leaves the MPD as it was.
func TestSmooth(t *testing.T) {
	only := runJob(t, packager.Job{Inputs: ladderInputs(), Formats: packager.Smooth})
	got, err := os.ReadFile(filepath.Join(only, "smooth", "Manifest"))
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "smooth", "Manifest")
	if testutil.Update() {
		os.MkdirAll(filepath.Dir(golden), 0o755)
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	} else if want, err := os.ReadFile(golden); err != nil || !bytes.Equal(got, want) {
		t.Errorf("smooth/Manifest differs from %s (%v); regenerate with -update and review:\n%s", golden, err, got)
	}
	var m smoothManifest
	if err := xml.Unmarshal(got, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Streams) != 2 || len(m.Streams[0].Levels) != 2 {
		t.Fatalf("want a video stream of two quality levels and an audio stream: %+v", m.Streams)
	}
	files := 0
	for _, s := range m.Streams {
		for _, l := range s.Levels {
			var at uint64
			for _, c := range s.C {
				if c.T != nil {
					at = *c.T
				}
				name := strings.NewReplacer("{bitrate}", strconv.FormatUint(l.Bitrate, 10), "{start time}", strconv.FormatUint(at, 10)).Replace(s.URL)
				checkSmoothFragment(t, filepath.Join(only, "smooth", name), at, c.D)
				files++
				at += c.D
			}
		}
	}
	var all int
	filepath.WalkDir(only, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			all++
		}
		return nil
	})
	if all != files+1 {
		t.Errorf("Smooth-only output holds %d files, want %d fragments and the manifest", all, files)
	}

	both := runJob(t, packager.Job{Inputs: ladderInputs(), Formats: packager.DASH | packager.Smooth})
	plain := runJob(t, packager.Job{Inputs: ladderInputs(), Formats: packager.DASH})
	for _, name := range []string{"manifest.mpd", "smooth/Manifest"} {
		a, _ := os.ReadFile(filepath.Join(both, name))
		b, _ := os.ReadFile(filepath.Join(map[bool]string{true: plain, false: only}[name == "manifest.mpd"], name))
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Errorf("%s of DASH+Smooth differs from the single-format run", name)
		}
	}
}

func checkSmoothFragment(t *testing.T, name string, at, d uint64) {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatalf("fragment the manifest names: %v", err)
	}
	f, err := mp4.DecodeFile(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if len(f.Segments) != 1 || len(f.Segments[0].Fragments) != 1 {
		t.Fatalf("%s: want one fragment", name)
	}
	frag := f.Segments[0].Fragments[0]
	traf := frag.Moof.Traf
	if traf.Tfdt != nil {
		t.Errorf("%s has a tfdt", name)
	}
	var tfxd *mp4.TfxdData
	for _, c := range traf.Children {
		if u, ok := c.(*mp4.UUIDBox); ok && u.Tfxd != nil {
			tfxd = u.Tfxd
		}
	}
	if tfxd == nil || tfxd.FragmentAbsoluteTime != at || tfxd.FragmentAbsoluteDuration != d {
		t.Fatalf("%s: tfxd %+v, want time %d duration %d", name, tfxd, at, d)
	}
	var sum uint64
	for _, s := range traf.Trun.Samples {
		dur := s.Dur
		if traf.Trun.Flags&0x100 == 0 {
			dur = traf.Tfhd.DefaultSampleDuration
		}
		sum += uint64(dur)
	}
	if sum != d {
		t.Errorf("%s: samples last %d, chunk %d", name, sum, d)
	}
	// The first sample starts right after the mdat header.
	if off := traf.Trun.DataOffset; uint64(off) != frag.Moof.Size()+8 || string(b[frag.Moof.Size()+4:frag.Moof.Size()+8]) != "mdat" {
		t.Errorf("%s: trun data offset %d, moof size %d", name, off, frag.Moof.Size())
	}
}

// TestSmoothRefuses checks that Smooth output is refused, before anything
// is written, for what it cannot carry: HEVC and AC-3, and (for now)
// encryption.
func TestSmoothRefuses(t *testing.T) {
	dir := t.TempDir()
	_, err := packager.Run(context.Background(), packager.Job{Inputs: []packager.Input{{Path: "../testdata/hevc_ac3.mp4"}}, Formats: packager.Smooth, SegmentDuration: 2 * time.Second, Storage: storage.Dir(dir)})
	if !errors.Is(err, piff.ErrUnsupported) || !strings.Contains(err.Error(), "hvc1") && !strings.Contains(err.Error(), "hev1") {
		t.Errorf("HEVC: err %v, want piff.ErrUnsupported naming the codec", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("refused job wrote %d objects", len(ents))
	}
	_, err = packager.Run(context.Background(), packager.Job{Inputs: ladderInputs(), Formats: packager.Smooth, SegmentDuration: 2 * time.Second, Storage: storage.Dir(dir),
		Encryption: &drm.Config{Scheme: drm.SchemeCBCS}})
	if !errors.Is(err, packager.ErrCombination) || !strings.Contains(err.Error(), "Smooth") {
		t.Errorf("encrypted Smooth: err %v, want ErrCombination naming Smooth", err)
	}
}

// TestSmoothPlays plays the clear Smooth output of the ladder with dash.js
// and its Smooth Streaming module in Chromium: playback, a switch-capable
// two-level video stream, and a seek.
func TestSmoothPlays(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	t.Parallel()
	dir := runJob(t, packager.Job{Inputs: ladderInputs(), Formats: packager.Smooth})
	playertest.Play(t, context.Background(), playertest.Options{Dir: dir, Manifest: "smooth/Manifest", Player: playertest.DashJSMSS, Log: t.Logf})
}

package packager_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
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
// is written, for what it cannot carry: HEVC and AC-3, cbcs, key rotation.
func TestSmoothRefuses(t *testing.T) {
	dir := t.TempDir()
	_, err := packager.Run(context.Background(), packager.Job{Inputs: []packager.Input{{Path: "../testdata/hevc_ac3.mp4"}}, Formats: packager.Smooth, SegmentDuration: 2 * time.Second, Storage: storage.Dir(dir)})
	if !errors.Is(err, piff.ErrUnsupported) || !errors.Is(err, packager.ErrSmooth) || !strings.Contains(err.Error(), "hvc1") && !strings.Contains(err.Error(), "hev1") {
		t.Errorf("HEVC: err %v, want piff.ErrUnsupported and ErrSmooth naming the codec", err)
	}
	other := drm.ContentKey{KID: drm.MustParseKID("fedcba9876543210fedcba9876543210"), Key: smoothKey(t).Key}
	keys := &drm.StaticKeys{Default: []drm.ContentKey{smoothKey(t)}}
	for name, enc := range map[string]*drm.Config{
		"cbcs":          {Scheme: drm.SchemeCBCS, Keys: keys},
		"rotation":      {Scheme: drm.SchemeCENC, Keys: keys, CryptoPeriod: 1},
		"Widevine only": {Scheme: drm.SchemeCENC, Keys: keys, SignalingOptions: drm.SignalingOptions{Systems: []drm.System{drm.Widevine}}},
		// One ProtectionHeader cannot name two keys' PlayReady objects.
		"key per class": {Scheme: drm.SchemeCENC, SignalingOptions: drm.SignalingOptions{Systems: []drm.System{drm.PlayReady}},
			Keys: &drm.StaticKeys{Default: []drm.ContentKey{smoothKey(t)}, ByClass: map[drm.TrackClass][]drm.ContentKey{drm.ClassAudio: {other}}}},
	} {
		_, err = packager.Run(context.Background(), packager.Job{Inputs: ladderInputs(), Formats: packager.Smooth | packager.DASH, SegmentDuration: 2 * time.Second, Storage: storage.Dir(dir), Encryption: enc})
		if !errors.Is(err, packager.ErrCombination) || !errors.Is(err, packager.ErrSmooth) || !strings.Contains(err.Error(), "Smooth") {
			t.Errorf("%s: err %v, want ErrCombination and ErrSmooth naming Smooth", name, err)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("refused jobs wrote %d objects", len(ents))
	}
}

func smoothKey(t *testing.T) drm.ContentKey {
	t.Helper()
	key, err := drm.ParseKey("00112233445566778899aabbccddeeff")
	if err != nil {
		t.Fatal(err)
	}
	return drm.ContentKey{KID: drm.MustParseKID("0123456789abcdef0123456789abcdef"), Key: key}
}

// TestSmoothPlayReady packages the ladder with cenc for PlayReady, as
// Smooth and DASH at once, and checks the Smooth output against PIFF 1.3
// and MS-SSTR: the manifest's Protection holds the PlayReady object of
// the presentation under PlayReady's SystemID; each fragment's traf holds
// tfhd, trun, saiz, saio, the PIFF sample encryption box (uuid
// a2394f52-5a9b-4f14-a244-6c427c648df4, version 0, flags 0 or 2
// (subsamples), sample_count of the trun) and tfxd last, and no senc; the
// PIFF box carries exactly the fields (IVs, subsamples) of the CENC senc
// boxes of the DASH segment with the same encrypted payload, and saio
// points at its first IV.
func TestSmoothPlayReady(t *testing.T) {
	dir := t.TempDir()
	res, err := packager.Run(context.Background(), packager.Job{Inputs: ladderInputs(), Formats: packager.Smooth | packager.DASH, SegmentDuration: 2 * time.Second, Storage: storage.Dir(dir),
		Encryption: &drm.Config{Scheme: drm.SchemeCENC, Keys: &drm.StaticKeys{Default: []drm.ContentKey{smoothKey(t)}},
			SignalingOptions: drm.SignalingOptions{Systems: []drm.System{drm.PlayReady, drm.Widevine}}}})
	if err != nil {
		t.Fatal(err)
	}
	var pro []byte
	for _, s := range res.Presentation.Periods[0].Sets[0].Representations[0].Protection.Systems {
		if s.System == drm.PlayReady {
			pro = s.PlayReadyObject
		}
	}
	man, err := os.ReadFile(filepath.Join(dir, "smooth", "Manifest"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Header struct {
			SystemID string `xml:"SystemID,attr"`
			Value    string `xml:",chardata"`
		} `xml:"Protection>ProtectionHeader"`
	}
	if err := xml.Unmarshal(man, &m); err != nil {
		t.Fatal(err)
	}
	if got, err := base64.StdEncoding.DecodeString(m.Header.Value); err != nil || len(pro) == 0 || !bytes.Equal(got, pro) || m.Header.SystemID != "9a04f079-9840-4286-ab92-e65be0885f95" {
		t.Fatalf("ProtectionHeader %s %q, want the PlayReady object (%d bytes)", m.Header.SystemID, m.Header.Value, len(pro))
	}

	// The CENC senc payload of every DASH segment, by its encrypted mdat.
	cenc := map[string][]byte{}
	segs, _ := filepath.Glob(filepath.Join(dir, "*", "seg-*.m4s"))
	for _, name := range segs {
		// Video segments are two chunks (the sync sample isolated): join
		// their payloads and their senc entries.
		b, _ := os.ReadFile(name)
		var mdat, entries []byte
		var flags []byte
		var count uint32
		for _, e := range boxList(t, b) {
			switch e.typ {
			case "moof":
				senc := boxPayload(t, boxPayload(t, e.payload, "traf"), "senc")
				flags = senc[:4]
				count += binary.BigEndian.Uint32(senc[4:])
				entries = append(entries, senc[8:]...)
			case "mdat":
				mdat = append(mdat, e.payload...)
			}
		}
		cenc[string(mdat)] = append(binary.BigEndian.AppendUint32(append([]byte(nil), flags...), count), entries...)
	}
	frags, _ := filepath.Glob(filepath.Join(dir, "smooth", "QualityLevels(*)", "Fragments(*)"))
	if len(frags) == 0 || len(frags) != len(segs) {
		t.Fatalf("%d Smooth fragments for %d DASH segments", len(frags), len(segs))
	}
	for _, name := range frags {
		b, _ := os.ReadFile(name)
		moof := boxPayload(t, b, "moof")
		traf := boxPayload(t, moof, "traf")
		var types []string
		var uuids [][]byte
		for _, c := range boxList(t, traf) {
			types = append(types, c.typ)
			if c.typ == "uuid" {
				uuids = append(uuids, c.payload)
			}
		}
		if got := strings.Join(types, ","); got != "tfhd,trun,saiz,saio,uuid,uuid" && got != "tfhd,saiz,saio,uuid,trun,uuid" {
			t.Fatalf("%s: traf holds %s, want tfhd, trun, saiz, saio, the PIFF senc and tfxd (no senc, no tfdt)", name, got)
		}
		sepiff := uuids[0]
		if hex.EncodeToString(sepiff[:16]) != "a2394f525a9b4f14a2446c427c648df4" || hex.EncodeToString(uuids[1][:16]) != "6d1d9b0542d544e680e2141daff757b2" {
			t.Fatalf("%s: uuid boxes %x, %x: want the PIFF senc, then tfxd", name, sepiff[:16], uuids[1][:16])
		}
		if sepiff[16] != 0 || binary.BigEndian.Uint32(sepiff[16:])&^2 != 0 {
			t.Errorf("%s: PIFF senc version/flags %x, want version 0 and no flag but 2 (no override of the track's AlgorithmID, IV size, KID)", name, sepiff[16:20])
		}
		trun := boxPayload(t, traf, "trun")
		if got, want := binary.BigEndian.Uint32(sepiff[20:]), binary.BigEndian.Uint32(trun[4:]); got != want {
			t.Errorf("%s: PIFF senc sample_count %d, trun %d", name, got, want)
		}
		want, ok := cenc[string(boxPayload(t, b, "mdat"))]
		if !ok {
			t.Fatalf("%s: no DASH segment with the same encrypted samples", name)
		}
		if !bytes.Equal(sepiff[16:], want) {
			t.Errorf("%s: PIFF senc fields differ from the CENC senc's", name)
		}
		saio := boxPayload(t, traf, "saio")
		off := binary.BigEndian.Uint32(saio[len(saio)-4:])
		if int(off)+8 > len(b) || !bytes.Equal(b[off:off+8], want[8:16]) {
			t.Errorf("%s: saio offset %d does not point at the first IV %x", name, off, want[8:16])
		}
	}
}

type boxEntry struct {
	typ     string
	payload []byte
}

// boxList splits b into its boxes.
func boxList(t *testing.T, b []byte) []boxEntry {
	t.Helper()
	var out []boxEntry
	for len(b) >= 8 {
		n := binary.BigEndian.Uint32(b)
		if n < 8 || int(n) > len(b) {
			t.Fatalf("bad box size %d", n)
		}
		out = append(out, boxEntry{string(b[4:8]), b[8:n]})
		b = b[n:]
	}
	return out
}

// boxPayload returns the payload of the first box of type typ in b.
func boxPayload(t *testing.T, b []byte, typ string) []byte {
	t.Helper()
	for _, e := range boxList(t, b) {
		if e.typ == typ {
			return e.payload
		}
	}
	t.Fatalf("no %s box", typ)
	return nil
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

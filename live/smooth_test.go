package live

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Eyevinn/mp4ff/mp4"

	"github.com/cmafkit/cmafkit/drm"
	"github.com/cmafkit/cmafkit/internal/testutil"
	"github.com/cmafkit/cmafkit/storage"
)

// recStorage is a memStorage that keeps every version of the Smooth
// client manifest stored.
type recStorage struct {
	*memStorage
	mu       sync.Mutex
	versions [][]byte
}

type recObj struct {
	storage.Object
	s    *recStorage
	name string
	buf  bytes.Buffer
}

func (o *recObj) Write(b []byte) (int, error) { o.buf.Write(b); return o.Object.Write(b) }
func (o *recObj) Commit() error {
	if o.name == SmoothName {
		o.s.mu.Lock()
		o.s.versions = append(o.s.versions, bytes.Clone(o.buf.Bytes()))
		o.s.mu.Unlock()
	}
	return o.Object.Commit()
}

func (s *recStorage) Create(ctx context.Context, name string) (storage.Object, error) {
	o, err := s.memStorage.Create(ctx, name)
	if err != nil {
		return nil, err
	}
	return &recObj{Object: o, s: s, name: name}, nil
}

type liveSmooth struct {
	IsLive    string `xml:"IsLive,attr"`
	DVRWindow int64  `xml:"DVRWindowLength,attr"`
	Streams   []struct {
		Type   string `xml:"Type,attr"`
		URL    string `xml:"Url,attr"`
		Levels []struct {
			Bitrate uint64 `xml:"Bitrate,attr"`
		} `xml:"QualityLevel"`
		C []struct {
			T *uint64 `xml:"t,attr"`
			D uint64  `xml:"d,attr"`
		} `xml:"c"`
	} `xml:"StreamIndex"`
}

// TestLiveSmooth publishes the 720p file three times over on a fake clock
// into a channel with a 6 s window that writes Smooth Streaming: the
// client manifest is live (IsLive, DVRWindowLength the window) and its
// chunk list slides (golden files: the manifest when the window first
// slid, and at the end); every fragment it lists is stored, its tfxd
// holds the chunk's time and duration and its tfrf announces the next
// chunk (none for the last of the stream); fragments that left the window
// are deleted after the grace period.
func TestLiveSmooth(t *testing.T) {
	clk := &fakeClock{t: epoch}
	st := &recStorage{memStorage: newMem()}
	ch, _ := newTestChannel(clk, st)
	ch.Window, ch.Grace, ch.Smooth = 6*time.Second, 3*time.Second, true
	replayLoops(t, ch, clk, openTracks(t, "ladder_720p.mp4"), 3)
	closeChannel(t, ch)
	if len(st.versions) < 4 {
		t.Fatalf("%d Smooth manifests written", len(st.versions))
	}
	var slid []byte
	var first uint64 // the time of the first fragment: wall clock, since 1970
	for i, v := range st.versions {
		var m liveSmooth
		if err := xml.Unmarshal(v, &m); err != nil {
			t.Fatal(err)
		}
		if len(m.Streams) == 0 || len(m.Streams[0].C) == 0 {
			continue
		}
		t0 := *m.Streams[0].C[0].T
		if i == 0 {
			first = t0
			if want := uint64(epoch.Unix()) * 30000; t0 != want {
				t.Errorf("first video fragment at %d, want the channel's start %v since 1970 (%d)", t0, epoch, want)
			}
		} else if t0 != first {
			slid = v
			break
		}
	}
	if slid == nil {
		t.Fatal("the Smooth window never slid")
	}
	last := st.versions[len(st.versions)-1]
	for name, got := range map[string][]byte{"live_slid.xml": slid, "live_end.xml": last} {
		golden := filepath.Join("testdata", "smooth", name)
		if testutil.Update() {
			os.MkdirAll(filepath.Dir(golden), 0o755)
			if err := os.WriteFile(golden, got, 0o644); err != nil {
				t.Fatal(err)
			}
		} else if want, err := os.ReadFile(golden); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s differs from %s (%v); regenerate with -update and review:\n%s", name, golden, err, got)
		}
	}
	var m liveSmooth
	if err := xml.Unmarshal(last, &m); err != nil {
		t.Fatal(err)
	}
	if m.IsLive != "TRUE" || m.DVRWindow != int64(ch.Window/100) || len(m.Streams) != 2 {
		t.Fatalf("manifest IsLive %q DVRWindowLength %d, %d streams", m.IsLive, m.DVRWindow, len(m.Streams))
	}
	for _, s := range m.Streams {
		var at uint64
		var chunks [][2]uint64
		for _, c := range s.C {
			if c.T != nil {
				at = *c.T
			}
			chunks = append(chunks, [2]uint64{at, c.D})
			at += c.D
		}
		if len(chunks) < 2 || s.Type == "video" && chunks[0][0] == first {
			t.Fatalf("%s: chunks %v, want a slid window", s.Type, chunks)
		}
		for _, l := range s.Levels {
			for i, c := range chunks {
				name := "smooth/" + strings.NewReplacer("{bitrate}", strconv.FormatUint(l.Bitrate, 10), "{start time}", strconv.FormatUint(c[0], 10)).Replace(s.URL)
				b := st.get(name)
				if b == nil {
					t.Fatalf("%s listed but not stored", name)
				}
				f, err := mp4.DecodeFile(bytes.NewReader(b))
				if err != nil || len(f.Segments) != 1 || len(f.Segments[0].Fragments) != 1 {
					t.Fatalf("%s: %v", name, err)
				}
				traf := f.Segments[0].Fragments[0].Moof.Traf
				var tfxd, tfrf *mp4.UUIDBox
				for _, c := range traf.Children {
					if u, ok := c.(*mp4.UUIDBox); ok && u.Tfxd != nil {
						tfxd = u
					} else if ok && u.Tfrf != nil {
						tfrf = u
					}
				}
				if tfxd == nil || tfxd.Tfxd.FragmentAbsoluteTime != c[0] || tfxd.Tfxd.FragmentAbsoluteDuration != c[1] {
					t.Errorf("%s: tfxd %+v, want %v", name, tfxd, c)
				}
				if tfrf == nil {
					t.Fatalf("%s: no tfrf", name)
				}
				var want []uint64
				if i+1 < len(chunks) {
					want = []uint64{chunks[i+1][0], chunks[i+1][1]}
				}
				var got []uint64
				for k := range tfrf.Tfrf.FragmentAbsoluteTimes {
					got = append(got, tfrf.Tfrf.FragmentAbsoluteTimes[k], tfrf.Tfrf.FragmentAbsoluteDurations[k])
				}
				if !slicesEqual(got, want) {
					t.Errorf("%s: tfrf announces %v, want %v", name, got, want)
				}
			}
		}
	}
	frags := st.names("smooth/QualityLevels(")
	listed := 0
	for _, s := range m.Streams {
		listed += len(s.C) * len(s.Levels)
	}
	if len(frags) > listed+2*len(m.Streams) {
		t.Errorf("%d fragments stored, %d listed: what left the window is not deleted", len(frags), listed)
	}
}

func slicesEqual(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestLiveSmoothRefuses: live Smooth with low latency or encryption is
// refused at Publish, naming the combination; a codec Smooth cannot carry
// at AddTrack.
func TestLiveSmoothRefuses(t *testing.T) {
	key, _ := drm.ParseKey("00112233445566778899aabbccddeeff")
	for name, ch := range map[string]*Channel{
		"low latency": {Storage: newMem(), Smooth: true, PartDuration: 500 * time.Millisecond},
		"encryption": {Storage: newMem(), Smooth: true, Encryption: &drm.Config{Scheme: drm.SchemeCENC,
			Keys: &drm.StaticKeys{Default: []drm.ContentKey{{KID: drm.MustParseKID("00112233445566778899aabbccddeeff"), Key: key}}}}},
	} {
		if _, err := ch.Publish(context.Background(), "k"); err == nil || !strings.Contains(err.Error(), "Smooth Streaming with "+map[string]string{"low latency": "low latency", "encryption": "encryption"}[name]) {
			t.Errorf("%s: Publish: %v, want the combination named", name, err)
		}
	}
	ch := &Channel{Storage: newMem(), Smooth: true}
	pub, err := ch.Publish(context.Background(), "k")
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close(nil)
	tracks := openTracks(t, "hevc_ac3.mp4")
	_, err = pub.AddTrack(context.Background(), tracks[0])
	if !errors.Is(err, ErrBadTrack) || !strings.Contains(err.Error(), "Smooth") {
		t.Errorf("HEVC: %v, want ErrBadTrack naming Smooth", err)
	}
}

// TestLiveSmoothAcrossPublishers: a second publisher (timestamps from zero
// again, a new period) continues the Smooth timeline: the last manifest
// lists fragments of both periods, their times increasing, every one
// stored, and the channel counted no error.
func TestLiveSmoothAcrossPublishers(t *testing.T) {
	clk := &fakeClock{t: epoch}
	st := &recStorage{memStorage: newMem()}
	ch, _ := newTestChannel(clk, st)
	ch.Window, ch.Smooth = -1, true
	tracks := openTracks(t, "ladder_720p.mp4")
	replayLoops(t, ch, clk, tracks, 1)
	replayLoops(t, ch, clk, tracks, 1)
	closeChannel(t, ch)
	if s := ch.Stats(); s.Errors != 0 || s.Discontinuities != 1 {
		t.Fatalf("stats %+v, want one discontinuity and no error", s)
	}
	var m liveSmooth
	if err := xml.Unmarshal(st.versions[len(st.versions)-1], &m); err != nil {
		t.Fatal(err)
	}
	for _, s := range m.Streams {
		var at, n uint64
		for _, c := range s.C {
			if c.T != nil {
				if *c.T < at {
					t.Errorf("%s: chunk at %d before the previous end %d", s.Type, *c.T, at)
				}
				at = *c.T
			}
			name := "smooth/" + strings.NewReplacer("{bitrate}", strconv.FormatUint(s.Levels[0].Bitrate, 10), "{start time}", strconv.FormatUint(at, 10)).Replace(s.URL)
			if st.get(name) == nil {
				t.Errorf("%s listed but not stored", name)
			}
			at += c.D
			n++
		}
		// Two runs of the 8 s file.
		if n < 8 {
			t.Errorf("%s: %d chunks over two publishers", s.Type, n)
		}
	}
}

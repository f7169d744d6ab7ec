package hls_test

import (
	"bytes"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/grafov/m3u8"

	"github.com/cmafkit/cmafkit/drm"
	"github.com/cmafkit/cmafkit/internal/testutil"
	"github.com/cmafkit/cmafkit/manifest"
	"github.com/cmafkit/cmafkit/manifest/hls"
	"github.com/cmafkit/cmafkit/manifest/internal/manifesttest"
)

// TestLiveGolden renders the live fixtures (a window before and after a
// slide, a discontinuity with both periods in the window and after the
// first left it, the end, an unlimited window) and compares every playlist
// with testdata/<name>/.
func TestLiveGolden(t *testing.T) {
	for name, p := range manifesttest.LiveModels() {
		t.Run(name, func(t *testing.T) {
			files := renderAll(t, p)
			dir := filepath.Join("testdata", name)
			if testutil.Update() {
				os.RemoveAll(dir)
				os.MkdirAll(dir, 0o755)
			}
			for uri, got := range files {
				path := filepath.Join(dir, strings.ReplaceAll(uri, "/", "_"))
				if testutil.Update() {
					if err := os.WriteFile(path, got, 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test -update)", err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s differs from %s:\n%s", uri, path, got)
				}
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != len(files) {
				t.Errorf("%s holds %d files, rendering gave %d", dir, len(entries), len(files))
			}
			for _, pl := range hls.Playlists(p) {
				var b bytes.Buffer
				render := hls.RenderMedia
				if pl.IFrames {
					render = hls.RenderIFrames
				}
				if err := render(&b, p, pl.RepresentationID); err != nil || !bytes.Equal(b.Bytes(), files[pl.URI]) {
					t.Errorf("%s: single render differs from RenderAll (err %v)", pl.URI, err)
				}
			}
			if bytes.Contains(files["main.m3u8"], []byte("ENDLIST")) {
				t.Error("multivariant playlist holds EXT-X-ENDLIST")
			}
		})
	}
}

// TestLiveParseBack reads every live media playlist back with grafov/m3u8
// and checks it against the model: media sequence = first segment number,
// discontinuity sequence, playlist type, ENDLIST only when ended, one
// segment per model segment in period order with EXT-X-DISCONTINUITY
// exactly at each new period and EXT-X-MAP when the init changes, and
// program date-times that match the model and advance by the segment
// durations within a period.
func TestLiveParseBack(t *testing.T) {
	for name, p := range manifesttest.LiveModels() {
		t.Run(name, func(t *testing.T) {
			files := renderAll(t, p)
			for _, pl := range hls.Playlists(p) {
				mp, typ, err := m3u8.DecodeFrom(bytes.NewReader(files[pl.URI]), true)
				if err != nil || typ != m3u8.MEDIA {
					t.Fatalf("%s: %v, type %v", pl.URI, err, typ)
				}
				media := mp.(*m3u8.MediaPlaylist)
				checkLiveMedia(t, p, pl, media)
			}
		})
	}
}

func checkLiveMedia(t *testing.T, p *manifest.Presentation, pl hls.Playlist, media *m3u8.MediaPlaylist) {
	t.Helper()
	// The model's entries in playlist order, with where each period starts.
	type entry struct {
		start, dur uint64
		ts         uint32
		pdt        time.Time
		newPeriod  bool
		init       string
	}
	var want []entry
	var first uint64
	for pi := range p.Periods {
		_, r := findIn(&p.Periods[pi], pl.RepresentationID)
		if pi == 0 {
			first = r.Segments[0].Number
		}
		if pl.IFrames {
			for i, f := range r.IFrames {
				want = append(want, entry{f.Start, f.Duration, r.Timescale, r.Segments[i].ProgramDateTime, i == 0 && pi > 0, r.Init.URI})
			}
			continue
		}
		for i, s := range r.Segments {
			want = append(want, entry{s.Start, s.Duration, r.Timescale, s.ProgramDateTime, i == 0 && pi > 0, r.Init.URI})
		}
	}
	if media.SeqNo != first {
		t.Errorf("%s: media sequence %d, want the first segment's number %d", pl.URI, media.SeqNo, first)
	}
	if media.DiscontinuitySeq != p.DiscontinuitySequence {
		t.Errorf("%s: discontinuity sequence %d, want %d", pl.URI, media.DiscontinuitySeq, p.DiscontinuitySequence)
	}
	wantType := m3u8.MediaType(0)
	if p.TimeShiftBufferDepth == 0 {
		wantType = m3u8.EVENT
	}
	if media.MediaType != wantType {
		t.Errorf("%s: playlist type %v, want %v", pl.URI, media.MediaType, wantType)
	}
	if media.Closed != p.Ended {
		t.Errorf("%s: ENDLIST %v, want %v", pl.URI, media.Closed, p.Ended)
	}
	segs := media.GetAllSegments()
	if len(segs) != len(want) {
		t.Fatalf("%s: %d segments, want %d", pl.URI, len(segs), len(want))
	}
	init := ""
	for i, s := range segs {
		w := want[i]
		if s.Discontinuity != w.newPeriod {
			t.Errorf("%s segment %d: discontinuity %v, want %v", pl.URI, i, s.Discontinuity, w.newPeriod)
		}
		if s.Map != nil {
			init = s.Map.URI
		} else if i == 0 && media.Map != nil {
			init = media.Map.URI
		}
		if init != w.init {
			t.Errorf("%s segment %d: init %q, want %q", pl.URI, i, init, w.init)
		}
		if !s.ProgramDateTime.Equal(w.pdt) {
			t.Errorf("%s segment %d: program date-time %v, want %v", pl.URI, i, s.ProgramDateTime, w.pdt)
		}
		if d := math.Abs(s.Duration - float64(w.dur)/float64(w.ts)); d > 1e-9 {
			t.Errorf("%s segment %d: EXTINF %v, want %d/%d", pl.URI, i, s.Duration, w.dur, w.ts)
		}
		if math.Round(s.Duration) > media.TargetDuration {
			t.Errorf("%s segment %d: EXTINF %v over target %v", pl.URI, i, s.Duration, media.TargetDuration)
		}
		if i > 0 && !w.newPeriod {
			prev := segs[i-1]
			step := time.Duration(math.Round(prev.Duration*1000)) * time.Millisecond
			if got := s.ProgramDateTime.Sub(prev.ProgramDateTime); got != step {
				t.Errorf("%s segment %d: program date-time advances %v after an EXTINF of %v", pl.URI, i, got, prev.Duration)
			}
		}
	}
}

func findIn(pd *manifest.Period, id string) (*manifest.SwitchingSet, *manifest.Representation) {
	for si := range pd.Sets {
		for ri := range pd.Sets[si].Representations {
			if pd.Sets[si].Representations[ri].ID == id {
				return &pd.Sets[si], &pd.Sets[si].Representations[ri]
			}
		}
	}
	return nil, nil
}

// TestLiveVODUnchanged checks that the live fields do nothing to a VOD
// presentation: its playlists are the VOD golden files whatever they hold.
func TestLiveVODUnchanged(t *testing.T) {
	p := manifesttest.Ladder(8 * time.Second)
	plain := renderAll(t, p)
	p.Ended, p.DiscontinuitySequence, p.TimeShiftBufferDepth = false, 3, 10*time.Second
	for uri, got := range renderAll(t, p) {
		if !bytes.Equal(got, plain[uri]) {
			t.Errorf("%s changed with live fields on a VOD presentation:\n%s", uri, got)
		}
	}
}

// TestLiveRefusals checks the live rules of HLS: a rendition is one media
// playlist across periods, so every period must hold the first period's
// representations, and segment numbers must go on across periods.
func TestLiveRefusals(t *testing.T) {
	models := func() *manifest.Presentation { return manifesttest.LiveModels()["live-discontinuity"] }

	p := models()
	p.Periods[1].Sets = p.Periods[1].Sets[:1] // audio gone in the second period
	if err := hls.RenderMultivariant(io.Discard, p); !errors.Is(err, manifest.ErrLive) || !strings.Contains(err.Error(), `"p1-14s"`) {
		t.Errorf("period without audio: %v, want ErrLive naming p1-14s", err)
	}
	if err := hls.RenderMedia(io.Discard, p, "video"); !errors.Is(err, manifest.ErrLive) {
		t.Errorf("RenderMedia, period without audio: %v, want ErrLive", err)
	}

	p = models()
	p.Periods[1].Sets[1].Representations[0].ID = "audio-2"
	if err := hls.RenderMultivariant(io.Discard, p); !errors.Is(err, manifest.ErrLive) || !strings.Contains(err.Error(), `"audio-2"`) {
		t.Errorf("renamed representation: %v, want ErrLive naming audio-2", err)
	}

	p = models()
	r := &p.Periods[1].Sets[0].Representations[0]
	for i := range r.Segments {
		r.Segments[i].Number += 10
		r.Segments[i].URI = strings.Replace(r.Segments[i].URI, "seg-", "seg-1", 1)
	}
	if err := hls.RenderMedia(io.Discard, p, "video"); !errors.Is(err, manifest.ErrLive) || !strings.Contains(err.Error(), "does not follow") {
		t.Errorf("numbers jump across periods: %v, want ErrLive", err)
	}

	p = models()
	p.Periods[1].Start = p.Periods[0].Start
	if err := hls.RenderMultivariant(io.Discard, p); !errors.Is(err, manifest.ErrLive) {
		t.Errorf("periods out of order: %v, want ErrLive", err)
	}

	p = models()
	p.TargetDuration = 0
	if err := hls.RenderMedia(io.Discard, p, "audio"); !errors.Is(err, manifest.ErrLive) || !strings.Contains(err.Error(), "target duration") {
		t.Errorf("no target duration: %v, want ErrLive", err)
	}

	// A VOD presentation still renders exactly one period.
	p = models()
	p.Type = manifest.VOD
	if err := hls.RenderMultivariant(io.Discard, p); !errors.Is(err, manifest.ErrUnsupported) {
		t.Errorf("VOD with two periods: %v, want ErrUnsupported", err)
	}
}

// TestLiveProtectionChange checks the keys at a period change: repeated
// when they differ, METHOD=NONE when the new period is clear, and not
// repeated when they are the same.
func TestLiveProtectionChange(t *testing.T) {
	p := manifesttest.LiveModels()["live-discontinuity"]
	enc := manifesttest.Protected(8*time.Second, drm.SchemeCBCS).Periods[0].Sets[0].Protection
	p.Periods[0].Sets[0].Protection = enc
	var b bytes.Buffer
	if err := hls.RenderMedia(&b, p, "video"); err != nil {
		t.Fatal(err)
	}
	got := b.String()
	if n := strings.Count(got, "#EXT-X-KEY:METHOD=NONE"); n != 1 || !strings.Contains(got, "#EXT-X-DISCONTINUITY\n#EXT-X-KEY:METHOD=NONE\n#EXT-X-MAP") {
		t.Errorf("clear period after an encrypted one: want one METHOD=NONE after the discontinuity:\n%s", got)
	}
	p.Periods[1].Sets[0].Protection = enc
	b.Reset()
	if err := hls.RenderMedia(&b, p, "video"); err != nil {
		t.Fatal(err)
	}
	keys := strings.Count(b.String(), "#EXT-X-KEY:")
	if want := len(enc.Systems); keys != want { // one per DRM system
		t.Errorf("same keys in both periods: %d EXT-X-KEY lines, want %d (written once)", keys, want)
	}
}

package packager_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/Eyevinn/mp4ff/mp4"

	"github.com/cmafkit/cmafkit/internal/playertest"
	"github.com/cmafkit/cmafkit/internal/testutil"
	"github.com/cmafkit/cmafkit/manifest"
	"github.com/cmafkit/cmafkit/packager"
	"github.com/cmafkit/cmafkit/segment"
	"github.com/cmafkit/cmafkit/storage"
)

// TestAVStart checks, in every player, where the browser put the first and
// last audio sample against the video. The test ladder's AAC starts with
// 1024 samples of encoder priming, which the audio init segment's edit list
// removes; Chromium's MSE parser applies that edit list for shaka-player,
// hls.js and dash.js alike (they set timestampOffset 0), so the audio that
// reaches the MediaSource must end exactly at the track's duration minus the
// priming and start where the video starts. Signalling the priming a second
// time in the MPD (presentationTimeOffset) would shift audio one AAC frame
// early in these players; losing the edit list would make it one frame late.
func TestAVStart(t *testing.T) {
	if testing.Short() {
		t.Skip("player tests take a minute")
	}
	dir := t.TempDir()
	res, err := packager.Run(context.Background(), packager.Job{
		Inputs: ladderInputs()[:1], SegmentDuration: 2 * time.Second, Storage: storage.Dir(dir),
	})
	if err != nil {
		t.Fatal(err)
	}
	testutil.ValidateMPDs(t, dir)
	audio := audioRepresentation(t, res.Presentation)
	priming := elstMediaTime(t, filepath.Join(dir, filepath.FromSlash(audio.Init.URI)))
	if priming == 0 {
		t.Fatal("the test ladder's audio has no priming edit: the test would not tell anything")
	}
	var total uint64
	for _, s := range audio.Segments {
		total += s.Duration
	}
	wantEnd := float64(total-priming) / float64(audio.Timescale)

	for _, m := range []string{"master.m3u8", "manifest.mpd"} {
		for _, p := range playertest.Players(m) {
			t.Run(fmt.Sprintf("%s/%s", m, p), func(t *testing.T) {
				t.Parallel()
				r := playertest.Play(t, context.Background(), playertest.Options{Dir: dir, Manifest: m, Player: p, NoSeek: true, MinPlay: 2 * time.Second})
				a, v := sourceBuffer(t, r, "audio"), sourceBuffer(t, r, "video")
				t.Logf("audio buffered %.6f–%.6f (timestampOffset %v), video from %.6f; want audio to end at %.6f",
					*a.FirstStart, *a.End, a.TimestampOffset, *v.FirstStart, wantEnd)
				if d := *a.FirstStart - *v.FirstStart; math.Abs(d) > 0.001 {
					t.Errorf("audio starts %.1f ms after video", d*1000)
				}
				if d := *a.End - wantEnd; math.Abs(d) > 0.001 {
					t.Errorf("audio ends at %.6f s, %.1f ms off the %.6f s the edit list gives: the priming was applied %s",
						*a.End, d*1000, wantEnd, map[bool]string{true: "not at all", false: "twice"}[d > 0])
				}
			})
		}
	}
}

func audioRepresentation(t *testing.T, p *manifest.Presentation) manifest.Representation {
	t.Helper()
	for _, per := range p.Periods {
		for _, s := range per.Sets {
			if s.ContentType == segment.KindAudio && len(s.Representations) > 0 {
				return s.Representations[0]
			}
		}
	}
	t.Fatal("no audio representation")
	return manifest.Representation{}
}

// elstMediaTime returns the media time of the single edit of an init segment.
func elstMediaTime(t *testing.T, path string) uint64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mf, err := mp4.DecodeFile(f)
	if err != nil {
		t.Fatal(err)
	}
	trak := mf.Init.Moov.Trak
	if trak.Edts == nil || len(trak.Edts.Elst) == 0 || len(trak.Edts.Elst[0].Entries) != 1 {
		return 0
	}
	return uint64(trak.Edts.Elst[0].Entries[0].MediaTime)
}

func sourceBuffer(t *testing.T, r *playertest.Result, kind string) playertest.SourceBuffer {
	t.Helper()
	for _, b := range r.SourceBuffers {
		if b.Kind() == kind && b.FirstStart != nil && b.End != nil {
			return b
		}
	}
	t.Fatalf("%s: no %s SourceBuffer with buffered media among %+v", r.Player, kind, r.SourceBuffers)
	return playertest.SourceBuffer{}
}

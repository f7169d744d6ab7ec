package isobmff_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/cmafkit/cmafkit/segment"
	"github.com/cmafkit/cmafkit/segment/internal/mp4fixture"
)

// openLoggedBytes opens b as an MP4 and packages it like open, returning
// the error and the warnings logged.
func openLoggedBytes(t *testing.T, b []byte) (error, string) {
	t.Helper()
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	_, err := segment.Open(context.Background(), bytes.NewReader(b), int64(len(b)), "bad.mp4", &segment.OpenOptions{Logger: log})
	if err == nil {
		err = open(b)
	}
	return err, logs.String()
}

// TestEmptySamples: tracks whose samples have size 0 are refused with
// ErrEmptySamples when they are all or mostly empty, or when a video sync
// sample is; a few empty samples pass with a warning (see segment.Open).
func TestEmptySamples(t *testing.T) {
	good := readTestFile(t, "ladder_360p.mp4") // video first, with stss
	videoSamples := binary.BigEndian.Uint32(good[mp4fixture.BoxAt(t, good, "stsz")+16:])
	// zeroSizes sets the sizes of the video track's samples numbered in
	// which (1-based; nil: all) to 0.
	zeroSizes := func(which ...int) []byte {
		b := append([]byte(nil), good...)
		o := mp4fixture.BoxAt(t, b, "stsz")
		n := int(binary.BigEndian.Uint32(b[o+16:]))
		for k := 1; k <= n; k++ {
			if which == nil || containsInt(which, k) {
				binary.BigEndian.PutUint32(b[o+20+4*(k-1):], 0)
			}
		}
		return b
	}
	audio := func(sizes ...int) []byte {
		var ss []mp4fixture.Sample
		for _, n := range sizes {
			ss = append(ss, mp4fixture.Sample{Data: bytes.Repeat([]byte{0x21}, n), Dur: 1024, Sync: true})
		}
		return mp4fixture.FMP4(t, 48000, "audio", mp4fixture.AAC(t), ss)
	}
	cases := []struct {
		name   string
		input  []byte
		sample int    // the sample the error names
		detail string // "" when the input is accepted
		warn   string
	}{
		{"all video samples empty", zeroSizes(), 0, fmt.Sprintf("all %d samples of the video track have size 0", videoSamples), ""},
		{"empty sync sample", zeroSizes(1), 1, "sync sample of size 0", ""},
		{"all audio samples empty (fragmented)", audio(0, 0, 0, 0), 0, "all 4 samples of the audio track have size 0", ""},
		{"mostly empty audio", audio(0, 10, 0, 0), 1, "3 of the 4 samples of the audio track have size 0", ""},
		{"a few empty audio samples", audio(10, 0, 12, 14), 0, "", "empty=1"},
		{"an empty video frame", zeroSizes(2), 0, "", "first=2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err, logs := openLoggedBytes(t, c.input)
			if c.detail == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if !strings.Contains(logs, "size 0") || !strings.Contains(logs, c.warn) {
					t.Errorf("no warning with %q in %q", c.warn, logs)
				}
				return
			}
			if !errors.Is(err, segment.ErrEmptySamples) {
				t.Fatalf("got %v, want ErrEmptySamples", err)
			}
			var fe *segment.FormatError
			if !errors.As(err, &fe) || fe.Source != "bad.mp4" || fe.Track != 1 || fe.Sample != c.sample {
				t.Errorf("%v does not name the source, track 1 and sample %d", err, c.sample)
			}
			if !strings.Contains(err.Error(), c.detail) {
				t.Errorf("error %q does not say %q", err, c.detail)
			}
		})
	}
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestEmptyTextTrackSkipped: a text track with nothing in it is skipped
// with a warning rather than refused (it shows nothing either way).
func TestEmptyTextTrackSkipped(t *testing.T) {
	b := mp4fixture.FMP4(t, 1000, "subtitle", func(_ *mp4.InitSegment, trak *mp4.TrakBox) {
		trak.Mdia.Minf.Stbl.Stsd.AddChild(mp4.NewStppBox("http://www.w3.org/ns/ttml", "", ""))
	}, []mp4fixture.Sample{{Dur: 1000, Sync: true}, {Dur: 1000, Sync: true}})
	err, logs := openLoggedBytes(t, b)
	if !errors.Is(err, segment.ErrNoTracks) {
		t.Fatalf("got %v, want ErrNoTracks (the only track skipped)", err)
	}
	if !strings.Contains(logs, "skipping text track whose samples are all empty") {
		t.Errorf("no warning in %q", logs)
	}
}

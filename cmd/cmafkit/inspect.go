package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/cmafkit/cmafkit/segment"
)

// trackReport is what "cmafkit inspect" says about one track.
type trackReport struct {
	ID        uint32  `json:"id"`
	Kind      string  `json:"kind"`
	Codec     string  `json:"codec"`
	Language  string  `json:"language"`
	Timescale uint32  `json:"timescale"`
	Duration  float64 `json:"duration_seconds"`
	Samples   int     `json:"samples"`
	Bitrate   int64   `json:"bitrate_bps"`
	// PeakRate is the highest bit rate over any 1 s of decode time that
	// starts at a sample (over the whole track when it is shorter), and
	// never below Bitrate.
	PeakRate   int64  `json:"peak_bitrate_1s_bps,omitempty"`
	Width      int    `json:"width,omitempty"`
	Height     int    `json:"height,omitempty"`
	FrameRate  string `json:"frame_rate,omitempty"`
	PixelAsp   string `json:"pixel_aspect,omitempty"`
	VideoRange string `json:"video_range,omitempty"`
	// Rotation is the clockwise rotation of the video's display matrix
	// (tkhd), which is kept in the output's init segment; Mirrored tells
	// that the matrix also mirrors it.
	Rotation   int     `json:"rotation_degrees_clockwise,omitempty"`
	Mirrored   bool    `json:"mirrored,omitempty"`
	SampleRate int     `json:"sample_rate,omitempty"`
	Channels   int     `json:"channels,omitempty"`
	Keyframes  int     `json:"keyframes,omitempty"`
	GOPMin     float64 `json:"gop_min_seconds,omitempty"`
	GOPMax     float64 `json:"gop_max_seconds,omitempty"`
	// StartOffset is the edit-list offset: B-frame delay or audio priming.
	StartOffset float64 `json:"edit_list_offset_seconds"`
}

type fileReport struct {
	File       string        `json:"file"`
	Size       int64         `json:"size"`
	Format     string        `json:"format"`
	Fragmented bool          `json:"fragmented"`
	Tracks     []trackReport `json:"tracks"`
	// Packageable tells whether the file packages as given with the default
	// 4 s segments, and Problems why not (or what to watch for).
	Packageable bool     `json:"packageable"`
	Problems    []string `json:"problems,omitempty"`
}

func runInspect(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("inspect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	segDur := fs.Duration("segment-duration", 4*time.Second, "segment duration to check keyframe spacing against")
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: cmafkit inspect [--json] FILE...\n\nShows tracks, codec strings, resolution, frame rate, keyframe interval, bitrates,\nduration and edit lists, and whether the file can be packaged as given.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return usageError{"inspect needs a FILE"}
	}
	var reports []fileReport
	for _, path := range fs.Args() {
		rep, err := inspectFile(ctx, path, *segDur)
		if err != nil {
			return err
		}
		reports = append(reports, rep)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(reports)
	}
	for _, r := range reports {
		printReport(stdout, r)
	}
	return nil
}

func inspectFile(ctx context.Context, path string, segDur time.Duration) (fileReport, error) {
	f, fi, err := segment.OpenInputFile(path)
	if err != nil {
		return fileReport{}, err
	}
	defer f.Close()
	src, err := segment.Open(ctx, f, fi.Size(), path, nil)
	if err != nil {
		return fileReport{}, err
	}
	rep := fileReport{File: path, Size: fi.Size(), Fragmented: src.Fragmented, Packageable: true, Format: "progressive MP4"}
	switch {
	case src.Format != "MP4":
		rep.Format = src.Format
	case src.Fragmented:
		rep.Format = "fragmented MP4"
	}
	for _, t := range src.Tracks {
		tr, err := describeTrack(t)
		if err != nil {
			return fileReport{}, err
		}
		rep.Tracks = append(rep.Tracks, tr)
		if t.Kind == segment.KindVideo && tr.GOPMax > segDur.Seconds()*1.5 {
			rep.Problems = append(rep.Problems, fmt.Sprintf("track %d: keyframes up to %.2f s apart: segments will be longer than the %s target (re-encode with a keyframe every %s)", t.ID, tr.GOPMax, segDur, segDur))
		}
	}
	if _, err := segment.PlanSegments(src.Tracks, segDur); err != nil {
		rep.Packageable = false
		rep.Problems = append(rep.Problems, err.Error())
	}
	return rep, nil
}

func describeTrack(t *segment.Track) (trackReport, error) {
	tr := trackReport{ID: t.ID, Kind: t.Kind.String(), Codec: t.Codec, Language: t.Language, Timescale: t.Timescale,
		Samples: t.SampleCount(), Width: t.Width, Height: t.Height, SampleRate: t.SampleRate, Channels: t.Channels, VideoRange: t.VideoRange}
	ts := float64(t.Timescale)
	tr.Duration = float64(t.Duration) / ts
	tr.StartOffset = float64(t.PresentationOffset) / ts
	var bytes int64
	var keys []uint64 // decode times of sync samples
	sc := t.Scan(0, t.SampleCount())
	for sc.Next() {
		s := sc.Sample()
		if s.Sync && t.Kind == segment.KindVideo {
			keys = append(keys, s.DecodeTime)
		}
		bytes += int64(s.Size)
	}
	if err := sc.Err(); err != nil {
		return tr, err
	}
	if tr.Duration > 0 {
		tr.Bitrate = int64(float64(bytes*8) / tr.Duration)
	}
	peak, err := peakRate(t)
	if err != nil {
		return tr, err
	}
	tr.PeakRate = max(peak, tr.Bitrate)
	if t.Kind == segment.KindVideo {
		tr.Rotation, tr.Mirrored = t.Rotation()
		tr.FrameRate = t.FrameRate.String()
		tr.PixelAsp = t.PixelAspect.String()
		tr.Keyframes = len(keys)
		sort.Slice(keys, func(a, b int) bool { return keys[a] < keys[b] })
		if len(keys) > 0 {
			keys = append(keys, keys[0]+t.Duration)
		}
		for i := 1; i < len(keys); i++ {
			g := float64(keys[i]-keys[i-1]) / ts
			if i == 1 || g < tr.GOPMin {
				tr.GOPMin = g
			}
			// The last GOP may be short; it still counts for the maximum.
			tr.GOPMax = max(tr.GOPMax, g)
		}
	}
	return tr, nil
}

// peakRate returns the highest bit rate of t over a window of one second
// of decode time (the track's duration when shorter) that starts at a
// sample: the bytes of the samples that start in the window, over its
// length. Two scanners walk the index, the trailing one a window behind,
// so memory does not grow with the track.
func peakRate(t *segment.Track) (int64, error) {
	win := min(uint64(t.Timescale), t.Duration)
	if win == 0 {
		return 0, nil
	}
	lead, trail := t.Scan(0, t.SampleCount()), t.Scan(0, t.SampleCount())
	var inWin, best int64 // bytes of the samples in [trail's time, trail's time + win)
	more := lead.Next()
	for trail.Next() {
		start := trail.Sample().DecodeTime
		for more && lead.Sample().DecodeTime < start+win {
			inWin += int64(lead.Sample().Size)
			more = lead.Next()
		}
		best = max(best, inWin)
		inWin -= int64(trail.Sample().Size)
	}
	if err := errors.Join(lead.Err(), trail.Err()); err != nil {
		return 0, err
	}
	return int64(float64(best*8) * float64(t.Timescale) / float64(win)), nil
}

func printReport(w io.Writer, r fileReport) {
	fmt.Fprintf(w, "%s: %s, %d bytes\n", r.File, r.Format, r.Size)
	for _, t := range r.Tracks {
		fmt.Fprintf(w, "  track %d %s %s lang=%s %.3f s %d samples %d kb/s (1 s peak %d kb/s)\n", t.ID, t.Kind, t.Codec, t.Language, t.Duration, t.Samples, t.Bitrate/1000, t.PeakRate/1000)
		switch t.Kind {
		case "video":
			fmt.Fprintf(w, "    %dx%d sar %s %s fps %s, %d keyframes, GOP %.3f–%.3f s\n", t.Width, t.Height, t.PixelAsp, t.FrameRate, t.VideoRange, t.Keyframes, t.GOPMin, t.GOPMax)
			if t.Rotation != 0 || t.Mirrored {
				fmt.Fprintf(w, "    display matrix: rotated %d° clockwise%s (kept in the output's init segment; manifests cannot signal it)\n", t.Rotation, map[bool]string{true: ", mirrored"}[t.Mirrored])
			}
		case "audio":
			fmt.Fprintf(w, "    %d Hz, %d channels\n", t.SampleRate, t.Channels)
		}
		if t.StartOffset != 0 {
			fmt.Fprintf(w, "    start offset %.4f s (edit list: B-frame delay or audio priming; for TS the program start)\n", t.StartOffset)
		}
	}
	if r.Packageable {
		fmt.Fprintln(w, "  packageable: yes")
	} else {
		fmt.Fprintln(w, "  packageable: NO")
	}
	for _, p := range r.Problems {
		fmt.Fprintf(w, "  ! %s\n", p)
	}
}

package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/cmafkit/cmafkit/packager"
	"github.com/cmafkit/cmafkit/segment"
)

// trackReport is what "cmafkit inspect" says about one track.
type trackReport struct {
	ID         uint32  `json:"id"`
	Kind       string  `json:"kind"`
	Codec      string  `json:"codec"`
	Language   string  `json:"language"`
	Timescale  uint32  `json:"timescale"`
	Duration   float64 `json:"duration_seconds"`
	Samples    int     `json:"samples"`
	Bitrate    int64   `json:"bitrate_bps"`
	PeakRate   int64   `json:"peak_bitrate_1s_bps,omitempty"`
	Width      int     `json:"width,omitempty"`
	Height     int     `json:"height,omitempty"`
	FrameRate  string  `json:"frame_rate,omitempty"`
	PixelAsp   string  `json:"pixel_aspect,omitempty"`
	VideoRange string  `json:"video_range,omitempty"`
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
	src, err := packager.OpenSource(ctx, f, fi.Size(), path, nil)
	if err != nil {
		return fileReport{}, err
	}
	rep := fileReport{File: path, Size: fi.Size(), Fragmented: src.Fragmented, Packageable: true, Format: "progressive MP4"}
	switch {
	case packager.IsTS(f, fi.Size()):
		rep.Format = "MPEG-TS"
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
	// Peak over 1 s windows of decode time.
	var winStart uint64
	var winBytes int64
	var keys []uint64 // decode times of sync samples
	sc := t.Scan(0, t.SampleCount())
	for sc.Next() {
		s := sc.Sample()
		if s.Sync && t.Kind == segment.KindVideo {
			keys = append(keys, s.DecodeTime)
		}
		bytes += int64(s.Size)
		for s.DecodeTime >= winStart+uint64(t.Timescale) {
			tr.PeakRate = max(tr.PeakRate, winBytes*8)
			winStart += uint64(t.Timescale)
			winBytes = 0
		}
		winBytes += int64(s.Size)
	}
	if err := sc.Err(); err != nil {
		return tr, err
	}
	tr.PeakRate = max(tr.PeakRate, winBytes*8)
	if tr.Duration > 0 {
		tr.Bitrate = int64(float64(bytes*8) / tr.Duration)
	}
	if t.Kind == segment.KindVideo {
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

func printReport(w io.Writer, r fileReport) {
	fmt.Fprintf(w, "%s: %s, %d bytes\n", r.File, r.Format, r.Size)
	for _, t := range r.Tracks {
		fmt.Fprintf(w, "  track %d %s %s lang=%s %.3f s %d samples %d kb/s (1 s peak %d kb/s)\n", t.ID, t.Kind, t.Codec, t.Language, t.Duration, t.Samples, t.Bitrate/1000, t.PeakRate/1000)
		switch t.Kind {
		case "video":
			fmt.Fprintf(w, "    %dx%d sar %s %s fps %s, %d keyframes, GOP %.3f–%.3f s\n", t.Width, t.Height, t.PixelAsp, t.FrameRate, t.VideoRange, t.Keyframes, t.GOPMin, t.GOPMax)
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

package playertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Stream is one stream that ffprobe decoded through a manifest (or any other
// input ffprobe reads).
type Stream struct {
	Index      int               // ffprobe's stream index
	Type       string            // "video", "audio", "subtitle", …
	Codec      string            // ffmpeg codec name: "h264", "aac", "hevc", "ac3", …
	Frames     int               // frames decoded (ffprobe -count_frames: nb_read_frames)
	Packets    int               // packets read (ffprobe -count_packets: nb_read_packets)
	Width      int               // video only
	Height     int               // video only
	SampleRate int               // audio only
	Channels   int               // audio only
	ID         string            // container stream id when ffprobe reports one (DASH: representation order)
	Tags       map[string]string // stream tags; HLS adds variant_bitrate, DASH id/variant_bitrate
}

// FFmpegDecode decodes every frame of every stream reachable from input (a
// manifest path or http URL, or a plain media file such as the packaging
// source) with `ffprobe -count_frames` and returns the decoded frame count of
// each stream in ffprobe's order. It fails t if ffprobe exits non-zero, prints
// any error (decode errors included) or finds no stream. It skips t when
// ffprobe is missing, except under CI=true.
//
// Comparing with the source: FFmpegDecode(t, "testdata/ladder_360p.mp4")
// gives the expected counts. Mind the edit list: the source's AAC track has
// 376 packets but decodes to 375 frames, because its edit list drops the
// priming frame; an output without that edit list decodes all 376.
func FFmpegDecode(t testing.TB, input string) []Stream {
	t.Helper()
	_, err := exec.LookPath("ffprobe")
	if err != nil {
		require(t, fmt.Errorf("%w: ffprobe (apt-get install ffmpeg)", ErrUnavailable))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	streams, err := Decode(ctx, input)
	if err != nil {
		t.Fatal(err)
	}
	return streams
}

// Decode is FFmpegDecode without testing.TB.
func Decode(ctx context.Context, input string) ([]Stream, error) {
	if !strings.Contains(input, "://") {
		// ffmpeg's DASH demuxer resolves segment URLs wrongly against a
		// relative manifest path.
		abs, err := filepath.Abs(input)
		if err != nil {
			return nil, err
		}
		input = abs
	}
	cmd := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-count_frames", "-count_packets",
		"-show_entries", "stream=index,id,codec_type,codec_name,nb_read_frames,nb_read_packets,width,height,sample_rate,channels:stream_tags",
		"-of", "json", input)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("playertest: ffprobe %s: %v\n%s", input, err, tail(stderr.Bytes()))
	}
	if msg := strings.TrimSpace(stderr.String()); msg != "" {
		return nil, fmt.Errorf("playertest: ffprobe %s reported errors:\n%s", input, tail(stderr.Bytes()))
	}
	var out struct {
		Streams []struct {
			Index      int               `json:"index"`
			ID         string            `json:"id"`
			Type       string            `json:"codec_type"`
			Codec      string            `json:"codec_name"`
			Frames     string            `json:"nb_read_frames"`
			Packets    string            `json:"nb_read_packets"`
			Width      int               `json:"width"`
			Height     int               `json:"height"`
			SampleRate string            `json:"sample_rate"`
			Channels   int               `json:"channels"`
			Tags       map[string]string `json:"tags"`
		} `json:"streams"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		return nil, fmt.Errorf("playertest: ffprobe %s: bad JSON: %v", input, err)
	}
	if len(out.Streams) == 0 {
		return nil, fmt.Errorf("playertest: ffprobe %s: no stream", input)
	}
	streams := make([]Stream, 0, len(out.Streams))
	for _, s := range out.Streams {
		frames, err := strconv.Atoi(s.Frames)
		if err != nil {
			return nil, fmt.Errorf("playertest: ffprobe %s: stream %d: no frame count (%q)", input, s.Index, s.Frames)
		}
		packets, _ := strconv.Atoi(s.Packets)
		sr, _ := strconv.Atoi(s.SampleRate)
		streams = append(streams, Stream{
			Index: s.Index, Type: s.Type, Codec: s.Codec, Frames: frames, Packets: packets, Width: s.Width, Height: s.Height,
			SampleRate: sr, Channels: s.Channels, ID: s.ID, Tags: s.Tags,
		})
	}
	return streams, nil
}

package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPackageInterstitials packages the embedded sample with a cue list
// break and --hls-interstitial-uri: the media playlists carry the break's
// SCTE-35 date range and its HLS Interstitial; both asset flags together
// are refused.
func TestPackageInterstitials(t *testing.T) {
	dir := t.TempDir()
	cues := filepath.Join(dir, "cues.json")
	if err := os.WriteFile(cues, []byte(`[{"time": 4, "duration": 2, "kind": "out"}]`), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	var errb bytes.Buffer
	err := run(context.Background(), []string{"package", "-q", "-o", out, "--cues", cues, "--cue-nearest-keyframe",
		"--hls-interstitial-uri", "https://ads.example/{id}.m3u8"}, &bytes.Buffer{}, &errb)
	if err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	pl, err := os.ReadFile(filepath.Join(out, "video_360p_avc.m3u8"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(pl), `ID="cue-1-ad",CLASS="com.apple.hls.interstitial"`) ||
		!strings.Contains(string(pl), `X-ASSET-URI="https://ads.example/cue-1.m3u8",X-RESUME-OFFSET=2.000`) ||
		!strings.Contains(string(pl), "SCTE35-OUT=0x") {
		t.Errorf("playlist without the interstitial:\n%s", pl)
	}
	err = run(context.Background(), []string{"package", "-q", "-o", t.TempDir(), "--hls-interstitial-uri", "a", "--hls-interstitial-list", "b"},
		&bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "give one") {
		t.Errorf("both asset flags: %v", err)
	}
}

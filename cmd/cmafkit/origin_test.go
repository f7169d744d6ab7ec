package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/internal/testutil"
)

// TestOriginCommand runs `cmafkit origin` on a directory and on a file://
// bucket, fetches a manifest and an encrypted init segment, and finds the
// requests logged and no key printed; with --smooth, the Smooth client
// manifest served clear and refused under /cbcs/; bad flags are usage
// errors.
func TestOriginCommand(t *testing.T) {
	dir := t.TempDir()
	b, err := os.ReadFile("../../testdata/ladder_360p.mp4")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "a.mp4"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	const key = "00112233445566778899aabbccddeeff:0f0e0d0c0b0a09080706050403020100"
	for _, root := range []string{dir, "file://" + dir} {
		ctx, cancel := context.WithCancel(t.Context())
		var stdout, stderr syncBuffer
		done := make(chan error, 1)
		go func() {
			done <- run(ctx, []string{"origin", "--addr", "127.0.0.1:0", "--key", key, "--smooth", root}, &stdout, &stderr)
		}()
		var base string
		for deadline := time.Now().Add(10 * time.Second); base == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if m := regexp.MustCompile(`http://[0-9.:]+`).FindString(stdout.String()); m != "" {
				base = m
			}
		}
		if base == "" {
			cancel()
			t.Fatalf("%s: no address printed: %q %q", root, stdout.String(), stderr.String())
		}
		for path, want := range map[string]string{"/a.mp4/master.m3u8": "#EXTM3U", "/cbcs/a.mp4/manifest.mpd": `value="cbcs"`, "/cenc/a.mp4/video_360p_avc/init.mp4": "encv",
			"/a.mp4/smooth/Manifest": "<SmoothStreamingMedia", "/cbcs/a.mp4/smooth/Manifest": "Smooth Streaming with cbcs"} {
			resp, err := http.Get(base + path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			status := 200
			if strings.HasPrefix(path, "/cbcs/a.mp4/smooth/") {
				status = http.StatusConflict
			}
			if resp.StatusCode != status || !bytes.Contains(body, []byte(want)) {
				t.Errorf("%s %s: %s, body lacks %q", root, path, resp.Status, want)
			}
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("%s: %v", root, err)
		}
		logs := stderr.String()
		if !strings.Contains(logs, "path=/cbcs/a.mp4/manifest.mpd") || !strings.Contains(logs, "status=200") {
			t.Errorf("%s: requests not logged: %s", root, logs)
		}
		if strings.Contains(logs+stdout.String(), "0f0e0d0c0b0a0908") {
			t.Errorf("%s: the key was printed", root)
		}
	}
	for _, args := range [][]string{
		{"origin"},
		{"origin", "--encryption", "cenc", dir},
		{"origin", "--encryption", "ctr", "--key", key, dir},
		{"origin", "--key", "nope", dir},
	} {
		var out, errOut bytes.Buffer
		if err := run(t.Context(), args, &out, &errOut); exitCode(err) != 2 {
			t.Errorf("%v: %v (exit %d), want a usage error", args, err, exitCode(err))
		}
	}
}

// TestPackageSteering: `cmafkit package --steering-server --pathway`
// writes steered manifests; a bad pathway is a usage error.
func TestPackageSteering(t *testing.T) {
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), []string{"package", "-q", "-o", out, "--steering-server", "https://steer.example/s.json",
		"--pathway", "a=https://a.example/vod/", "--pathway", "b=https://b.example/vod/", "../../testdata/ladder_360p.mp4"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	m, _ := os.ReadFile(filepath.Join(out, "master.m3u8"))
	d, _ := os.ReadFile(filepath.Join(out, "manifest.mpd"))
	if !bytes.Contains(m, []byte(`#EXT-X-CONTENT-STEERING:SERVER-URI="https://steer.example/s.json",PATHWAY-ID="a"`)) ||
		!bytes.Contains(m, []byte("PATHWAY-ID=\"b\"\nhttps://b.example/vod/video_360p_avc.m3u8")) {
		t.Errorf("master.m3u8:\n%s", m)
	}
	testutil.ValidateMPD(t, filepath.Join(out, "manifest.mpd"))
	if !bytes.Contains(d, []byte(`<BaseURL serviceLocation="b">https://b.example/vod/</BaseURL>`)) || !bytes.Contains(d, []byte(`<ContentSteering defaultServiceLocation="a"`)) {
		t.Errorf("manifest.mpd:\n%.500s", d)
	}
	if err := run(t.Context(), []string{"package", "-q", "-o", t.TempDir(), "--steering-server", "s.json", "--pathway", "a", "../../testdata/ladder_360p.mp4"}, &stdout, &stderr); exitCode(err) != 2 {
		t.Errorf("bad --pathway: %v, want a usage error", err)
	}
}

package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestLiveWebRTCFlags checks `cmafkit live --webrtc`: the usage errors, the
// WHIP and WHEP endpoints on the --http server, and the preview page's
// WHEP player.
func TestLiveWebRTCFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--webrtc", "--http", ""},
		{"--webrtc", "--http", "0.0.0.0:0"},
		{"--webrtc", "--whip-tokens", "k", "--http", "127.0.0.1:0"},
		{"--webrtc", "--webrtc-ports", "9-1", "--http", "127.0.0.1:0"},
	} {
		err := runLive(context.Background(), append([]string{"-o", t.TempDir()}, args...), io.Discard, io.Discard)
		var ue usageError
		if !errors.As(err, &ue) {
			t.Errorf("%q: %v, want a usage error", args, err)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- runLive(ctx, []string{"-o", t.TempDir(), "--http", "127.0.0.1:0", "--webrtc", "--whip-tokens", "k=tok"}, &stdout, &stderr)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("cmafkit live: %v", err)
		}
	}()
	var base string
	for deadline := time.Now().Add(10 * time.Second); base == ""; time.Sleep(50 * time.Millisecond) {
		if m := liveAtRE.FindStringSubmatch(stdout.String()); m != nil {
			base = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("not serving: %q %q", stdout.String(), stderr.String())
		}
	}
	if !strings.Contains(stdout.String(), "WHEP "+base+"/whep/live") {
		t.Errorf("stdout does not name the WHEP endpoint: %q", stdout.String())
	}
	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/"); code != 200 || !strings.Contains(body, `data-whep="/whep/live"`) || !strings.Contains(body, "whep.js") {
		t.Errorf("preview page %d without the WHEP player:\n%s", code, body)
	}
	if code, body := get("/_cmafkit/whep.js"); code != 200 || !strings.Contains(body, "RTCPeerConnection") {
		t.Errorf("whep.js: %d", code)
	}
	for _, c := range []struct {
		path, token string
		want        int
	}{
		{"/whip/k", "", http.StatusUnauthorized},
		{"/whip/other", "tok", http.StatusNotFound},
		{"/whip/k", "tok", http.StatusBadRequest}, // authorized, the offer is not SDP
		{"/whep/other", "", http.StatusNotFound},
		{"/whep/live", "", http.StatusBadRequest},
	} {
		req, _ := http.NewRequest("POST", base+c.path, strings.NewReader("not sdp"))
		req.Header.Set("Content-Type", "application/sdp")
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("POST %s: %d, want %d", c.path, resp.StatusCode, c.want)
		}
	}
}

// TestLiveWebRTCUDPClosed checks that `cmafkit live --webrtc-udp ADDR`
// releases its UDP socket when it ends: the same port can be bound again,
// by this process and by a second run.
func TestLiveWebRTCUDPClosed(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	for run := 1; run <= 2; run++ {
		ctx, cancel := context.WithCancel(context.Background())
		var stdout, stderr syncBuffer
		done := make(chan error, 1)
		go func() {
			done <- runLive(ctx, []string{"-o", t.TempDir(), "--http", "127.0.0.1:0", "--webrtc", "--webrtc-udp", addr}, &stdout, &stderr)
		}()
		for deadline := time.Now().Add(10 * time.Second); !liveAtRE.MatchString(stdout.String()); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				cancel()
				t.Fatalf("run %d not serving: %q %q (err %v)", run, stdout.String(), stderr.String(), <-done)
			}
		}
		// While it runs, the port is taken.
		if c, err := net.ListenPacket("udp", addr); err == nil {
			c.Close()
			t.Errorf("run %d: %s could be bound while cmafkit live holds it", run, addr)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		c, err := net.ListenPacket("udp", addr)
		if err != nil {
			t.Fatalf("after run %d the --webrtc-udp socket is still open: %v", run, err)
		}
		c.Close()
	}
}

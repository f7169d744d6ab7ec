package webrtc

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// minimalOffer is a syntactically valid offer with an H.264 video section
// to send; it cannot connect (no ICE credentials are answered by a peer).
const minimalOffer = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n" +
	"m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendonly\r\na=rtcp-mux\r\n" +
	"a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n" +
	"a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\n" +
	"a=setup:actpass\r\na=rtpmap:96 H264/90000\r\na=fmtp:96 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n"

// TestHTTPStatus checks the status codes of the WHIP and WHEP endpoints
// (RFC 9725): refusals before any peer connection, and a well-formed offer
// answered with 201, a Location and an application/sdp answer.
func TestHTTPStatus(t *testing.T) {
	t.Parallel()
	_, ch, base, _ := newTestServer(t, time.Second)
	vpOnly := strings.ReplaceAll(minimalOffer, "H264/90000", "VP8/90000")
	cases := []struct {
		name, method, path, ctype, token, body string
		want                                   int
	}{
		{"whip ok", "POST", "/whip/ch", "application/sdp", "secret", minimalOffer, 201},
		{"whip in use", "POST", "/whip/ch", "application/sdp", "secret", minimalOffer, 409},
		{"whip no token", "POST", "/whip/ch", "application/sdp", "", minimalOffer, 401},
		{"whip wrong token", "POST", "/whip/ch", "application/sdp", "wrong", minimalOffer, 401},
		{"whip unknown key", "POST", "/whip/nope", "application/sdp", "secret", minimalOffer, 404},
		{"whip wrong type", "POST", "/whip/ch", "text/plain", "secret", minimalOffer, 415},
		{"whip bad sdp", "POST", "/whip/ch", "application/sdp", "secret", "hello", 400},
		{"whip no codec", "POST", "/whip/ch", "application/sdp", "secret", vpOnly, 400},
		{"whip GET", "GET", "/whip/ch", "", "secret", "", 405},
		{"whep unknown", "POST", "/whep/nope", "application/sdp", "", minimalOffer, 404},
		{"whep wrong type", "POST", "/whep/ch", "application/json", "", minimalOffer, 415},
		{"whep bad sdp", "POST", "/whep/ch", "application/sdp", "", "v=0\r\nbroken", 400},
		{"delete unknown", "DELETE", "/whip/ch/0123", "", "", "", 404},
		{"patch unknown", "PATCH", "/whep/ch/0123", "", "", "", 404},
		{"options", "OPTIONS", "/whip/ch", "", "", "", 204},
	}
	var location string
	for _, c := range cases {
		req, _ := http.NewRequest(c.method, base+c.path, strings.NewReader(c.body))
		if c.ctype != "" {
			req.Header.Set("Content-Type", c.ctype)
		}
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s: %s %s: %d %s, want %d", c.name, c.method, c.path, resp.StatusCode, strings.TrimSpace(string(body)), c.want)
		}
		switch {
		case c.want == 201:
			location = resp.Header.Get("Location")
			if !strings.HasPrefix(location, "/whip/ch/") || resp.Header.Get("Content-Type") != "application/sdp" ||
				!strings.Contains(string(body), "a=recvonly") {
				t.Errorf("%s: Location %q, Content-Type %q, answer:\n%s", c.name, location, resp.Header.Get("Content-Type"), body)
			}
		case c.want == 401 && resp.Header.Get("WWW-Authenticate") == "":
			t.Errorf("%s: 401 without WWW-Authenticate", c.name)
		}
	}
	// The session's resource: PATCH (trickle ICE) is not supported, DELETE
	// ends it and frees the stream key.
	for _, c := range []struct {
		method string
		want   int
	}{{"PATCH", 405}, {"DELETE", 200}, {"DELETE", 404}} {
		req, _ := http.NewRequest(c.method, base+location, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s %s: %d, want %d", c.method, location, resp.StatusCode, c.want)
		}
	}
	if st := ch.Stats(); st.Publishers != 1 || st.Refused != 1 {
		t.Errorf("channel stats %+v, want one publisher and one refused", st)
	}
}

// TestConnectTimeout checks that a WHIP publisher and a WHEP viewer that
// never complete ICE are dropped after ConnectTimeout, and the stream key
// is free again.
func TestConnectTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the connect timeout: skipped with -short")
	}
	t.Parallel()
	s, ch, base, _ := newTestServer(t, time.Second)
	whepOffer := strings.ReplaceAll(minimalOffer, "a=sendonly", "a=recvonly")
	post := func(path, token string) int {
		offer := minimalOffer
		if strings.HasPrefix(path, "/whep/") {
			offer = whepOffer
		}
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(offer))
		req.Header.Set("Content-Type", "application/sdp")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := post("/whip/ch", "secret"); c != 201 {
		t.Fatalf("first WHIP POST: %d", c)
	}
	if c := post("/whep/ch", ""); c != 201 {
		t.Fatalf("WHEP POST: %d", c)
	}
	deadline := time.Now().Add(s.ConnectTimeout + 3*time.Second)
	for {
		s.mu.Lock()
		n := len(s.sessions)
		s.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions still open after the connect timeout", n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if c := post("/whip/ch", "secret"); c != 201 {
		t.Errorf("WHIP POST after the timeout: %d, want 201 (key free again)", c)
	}
	if st := ch.Stats(); st.Publishers != 2 {
		t.Errorf("channel stats %+v", st)
	}
}

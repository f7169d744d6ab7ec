package main

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cencCPIX is a CPIX document with one cenc key for video and another for
// audio: a fixed IV is then usable by one channel (its two tracks do not
// share a key).
const cencCPIX = `<?xml version="1.0" encoding="UTF-8"?>
<cpix:CPIX xmlns:cpix="urn:dashif:org:cpix" xmlns:pskc="urn:ietf:params:xml:ns:keyprov:pskc" version="2.3">
  <cpix:ContentKeyList>
    <cpix:ContentKey kid="5a4e3a5f-0b4c-4c43-9d6b-1f2e3d4c5b6a" commonEncryptionScheme="cenc">
      <cpix:Data><pskc:Secret><pskc:PlainValue>AAECAwQFBgcICQoLDA0ODw==</pskc:PlainValue></pskc:Secret></cpix:Data>
    </cpix:ContentKey>
    <cpix:ContentKey kid="a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d" commonEncryptionScheme="cenc">
      <cpix:Data><pskc:Secret><pskc:PlainValue>ICEiIyQlJicoKSorLC0uLw==</pskc:PlainValue></pskc:Secret></cpix:Data>
    </cpix:ContentKey>
  </cpix:ContentKeyList>
  <cpix:ContentKeyUsageRuleList>
    <cpix:ContentKeyUsageRule kid="5a4e3a5f-0b4c-4c43-9d6b-1f2e3d4c5b6a" intendedTrackType="VIDEO"><cpix:VideoFilter/></cpix:ContentKeyUsageRule>
    <cpix:ContentKeyUsageRule kid="a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d" intendedTrackType="AUDIO"><cpix:AudioFilter/></cpix:ContentKeyUsageRule>
  </cpix:ContentKeyUsageRuleList>
</cpix:CPIX>
`

// TestLiveFixedIVAcrossChannels: `cmafkit live --encryption cenc --iv`
// with a key per track class; an MPEG-TS push on key "a" is packaged
// encrypted, one on key "b" would encrypt with the same keys and IV (the
// same AES-CTR keystream) and is refused, naming the reuse, with nothing
// written for "b". Each keyed channel used to have its own drm session,
// which could not see the others' tracks.
func TestLiveFixedIVAcrossChannels(t *testing.T) {
	cpix := filepath.Join(t.TempDir(), "keys.xml")
	if err := os.WriteFile(cpix, []byte(cencCPIX), 0o644); err != nil {
		t.Fatal(err)
	}
	ts, err := os.ReadFile(filepath.Join("..", "..", "testdata", "h264_aac.ts"))
	if err != nil {
		t.Fatal(err)
	}
	dir, base, stderr, stop := startKeyedLive(t, "--encryption", "cenc", "--cpix", cpix, "--iv", "0102030405060708")
	push := func(key string) (int, string) {
		resp, err := http.Post(base+tsIngestPath+key, "video/mp2t", bytes.NewReader(ts))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, msg := push("a"); code/100 != 2 {
		t.Fatalf("push on a: %d %s", code, msg)
	}
	code, msg := push("b")
	t.Logf("push on b: %d %s", code, strings.TrimSpace(msg))
	if code/100 == 2 || !strings.Contains(msg, "AES-CTR keystream") {
		t.Errorf("push on b with the same keys and fixed IV: %d %q, want it refused for IV reuse", code, msg)
	}
	stop()
	checkChannel(t, filepath.Join(dir, "a"))
	if names, _ := filepath.Glob(filepath.Join(dir, "b", "*", "*.m4s")); len(names) != 0 {
		t.Errorf("channel b wrote %q", names)
	}
	if strings.Contains(stderr.String(), "AAECAwQFBgcICQoLDA0ODw") || strings.Contains(stderr.String(), "000102030405060708090a0b0c0d0e0f") {
		t.Errorf("a key in the log:\n%s", stderr.String())
	}
}

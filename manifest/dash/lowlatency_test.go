package dash_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cmafkit/cmafkit/internal/testutil"
	"github.com/cmafkit/cmafkit/manifest/internal/manifesttest"
)

// TestLowLatencyGolden renders the low-latency fixture, compares it with
// testdata/lowlatency.mpd, validates it against the DASH schema, and checks
// the low-latency signalling: SegmentTemplate@duration from the period's
// first number with availabilityTimeOffset and availabilityTimeComplete,
// a ServiceDescription, and the producer reference time on each set's
// timeline (16 s: 16×90000 video ticks, 16×48000 audio ticks).
func TestLowLatencyGolden(t *testing.T) {
	p := manifesttest.LowLatencyModel()
	got := render(t, p)
	path := filepath.Join("testdata", "lowlatency.mpd")
	if testutil.Update() {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("differs from %s:\n%s", path, got)
	}
	testutil.ValidateMPD(t, path)
	s := string(got)
	for _, want := range []string{
		`availabilityTimeOffset="1.5" availabilityTimeComplete="false" duration="180000" startNumber="1"`,
		`<ServiceDescription id="0">`,
		`<Latency target="3000" max="6000" min="2000"></Latency>`,
		`<PlaybackRate max="1.04" min="0.96"></PlaybackRate>`,
		`startNumber="1" initialization="video/init.mp4" media="video/seg-$Number$.m4s"></SegmentTemplate>`,
		`<ProducerReferenceTime id="0" type="encoder" wallClockTime="2024-05-01T12:00:16.15Z" presentationTime="1440000">`,
		`presentationTime="768000"`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("MPD lacks %s", want)
		}
	}
	// Ended, the MPD no longer announces segments early.
	p.Ended = true
	if s := string(render(t, p)); strings.Contains(s, "availabilityTime") || strings.Contains(s, "ServiceDescription") {
		t.Errorf("ended MPD keeps low-latency signalling:\n%s", s)
	}
}

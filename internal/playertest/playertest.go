// Package playertest plays packaged output in real browser players, for tests.
//
// Play serves a directory on 127.0.0.1 (with internal/serve's handler, so the
// MIME types, Range and CORS behaviour are those of `cmafkit serve`), opens
// a fresh browser context in the headless Debian Chromium that the runs of
// one test process share (driven through playwright-core), and plays a
// manifest with Shaka Player (HLS and DASH), hls.js (HLS) or dash.js
// (DASH). The players, the driver and the test page live in the node project
// in internal/playertest/js, pinned by its package-lock.json and installed
// with `npm ci` (.ci/run does this). Nothing is fetched from the internet.
//
// A run passes when playback reaches Options.MinPlay (6 s by default) with no
// player error, at least one video frame was decoded, and after a seek to the
// middle of the presentation the clock advances again.
//
// With Options.Live a run plays a live stream instead: it passes when the
// player reports a live stream and playback advances at real-time speed with
// no stall for MinPlay of wall clock, and reports the live latency.
//
// With Options.TextLanguage a run also selects a text track and makes it
// visible through each player's own API (Shaka 5 selectTextTrack, which
// also makes text visible; hls.js setSubtitleOption and subtitleDisplay;
// dash.js setTextTrack and enableText), and reports the cues the player put
// on the video element's showing text tracks (Result.Cues) and the cue texts
// that were active while playing (Result.ShownTexts).
//
// FFmpegDecode decodes every stream reachable through a manifest with ffprobe
// and reports decoded frame counts, for comparison with the source.
//
// Tests that need chromium, node, the node modules, ffmpeg or ffprobe are
// skipped when one is missing, except when the environment has CI=true: then
// they fail, so that CI cannot pass by skipping.
package playertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/internal/serve"
	"github.com/cmafkit/cmafkit/internal/testutil"
)

// Player names a browser player.
type Player string

// The players Play can drive.
const (
	Shaka  Player = "shaka"  // shaka-player: HLS and DASH
	HLSJS  Player = "hlsjs"  // hls.js: HLS only
	DashJS Player = "dashjs" // dash.js: DASH only
	// DashJSMSS is dash.js with its Smooth Streaming module
	// (dash.mss.min.js): Smooth Streaming client manifests.
	DashJSMSS Player = "dashjs-mss"
)

// Players lists every player for a manifest kind: "hls", "dash" or
// "smooth" (compared case-insensitively), or by the manifest's name
// (.m3u8, .mpd, a Smooth client manifest's "Manifest").
func Players(kindOrManifest string) []Player {
	k := strings.ToLower(kindOrManifest)
	switch {
	case k == "hls" || strings.HasSuffix(k, ".m3u8"):
		return []Player{Shaka, HLSJS}
	case k == "dash" || strings.HasSuffix(k, ".mpd"):
		return []Player{Shaka, DashJS}
	case k == "smooth" || k == "manifest" || strings.HasSuffix(k, "/manifest"):
		return []Player{DashJSMSS}
	}
	return nil
}

// Options describes one player run. The zero value is not runnable: Dir (or
// an absolute Manifest URL) and Manifest are required.
type Options struct {
	// Dir is served at the root of the test server.
	Dir string
	// Manifest is the manifest's slash-separated path inside Dir, or an
	// absolute http(s) URL served elsewhere (that server must send CORS
	// headers).
	Manifest string
	// Player chooses the player; empty means Shaka.
	Player Player

	// MinPlay is the media time playback must reach before the seek; zero
	// means 6 s. Content shorter than that must play to (nearly) its end.
	MinPlay time.Duration
	// NoSeek skips the seek to the middle.
	NoSeek bool
	// Live plays a live stream: the run passes when the player reports a
	// live stream (video.duration is Infinity or the player says so), and
	// after start-up playback advances at real-time speed (media time
	// against wall clock: at least half speed, since CPU contention on a
	// small machine slows browsers, and at most 1.2×) for MinPlay of wall clock with no
	// stall (no 'waiting' event). Result.Latency reports how far the
	// playhead is behind the wall clock where the player exposes it. Live
	// runs never seek.
	Live bool
	// LowLatency configures a Live run for a low-latency stream: each
	// player in its low-latency mode with latency catch-up (hls.js
	// lowLatencyMode and maxLiveSyncPlaybackRate, Shaka lowLatencyMode and
	// liveSync (HLS; DASH takes the MPD's ServiceDescription), dash.js's own low-latency mode and
	// catch-up, which the MPD turns on), and playback up to 1.5× real time
	// accepted while it catches up. Result.FinalLatency reports where the
	// latency settled.
	LowLatency bool
	// TargetLatency, when set, is Shaka's liveSync target in a LowLatency
	// run, counted from the end of its seek range (for LL-HLS, PART-HOLD-BACK
	// behind the live edge); zero means 0 for HLS and the MPD's
	// ServiceDescription for DASH.
	TargetLatency time.Duration
	// AudioOnly accepts zero decoded video frames.
	AudioOnly bool
	// PlaybackRate sets video.playbackRate; zero means 1.
	PlaybackRate float64
	// Timeout bounds the whole browser run; zero means 2 minutes.
	Timeout time.Duration
	// StepTimeout bounds each wait inside the page (metadata, seek, resume);
	// zero means 30 s.
	StepTimeout time.Duration

	// ClearKeys are ClearKey content keys, KID → key, both as 32 hex digits
	// (dashes in the KID are ignored). When set, the test server also runs a
	// ClearKey license server that knows these keys. Shaka and dash.js get
	// the keys inline unless LicenseOnly is set; hls.js always uses the
	// license server.
	ClearKeys map[string]string
	// LicenseOnly gives every player only the license server URL, so key
	// delivery goes through a real license request.
	LicenseOnly bool
	// LicenseURL is an external ClearKey license server. It replaces the
	// built-in one and implies LicenseOnly.
	LicenseURL string
	// HLSJSKeyIDs gives hls.js a drmSystems generateRequest filter that
	// builds "keyids" init data from the KID of the segment's EXT-X-KEY.
	// Without it hls.js takes ClearKey init data only from "encrypted"
	// events, which it cannot match to a playlist key (its eme-controller
	// reads KIDs from FairPlay, PlayReady and Widevine init data only), so
	// with key rotation it pairs one period's pssh with another's key.
	HLSJSKeyIDs bool

	// TextLanguage selects the text track of this language and makes it
	// visible. Tags match when equal or when one is a prefix of the other
	// (as hls.js matches them), so "en" selects "eng". The run then also
	// fails unless the player put at least one cue on a showing text track
	// of the video element.
	TextLanguage string
	// TextFormat narrows the text selection to one carriage: TextWebVTT or
	// TextIMSC1. Empty selects the first track of the language.
	TextFormat TextFormat

	// Debug turns on the player's own debug logging (hls.js, dash.js) in
	// the browser console that Result.Console carries.
	Debug bool

	// Chromium is the browser binary; empty means $CMAFKIT_CHROMIUM or
	// /usr/bin/chromium.
	Chromium string
	// Log receives progress lines (e.g. t.Logf); nil discards them.
	Log func(format string, args ...any)
}

// TextFormat names a text carriage for Options.TextFormat.
type TextFormat string

// The text formats a run can select.
const (
	TextWebVTT TextFormat = "webvtt" // wvtt in fMP4 (DASH) or WebVTT text segments (HLS)
	TextIMSC1  TextFormat = "stpp"   // TTML (IMSC1 text profile) in fMP4: stpp
)

// Cue is a text cue a player put on a text track of the video element.
type Cue struct {
	Start, End float64 // presentation times (s)
	// Text is the cue text as the player set it (WebVTT markup such as <b>
	// kept); for dash.js's TTML cues, which carry a rendered document
	// instead, the text of its spans with line breaks as "\n".
	Text string
}

// Result is what a player run observed.
type Result struct {
	Player        Player
	PlayerVersion string
	ManifestURL   string
	OK            bool           // the page's own verdict: no error, every wait satisfied
	Phase         string         // the last phase the page entered ("done" when complete)
	Reached       float64        // media time (s) reached before the seek
	Duration      float64        // the presentation duration the player reported (s)
	Frames        int            // decoded video frames (getVideoPlaybackQuality().totalVideoFrames)
	DroppedFrames int            // dropped video frames
	SeekTarget    float64        // where the page seeked to (s), -1 without a seek
	SeekedAt      float64        // currentTime right after the seek completed (s)
	ResumedAt     float64        // currentTime once playback had advanced after the seek (s)
	Errors        []string       // player and media element errors; empty on success
	Warnings      []string       // non-fatal player errors (e.g. hls.js retries)
	Events        []string       // media element events and player milestones, timestamped
	Console       []string       // browser console, page errors, failed requests and HTTP errors
	LicenseCalls  int            // requests answered by the built-in ClearKey license server
	LicenseKIDs   []string       // distinct KIDs (hex, sorted) the built-in license server returned keys for
	TextTrack     string         // the text track selected for Options.TextLanguage, as the player described it
	TextTracks    []string       // the video element's text tracks at the end (kind, label, language, mode, cue count)
	Cues          []Cue          // every cue seen on a showing text track during the run, by start time
	ShownTexts    []string       // distinct texts of cues active (displayed) while playing, in order of appearance
	Requests      []string       // paths (inside Dir, no leading slash) the page fetched from the test server, in order
	SourceBuffers []SourceBuffer // the MSE SourceBuffers the player created, in creation order
	Elapsed       time.Duration  // wall time of the browser run

	// Live runs (Options.Live).
	IsLive      bool    // the player reported a live stream
	WallPlayed  float64 // wall-clock seconds of measured live playback
	MediaPlayed float64 // media seconds the playhead advanced meanwhile
	Stalls      int     // 'waiting' events after start-up
	// Latency is the mean over the run of wall clock minus the program
	// date time of the playhead (hls.js playingDate, Shaka
	// getPlayheadTimeAsDate) or dash.js getCurrentLiveLatency, in
	// seconds; -1 when the player exposed none.
	Latency float64
	// FinalLatency is the mean of the last five latency samples (one a
	// second), where a catching-up player settled; -1 without samples.
	FinalLatency float64

	// AdMarkers are the ad markers (SCTE-35 cues) the player exposed, once
	// each, in the order they appeared.
	AdMarkers []AdMarker
}

// SourceBuffer is what a run saw of one MSE SourceBuffer: where the player's
// first appended media landed on the presentation timeline, which tells
// whether the tracks of a presentation start together.
type SourceBuffer struct {
	MIME string `json:"mime"` // the type given to addSourceBuffer, codecs included
	// FirstStart is the start of the buffered range (s) right after the
	// first append that buffered media; nil when nothing was buffered.
	FirstStart *float64 `json:"firstStart"`
	// TimestampOffset and AppendWindowStart are the SourceBuffer's settings
	// (s) at that moment, as the player had set them.
	TimestampOffset   float64 `json:"timestampOffset"`
	AppendWindowStart float64 `json:"appendWindowStart"`
	// Start and End bound the buffered ranges at the last append (s).
	Start *float64 `json:"start"`
	End   *float64 `json:"end"`
}

// Kind is "video", "audio" or "text": the top-level type of MIME.
func (b SourceBuffer) Kind() string {
	k, _, _ := strings.Cut(b.MIME, "/")
	return k
}

// ErrPlayback is wrapped by the error Run returns when the player ran but the
// playback checks failed.
var ErrPlayback = errors.New("playertest: playback check failed")

// ErrUnavailable is wrapped by the error Available and Run return when a tool
// the harness needs is missing.
var ErrUnavailable = errors.New("playertest: tool unavailable")

// JSDir returns the node project directory (containing node_modules and the
// test page): $CMAFKIT_PLAYERTEST_JS if set, else the js directory beside this
// source file.
func JSDir() string {
	if d := os.Getenv("CMAFKIT_PLAYERTEST_JS"); d != "" {
		return d
	}
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "js"
	}
	return filepath.Join(filepath.Dir(file), "js")
}

func chromiumPath(o *Options) string {
	if o.Chromium != "" {
		return o.Chromium
	}
	if c := os.Getenv("CMAFKIT_CHROMIUM"); c != "" {
		return c
	}
	return "/usr/bin/chromium"
}

// Available reports whether chromium, node and the installed node modules
// are present, wrapping ErrUnavailable with what is missing when not.
func Available() error {
	var missing []string
	if _, err := os.Stat(chromiumPath(&Options{})); err != nil {
		missing = append(missing, "chromium ("+chromiumPath(&Options{})+"; apt-get install chromium)")
	}
	if _, err := exec.LookPath("node"); err != nil {
		missing = append(missing, "node")
	}
	js := JSDir()
	for _, m := range []string{"playwright-core", "shaka-player", "hls.js", "dashjs"} {
		if _, err := os.Stat(filepath.Join(js, "node_modules", m, "package.json")); err != nil {
			missing = append(missing, "node module "+m+" (run `npm ci` in "+js+")")
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s", ErrUnavailable, strings.Join(missing, ", "))
	}
	return nil
}

// browserSlots bounds how many browsers this process runs at once, so that
// parallel tests (t.Parallel) share the machine's cores sensibly. A run is
// mostly real-time playback (about 1.5 s of CPU per 9 s run), so a few fit
// on two cores. $CMAFKIT_PLAYERTEST_PARALLEL overrides the default of 3.
var browserSlots = make(chan struct{}, maxBrowsers())

func maxBrowsers() int {
	if n, err := strconv.Atoi(os.Getenv("CMAFKIT_PLAYERTEST_PARALLEL")); err == nil && n > 0 {
		return n
	}
	return 3
}

// Require skips t when err reports a missing tool, or fails it under CI=true.
func require(t testing.TB, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if testutil.InCI() {
		t.Fatalf("%v (CI=true: required)", err)
	}
	t.Skipf("%v", err)
}

// Play runs the player described by opts and fails t, with the browser
// console, if playback did not pass. It skips t when the browser tools are
// missing (fails under CI=true).
func Play(t testing.TB, ctx context.Context, opts Options) *Result {
	t.Helper()
	require(t, Available())
	if opts.Log == nil {
		opts.Log = t.Logf
	}
	res, err := Run(ctx, opts)
	if err != nil {
		var b strings.Builder
		fmt.Fprintf(&b, "%v", err)
		if res != nil {
			fmt.Fprintf(&b, "\n%s", res.Report())
		}
		t.Fatal(b.String())
	}
	if opts.Live {
		t.Logf("%s %s: live, %.2fs of media in %.2fs, %d stalls, latency %.2fs (final %.2fs), %d frames (%d dropped), %s",
			res.Player, res.PlayerVersion, res.MediaPlayed, res.WallPlayed, res.Stalls, res.Latency, res.FinalLatency, res.Frames, res.DroppedFrames, res.Elapsed.Round(time.Millisecond))
		return res
	}
	t.Logf("%s %s: reached %.2fs, %d frames (%d dropped), seek %.2f→%.2f, %s",
		res.Player, res.PlayerVersion, res.Reached, res.Frames, res.DroppedFrames, res.SeekTarget, res.ResumedAt, res.Elapsed.Round(time.Millisecond))
	if opts.TextLanguage != "" {
		t.Logf("%s text track %q: %d cues, shown %q", res.Player, res.TextTrack, len(res.Cues), res.ShownTexts)
	}
	return res
}

// Report formats everything a failed run observed, for a test log.
func (r *Result) Report() string {
	var b strings.Builder
	fmt.Fprintf(&b, "player %s %s, manifest %s, phase %q, reached %.3fs of %.3fs, frames %d (dropped %d), seek %.3f→%.3f→%.3f, license calls %d (keys %v), %s\n",
		r.Player, r.PlayerVersion, r.ManifestURL, r.Phase, r.Reached, r.Duration, r.Frames, r.DroppedFrames,
		r.SeekTarget, r.SeekedAt, r.ResumedAt, r.LicenseCalls, r.LicenseKIDs, r.Elapsed.Round(time.Millisecond))
	section := func(name string, lines []string) {
		if len(lines) == 0 {
			return
		}
		fmt.Fprintf(&b, "--- %s:\n", name)
		for _, l := range lines {
			fmt.Fprintf(&b, "  %s\n", l)
		}
	}
	section("errors", r.Errors)
	section("warnings", r.Warnings)
	section("events", r.Events)
	if r.TextTrack != "" || len(r.Cues) > 0 {
		section("text tracks (selected: "+r.TextTrack+")", r.TextTracks)
		cues := make([]string, len(r.Cues))
		for i, c := range r.Cues {
			cues[i] = fmt.Sprintf("%.3f-%.3f %q", c.Start, c.End, c.Text)
		}
		section("cues", cues)
		section("shown", r.ShownTexts)
	}
	section("requests", r.Requests)
	section("browser console", r.Console)
	return b.String()
}

// pageConfig is what page/play.js reads from /_playertest/config.json.
type pageConfig struct {
	Player         Player      `json:"player"`
	Manifest       string      `json:"manifest"`
	MinPlaySeconds float64     `json:"minPlaySeconds"`
	Seek           bool        `json:"seek"`
	Live           bool        `json:"live,omitempty"`
	LowLatency     bool        `json:"lowLatency,omitempty"`
	TargetLatency  float64     `json:"targetLatency,omitempty"`
	PlaybackRate   float64     `json:"playbackRate,omitempty"`
	StepTimeoutMs  int64       `json:"stepTimeoutMs"`
	Debug          bool        `json:"debug"`
	DRM            *drmConfig  `json:"drm,omitempty"`
	Text           *textConfig `json:"text,omitempty"`
}

type textConfig struct {
	Language string     `json:"language"`
	Format   TextFormat `json:"format,omitempty"`
}

type drmConfig struct {
	ClearKeys   map[string]string `json:"clearKeys,omitempty"`
	LicenseURL  string            `json:"licenseUrl,omitempty"`
	LicenseOnly bool              `json:"licenseOnly"`
	HLSJSKeyIDs bool              `json:"hlsjsKeyIds,omitempty"`
}

// pageResult mirrors the state object of page/play.js.
type pageResult struct {
	OK            bool           `json:"ok"`
	Player        string         `json:"player"`
	PlayerVersion string         `json:"playerVersion"`
	Phase         string         `json:"phase"`
	Reached       float64        `json:"reached"`
	Frames        int            `json:"frames"`
	DroppedFrames int            `json:"droppedFrames"`
	Duration      float64        `json:"duration"`
	SeekTarget    float64        `json:"seekTarget"`
	SeekedAt      float64        `json:"seekedAt"`
	ResumedAt     float64        `json:"resumedAt"`
	Errors        []string       `json:"errors"`
	Warnings      []string       `json:"warnings"`
	Events        []string       `json:"events"`
	TextTrack     string         `json:"textTrack"`
	TextTracks    []string       `json:"textTracks"`
	Cues          []Cue          `json:"cues"`
	Shown         []string       `json:"shown"`
	Requests      []string       `json:"requests"`
	SourceBuffers []SourceBuffer `json:"sourceBuffers"`
	Live          bool           `json:"live"`
	WallPlayed    float64        `json:"wallPlayed"`
	MediaPlayed   float64        `json:"mediaPlayed"`
	Stalls        int            `json:"stalls"`
	Latency       float64        `json:"latency"`
	FinalLatency  float64        `json:"finalLatency"`
	AdMarkers     []AdMarker     `json:"adMarkers"`
}

// AdMarker is a timed marker (an ad break's cue) as a player exposed it:
// an hls.js date range (levelDetails.dateRanges), a Shaka timeline region
// (timelineregionadded) or a dash.js event of an SCTE-35 scheme.
type AdMarker struct {
	Source string  `json:"source"` // "hlsjs", "shaka" or "dashjs"
	ID     string  `json:"id"`     // the date range ID, the region's or event's id
	Scheme string  `json:"scheme"` // the date range CLASS, or the scheme URI
	Start  float64 `json:"start"`  // on the player's timeline (s)
}

type driverOutput struct {
	ID           int64           `json:"id"`
	Result       json.RawMessage `json:"result"`
	Console      []string        `json:"console"`
	HarnessError string          `json:"harnessError"`
}

// Run is Play without testing.TB: it returns the observations and an error
// wrapping ErrPlayback when a check failed, ErrUnavailable when a tool is
// missing, or another error when the harness itself could not run.
func Run(ctx context.Context, opts Options) (*Result, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	if opts.Player == "" {
		opts.Player = Shaka
	}
	switch opts.Player {
	case Shaka, HLSJS, DashJS, DashJSMSS:
	default:
		return nil, fmt.Errorf("playertest: unknown player %q", opts.Player)
	}
	if opts.MinPlay <= 0 {
		opts.MinPlay = 6 * time.Second
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 2 * time.Minute
	}
	if opts.StepTimeout <= 0 {
		opts.StepTimeout = 30 * time.Second
	}
	if opts.Log == nil {
		opts.Log = func(string, ...any) {}
	}
	external := strings.HasPrefix(opts.Manifest, "http://") || strings.HasPrefix(opts.Manifest, "https://")
	if opts.Manifest == "" || (!external && opts.Dir == "") {
		return nil, errors.New("playertest: Options.Dir and Options.Manifest are required")
	}
	if !external && !fs.ValidPath(strings.TrimPrefix(opts.Manifest, "/")) {
		return nil, fmt.Errorf("playertest: manifest %q is not a slash-separated path inside Dir", opts.Manifest)
	}

	// Wait for a browser slot before the timeout starts, so queued runs do
	// not eat into their own time budget.
	select {
	case browserSlots <- struct{}{}:
		defer func() { <-browserSlots }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()

	// The served tree: the output directory at "/", the node project (test
	// page and players) under "/_pt/".
	var root fs.FS = emptyFS{}
	if opts.Dir != "" {
		r, err := serve.Dir(opts.Dir)
		if err != nil {
			return nil, fmt.Errorf("playertest: serve %s: %w", opts.Dir, err)
		}
		root = r
	}
	jsFS, err := serve.Dir(JSDir())
	if err != nil {
		return nil, fmt.Errorf("playertest: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", serve.NewHandler(root, serve.Config{Mounts: map[string]fs.FS{"/_pt/": jsFS}}))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("playertest: listen: %w", err)
	}
	base := "http://" + ln.Addr().String()

	cfg := pageConfig{
		Player:         opts.Player,
		Manifest:       opts.Manifest,
		MinPlaySeconds: opts.MinPlay.Seconds(),
		Seek:           !opts.NoSeek && !opts.Live,
		Live:           opts.Live,
		LowLatency:     opts.LowLatency,
		TargetLatency:  opts.TargetLatency.Seconds(),
		PlaybackRate:   opts.PlaybackRate,
		StepTimeoutMs:  opts.StepTimeout.Milliseconds(),
		Debug:          opts.Debug,
	}
	if opts.TextLanguage != "" {
		cfg.Text = &textConfig{Language: opts.TextLanguage, Format: opts.TextFormat}
	} else if opts.TextFormat != "" {
		return nil, errors.New("playertest: Options.TextFormat needs TextLanguage")
	}
	switch opts.TextFormat {
	case "", TextWebVTT, TextIMSC1:
	default:
		return nil, fmt.Errorf("playertest: unknown text format %q", opts.TextFormat)
	}
	if !external {
		cfg.Manifest = base + "/" + strings.TrimPrefix(opts.Manifest, "/")
	}
	var licenseCalls atomic.Int64
	var servedMu sync.Mutex
	served := map[string]bool{}
	if len(opts.ClearKeys) > 0 || opts.LicenseURL != "" {
		d := &drmConfig{LicenseOnly: opts.LicenseOnly || opts.LicenseURL != "", LicenseURL: opts.LicenseURL, HLSJSKeyIDs: opts.HLSJSKeyIDs}
		if len(opts.ClearKeys) > 0 {
			keys, err := parseClearKeys(opts.ClearKeys)
			if err != nil {
				ln.Close()
				return nil, err
			}
			d.ClearKeys = make(map[string]string, len(keys))
			for kid, key := range keys {
				d.ClearKeys[fmt.Sprintf("%x", kid)] = fmt.Sprintf("%x", key)
			}
			if d.LicenseURL == "" {
				d.LicenseURL = base + "/_playertest/clearkey"
				lh := clearKeyHandler(keys, func(kid [16]byte) {
					servedMu.Lock()
					served[fmt.Sprintf("%x", kid)] = true
					servedMu.Unlock()
				})
				mux.Handle("/_playertest/clearkey", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.Method == http.MethodPost {
						licenseCalls.Add(1)
					}
					lh.ServeHTTP(w, r)
				}))
			}
		}
		cfg.DRM = d
	}
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		ln.Close()
		return nil, err
	}
	mux.HandleFunc("/_playertest/config.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(cfgJSON)
	})

	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer func() {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		_ = srv.Shutdown(sctx)
	}()

	d, err := driverFor(chromiumPath(&opts))
	if err != nil {
		return nil, err
	}
	opts.Log("playertest: %s playing %s", opts.Player, cfg.Manifest)
	start := time.Now()
	out, runErr := d.play(ctx, base+"/_pt/page/play.html", nil, opts.Timeout)
	res := &Result{
		Player:       opts.Player,
		ManifestURL:  cfg.Manifest,
		Elapsed:      time.Since(start),
		LicenseCalls: int(licenseCalls.Load()),
		SeekTarget:   -1,
	}
	servedMu.Lock()
	for kid := range served {
		res.LicenseKIDs = append(res.LicenseKIDs, kid)
	}
	servedMu.Unlock()
	sort.Strings(res.LicenseKIDs)

	if out == nil {
		if ctx.Err() != nil {
			return res, fmt.Errorf("%w: %s: %v", ErrPlayback, opts.Player, ctx.Err())
		}
		return res, runErr
	}
	res.Console = out.Console
	var p *pageResult
	if err := json.Unmarshal(out.Result, &p); err != nil && len(out.Result) > 0 {
		return res, fmt.Errorf("playertest: %s: the page's result: %w", opts.Player, err)
	}
	if p != nil {
		res.PlayerVersion, res.OK, res.Phase = p.PlayerVersion, p.OK, p.Phase
		res.Reached, res.Duration = p.Reached, p.Duration
		res.Frames, res.DroppedFrames = p.Frames, p.DroppedFrames
		res.SeekTarget, res.SeekedAt, res.ResumedAt = p.SeekTarget, p.SeekedAt, p.ResumedAt
		res.Errors, res.Warnings, res.Events = p.Errors, p.Warnings, p.Events
		res.TextTrack, res.TextTracks, res.Cues, res.ShownTexts = p.TextTrack, p.TextTracks, p.Cues, p.Shown
		res.Requests, res.SourceBuffers = p.Requests, p.SourceBuffers
		res.IsLive, res.WallPlayed, res.MediaPlayed, res.Stalls, res.Latency = p.Live, p.WallPlayed, p.MediaPlayed, p.Stalls, p.Latency
		res.FinalLatency = p.FinalLatency
		res.AdMarkers = p.AdMarkers
	}
	if out.HarnessError != "" {
		return res, fmt.Errorf("%w: %s: %s", ErrPlayback, opts.Player, out.HarnessError)
	}
	if ctx.Err() != nil {
		return res, fmt.Errorf("%w: %s: %v", ErrPlayback, opts.Player, ctx.Err())
	}
	if err := res.check(opts); err != nil {
		return res, fmt.Errorf("%w: %s: %v", ErrPlayback, opts.Player, err)
	}
	return res, nil
}

// check applies the pass criteria on the Go side too, so that a page bug that
// reports ok without evidence cannot pass a test.
func (r *Result) check(opts Options) error {
	if len(r.Errors) > 0 {
		return fmt.Errorf("player error: %s", r.Errors[0])
	}
	if !r.OK || r.Phase != "done" {
		return fmt.Errorf("page did not complete (phase %q)", r.Phase)
	}
	if opts.Live {
		return r.checkLive(opts)
	}
	goal := opts.MinPlay.Seconds()
	if r.Duration > 0 && r.Duration-0.25 < goal {
		goal = r.Duration - 0.25
	}
	if r.Reached < goal {
		return fmt.Errorf("playback reached %.3fs, want ≥ %.3fs", r.Reached, goal)
	}
	if !opts.AudioOnly && r.Frames <= 0 {
		return errors.New("no video frame decoded")
	}
	if !opts.NoSeek && !(r.SeekTarget >= 0 && r.SeekedAt >= 0 && r.ResumedAt > r.SeekedAt) {
		return fmt.Errorf("playback did not resume after the seek (target %.3f, seeked %.3f, now %.3f)", r.SeekTarget, r.SeekedAt, r.ResumedAt)
	}
	if opts.TextLanguage != "" && len(r.Cues) == 0 {
		return fmt.Errorf("no cue on a showing text track (selected %q; tracks %v)", r.TextTrack, r.TextTracks)
	}
	// hls.js has no inline-key option: with ClearKeys it always goes through
	// the license server, so a run without a license call did not decrypt.
	if (opts.LicenseOnly || opts.Player == HLSJS) && opts.LicenseURL == "" && len(opts.ClearKeys) > 0 && r.LicenseCalls == 0 {
		return errors.New("license-only run made no license request")
	}
	return nil
}

// checkLive is check for Options.Live.
// minLiveRate is the slowest live playback accepted, in media seconds per
// wall-clock second. A player that keeps playing without a stall but falls
// behind real time is short of CPU, not of media: on a two-core CI machine
// running other packages' browsers at the same time it measured 0.70–0.75×.
// Below half speed the stream itself is suspect.
const minLiveRate = 0.5

// maxLowLatencyRate is the fastest a low-latency run may advance on
// average: players speed up to catch up with the live edge.
const maxLowLatencyRate = 1.5

func (r *Result) checkLive(opts Options) error {
	if !r.IsLive {
		return errors.New("the player did not report a live stream")
	}
	if want := 0.9 * opts.MinPlay.Seconds(); r.WallPlayed < want {
		return fmt.Errorf("live playback measured over %.3fs, want ≥ %.3fs", r.WallPlayed, want)
	}
	maxRate := 1.2
	if opts.LowLatency {
		maxRate = maxLowLatencyRate
	}
	if rate := r.MediaPlayed / r.WallPlayed; rate < minLiveRate || rate > maxRate {
		return fmt.Errorf("live playback advanced %.3fs in %.3fs (%.2f× real time)", r.MediaPlayed, r.WallPlayed, rate)
	}
	if r.Stalls > 0 {
		return fmt.Errorf("%d stalls after start-up", r.Stalls)
	}
	if !opts.AudioOnly && r.Frames <= 0 {
		return errors.New("no video frame decoded")
	}
	return nil
}

func tail(b []byte) []byte {
	const n = 8 << 10
	if len(b) > n {
		return append([]byte("…"), b[len(b)-n:]...)
	}
	return b
}

// emptyFS serves nothing; used when the manifest lives on another server.
type emptyFS struct{}

func (emptyFS) Open(name string) (fs.File, error) {
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}

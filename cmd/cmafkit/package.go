package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cmafkit/cmafkit/drm"
	"github.com/cmafkit/cmafkit/internal/sample"
	"github.com/cmafkit/cmafkit/manifest"
	"github.com/cmafkit/cmafkit/manifest/hls"
	"github.com/cmafkit/cmafkit/packager"
	"github.com/cmafkit/cmafkit/segment"
	"github.com/cmafkit/cmafkit/steering"
	"github.com/cmafkit/cmafkit/storage"
)

// listFlag collects a repeatable or comma-separated flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

func runPackage(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("package", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "out", "output `directory`")
	segDur := fs.Duration("segment-duration", 4*time.Second, "target segment `duration`; segments start on keyframes")
	chunkDur := fs.Duration("chunk-duration", 0, "split segments into CMAF chunks of this `duration` (low latency)")
	hlsOnly := fs.Bool("hls", false, "write HLS only")
	dashOnly := fs.Bool("dash", false, "write DASH only")
	smoothOut := fs.Bool("smooth", false, "write Microsoft Smooth Streaming (smooth/Manifest and its fragments; H.264 and AAC; clear or cenc with PlayReady): alone, Smooth only; with --hls or --dash, those too")
	hlsSegType := fs.String("hls-segment-type", "fmp4", "container of HLS audio and video segments: fmp4 (CMAF) or ts (MPEG-TS; DASH stays CMAF)")
	packedAudio := fs.Bool("hls-packed-audio", false, "with --hls-segment-type ts: write audio renditions as packed audio (.aac/.ac3/.ec3 with an ID3 timestamp) instead of TS")
	aesKey := fs.String("hls-aes128-key", "", "with --hls-segment-type ts: encrypt each TS segment with this AES-128 `key` (32 hex digits or base64; METHOD=AES-128)")
	aesURI := fs.String("hls-aes128-key-uri", "", "EXT-X-KEY `URI` of the AES-128 key (default: write the key as aes-128.key next to the playlists)")
	sampleAESKey := fs.String("hls-sample-aes-key", "", "with --hls-segment-type ts: encrypt the H.264 slices and AAC frames inside each TS segment with this `key` (32 hex digits or base64; METHOD=SAMPLE-AES, other codecs refused)")
	sampleAESIV := fs.String("hls-sample-aes-iv", "", "fixed SAMPLE-AES `IV` (32 hex digits) written as the EXT-X-KEY IV attribute (default: each segment's media sequence number)")
	sampleAESURI := fs.String("hls-sample-aes-key-uri", "", "EXT-X-KEY `URI` of the SAMPLE-AES key (default: write the key as sample-aes.key next to the playlists)")
	single := fs.Bool("single-file", false, "one file per representation with a sidx (HLS byte ranges, DASH on-demand)")
	var tracks, langs, labels listFlag
	fs.Var(&tracks, "tracks", "select tracks: video, audio, text or track IDs, comma-separated (default all)")
	fs.Var(&langs, "lang", "language of each input's audio/text, in input order (comma-separated)")
	fs.Var(&labels, "label", "label of each input's audio/text, in input order (comma-separated)")
	var ccLangs listFlag
	fs.Var(&ccLangs, "cc-lang", "languages of the closed captions in the video, `SERVICE=LANG` pairs: CC1=eng,CC3=spa,SERVICE1=eng (default und)")
	ccScan := fs.Duration("cc-scan", segment.DefaultCaptionScan, "how much of each video track is searched for CEA-608/708 closed captions; 0 turns detection and signalling off")
	initName := fs.String("init-name", "", "init segment name template (default $RepresentationID$/init.mp4)")
	mediaName := fs.String("segment-name", "", "media segment name template (default $RepresentationID$/seg-$Number$.m4s)")
	hlsName := fs.String("hls-name", "master.m3u8", "multivariant playlist name")
	dashName := fs.String("dash-name", "manifest.mpd", "MPD name")
	steerServer := fs.String("steering-server", "", "content steering: `URL` of the steering manifest (with --pathway)")
	var pathways repeated
	fs.Var(&pathways, "pathway", "content steering: a CDN as `ID=BASEURL`, BASEURL where it serves the output directory (repeatable; the first is the default)")
	quiet := fs.Bool("q", false, "quiet: no progress output")
	verbose := fs.Bool("v", false, "verbose: log decisions and warnings")
	cuesFile := fs.String("cues", "", "JSON cue list `file`: [{\"time\": 30, \"duration\": 15, \"kind\": \"out\"}, ...] (times in seconds; kind out, in or signal; optional base64 \"scte35\")")
	cueNearest := fs.Bool("cue-nearest-keyframe", false, "cut at the nearest keyframe when a cue has none at its time (default: refuse, naming both times)")
	cueTags := fs.Bool("hls-cue-tags", false, "also write EXT-X-CUE-OUT/-CONT/-IN in HLS media playlists")
	adURI := fs.String("hls-interstitial-uri", "", "write an HLS Interstitial for each break with X-ASSET-URI `URI` (\"{id}\" is replaced by the break's ID)")
	adList := fs.String("hls-interstitial-list", "", "write an HLS Interstitial for each break with X-ASSET-LIST `URI`, an asset list (\"{id}\" as above)")
	noInputCues := fs.Bool("no-input-cues", false, "ignore the SCTE-35 cues of the inputs")
	pdt := fs.String("program-date-time", "", "wall-clock `time` (RFC 3339) of the output start for HLS EXT-X-PROGRAM-DATE-TIME with cues (default 1970-01-01T00:00:00Z)")
	var prot protectionFlags
	prot.register(fs)
	fs.Usage = func() {
		fmt.Fprint(stderr, packageUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	job := packager.Job{
		SegmentDuration: *segDur,
		ChunkDuration:   *chunkDur,
		SingleFile:      *single,
		Storage:         storage.Dir(*out),
		Naming:          packager.Naming{Init: *initName, Media: *mediaName, HLS: *hlsName, DASH: *dashName},
		Captions:        packager.CaptionOptions{Scan: *ccScan},
		HLSSegmentType:  packager.HLSSegmentType(*hlsSegType),
		HLSPackedAudio:  *packedAudio,
	}
	if *ccScan <= 0 {
		job.Captions.Scan = -1 // off
	}
	if *steerServer != "" || len(pathways) > 0 {
		st := &steering.Config{ServerURI: *steerServer}
		for _, p := range pathways {
			id, base, ok := strings.Cut(p, "=")
			if !ok {
				return usageError{fmt.Sprintf("--pathway %q: want ID=BASEURL", p)}
			}
			st.Pathways = append(st.Pathways, steering.Pathway{ID: id, BaseURL: base})
		}
		if err := st.Check(); err != nil {
			return usageError{fmt.Sprintf("--steering-server, --pathway: %v", err)}
		}
		job.Steering = st
	}
	job.CueOptions = packager.CueOptions{NearestKeyframe: *cueNearest, HLSCueTags: *cueTags, IgnoreInput: *noInputCues}
	if *adURI != "" || *adList != "" {
		if *adURI != "" && *adList != "" {
			return usageError{"--hls-interstitial-uri and --hls-interstitial-list: give one"}
		}
		job.CueOptions.HLSInterstitials = &manifest.Interstitials{AssetURI: *adURI, AssetList: *adList}
	}
	if *pdt != "" {
		t, err := time.Parse(time.RFC3339Nano, *pdt)
		if err != nil {
			return usageError{fmt.Sprintf("--program-date-time: %v", err)}
		}
		job.CueOptions.ProgramDateTime = t
	}
	if *cuesFile != "" {
		var err error
		if job.Cues, err = readCueFile(*cuesFile); err != nil {
			return err
		}
	}
	if *aesKey != "" {
		k, err := drm.ParseKey(*aesKey)
		if err != nil {
			return usageError{fmt.Sprintf("--hls-aes128-key: %v", err)}
		}
		job.HLSAES128 = &packager.AES128Key{Key: k, URI: *aesURI}
	} else if *aesURI != "" {
		return usageError{"--hls-aes128-key-uri without --hls-aes128-key"}
	}
	if *sampleAESKey != "" {
		k, err := drm.ParseKey(*sampleAESKey)
		if err != nil {
			return usageError{fmt.Sprintf("--hls-sample-aes-key: %v", err)}
		}
		job.HLSSampleAES = &packager.AES128Key{Key: k, URI: *sampleAESURI}
		if *sampleAESIV != "" {
			iv, err := drm.ParseIV(*sampleAESIV)
			if err != nil || len(iv) != 16 {
				return usageError{fmt.Sprintf("--hls-sample-aes-iv: want 16 bytes in hex (%v)", err)}
			}
			job.HLSSampleAES.IV = iv
		}
	} else if *sampleAESURI != "" || *sampleAESIV != "" {
		return usageError{"--hls-sample-aes-key-uri or --hls-sample-aes-iv without --hls-sample-aes-key"}
	}
	if len(ccLangs) > 0 {
		var err error
		if job.Captions.Languages, err = parseCCLangs(ccLangs); err != nil {
			return err
		}
	}
	// The formats named; none means HLS and DASH (the zero value).
	if *hlsOnly {
		job.Formats |= packager.HLS
	}
	if *dashOnly {
		job.Formats |= packager.DASH
	}
	if *smoothOut {
		job.Formats |= packager.Smooth
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	logOut := stderr
	var progress *progressWriter
	if !*quiet {
		// Log lines go through the progress display, which clears its bar first.
		progress = newProgressWriter(stderr)
		job.Progress, logOut = progress.Update, progress
	}
	job.Logger = slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: level}))

	ids, kinds, err := parseTracks(tracks)
	if err != nil {
		return err
	}
	paths := fs.Args()
	if len(paths) == 0 {
		for _, f := range sample.Ladder() {
			job.Inputs = append(job.Inputs, packager.Input{Reader: f.Reader, Size: f.Size, Name: f.Name})
		}
		if !*quiet {
			fmt.Fprintln(stderr, "no input given: packaging the built-in sample ladder (720p + 360p H.264, AAC)")
		}
	}
	for _, p := range paths {
		job.Inputs = append(job.Inputs, packager.Input{Path: p})
	}
	if len(langs) > len(job.Inputs) || len(labels) > len(job.Inputs) {
		return usageError{"more --lang or --label values than inputs"}
	}
	for i := range job.Inputs {
		job.Inputs[i].TrackIDs, job.Inputs[i].Kinds = ids, kinds
		if i < len(langs) {
			job.Inputs[i].Language = langs[i]
		}
		if i < len(labels) {
			job.Inputs[i].Label = labels[i]
		}
	}
	if err := prot.apply(ctx, &job); err != nil {
		return err
	}
	start := time.Now()
	res, err := packager.Run(ctx, job)
	if progress != nil {
		progress.Finish()
	}
	if err != nil {
		return withHint(err)
	}
	if !*quiet {
		var total int64
		for _, o := range res.Objects {
			total += o.Size
		}
		fmt.Fprintf(stderr, "wrote %d objects (%.1f MB) in %s\n", len(res.Objects), float64(total)/1e6, time.Since(start).Round(time.Millisecond))
		for _, m := range res.Manifests {
			fmt.Fprintf(stdout, "%s\n", strings.TrimPrefix(*out+string(os.PathSeparator)+m, "./"))
		}
	}
	return nil
}

// progressWriter shows packaging progress on w, the command's stderr: on a
// terminal, a bar redrawn in place with a carriage return (at most every
// barInterval); anywhere else (a file, a pipe, a CI log), plain lines, one
// per 10%, since a carriage return there only piles up. Log output written
// through it (Write) clears the bar first, so lines never share the bar's.
type progressWriter struct {
	mu       sync.Mutex
	w        io.Writer
	tty      bool
	bar      bool      // a bar is on the terminal's current line
	lastDraw time.Time // when the bar was last drawn
	decile   int       // last tenth reported in plain lines
}

// barInterval is the least time between two redraws of the bar.
const barInterval = 100 * time.Millisecond

// clearLine returns to the start of the terminal line and erases it.
const clearLine = "\r\x1b[K"

func newProgressWriter(w io.Writer) *progressWriter {
	return &progressWriter{w: w, tty: isTerminal(w), decile: -1}
}

// Update reports progress; it is the packager's Progress callback.
func (p *progressWriter) Update(pr packager.Progress) {
	if pr.Total <= 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	frac := min(float64(pr.Done)/float64(pr.Total), 1)
	if !p.tty {
		if d := int(frac * 10); d != p.decile {
			p.decile = d
			fmt.Fprintf(p.w, "progress: %d/%d segments (%.0f%%)\n", pr.Done, pr.Total, frac*100)
		}
		return
	}
	now := time.Now()
	if p.bar && pr.Done < pr.Total && now.Sub(p.lastDraw) < barInterval {
		return
	}
	const width = 30
	n := int(frac * width)
	fmt.Fprintf(p.w, "%s[%s%s] %3.0f%%  %d/%d segments  %.1f MB", clearLine, strings.Repeat("=", n), strings.Repeat(" ", width-n), frac*100, pr.Done, pr.Total, float64(pr.Bytes)/1e6)
	p.bar, p.lastDraw = true, now
}

// Write writes b (log output) to w, on a terminal after clearing the bar;
// the next Update draws it again.
func (p *progressWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearBar()
	return p.w.Write(b)
}

// Finish clears the bar, so that what is written next starts on a clean line.
func (p *progressWriter) Finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearBar()
}

func (p *progressWriter) clearBar() {
	if p.bar {
		io.WriteString(p.w, clearLine)
		p.bar = false
	}
}

// isTerminal reports whether w is a terminal (a character device; on
// /dev/null, also one, nothing is seen either way).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// packageUsage heads the help of cmafkit package, before the flags.
const packageUsage = `Usage: cmafkit package [flags] [INPUT...]

Packages MP4, fragmented MP4 or MPEG-TS inputs into CMAF segments with HLS and DASH
manifests. Several inputs are renditions of one title (an ABR ladder): their segments
are aligned, and identical audio tracks are packaged once. With no INPUT, the small
sample ladder built into cmafkit is packaged.

Examples:
  cmafkit package -o out                       # the built-in sample
  cmafkit package -o out 1080p.mp4 720p.mp4    # a ladder, HLS + DASH
  cmafkit package --single-file --dash in.mp4
  cmafkit package --cc-lang CC1=eng,CC3=spa broadcast.ts   # name the caption languages
  cmafkit package --cues breaks.json movie.mp4             # mark ad breaks

SCTE-35 cues (stream type 0x86 in MPEG-TS inputs, or --cues) start segments at their
splice points and become HLS EXT-X-DATERANGE tags and a DASH EventStream
(urn:scte:scte35:2014:xml+bin). A cue needs a keyframe at its time.

Closed captions carried in H.264/HEVC video (CEA-608 CC1-CC4, CEA-708 SERVICE1-63, in
SEI) stay in the video; the services found in its first 30 s (--cc-scan) are signalled
in both manifests. --cc-lang names their languages (ISO 639-2, as DASH asks); a service
it names is signalled whenever the video carries caption data, also when the scan did
not see that service. Text alone cannot make an HLS presentation: package it with its
video, or use --dash.

Flags:
`

// readCueFile reads the JSON cue list of --cues.
func readCueFile(name string) ([]packager.Cue, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cues, err := packager.ReadCueList(f)
	if err != nil {
		return nil, fmt.Errorf("--cues %s: %w", name, err)
	}
	return cues, nil
}

// parseCCLangs parses the SERVICE=LANG pairs of --cc-lang, keyed by the
// service in upper case.
func parseCCLangs(pairs []string) (map[string]string, error) {
	langs := map[string]string{}
	for _, pair := range pairs {
		id, lang, ok := strings.Cut(pair, "=")
		if !ok || id == "" || lang == "" {
			return nil, usageError{fmt.Sprintf("--cc-lang: %q is not SERVICE=LANG (e.g. CC1=eng)", pair)}
		}
		id = strings.ToUpper(id)
		if _, dup := langs[id]; dup {
			return nil, usageError{fmt.Sprintf("--cc-lang: %s given twice", id)}
		}
		langs[id] = lang
	}
	return langs, nil
}

// parseTracks parses the --tracks selection: kinds by name, others as
// track IDs.
func parseTracks(tracks []string) ([]uint32, []segment.Kind, error) {
	var ids []uint32
	var kinds []segment.Kind
	for _, t := range tracks {
		switch t {
		case "video":
			kinds = append(kinds, segment.KindVideo)
		case "audio":
			kinds = append(kinds, segment.KindAudio)
		case "text":
			kinds = append(kinds, segment.KindText)
		default:
			id, err := strconv.ParseUint(t, 10, 32)
			if err != nil {
				return nil, nil, usageError{fmt.Sprintf("--tracks: %q is not video, audio, text or a track ID", t)}
			}
			ids = append(ids, uint32(id))
		}
	}
	return ids, kinds, nil
}

// withHint adds to a packaging error the flag that avoids it, where there
// is one.
func withHint(err error) error {
	switch {
	case errors.Is(err, hls.ErrNoVariant):
		return fmt.Errorf("%w (--dash)", err)
	case errors.Is(err, segment.ErrCueNotOnSyncSample):
		return fmt.Errorf("%w (--cue-nearest-keyframe cuts there instead)", err)
	}
	return err
}

// repeated collects the values of a repeatable flag.
type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, " ") }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }

// Package packager runs packaging jobs: it opens the inputs, plans aligned
// segments, writes CMAF init and media segments (optionally encrypted) to a
// storage.Storage, and renders HLS and DASH manifests from one presentation model.
// Manifests are written last, and an earlier output's manifests are
// deleted before the first segment, so a failed or cancelled job never
// leaves a manifest that points at missing segments or at a mix of two runs.
package packager

import (
	"bufio"
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cmafkit/cmafkit/drm"
	"github.com/cmafkit/cmafkit/manifest"
	"github.com/cmafkit/cmafkit/manifest/hls"
	"github.com/cmafkit/cmafkit/segment"
	"github.com/cmafkit/cmafkit/segment/cmaf"
	"github.com/cmafkit/cmafkit/segment/tsmux"
	"github.com/cmafkit/cmafkit/steering"
	"github.com/cmafkit/cmafkit/storage"
)

// Format selects output formats. The zero value means HLS and DASH.
type Format int

// Formats; combine with |.
const (
	HLS Format = 1 << iota
	DASH
	// Smooth is Microsoft Smooth Streaming: fragments in the PIFF shape
	// (package segment/piff) under the client manifest's directory, named
	// as its URL template says, so a plain web server serves them
	// (manifest/smooth). H.264 and AAC only; text tracks are left out.
	Smooth
)

// Input is one source file: a path, or an io.ReaderAt with its size and a
// name. Several inputs are renditions of one title (an ABR ladder). A
// WebVTT document (a .vtt side file) is a text input with one wvtt track;
// set its Language.
type Input struct {
	// Path of the file to open. Ignored when Reader is set.
	Path string
	// Reader, Size and Name give the input as an io.ReaderAt instead.
	Reader io.ReaderAt
	Size   int64
	Name   string

	// TrackIDs selects tracks by ID; empty selects all.
	TrackIDs []uint32
	// Kinds selects tracks by kind; empty selects all.
	Kinds []segment.Kind

	// Language overrides the language of the input's audio and text tracks
	// (BCP 47 or ISO 639-2). Label names the rendition (HLS NAME, DASH Label).
	Language string
	Label    string
	// Roles of the input's tracks, e.g. manifest.RoleCommentary.
	Roles []manifest.Role
}

func (in *Input) name() string {
	if in.Reader != nil {
		return in.Name
	}
	return in.Path
}

// Naming holds the templates of object names. Templates may use
// $RepresentationID$, $Number$ (with an optional width, $Number%05d$) and
// $Time$; empty fields take the defaults shown.
type Naming struct {
	Init       string // "$RepresentationID$/init.mp4"
	Media      string // "$RepresentationID$/seg-$Number$.m4s"
	SingleFile string // "$RepresentationID$.mp4"
	HLS        string // "master.m3u8"
	DASH       string // "manifest.mpd"

	// TS names the MPEG-TS segments of HLS when Job.HLSSegmentType is
	// HLSSegmentTS.
	TS string // "$RepresentationID$/seg-$Number$.ts"

	// WebVTT names the WebVTT segments written for HLS from wvtt text
	// tracks (HLS carries WebVTT as text, not in fMP4). They are separate
	// files in single-file mode too (see Job.SingleFile), so the template
	// needs $Number$ or $Time$ whenever HLS is written.
	WebVTT string // "$RepresentationID$/seg-$Number$.vtt"

	// Smooth names the Smooth Streaming client manifest; its fragments go
	// under the same directory (QualityLevels({bitrate})/Fragments(...)).
	Smooth string // "smooth/Manifest"
}

func (n Naming) withDefaults() Naming {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&n.Init, "$RepresentationID$/init.mp4")
	def(&n.Media, "$RepresentationID$/seg-$Number$.m4s")
	def(&n.SingleFile, "$RepresentationID$.mp4")
	def(&n.WebVTT, "$RepresentationID$/seg-$Number$.vtt")
	def(&n.TS, "$RepresentationID$/seg-$Number$.ts")
	def(&n.HLS, "master.m3u8")
	def(&n.DASH, "manifest.mpd")
	def(&n.Smooth, "smooth/Manifest")
	return n
}

// Progress reports a written segment.
type Progress struct {
	// Representation is the ID of the representation written to.
	Representation string
	// Segment is the number of segments done for it, of Segments.
	Segment, Segments int
	// Done and Total count segments over the whole job.
	Done, Total int
	// Bytes is the number of bytes written so far over the whole job.
	Bytes int64
}

// Job describes one packaging run. Only Inputs and Storage are required.
type Job struct {
	Inputs []Input
	// SegmentDuration is the target segment duration (default 4 s).
	// Segments start on keyframes at or after each multiple of it.
	SegmentDuration time.Duration
	// ChunkDuration splits segments into CMAF chunks for low latency.
	ChunkDuration time.Duration
	// SingleFile writes each representation as one file with a sidx
	// (HLS byte ranges, DASH on-demand profile). WebVTT for HLS stays one
	// file per segment (Naming.WebVTT): RFC 8216 3.5 makes each WebVTT
	// segment a WebVTT document of its own, with its header and
	// X-TIMESTAMP-MAP, so byte ranges of one file would address a
	// concatenation of documents that is no valid WebVTT file, and a
	// single whole-title segment would make players fetch every cue
	// before showing one. (wvtt for DASH is in one file like the others.)
	SingleFile bool
	// Formats to write; zero means HLS and DASH.
	Formats Format
	Naming  Naming
	// Storage receives every object.
	Storage storage.Storage
	// Encryption, when set, encrypts every audio and video track with
	// Common Encryption as it configures, and signals its DRM systems (or
	// ClearKey, when it names none) in the manifests; text tracks stay
	// clear. Nil writes everything clear. Every key is fetched, and the
	// cenc IV reuse check of drm.Session made, before the first segment is
	// written. See package drm.
	Encryption *drm.Config
	// Progress is called after each segment, from one goroutine at a time.
	Progress func(Progress)
	// Logger receives progress and warnings; nil discards them.
	Logger *slog.Logger
	// Parallelism bounds the tracks processed at once; zero means GOMAXPROCS.
	// Within a track, two clear segments are written at once and an
	// encrypted track reads and encrypts one segment while it stores the
	// previous one, unless Parallelism is 1 (for encrypted tracks this
	// overlap is kept: it does not change the order of the output).
	Parallelism int
	// TempDir holds staging files in single-file mode (os.TempDir() if empty).
	TempDir string
	// DASHTrickMode adds DASH trick-mode adaptation sets (SegmentList byte
	// ranges of each segment's isolated sync sample). Off by default because
	// some clients (FFmpeg's DASH demuxer) fail on them; HLS I-frame
	// playlists are always written.
	DASHTrickMode bool
	// Captions configures the signalling of closed captions carried in the
	// video; the zero value detects them.
	Captions CaptionOptions
	// Cues lists splice points to cut segments at and signal (HLS
	// EXT-X-DATERANGE, DASH EventStream), in addition to the SCTE-35 cues
	// of MPEG-TS inputs; see Cue and ReadCueList.
	Cues []Cue
	// CueOptions configures how cues are applied.
	CueOptions CueOptions
	// HLSSegmentType is the container of the audio and video segments
	// that HLS media playlists list: CMAF (the zero value, HLSSegmentFMP4)
	// or MPEG-TS (HLSSegmentTS, for clients that play no fMP4). DASH
	// always gets CMAF; with both formats, the TS segments are written
	// besides the CMAF ones (Naming.TS).
	HLSSegmentType HLSSegmentType
	// HLSAES128, with MPEG-TS segments (HLSSegmentTS), encrypts each whole
	// TS segment with AES-128-CBC (RFC 8216 4.3.2.4 METHOD=AES-128, PKCS7
	// padding, the IV the segment's media sequence number). DASH, if also
	// written, stays clear.
	HLSAES128 *AES128Key
	// Steering, when set, adds content steering to the multivariant
	// playlist and the MPD (see package steering): a copy of each variant
	// per pathway, ContentSteering and a BaseURL per pathway. Each
	// pathway's BaseURL is where that CDN serves the output's root.
	Steering *steering.Config
}

// AES128Key is the key of HLS AES-128 segment encryption.
type AES128Key struct {
	// Key is the content key.
	Key drm.Key
	// URI is the EXT-X-KEY URI the players fetch the key from, resolved
	// against the media playlists. Empty means "aes-128.key", an object
	// the packager writes with the 16 key bytes; with a URI of their own
	// the key is not written (a key server delivers it).
	URI string
}

// DefaultAES128KeyName is the object holding the AES-128 key when
// AES128Key.URI is empty.
const DefaultAES128KeyName = "aes-128.key"

// HLSSegmentType names the container of HLS media segments.
type HLSSegmentType string

// The HLS segment types.
const (
	HLSSegmentFMP4 HLSSegmentType = "fmp4"
	HLSSegmentTS   HLSSegmentType = "ts"
)

// ErrCombination is wrapped by errors for job options that cannot be used
// together (MPEG-TS segments with encryption or single-file output, ...).
var ErrCombination = errors.New("packager: unsupported combination of options")

// hlsTS reports whether the job writes MPEG-TS segments for HLS.
func (r *runner) hlsTS() bool {
	return r.job.HLSSegmentType == HLSSegmentTS && r.job.Formats&HLS != 0
}

// checkSegmentType refuses unknown HLS segment types and the options that
// MPEG-TS segments do not support yet.
func (r *runner) checkSegmentType() error {
	switch r.job.HLSSegmentType {
	case "", HLSSegmentFMP4:
		if r.job.HLSAES128 != nil {
			return fmt.Errorf("%w: HLS AES-128 with fMP4 segments (it encrypts MPEG-TS segments)", ErrCombination)
		}
		return nil
	case HLSSegmentTS:
		if k := r.job.HLSAES128; k != nil && k.Key.IsZero() {
			return fmt.Errorf("packager: HLS AES-128 without a key")
		}
	default:
		return fmt.Errorf("packager: HLS segment type %q: want %q or %q", r.job.HLSSegmentType, HLSSegmentFMP4, HLSSegmentTS)
	}
	if r.job.Formats&HLS == 0 {
		return nil
	}
	if r.job.Encryption != nil {
		return fmt.Errorf("%w: HLS with MPEG-TS segments and CMAF encryption (use HLSAES128; SAMPLE-AES is not implemented)", ErrCombination)
	}
	if r.job.SingleFile {
		return fmt.Errorf("%w: HLS with MPEG-TS segments and single-file output", ErrCombination)
	}
	if r.job.ChunkDuration > 0 {
		return fmt.Errorf("%w: HLS with MPEG-TS segments and CMAF chunks", ErrCombination)
	}
	return nil
}

// CaptionOptions configures the closed captions that video tracks carry in
// their SEI messages (CEA-608/708, see segment.DetectCaptions). They stay
// in the video segments; the packager looks for them at the start of each
// H.264 and HEVC track and signals the services it finds: HLS gets an
// EXT-X-MEDIA rendition of TYPE=CLOSED-CAPTIONS per service, named by the
// variants' CLOSED-CAPTIONS attribute, DASH an Accessibility descriptor
// (urn:scte:dash:cc:cea-608:2015, urn:scte:dash:cc:cea-708:2015) on the
// video AdaptationSet. A video switching set signals the services that all
// its representations carry; services only some carry are logged as a
// warning and left out, since a player may switch to a rendition without
// them. Without captions HLS variants say CLOSED-CAPTIONS=NONE.
type CaptionOptions struct {
	// Languages maps caption services, named by their HLS INSTREAM-ID
	// ("CC1"-"CC4" for CEA-608 channels, "SERVICE1"-"SERVICE63" for
	// CEA-708 services; case-insensitive), to their languages: ISO 639-2
	// codes such as "eng", which SCTE 214-1 asks for in DASH (letters,
	// digits and '-'). Services without an entry are "und". A service
	// listed here is also signalled for a video track whose scanned
	// samples carry caption data but not that service yet (captions that
	// start after the scan window).
	Languages map[string]string
	// Scan is how much of each video track, from its first sample, is
	// searched for caption data; zero means segment.DefaultCaptionScan
	// (30 s). A negative Scan turns detection and signalling off.
	Scan time.Duration
}

// ObjectInfo is one object written by a job.
type ObjectInfo struct {
	Name string
	Size int64
}

// Result is the outcome of a job.
type Result struct {
	// Presentation is the model the manifests were rendered from.
	Presentation *manifest.Presentation
	// Objects lists every object written, sorted by name.
	Objects []ObjectInfo
	// Manifests lists the names of the manifests written (also in Objects).
	Manifests []string
}

// ErrNoInputs means a job has no inputs, or its selections left no tracks.
var ErrNoInputs = errors.New("packager: no inputs")

// Run executes the job. It stops promptly when ctx is cancelled.
//
// The storage may hold an earlier output. Once the inputs are open and the
// segments planned, and before it writes anything, Run removes the
// temporary files of killed runs from the directories it writes into (see
// storage.Sweeper) and deletes the manifests this job writes, HLS and DASH
// whatever job.Formats says; it writes its own manifests after every
// segment is committed. A run that stops early therefore leaves no manifest
// or only complete new ones, never one pointing at a mix of old and new
// segments. Objects of the earlier output that this run does not write stay
// as they were.
func Run(ctx context.Context, job Job) (*Result, error) {
	if job.Storage == nil {
		return nil, errors.New("packager: job has no storage")
	}
	r, err := prepare(ctx, job)
	if err != nil {
		return nil, err
	}
	defer r.closeSources()
	if err := r.replaceOutput(ctx); err != nil {
		return nil, err
	}
	if err := r.writeTracks(ctx); err != nil {
		return nil, err
	}
	if err := r.writeAES128Key(ctx); err != nil {
		return nil, err
	}
	pres := r.presentation()
	if err := r.writeManifests(ctx, pres); err != nil {
		return nil, err
	}
	sort.Slice(r.objects, func(i, j int) bool { return r.objects[i].Name < r.objects[j].Name })
	return &Result{Presentation: pres, Objects: r.objects, Manifests: r.manifests}, nil
}

// prepare checks the job, opens its inputs, plans the segments and sets up
// each representation (text aligned to the plan, protection), writing
// nothing. On success the caller closes the sources (runner.closeSources).
func prepare(ctx context.Context, job Job) (_ *runner, err error) {
	if len(job.Inputs) == 0 {
		return nil, ErrNoInputs
	}
	r := &runner{job: job, naming: job.Naming.withDefaults(), log: job.Logger}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.job.Formats == 0 {
		r.job.Formats = HLS | DASH
	}
	if err := r.checkNaming(); err != nil {
		return nil, err
	}
	if err := r.checkSegmentType(); err != nil {
		return nil, err
	}
	if err := r.checkSmooth(); err != nil {
		return nil, err
	}
	if err := r.parseCaptionLanguages(); err != nil {
		return nil, err
	}
	if job.Steering != nil {
		if err := job.Steering.Check(); err != nil {
			return nil, fmt.Errorf("packager: %w", err)
		}
	}
	if job.Encryption != nil {
		var err error
		if r.drm, err = drm.NewSession(*job.Encryption); err != nil {
			return nil, fmt.Errorf("packager: %w", err)
		}
	}
	defer func() {
		if err != nil {
			r.closeSources()
		}
	}()
	if err := r.open(ctx); err != nil {
		return nil, err
	}
	if err := r.checkHLSVariants(); err != nil {
		return nil, err
	}
	cues, err := r.cues(math.MaxInt64)
	if err != nil {
		return nil, err
	}
	cuts := make([]time.Duration, len(cues))
	for i, c := range cues {
		cuts[i] = c.Start
	}
	plan, err := segment.PlanSegmentsWith(r.allTracks(), job.SegmentDuration,
		segment.PlanOptions{Cuts: cuts, Nearest: job.CueOptions.NearestKeyframe})
	if err != nil {
		return nil, err
	}
	r.plan = plan
	if err := r.planSmooth(); err != nil {
		return nil, err
	}
	r.cueList = r.cuesBefore(cues, manifest.TicksToDuration(uint64(max(plan.End, 0)), plan.Timescale))
	if err := r.setupReps(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

type runner struct {
	job     Job
	naming  Naming
	log     *slog.Logger
	sources []*segment.Source
	reps    []*repJob
	plan    *segment.Plan
	cueList []manifest.Cue
	// ccLangs is Job.Captions.Languages checked and keyed by service.
	ccLangs map[ccService]string
	drm     *drm.Session // nil without encryption

	mu        sync.Mutex
	objects   []ObjectInfo
	manifests []string
	done      int
	total     int
	bytes     int64
}

// repJob is one track to package as one representation.
type repJob struct {
	id    string
	input *Input
	track *segment.Track
	nsegs int // media segments in the plan
	// Filled while writing.
	init       manifest.Resource
	segments   []manifest.SegmentRef
	iframes    []manifest.IFrameRef
	single     *manifest.SingleFile
	protection *drm.Protection
	// webvtt holds the WebVTT segments written for HLS from a wvtt track.
	webvtt []manifest.SegmentRef
	// ts holds the MPEG-TS segments written for HLS (Job.HLSSegmentType).
	ts []manifest.SegmentRef
	// captions found in a video track (see CaptionOptions).
	captions segment.Captions
	// smooth is the Smooth Streaming output of an audio or video track
	// (Format Smooth), nil otherwise.
	smooth *smoothRep
	// protector encrypts the CMAF segments (nil: clear), set up with
	// protection by setupReps.
	protector cmaf.FragmentProtector
}

func (r *runner) checkNaming() error {
	for _, t := range []string{r.naming.Init, r.naming.Media, r.naming.SingleFile, r.naming.WebVTT, r.naming.TS} {
		if manifest.TemplateUses(t, "Bandwidth") {
			return fmt.Errorf("packager: naming template %q: $Bandwidth$ is not supported in object names", t)
		}
	}
	perSegment := func(t string) bool { return manifest.TemplateUses(t, "Number") || manifest.TemplateUses(t, "Time") }
	if !r.job.SingleFile && !perSegment(r.naming.Media) {
		return fmt.Errorf("packager: media naming template %q needs $Number$ or $Time$", r.naming.Media)
	}
	// WebVTT segments are one file each, in single-file mode too.
	if r.job.Formats&HLS != 0 && !perSegment(r.naming.WebVTT) {
		return fmt.Errorf("packager: WebVTT naming template %q needs $Number$ or $Time$", r.naming.WebVTT)
	}
	if r.hlsTS() && !perSegment(r.naming.TS) {
		return fmt.Errorf("packager: MPEG-TS naming template %q needs $Number$ or $Time$", r.naming.TS)
	}
	return nil
}

func (r *runner) closeSources() {
	for _, s := range r.sources {
		s.Close()
	}
}

func (r *runner) open(ctx context.Context) error {
	opts := &segment.OpenOptions{Logger: r.log}
	for i := range r.job.Inputs {
		in := &r.job.Inputs[i]
		var src *segment.Source
		var err error
		if in.Reader != nil {
			src, err = segment.Open(ctx, in.Reader, in.Size, in.Name, opts)
		} else {
			src, err = segment.OpenFile(ctx, in.Path, opts)
		}
		if err != nil {
			return err
		}
		r.sources = append(r.sources, src)
		n := 0
		for _, t := range src.Tracks {
			if !selected(in, t) {
				continue
			}
			n++
			if in.Language != "" && t.Kind != segment.KindVideo {
				t.Language = in.Language
			}
			dup, err := r.duplicate(t)
			if err != nil {
				return err
			}
			if dup != nil {
				r.log.Info("track is identical to one already selected; packaging it once", "track", t.String(), "same_as", dup.track.String())
				continue
			}
			r.reps = append(r.reps, &repJob{input: in, track: t})
		}
		if n == 0 {
			return fmt.Errorf("%w: %s: the track selection matches none of its %d tracks", ErrNoInputs, in.name(), len(src.Tracks))
		}
	}
	r.assignIDs()
	return nil
}

// checkHLSVariants refuses, before anything is written, a job that asks
// for HLS but selected no audio or video track: a multivariant playlist of
// text alone has no variant stream and is invalid (see hls.ErrNoVariant).
// DASH alone can describe such a presentation.
func (r *runner) checkHLSVariants() error {
	if r.job.Formats&HLS == 0 {
		return nil
	}
	var names []string
	for _, rep := range r.reps {
		if rep.track.Kind == segment.KindVideo || rep.track.Kind == segment.KindAudio {
			return nil
		}
		if n := rep.input.name(); !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return fmt.Errorf("packager: %s: only text tracks selected: %w; package the text with the video or audio it belongs to, or write DASH only", strings.Join(names, ", "), hls.ErrNoVariant)
}

func selected(in *Input, t *segment.Track) bool {
	if len(in.TrackIDs) > 0 && !containsID(in.TrackIDs, t.ID) {
		return false
	}
	if len(in.Kinds) > 0 {
		for _, k := range in.Kinds {
			if k == t.Kind {
				return true
			}
		}
		return false
	}
	return true
}

func containsID(ids []uint32, id uint32) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// duplicate finds an already selected track with the same encoded content:
// in an ABR ladder every rendition file usually carries the same audio.
func (r *runner) duplicate(t *segment.Track) (*repJob, error) {
	if t.Kind == segment.KindVideo {
		return nil, nil
	}
	for _, rep := range r.reps {
		o := rep.track
		if o.Kind != t.Kind || o.Codec != t.Codec || o.Language != t.Language || o.SampleCount() != t.SampleCount() || o.Timescale != t.Timescale {
			continue
		}
		same, err := sameTiming(t, o)
		if err != nil || same {
			return rep, err
		}
	}
	return nil, nil
}

// sameTiming reports whether two tracks with as many samples have the same
// sample sizes, durations and decode times, reading both indexes in step.
func sameTiming(t, o *segment.Track) (bool, error) {
	a, b := t.Scan(0, t.SampleCount()), o.Scan(0, o.SampleCount())
	for a.Next() && b.Next() {
		x, y := a.Sample(), b.Sample()
		if x.Size != y.Size || x.Duration != y.Duration || x.DecodeTime != y.DecodeTime {
			return false, nil
		}
	}
	if err := errors.Join(a.Err(), b.Err()); err != nil {
		return false, err
	}
	return true, nil
}

func (r *runner) allTracks() []*segment.Track {
	out := make([]*segment.Track, len(r.reps))
	for i, rep := range r.reps {
		out[i] = rep.track
	}
	return out
}

// assignIDs gives every representation a deterministic, readable ID such as
// "video_720p_avc", "audio_en_aac" or "text_fr".
func (r *runner) assignIDs() {
	seen := map[string]int{}
	for _, rep := range r.reps {
		t := rep.track
		var id string
		switch t.Kind {
		case segment.KindVideo:
			id = fmt.Sprintf("video_%dp_%s", t.Height, manifest.CodecFamily(t.Codec))
		case segment.KindAudio:
			id = fmt.Sprintf("audio_%s_%s_%dch", safeID(t.Language), manifest.CodecFamily(t.Codec), t.Channels)
		default:
			id = fmt.Sprintf("text_%s_%s", safeID(t.Language), manifest.CodecFamily(t.Codec))
		}
		seen[id]++
		if n := seen[id]; n > 1 {
			id = fmt.Sprintf("%s_%d", id, n)
		}
		rep.id = id
	}
}

func safeID(s string) string {
	var b strings.Builder
	for _, c := range s {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' {
			b.WriteRune(c)
		}
	}
	if b.Len() == 0 {
		return "und"
	}
	return b.String()
}

// writeTracks packages every representation, in parallel up to
// job.Parallelism. The first error cancels the others.
func (r *runner) writeTracks(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	par := r.job.Parallelism
	if par <= 0 {
		par = runtime.GOMAXPROCS(0)
	}
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	var once sync.Once
	var firstErr error
	for _, rep := range r.reps {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func(rep *repJob) {
			defer wg.Done()
			defer func() { <-sem }()
			if err := r.writeRep(ctx, rep); err != nil {
				once.Do(func() { firstErr = err; cancel(err) })
			}
		}(rep)
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return context.Cause(ctx)
}

// put writes one object through write and registers it once committed.
func (r *runner) put(ctx context.Context, name string, write func(w io.Writer) error) (int64, error) {
	obj, err := r.job.Storage.Create(ctx, name)
	if err != nil {
		return 0, fmt.Errorf("packager: create %s: %w", name, err)
	}
	cw := &counter{w: obj}
	var w io.Writer = cw
	if rf, ok := obj.(io.ReaderFrom); ok {
		// Keep the object's ReadFrom visible (Dir objects copy clear sample
		// runs from file to file with it).
		w = &readFromCounter{cw, rf}
	}
	if err := write(w); err != nil {
		obj.Abort()
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		obj.Abort()
		return 0, err
	}
	if err := obj.Commit(); err != nil {
		return 0, fmt.Errorf("packager: write %s: %w", name, err)
	}
	r.mu.Lock()
	r.objects = append(r.objects, ObjectInfo{Name: name, Size: cw.n})
	r.bytes += cw.n
	r.mu.Unlock()
	return cw.n, nil
}

func (r *runner) progress(rep *repJob, seg, segs int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done++
	if r.job.Progress != nil {
		r.job.Progress(Progress{Representation: rep.id, Segment: seg, Segments: segs, Done: r.done, Total: r.total, Bytes: r.bytes})
	}
}

type counter struct {
	w io.Writer
	n int64
}

func (c *counter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// readFromCounter is a counter over an object that implements io.ReaderFrom.
type readFromCounter struct {
	*counter
	rf io.ReaderFrom
}

func (c *readFromCounter) ReadFrom(r io.Reader) (int64, error) {
	n, err := c.rf.ReadFrom(r)
	c.n += n
	return n, err
}

func (r *runner) writeRep(ctx context.Context, rep *repJob) error {
	t := rep.track
	if t.Kind == segment.KindVideo && r.job.Captions.Scan >= 0 {
		cc, err := segment.DetectCaptions(ctx, t, r.job.Captions.Scan)
		if err != nil {
			return err
		}
		rep.captions = cc
		if !cc.IsZero() {
			r.log.Info("closed captions in the video", "track", t.String(), "cea608", cc.CEA608, "cea708", cc.CEA708)
		}
	}
	if t.Codec == "wvtt" {
		if r.job.Formats&HLS != 0 {
			if err := r.writeWebVTT(ctx, rep); err != nil {
				return err
			}
		}
		if r.job.Formats&DASH == 0 {
			return nil // wvtt in CMAF is for DASH only
		}
	}
	if r.hlsTS() && (t.Kind == segment.KindVideo || t.Kind == segment.KindAudio) {
		if err := r.writeTS(ctx, rep); err != nil {
			return err
		}
		if r.job.Formats&DASH == 0 {
			// The CMAF segments are for DASH only. (TS output is never
			// encrypted with a CMAF scheme: Smooth's are clear too.)
			return r.writeSmooth(ctx, rep, nil)
		}
	}
	opts := r.segmentOptions(rep)
	if err := r.writeSmooth(ctx, rep, opts.Protector); err != nil {
		return err
	}
	if r.job.Formats&(HLS|DASH) == 0 {
		return nil // Smooth Streaming only
	}
	if r.job.SingleFile {
		return r.writeSingle(ctx, rep, opts)
	}
	initName, err := manifest.ExpandTemplate(r.naming.Init, rep.id, 0, 0, 0)
	if err != nil {
		return err
	}
	if _, err := r.put(ctx, initName, func(w io.Writer) error { return cmaf.WriteInit(w, t, opts.Protector) }); err != nil {
		return err
	}
	rep.init = manifest.Resource{URI: initName}
	sw, err := cmaf.NewWriter(t, r.plan, opts)
	if err != nil {
		return err
	}
	return r.writeSegments(ctx, rep, sw)
}

// segmentWorkers is how many segments of one track are written at once: one
// when the job asks for no parallelism, else two — a track's segments are
// independent (encrypted ones too, unless the protector is Sequential), and
// one goroutine copying in the kernel, or reading, encrypting and storing,
// leaves the second core idle once the small audio tracks are done.
func (r *runner) segmentWorkers() int {
	if r.job.Parallelism == 1 || runtime.GOMAXPROCS(0) == 1 {
		return 1
	}
	return 2
}

// writeSegments writes and stores the media segments of a track,
// segmentWorkers at once (cmaf.Writer.WriteSegments), and reports them in
// order.
func (r *runner) writeSegments(ctx context.Context, rep *repJob, sw *cmaf.Writer) error {
	names := make([]string, sw.Len())
	var done atomic.Int64
	infos, err := sw.WriteSegments(ctx, r.segmentWorkers(), func(ctx context.Context, i int, pre cmaf.SegmentInfo, write func(io.Writer) (cmaf.SegmentInfo, error)) error {
		name, err := manifest.ExpandTemplate(r.naming.Media, rep.id, 0, uint64(pre.Number), pre.MediaTime)
		if err != nil {
			return err
		}
		names[i] = name
		if _, err := r.put(ctx, name, func(w io.Writer) error {
			_, err := write(w)
			return err
		}); err != nil {
			return err
		}
		r.progress(rep, int(done.Add(1)), len(names))
		return nil
	})
	if err != nil {
		return err
	}
	for i := range names {
		rep.addSegment(names[i], infos[i])
	}
	return nil
}

func (rep *repJob) addSegment(uri string, info cmaf.SegmentInfo) {
	ref := manifest.SegmentRef{URI: uri, Number: uint64(info.Number), Start: info.MediaTime, Duration: info.Duration, Size: uint64(info.Size)}
	if rep.single != nil {
		ref.Range = manifest.ByteRange{Offset: uint64(info.Offset), Length: uint64(info.Size)}
	}
	rep.segments = append(rep.segments, ref)
	if info.SyncSampleEnd > 0 {
		rep.iframes = append(rep.iframes, manifest.IFrameRef{
			URI:      uri,
			Range:    manifest.ByteRange{Offset: uint64(info.Offset + info.FragmentOffset), Length: uint64(info.SyncSampleEnd - info.FragmentOffset)},
			Start:    info.MediaTime,
			Duration: info.Duration,
		})
	}
}

func (r *runner) writeSingle(ctx context.Context, rep *repJob, opts cmaf.Options) error {
	name, err := manifest.ExpandTemplate(r.naming.SingleFile, rep.id, 0, 0, 0)
	if err != nil {
		return err
	}
	var info cmaf.SingleFileInfo
	if _, err := r.put(ctx, name, func(w io.Writer) error {
		var err error
		info, err = cmaf.WriteSingleFile(ctx, w, rep.track, r.plan, opts, r.job.TempDir)
		return err
	}); err != nil {
		return err
	}
	rep.init = manifest.Resource{URI: name, Range: manifest.ByteRange{Offset: 0, Length: uint64(info.InitSize)}}
	rep.single = &manifest.SingleFile{URI: name, IndexRange: manifest.ByteRange{Offset: uint64(info.IndexOffset), Length: uint64(info.IndexSize)}}
	for _, s := range info.Segments {
		rep.addSegment(name, s)
		r.progress(rep, s.Number, len(info.Segments))
	}
	return nil
}

// webvttID is the ID of the WebVTT (HLS) representation made from the
// wvtt track of rep.
func webvttID(rep *repJob) string {
	if id := strings.Replace(rep.id, "_wvtt", "_webvtt", 1); id != rep.id {
		return id
	}
	return rep.id + "_webvtt"
}

// writeWebVTT writes the segments of a wvtt track as WebVTT documents for
// HLS (RFC 8216 3.5), at the same boundaries as its CMAF segments.
func (r *runner) writeWebVTT(ctx context.Context, rep *repJob) error {
	opts := cmaf.Options{}
	if r.hlsTS() {
		opts.WebVTTMPEGTS = tsmux.TimestampOffset
	}
	sw, err := cmaf.NewWriter(rep.track, r.plan, opts)
	if err != nil {
		return err
	}
	id := webvttID(rep)
	for i := 0; i < sw.Len(); i++ {
		pre, err := sw.Info(i)
		if err != nil {
			return err
		}
		name, err := manifest.ExpandTemplate(r.naming.WebVTT, id, 0, uint64(pre.Number), pre.MediaTime)
		if err != nil {
			return err
		}
		var info cmaf.SegmentInfo
		if _, err := r.put(ctx, name, func(w io.Writer) error {
			var err error
			info, err = sw.WriteWebVTT(ctx, w, i)
			return err
		}); err != nil {
			return err
		}
		rep.webvtt = append(rep.webvtt, manifest.SegmentRef{URI: name, Number: uint64(info.Number), Start: info.MediaTime, Duration: info.Duration, Size: uint64(info.Size)})
	}
	return nil
}

// writeTS writes the segments of an audio or video track as MPEG-TS for
// HLS, at the same boundaries as its CMAF segments. They are written in
// order: the continuity counters run on from segment to segment.
func (r *runner) writeTS(ctx context.Context, rep *repJob) error {
	m, err := tsmux.New(rep.track)
	if err != nil {
		return err
	}
	sw, err := cmaf.NewWriter(rep.track, r.plan, cmaf.Options{})
	if err != nil {
		return err
	}
	var block cipher.Block
	var buf bytes.Buffer
	if k := r.job.HLSAES128; k != nil {
		if block, err = aes.NewCipher(k.Key.Secret()); err != nil {
			return err
		}
	}
	for i := 0; i < sw.Len(); i++ {
		info, ss, err := sw.Samples(i)
		if err != nil {
			return err
		}
		name, err := manifest.ExpandTemplate(r.naming.TS, rep.id, 0, uint64(info.Number), info.MediaTime)
		if err != nil {
			return err
		}
		n, err := r.put(ctx, name, func(w io.Writer) error {
			if block != nil {
				buf.Reset()
				if err := m.WriteSegment(ctx, &buf, ss); err != nil {
					return err
				}
				_, err := w.Write(encryptAES128(block, buf.Bytes(), uint64(info.Number)))
				return err
			}
			bw := bufio.NewWriterSize(w, 64<<10)
			if err := m.WriteSegment(ctx, bw, ss); err != nil {
				return err
			}
			return bw.Flush()
		})
		if err != nil {
			return err
		}
		rep.ts = append(rep.ts, manifest.SegmentRef{URI: name, Number: uint64(info.Number), Start: info.MediaTime, Duration: info.Duration, Size: uint64(n)})
		if r.job.Formats&DASH == 0 {
			r.progress(rep, i+1, sw.Len()) // else the CMAF segments count
		}
	}
	return nil
}

// encryptAES128 encrypts a whole segment as HLS METHOD=AES-128 does
// (RFC 8216 4.3.2.4, 5.2): AES-128-CBC with PKCS7 padding, the IV the
// media sequence number seq as a 128-bit big-endian integer.
func encryptAES128(block cipher.Block, b []byte, seq uint64) []byte {
	pad := aes.BlockSize - len(b)%aes.BlockSize
	out := make([]byte, len(b)+pad)
	copy(out, b)
	for i := len(b); i < len(out); i++ {
		out[i] = byte(pad)
	}
	var iv [aes.BlockSize]byte
	binary.BigEndian.PutUint64(iv[8:], seq)
	cipher.NewCBCEncrypter(block, iv[:]).CryptBlocks(out, out)
	return out
}

// aes128URI returns the EXT-X-KEY URI of the job's AES-128 key.
func (r *runner) aes128URI() string {
	if u := r.job.HLSAES128.URI; u != "" {
		return u
	}
	return DefaultAES128KeyName
}

// writeAES128Key writes the key object of AES-128 encryption unless the
// job names a URI of its own.
func (r *runner) writeAES128Key(ctx context.Context) error {
	if !r.hlsTS() || r.job.HLSAES128 == nil || r.job.HLSAES128.URI != "" {
		return nil
	}
	_, err := r.put(ctx, DefaultAES128KeyName, func(w io.Writer) error {
		_, err := w.Write(r.job.HLSAES128.Key.Secret())
		return err
	})
	return err
}

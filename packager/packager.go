// Package packager runs packaging jobs: it opens the inputs, plans aligned
// segments, writes CMAF init and media segments (optionally encrypted) to a
// storage.Storage, and renders HLS and DASH manifests from one presentation model.
// Manifests are written last, and an earlier output's manifests are
// deleted before the first segment, so a failed or cancelled job never
// leaves a manifest that points at missing segments or at a mix of two runs.
package packager

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/cmafkit/cmafkit/drm"
	"github.com/cmafkit/cmafkit/manifest"
	"github.com/cmafkit/cmafkit/segment"
	"github.com/cmafkit/cmafkit/segment/cmaf"
)

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
	return &Result{Presentation: pres, HLS: r.rendered.HLS, DASH: r.rendered.DASH, Objects: r.objects, Manifests: r.manifests}, nil
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
	if err := r.checkHLSScheme(); err != nil {
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
	if err := r.checkTSTracks(); err != nil {
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
	if err := r.checkSmoothKeys(); err != nil {
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
	// rendered holds the presentation each format was rendered from.
	rendered struct{ HLS, DASH *manifest.Presentation }
	done     int
	total    int
	bytes    int64
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

package live

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/cmafkit/cmafkit/drm"
	"github.com/cmafkit/cmafkit/manifest"
	"github.com/cmafkit/cmafkit/packager"
	"github.com/cmafkit/cmafkit/segment"
	"github.com/cmafkit/cmafkit/storage"
)

// Defaults of a Channel's zero fields.
const (
	DefaultSegmentDuration = 2 * time.Second
	DefaultWindow          = 60 * time.Second
)

// Object names a Channel writes. Representation IDs are the track kind and
// its position among the publisher's tracks of that kind: "video0",
// "video1", "audio0".
const (
	HLSName  = "master.m3u8"  // HLS multivariant playlist; media playlists are ID.m3u8
	DASHName = "manifest.mpd" // DASH MPD
	// MediaTemplate names media segments; segment numbers run on across
	// periods, so a name is never reused.
	MediaTemplate = "$RepresentationID$/seg-$Number$.m4s"
)

// maxSampleSize bounds one sample's payload.
const maxSampleSize = 32 << 20

// Channel packages one live stream: publishers (one at a time) push samples
// through the Publisher that Publish returns; the channel maps their
// timestamps onto one continuous timeline, cuts CMAF segments aligned across
// tracks, stores them and rewrites the manifests after each segment.
//
// Set the exported fields before the first Publish and do not change them
// afterwards. The zero value (with a Storage) packages to HLS and DASH with
// 2 s segments and a 60 s window.
type Channel struct {
	// Storage receives segments and manifests. Required.
	Storage storage.Storage
	// SegmentDuration is the target segment duration; zero means 2 s.
	// Segments close on the first video keyframe at or after each multiple
	// of it, so they are longer when keyframes are further apart.
	SegmentDuration time.Duration
	// MaxSegmentDuration is the longest a segment should last, rounded up
	// to whole seconds; it is the HLS EXT-X-TARGETDURATION, fixed for the
	// channel's life (RFC 8216 section 6.2.1 forbids changing it). Zero
	// means 1.5 × SegmentDuration; it is at least SegmentDuration. A
	// segment that would pass it by the next keyframe (predicted from the
	// last keyframe interval) is cut early, at the present keyframe; one
	// that passes it anyway (no keyframe in time) is written, with a
	// Warning, and the target stays as it is.
	MaxSegmentDuration time.Duration
	// Window is how much of the stream the manifests keep (DASH
	// timeShiftBufferDepth); zero means 60 s. A negative Window keeps
	// everything: an HLS EVENT playlist, nothing deleted.
	Window time.Duration
	// Grace is how long a segment stays stored after it left the window,
	// for players that read the manifest just before; zero means five
	// segment durations.
	Grace time.Duration
	// Formats selects the manifests; zero means HLS and DASH.
	Formats packager.Format
	// StaticMPD makes Close rewrite the MPD as static (a VOD of the window).
	StaticMPD bool
	// UTCTiming lists DASH UTCTiming sources. Empty means one
	// urn:mpeg:dash:utc:direct:2014 element carrying the publish time.
	UTCTiming []manifest.Descriptor
	// HLSInterstitials, when set, adds an HLS Interstitial for each break
	// of the SCTE-35 cues (see CuePublisher, manifest.Interstitials).
	HLSInterstitials *manifest.Interstitials
	// MaxGap is the largest jump of a track's timestamps taken as
	// continuous; a larger jump, or one backwards, starts a new period.
	// Zero means the larger of 10 s and three segment durations.
	MaxGap time.Duration
	// Logger receives warnings (refused samples, misaligned renditions,
	// storage errors); nil logs nothing.
	Logger *slog.Logger
	// Clock returns the wall-clock time (for availabilityStartTime,
	// program date times, publish times and deletion); nil means time.Now.
	Clock func() time.Time
	// OnEvent, when set, is called for each Event, in order, outside the
	// channel's lock, from the goroutine of the publisher that caused it.
	OnEvent func(Event)
	// Encryption, when set, encrypts every track as packager.Job's does
	// (cenc or cbcs, static keys or CPIX, key rotation every
	// CryptoPeriod segments, counted across periods) and signals it in
	// the manifests. A track's keys are fetched when it is declared
	// (AddTrack fails if they cannot be), a rotated key before the first
	// segment of its crypto period. A fixed cenc IV is refused, as for
	// VOD, when two renditions share a key.
	// Low-latency channels cannot be encrypted yet: Publish fails.
	Encryption *drm.Config
	// EncryptionSession, when set, is the drm session the channel
	// encrypts through instead of one of its own: drm.NewSession of
	// Encryption, shared by the channels that use the same keys, so that
	// its refusal of a fixed cenc IV under a key another track uses
	// (drm.ErrIVReuse, at AddTrack) covers every channel, not each alone.
	EncryptionSession *drm.Session
	// PartDuration, when set, makes the channel low-latency: each segment
	// is made as CMAF chunks (parts) of at most this duration while it is
	// cut, kept in memory with the last few segments for an Origin to serve
	// (LL-HLS parts, LL-DASH segments sent as they grow), and the DASH MPD
	// addresses segments by number and SegmentDuration, so keyframes
	// should come at every multiple of it. See NewOrigin.
	PartDuration time.Duration
	// SkipUntil, in a low-latency channel, offers LL-HLS playlist delta
	// updates (CAN-SKIP-UNTIL): a playlist request with _HLS_skip leaves
	// out the segments older than this. RFC 8216bis wants at least six
	// target durations; zero offers none (hls.js 1.7 was seen to misplace
	// program date-times after merging delta updates).
	SkipUntil time.Duration
	// TargetLatency is the latency a low-latency channel asks DASH players
	// to hold (ServiceDescription); zero means 2 s.
	TargetLatency time.Duration
	// Smooth also writes live Microsoft Smooth Streaming: the client
	// manifest SmoothName (IsLive, DVRWindowLength the Window) and PIFF
	// fragments with tfxd and a tfrf announcing the next fragment, so each
	// is stored once the next segment of its track is cut. H.264 and AAC
	// only (AddTrack refuses others); not with PartDuration or Encryption
	// (Publish fails).
	Smooth bool

	mu         sync.Mutex
	init       bool
	closed     bool
	sess       *session
	started    bool      // the timeline has begun
	ast        time.Time // availability start time: wall clock of timeline zero
	end        time.Duration
	period     *period   // the period being cut, nil between sessions
	periods    []*period // periods with segments in the window, oldest first
	nperiod    int       // periods started
	next       int       // next segment number
	discSeq    uint64
	trash      []trashed
	stats      Stats
	pending    []Event
	warned     map[string]bool
	drm        *drm.Session   // of Encryption
	drmShared  bool           // drm is EncryptionSession
	drmErr     error          // Encryption is unusable: Publish fails
	sampleBase map[string]int // representation → samples written in ended periods (cenc IVs run on)
	lost       int            // the last segment number some track could not store: the window starts after it
	ll         *lowLatency    // with PartDuration
	subs       subscribers    // Subscribe

	smoothReps map[string]*smoothRep // with Smooth, by representation
}

// Stats counts what a channel did.
type Stats struct {
	Publishers      int   // sessions accepted
	Refused         int   // publishers refused (key in use, channel closed)
	Samples         int64 // samples accepted
	Bytes           int64 // payload bytes accepted
	Dropped         int64 // samples dropped: video before a keyframe, samples before their period
	Rejected        int64 // samples refused as malformed (SampleError)
	Segments        int64 // media segments stored, all tracks
	Discontinuities int   // periods started after the first
	Misaligned      int   // boundaries where a rendition had no keyframe
	Deleted         int64 // objects deleted after leaving the window
	Manifests       int64 // manifest updates
	Errors          int64 // storage and rendering errors
	Cues            int64 // SCTE-35 cues taken (CuePublisher)
	BadCues         int64 // SCTE-35 cues refused (ErrBadCue)
}

// EventKind says what happened.
type EventKind int

// Event kinds.
const (
	PublisherConnected EventKind = iota + 1
	PublisherGone
	SegmentWritten
	Discontinuity
	Warning
	Ended
)

var eventNames = map[EventKind]string{PublisherConnected: "publisher connected", PublisherGone: "publisher gone",
	SegmentWritten: "segment written", Discontinuity: "discontinuity", Warning: "warning", Ended: "ended"}

// String names the kind.
func (k EventKind) String() string {
	if s, ok := eventNames[k]; ok {
		return s
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is something a Channel reports to OnEvent.
type Event struct {
	Kind EventKind
	Time time.Time // wall clock
	Key  string    // stream key of the session, if any
	// Segment is the segment written (SegmentWritten), with
	// Representation naming its representation.
	Representation string
	Segment        manifest.SegmentRef
	// Err is why a publisher went away (nil: it ended the stream) or what
	// a Warning is about.
	Err error
}

type trashed struct {
	name string
	at   time.Time
}

func (c *Channel) setup() {
	if c.init {
		return
	}
	c.init = true
	if c.SegmentDuration <= 0 {
		c.SegmentDuration = DefaultSegmentDuration
	}
	if c.MaxSegmentDuration <= 0 {
		c.MaxSegmentDuration = c.SegmentDuration * 3 / 2
	}
	c.MaxSegmentDuration = roundUpSecond(max(c.MaxSegmentDuration, c.SegmentDuration))
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
	if c.Grace <= 0 {
		c.Grace = 5 * c.SegmentDuration
	}
	if c.Formats == 0 {
		c.Formats = packager.HLS | packager.DASH
	}
	if c.MaxGap <= 0 {
		c.MaxGap = max(10*time.Second, 3*c.SegmentDuration)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	c.next = 1
	c.warned = map[string]bool{}
	c.sampleBase = map[string]int{}
	c.setupEncryption()
	if c.PartDuration > 0 {
		c.PartDuration = min(c.PartDuration, c.SegmentDuration)
		if c.SkipUntil > 0 {
			c.SkipUntil = max(c.SkipUntil, 6*c.MaxSegmentDuration)
		}
		if c.TargetLatency <= 0 {
			c.TargetLatency = 2 * time.Second
		}
		c.ll = newLowLatency()
	}
	if c.ll != nil && c.Encryption != nil && c.drmErr == nil {
		c.drmErr = errors.New("live: encryption of low-latency channels (PartDuration) is not supported")
	}
}

func (c *Channel) lock() {
	c.mu.Lock()
	c.setup()
}

// unlock releases the lock and then delivers the events queued under it.
func (c *Channel) unlock() {
	evs := c.pending
	c.pending = nil
	c.mu.Unlock()
	if c.OnEvent != nil {
		for _, e := range evs {
			c.OnEvent(e)
		}
	}
}

func (c *Channel) emit(e Event) {
	e.Time = c.Clock()
	c.pending = append(c.pending, e)
}

func (c *Channel) warn(msg string, args ...any) {
	c.Logger.Warn(msg, args...)
	c.emit(Event{Kind: Warning, Err: fmt.Errorf("%s %s", msg, fmt.Sprint(args...))})
}

// Stats returns the channel's counters.
func (c *Channel) Stats() Stats {
	c.lock()
	defer c.unlock()
	return c.stats
}

// Publish starts a publishing session for key. It refuses a second
// publisher while one is publishing (ErrKeyInUse) and any after Close
// (ErrClosed). Its signature is a PublisherFunc's.
func (c *Channel) Publish(ctx context.Context, key string) (Publisher, error) {
	c.lock()
	defer c.unlock()
	if c.closed {
		c.stats.Refused++
		return nil, fmt.Errorf("%w: channel for %q", ErrClosed, key)
	}
	if c.sess != nil {
		c.stats.Refused++
		return nil, fmt.Errorf("%w: %q", ErrKeyInUse, key)
	}
	if c.drmErr != nil {
		c.stats.Refused++
		return nil, c.drmErr
	}
	if err := c.checkSmooth(); err != nil {
		c.stats.Refused++
		return nil, err
	}
	s := &session{c: c, key: key}
	c.sess = s
	c.stats.Publishers++
	c.emit(Event{Kind: PublisherConnected, Key: key})
	return s, nil
}

// Close ends the stream: the session, if any, is closed as if its publisher
// had gone, the last segments are written, and the manifests are rewritten
// as ended (HLS EXT-X-ENDLIST; a static MPD with StaticMPD). Objects waiting
// for their grace period are deleted. Publish fails afterwards.
func (c *Channel) Close(ctx context.Context) error {
	c.lock()
	defer c.unlock()
	if c.closed {
		return nil
	}
	if c.sess != nil {
		c.endSession(ctx, c.sess, nil)
	}
	c.closed = true
	var err error
	if c.started {
		err = c.writeManifests(ctx)
	}
	for _, t := range c.trash {
		c.remove(ctx, t.name)
	}
	c.trash = nil
	if c.ll != nil {
		c.ll.end()
	}
	c.emit(Event{Kind: Ended})
	return err
}

// Presentation returns the model the manifests were last rendered from
// (nil before the first segment).
func (c *Channel) Presentation() *manifest.Presentation {
	c.lock()
	defer c.unlock()
	if !c.started || len(c.periods) == 0 {
		return nil
	}
	return c.presentation()
}

// session is one publisher's Publisher.
type session struct {
	c      *Channel
	key    string
	tracks []*strack
	wrote  bool // samples were written since the last period started
	done   bool
}

// strack is a track as the publisher declared it.
type strack struct {
	num     int
	t       *segment.Track // described: codec string, sizes; Index/Data unused
	rep     string
	retired bool
	nalLen  bool      // payload is 4-byte length-prefixed NAL units
	count   int64     // samples received
	buf     []byte    // payload held back (see ptrack.held)
	enc     *encTrack // nil: clear
}

func (s *session) AddTrack(ctx context.Context, t *segment.Track) (int, error) {
	if t == nil || t.SampleEntry == nil {
		return 0, fmt.Errorf("%w: no sample entry", ErrBadTrack)
	}
	if t.Kind != segment.KindVideo && t.Kind != segment.KindAudio {
		return 0, fmt.Errorf("%w: %s track (only video and audio are packaged live)", ErrBadTrack, t.Kind)
	}
	if t.Timescale == 0 {
		return 0, fmt.Errorf("%w: %s track without a timescale", ErrBadTrack, t.Kind)
	}
	d := &segment.Track{ID: 1, Source: "live " + s.key, Kind: t.Kind, Timescale: t.Timescale, Language: t.Language,
		FrameRate: t.FrameRate, SampleEntry: t.SampleEntry}
	if d.Language == "" {
		d.Language = "und"
	}
	if err := d.DescribeSampleEntry(); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrBadTrack, err)
	}
	c := s.c
	if err := c.checkSmoothTrack(d); err != nil {
		return 0, err
	}
	c.lock()
	defer c.unlock()
	if s.done {
		return 0, ErrClosed
	}
	st := &strack{num: len(s.tracks), t: d}
	switch strings.SplitN(d.Codec, ".", 2)[0] {
	case "avc1", "avc3", "hvc1", "hev1", "dvh1", "dvhe":
		st.nalLen = true
	}
	ordinal := 0
	var replaced *strack
	for _, o := range s.tracks {
		if o.t.Kind == t.Kind && !o.retired {
			ordinal++
			replaced = o
		}
	}
	replace := s.wrote && replaced != nil
	if replace {
		st.rep = replaced.rep
	} else {
		st.rep = fmt.Sprintf("%s%d", t.Kind, ordinal)
	}
	d.Source = "live " + s.key + " " + st.rep
	var err error
	if st.enc, err = c.protectTrack(ctx, st); err != nil {
		return 0, fmt.Errorf("live: %s: %w", d.Source, err)
	}
	if replace {
		// A new configuration of a track already publishing: it
		// replaces the last track of its kind, in a new period with a
		// new init segment.
		replaced.retired = true
	}
	s.tracks = append(s.tracks, st)
	if s.wrote {
		c.discontinuity(storeContext(ctx), s)
	}
	return st.num, nil
}

func (s *session) WriteSample(ctx context.Context, track int, smp segment.Sample, payload []byte) error {
	ctx = storeContext(ctx)
	c := s.c
	c.lock()
	defer c.unlock()
	if s.done {
		return ErrClosed
	}
	bad := func(detail string, args ...any) error {
		c.stats.Rejected++
		err := &SampleError{Key: s.key, Track: track, Detail: fmt.Sprintf(detail, args...)}
		if track >= 0 && track < len(s.tracks) {
			err.Sample = s.tracks[track].count
		}
		c.Logger.Warn("live: refused sample", "err", err)
		return err
	}
	if track < 0 || track >= len(s.tracks) {
		return bad("no such track (%d declared)", len(s.tracks))
	}
	st := s.tracks[track]
	st.count++
	switch {
	case st.retired:
		return bad("track was replaced by a new configuration")
	case int64(smp.Size) != int64(len(payload)):
		return bad("size %d but %d payload bytes", smp.Size, len(payload))
	case len(payload) == 0:
		return bad("empty payload")
	case len(payload) > maxSampleSize:
		return bad("%d bytes, more than %d", len(payload), maxSampleSize)
	case st.nalLen && !nalUnitsOK(payload):
		return bad("payload is not 4-byte length-prefixed NAL units")
	}
	c.stats.Samples++
	c.stats.Bytes += int64(len(payload))
	c.subs.notify(TrackSample{Key: s.key, Track: track, Info: st.t, Sample: smp, Payload: payload})
	c.write(ctx, s, st, smp, payload)
	return nil
}

// storeContext is the context of the storage writes a publisher's call
// makes: its values without its cancellation. The stream outlives the call
// (an HTTP push's request context ends when the client goes away while the
// ingest still delivers what it buffered), and a segment not stored would
// leave a hole in the window.
func storeContext(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }

// nalUnitsOK reports whether b is a sequence of NAL units each preceded by
// its 4-byte length, exactly filling b.
func nalUnitsOK(b []byte) bool {
	for len(b) > 0 {
		if len(b) < 5 {
			return false
		}
		n := uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3])
		if n == 0 || n > uint64(len(b)-4) {
			return false
		}
		b = b[4+n:]
	}
	return true
}

func (s *session) Discontinuity(ctx context.Context) {
	ctx = storeContext(ctx)
	c := s.c
	c.lock()
	defer c.unlock()
	if !s.done {
		c.discontinuity(ctx, s)
	}
}

func (s *session) Close(err error) {
	c := s.c
	c.lock()
	defer c.unlock()
	if !s.done {
		c.endSession(context.Background(), s, err)
	}
}

// endSession writes what the session left and frees the channel for the
// next publisher.
func (c *Channel) endSession(ctx context.Context, s *session, err error) {
	c.flush(ctx)
	s.done = true
	c.sess = nil
	c.emit(Event{Kind: PublisherGone, Key: s.key, Err: err})
}

// discontinuity ends the current period; the next sample starts a new one.
func (c *Channel) discontinuity(ctx context.Context, s *session) {
	if c.period == nil {
		return
	}
	c.flush(ctx)
}

// flush writes the open segments of the current period, whatever their
// length, and ends the period.
func (c *Channel) flush(ctx context.Context) {
	p := c.period
	if p == nil {
		return
	}
	c.period = nil
	if c.sess != nil {
		c.sess.wrote = false
	}
	p.flush(ctx)
	c.flushSmooth(ctx)
	c.writeManifests(ctx)
}

// now returns the wall clock and the channel time it corresponds to.
func (c *Channel) now() (time.Time, time.Duration) {
	t := c.Clock()
	return t, t.Sub(c.ast)
}

// write maps a sample onto the channel timeline and hands it to its
// period's track.
func (c *Channel) write(ctx context.Context, s *session, st *strack, smp segment.Sample, payload []byte) {
	p := c.period
	if p == nil {
		p = c.newPeriod(s)
	}
	var pt *ptrack
	if st.num < len(p.tracks) {
		pt = p.tracks[st.num]
	}
	if pt == nil {
		// A track declared after this period began (without samples
		// written) joins it.
		pt = p.addTrack(st)
	}
	if pt.havePub {
		d := int64(smp.DecodeTime) - int64(pt.lastPub)
		if d < 0 || ticksToDur(d, st.t.Timescale) > c.MaxGap {
			c.Logger.Info("live: timestamps jump, new period", "key", s.key, "track", st.rep,
				"from", ticksToDur(int64(pt.lastPub), st.t.Timescale), "to", ticksToDur(int64(smp.DecodeTime), st.t.Timescale))
			c.flush(ctx)
			p = c.newPeriod(s)
			pt = p.tracks[st.num]
		}
	}
	pt.havePub, pt.lastPub = true, smp.DecodeTime
	s.wrote = true
	if !p.anchored {
		p.anchored = true
		p.anchorPub = ticksToDur(int64(smp.DecodeTime), st.t.Timescale)
	}
	if !pt.haveOff {
		pt.haveOff = true
		pt.off = durToTicks(p.start, st.t.Timescale) - durToTicks(p.anchorPub, st.t.Timescale)
	}
	dts := int64(smp.DecodeTime) + pt.off
	if dts < durToTicks(p.start, st.t.Timescale) {
		c.stats.Dropped++
		return
	}
	smp.DecodeTime = uint64(dts)
	pt.push(ctx, smp, payload)
}

// newPeriod starts a period for session s at the channel's present: the end
// of what was written, or the wall clock's time on the channel timeline if
// that is later by more than a segment duration (after a publisher gap),
// so that program date times stay true. A shorter gap (a quick reconnect, a
// timestamp reset) continues the timeline without a hole, at which players
// would stall: program date times are then early by the gap, never by more
// than a segment duration, since a larger lag is caught up at the next
// period.
func (c *Channel) newPeriod(s *session) *period {
	var start time.Duration
	if !c.started {
		c.started = true
		c.ast = c.Clock()
	} else {
		_, now := c.now()
		start = c.end
		if now-c.end > c.SegmentDuration {
			start = now
		}
		c.stats.Discontinuities++
		c.emit(Event{Kind: Discontinuity, Key: s.key})
	}
	p := &period{c: c, id: fmt.Sprintf("p%d", c.nperiod), start: start, first: c.next, nextWrite: c.next}
	c.nperiod++
	p.tracks = make([]*ptrack, len(s.tracks))
	for _, st := range s.tracks {
		if !st.retired {
			p.addTrack(st)
		}
	}
	c.period = p
	c.periods = append(c.periods, p)
	return p
}

// roundUpSecond rounds d up to whole seconds, as HLS target durations are.
func roundUpSecond(d time.Duration) time.Duration {
	return (d + time.Second - 1) / time.Second * time.Second
}

func ticksToDur(t int64, ts uint32) time.Duration {
	return time.Duration(t/int64(ts))*time.Second + time.Duration(t%int64(ts))*time.Second/time.Duration(ts)
}

func durToTicks(d time.Duration, ts uint32) int64 {
	return int64(d/time.Second)*int64(ts) + int64(d%time.Second)*int64(ts)/int64(time.Second)
}

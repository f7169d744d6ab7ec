package drm

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/cmafkit/cmafkit/internal/mp4util"
	"github.com/cmafkit/cmafkit/segment"
)

// Config configures protection of a presentation. The zero value is not
// usable: Scheme and Keys are required.
type Config struct {
	// Scheme is SchemeCENC, SchemeCBCS, SchemeCENS or SchemeCBC1.
	Scheme Scheme
	// Keys supplies content keys per track class and crypto period.
	Keys KeyProvider
	// IV, if set, is the constant IV (cbcs, 16 bytes) or the IV of the track's
	// first sample (cenc and cens: 8 or 16 bytes, CMAF prefers 8; cbc1: 16
	// bytes), from which the other samples' IVs follow by their position.
	// Otherwise a key's explicit IV is used, or a random IV per track. With
	// cenc and cens, tracks that share a key must not share an IV: leave IV
	// unset unless every track has its own key.
	IV IV
	// Thresholds classify video tracks into SD/HD/UHD for key selection.
	Thresholds Thresholds
	// CryptoPeriod, if > 0, rotates keys every CryptoPeriod segments: each
	// fragment carries seig/sbgp and (unless OmitPSSH) pssh boxes in its moof.
	CryptoPeriod int
	// OmitPSSH leaves pssh boxes out of the init segment (and the moofs); the
	// systems are then signaled in the manifest only.
	OmitPSSH bool
	// SignalingOptions selects DRM systems and their parameters.
	SignalingOptions
	// Logger receives debug logs; nil means slog.Default().
	Logger *slog.Logger
}

// Validate checks the configuration without contacting the key provider.
func (c *Config) Validate() error {
	if err := CheckSystems(c.Scheme, c.Systems); err != nil {
		return err
	}
	if c.Keys == nil {
		return fmt.Errorf("drm: config without key provider: %w", ErrNoKey)
	}
	if c.CryptoPeriod < 0 {
		return fmt.Errorf("drm: negative crypto period %d: %w", c.CryptoPeriod, ErrMalformed)
	}
	if len(c.IV) > 0 {
		if err := checkIV(c.Scheme, c.IV); err != nil {
			return err
		}
	}
	if _, err := FairPlayURI(c.FairPlayURI, KID{}); err != nil {
		return err
	}
	return nil
}

func checkIV(s Scheme, iv IV) error {
	if s == SchemeCBCS && len(iv) != 16 {
		return &KeyLengthError{What: "IV", Got: len(iv), Want: "16 (cbcs constant IV)"}
	}
	if s == SchemeCBC1 && len(iv) != 16 {
		return &KeyLengthError{What: "IV", Got: len(iv), Want: "16 (cbc1 per-sample IV)"}
	}
	if len(iv) != 8 && len(iv) != 16 {
		return &KeyLengthError{What: "IV", Got: len(iv), Want: "8 or 16"}
	}
	return nil
}

// ivSource says where a track's IV comes from.
type ivSource int

const (
	ivConfig ivSource = iota // Config.IV
	ivKey                    // the first key's own IV (CPIX explicitIV)
	ivRandom                 // random, per track
)

// codec families with their subsample strategy.
type codecFamily int

const (
	famAudio codecFamily = iota
	famAVC
	famHEVC
	famAV1
)

// TrackProtector encrypts one track. Create it with NewTrackProtector from
// the clear init segment, call ProtectInit once on the init segment to be
// written, then ProtectFragment for every fragment (chunk). ProtectFragment
// may be called for fragments in any order and from several goroutines at
// once, unless Sequential reports true (then one at a time, in decode order).
type TrackProtector struct {
	cfg      Config
	enabled  bool
	trackID  uint32
	kind     segment.Kind
	codec    string
	fam      codecFamily
	req      KeyRequest
	trex     *mp4.TrexBox
	ranges   rangeFunc
	iv       []byte // cbcs: constant IV; others: IV of the track's first sample
	ivFrom   ivSource
	ivSize   int // per-sample IV size (0 for cbcs)
	crypt    int
	skip     int
	log      *slog.Logger
	def      ContentKey // period-0 key, whose KID is tenc default_KID
	mu       sync.Mutex
	keys     map[int]ContentKey
	ciphers  map[KID]*sampleCipher
	initDone bool
	// sequential: subsample ranges depend on earlier samples (see Sequential).
	sequential bool
	// scratch holds *fragmentScratch for ProtectFragment calls.
	scratch sync.Pool
}

// NewTrackProtector prepares protection of the single track of init (which
// it does not modify) and fetches the first key. Text tracks (and tracks of
// unknown kind) get a protector that leaves everything clear: Enabled
// reports false and ProtectInit/ProtectFragment do nothing.
func NewTrackProtector(ctx context.Context, cfg Config, init *mp4.InitSegment) (*TrackProtector, error) {
	return newTrackProtector(ctx, cfg, init, "")
}

// newTrackProtector is NewTrackProtector for the track named name.
func newTrackProtector(ctx context.Context, cfg Config, init *mp4.InitSegment, name string) (*TrackProtector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if init == nil || init.Moov == nil || len(init.Moov.Traks) != 1 {
		n := 0
		if init != nil && init.Moov != nil {
			n = len(init.Moov.Traks)
		}
		return nil, fmt.Errorf("drm: init segment with %d tracks, want 1 (CMAF): %w", n, ErrUnsupported)
	}
	trak := init.Moov.Trak
	stsd := trak.Mdia.Minf.Stbl.Stsd
	if stsd == nil || len(stsd.Children) == 0 {
		return nil, fmt.Errorf("drm: init segment without sample entry: %w", ErrMalformed)
	}
	tp := &TrackProtector{cfg: cfg, trackID: trak.Tkhd.TrackID, log: cfg.Logger, keys: map[int]ContentKey{}, ciphers: map[KID]*sampleCipher{}}
	tp.scratch.New = func() any { return new(fragmentScratch) }
	if tp.log == nil {
		tp.log = slog.Default()
	}
	if init.Moov.Mvex != nil {
		for _, trex := range init.Moov.Mvex.Trexs {
			if trex.TrackID == tp.trackID {
				tp.trex = trex
			}
		}
	}
	var width, height, channels int
	switch se := stsd.Children[0].(type) {
	case *mp4.VisualSampleEntryBox:
		tp.kind, tp.codec = segment.KindVideo, se.Type()
		width, height = int(se.Width), int(se.Height)
		switch tp.codec {
		case "avc1", "avc3":
			tp.fam, tp.ranges = famAVC, newAVCRanges(cfg.Scheme, se.AvcC).ranges
			tp.sequential = tp.codec == "avc3" // in-band parameter sets change the parsing
		case "hvc1", "hev1", "dvh1", "dvhe":
			tp.fam, tp.ranges = famHEVC, newHEVCRanges(cfg.Scheme, se.HvcC).ranges
			tp.sequential = tp.codec == "hev1" || tp.codec == "dvhe"
		case "av01":
			if cfg.Scheme == SchemeCENS || cfg.Scheme == SchemeCBC1 {
				// AV1 Codec ISO Media File Format Binding §4 allows cenc and cbcs only.
				return nil, &SchemeError{Scheme: cfg.Scheme, Codec: tp.codec, Reason: "AV1 in ISOBMFF is protected with cenc or cbcs only"}
			}
			f, err := newAV1Ranges(cfg.Scheme, se.Av1C)
			if err != nil {
				return nil, fmt.Errorf("drm: track %d: %w", tp.trackID, err)
			}
			tp.fam, tp.ranges = famAV1, f
			tp.sequential = true // the frame-header decoder keeps reference state
		case "encv":
			return nil, fmt.Errorf("drm: track %d is already encrypted: %w", tp.trackID, ErrMalformed)
		default:
			if cfg.Scheme.patterned() {
				return nil, &SchemeError{Scheme: cfg.Scheme, Codec: tp.codec, Reason: "no subsample encryption support for this codec"}
			}
			return nil, fmt.Errorf("drm: track %d: video codec %q: %w", tp.trackID, tp.codec, ErrUnsupportedCodec)
		}
		if cfg.Scheme.patterned() {
			tp.crypt, tp.skip = 1, 9 // ISO/IEC 23001-7 §10.3, §10.4
		}
	case *mp4.AudioSampleEntryBox:
		tp.kind, tp.codec, tp.fam = segment.KindAudio, se.Type(), famAudio
		channels = int(se.ChannelCount)
		if tp.codec == "enca" {
			return nil, fmt.Errorf("drm: track %d is already encrypted: %w", tp.trackID, ErrMalformed)
		}
	default:
		tp.kind, tp.codec = segment.KindText, stsd.Children[0].Type()
		tp.log.DebugContext(ctx, "drm: track left clear", "track", tp.trackID, "codec", tp.codec)
		return tp, nil
	}
	tp.enabled = true
	tp.req = KeyRequest{Kind: tp.kind, Class: cfg.Thresholds.Classify(tp.kind, width, height), Track: name,
		Width: width, Height: height, Channels: channels}
	def, err := tp.key(ctx, 0)
	if err != nil {
		return nil, err
	}
	tp.def = def
	iv := cfg.IV
	tp.ivFrom = ivConfig
	if len(iv) == 0 && len(def.IV) > 0 {
		if err := checkIV(cfg.Scheme, def.IV); err == nil {
			iv, tp.ivFrom = def.IV, ivKey
		}
	}
	if len(iv) == 0 {
		n := 8
		if cfg.Scheme == SchemeCBCS || cfg.Scheme == SchemeCBC1 {
			n = 16
		}
		if iv, err = NewIV(n); err != nil {
			return nil, err
		}
		tp.ivFrom = ivRandom
	}
	tp.iv = append([]byte(nil), iv...)
	if cfg.Scheme != SchemeCBCS {
		tp.ivSize = len(iv)
	}
	tp.log.DebugContext(ctx, "drm: track protector", "track", tp.trackID, "codec", tp.codec,
		"class", string(tp.req.Class), "scheme", string(cfg.Scheme), "kid", def.KID.String())
	return tp, nil
}

// Sequential reports whether ProtectFragment must see the track's fragments
// one at a time in decode order: true when subsample ranges depend on
// earlier samples (AV1 frame headers; parameter sets carried in-band, as in
// avc3 and hev1). Otherwise fragments may be protected in any order, and
// concurrently.
func (tp *TrackProtector) Sequential() bool { return tp.sequential }

// Enabled reports whether the track is encrypted (false for text tracks).
func (tp *TrackProtector) Enabled() bool { return tp.enabled }

// DefaultKID returns the tenc default_KID (the period-0 key's KID).
func (tp *TrackProtector) DefaultKID() KID { return tp.def.KID }

// Class returns the key class the track was assigned.
func (tp *TrackProtector) Class() TrackClass { return tp.req.Class }

// Period returns the crypto period of a 0-based segment index.
func (tp *TrackProtector) Period(segmentIndex int) int {
	if tp.cfg.CryptoPeriod <= 0 || segmentIndex < 0 {
		return 0
	}
	return segmentIndex / tp.cfg.CryptoPeriod
}

// key returns (and caches) the key of a crypto period.
func (tp *TrackProtector) key(ctx context.Context, period int) (ContentKey, error) {
	tp.mu.Lock()
	k, ok := tp.keys[period]
	tp.mu.Unlock()
	if ok {
		return k, nil
	}
	req := tp.req
	req.Period = period
	k, err := tp.cfg.Keys.ContentKey(ctx, req)
	if err != nil {
		return ContentKey{}, fmt.Errorf("drm: track %d class %s period %d: %w", tp.trackID, req.Class, period, err)
	}
	if k.Key.IsZero() {
		return ContentKey{}, fmt.Errorf("drm: track %d period %d: provider returned KID %s without key: %w", tp.trackID, period, k.KID, ErrNoKey)
	}
	tp.mu.Lock()
	tp.keys[period] = k
	tp.mu.Unlock()
	return k, nil
}

func (tp *TrackProtector) cipherFor(k ContentKey) (*sampleCipher, error) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	if c, ok := tp.ciphers[k.KID]; ok {
		return c, nil
	}
	c, err := newSampleCipher(k.Key, tp.crypt, tp.skip)
	if err != nil {
		return nil, err
	}
	tp.ciphers[k.KID] = c
	return c, nil
}

// periodArg returns period with key rotation and -1 without; Widevine's crypto_period_index
// is only written then.
func (tp *TrackProtector) periodArg(period int) int {
	if tp.cfg.CryptoPeriod > 0 {
		return period
	}
	return -1
}

// tenc returns the track encryption box for the init segment.
func (tp *TrackProtector) tenc() *mp4.TencBox {
	t := &mp4.TencBox{DefaultIsProtected: 1, DefaultKID: mp4.UUID(tp.def.KID[:])}
	if tp.cfg.Scheme.patterned() {
		// Version 1 carries the pattern (0:0 for audio), ISO/IEC 23001-7 §8.2.
		t.Version = 1
		t.DefaultCryptByteBlock, t.DefaultSkipByteBlock = byte(tp.crypt), byte(tp.skip)
	}
	if tp.cfg.Scheme == SchemeCBCS {
		t.DefaultConstantIV = append([]byte(nil), tp.iv...)
	} else {
		t.DefaultPerSampleIVSize = byte(tp.ivSize)
	}
	return t
}

// ProtectInit turns the clear init segment into a protected one: each sample
// entry is replaced by an encrypted clone (encv/enca with sinf: frma, schm,
// schi/tenc) in a new stsd, and pssh boxes for the configured systems are
// added to moov unless OmitPSSH is set. The original sample entries are not
// modified (mp4ff's InitProtect renames them in place), so a track model that
// shares them stays clear. Call it once per written init segment.
func (tp *TrackProtector) ProtectInit(init *mp4.InitSegment) error {
	if !tp.enabled {
		return nil
	}
	if init == nil || init.Moov == nil || len(init.Moov.Traks) != 1 || init.Moov.Trak.Tkhd.TrackID != tp.trackID {
		return fmt.Errorf("drm: ProtectInit: init segment is not the single-track init of track %d: %w", tp.trackID, ErrUnsupported)
	}
	stbl := init.Moov.Trak.Mdia.Minf.Stbl
	old := stbl.Stsd
	nstsd := &mp4.StsdBox{Version: old.Version, Flags: old.Flags}
	for i, c := range old.Children {
		pe, err := tp.protectedEntry(c)
		if err != nil {
			return fmt.Errorf("drm: track %d stsd entry %d: %w", tp.trackID, i+1, err)
		}
		nstsd.AddChild(pe)
	}
	for i, c := range stbl.Children {
		if c == old {
			stbl.Children[i] = nstsd
		}
	}
	stbl.Stsd = nstsd
	if tp.cfg.OmitPSSH {
		return nil
	}
	boxes, err := tp.psshBoxes(tp.def, tp.periodArg(0))
	if err != nil {
		return err
	}
	for _, b := range boxes {
		init.Moov.AddChild(b)
	}
	return nil
}

func (tp *TrackProtector) protectedEntry(c mp4.Box) (mp4.Box, error) {
	clone, err := cloneBox(c)
	if err != nil {
		return nil, err
	}
	orig := c.Type()
	sinf := &mp4.SinfBox{}
	sinf.AddChild(&mp4.FrmaBox{DataFormat: orig})
	sinf.AddChild(&mp4.SchmBox{SchemeType: string(tp.cfg.Scheme), SchemeVersion: 0x10000})
	schi := &mp4.SchiBox{}
	schi.AddChild(tp.tenc())
	sinf.AddChild(schi)
	switch se := clone.(type) {
	case *mp4.VisualSampleEntryBox:
		if orig != tp.codec && !sameFamily(orig, tp.codec) {
			return nil, fmt.Errorf("mixed sample entries %s and %s: %w", tp.codec, orig, ErrUnsupported)
		}
		se.SetType("encv")
		se.AddChild(sinf)
	case *mp4.AudioSampleEntryBox:
		se.SetType("enca")
		se.AddChild(sinf)
	default:
		return nil, fmt.Errorf("sample entry %q cannot be encrypted: %w", orig, ErrUnsupportedCodec)
	}
	return clone, nil
}

func sameFamily(a, b string) bool {
	fam := func(s string) string {
		switch s {
		case "avc1", "avc3":
			return "avc"
		case "hvc1", "hev1", "dvh1", "dvhe":
			return "hevc"
		}
		return s
	}
	return fam(a) == fam(b)
}

// cloneBox deep-copies a box; a box that does not read back is malformed.
func cloneBox(b mp4.Box) (mp4.Box, error) {
	c, err := mp4util.CloneBox(b)
	if err != nil {
		return nil, fmt.Errorf("%v: %w", err, ErrMalformed)
	}
	return c, nil
}

// psshBoxes builds the pssh boxes of the configured systems for one key.
func (tp *TrackProtector) psshBoxes(k ContentKey, period int) ([]*mp4.PsshBox, error) {
	var out []*mp4.PsshBox
	for _, sys := range tp.cfg.Systems {
		raw, err := systemPSSH(tp.cfg.SignalingOptions, tp.cfg.Scheme, sys, k, period)
		if err != nil {
			return nil, err
		}
		if raw == nil {
			continue
		}
		box, err := mp4.DecodeBox(0, bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("drm: %s pssh: %v: %w", sys, err, ErrMalformed)
		}
		p, ok := box.(*mp4.PsshBox)
		if !ok {
			return nil, fmt.Errorf("drm: %s pssh is a %q box: %w", sys, box.Type(), ErrMalformed)
		}
		out = append(out, p)
	}
	return out, nil
}

// Package tsin ingests MPEG-2 transport streams as they arrive — from a
// pipe or stdin, UDP (unicast or multicast) or an HTTP PUT/POST body sent
// with chunked transfer — and publishes them to a live.Publisher.
//
// The transport stream is read by segment/ts's Demuxer, the same parsing as
// for TS files, fed incrementally: H.264, HEVC, AAC (ADTS), AC-3, E-AC-3 and
// Opus. Damage is dropped with a warning and the stream goes on (lost sync,
// garbage between packets, lost packets, which drop the access units they
// damaged). Timestamps are the stream's own (90 kHz for video, the sample
// rate for audio; PTS/DTS unwrapped past the 33-bit wrap), and a timestamp
// reset or jump becomes a Publisher.Discontinuity.
//
// Tracks are declared together: samples are held back until every
// elementary stream of the PMT has a sample (video waits for its first
// keyframe and its decode time), or for at most MaxStartDelay of stream time or
// MaxStartBytes, so that a channel does not start a new period for a track
// that comes a moment after the others.
package tsin

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"

	"github.com/cmafkit/cmafkit/live"
	"github.com/cmafkit/cmafkit/segment"
	"github.com/cmafkit/cmafkit/segment/ts"
)

// Defaults of Options' zero fields.
const (
	DefaultMaxStartDelay = 5 // seconds of stream time held back at the start
	DefaultMaxStartBytes = 16 << 20
)

// Options configure an ingest. The zero value is ready to use.
type Options struct {
	// Name names the input in logs; empty means "ts".
	Name string
	// Logger receives warnings about dropped input; nil discards them.
	Logger *slog.Logger
	// Program selects the program_number; 0 means the first in the PAT.
	Program int
	// MaxStartDelay is how many seconds of samples are held back at the
	// start while waiting for every track; 0 means DefaultMaxStartDelay.
	MaxStartDelay int
	// MaxStartBytes bounds the payload bytes held back at the start; 0
	// means DefaultMaxStartBytes.
	MaxStartBytes int
}

func (o *Options) logger() *slog.Logger {
	if o == nil || o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger
}

// Session publishes one transport stream: write its bytes as they arrive
// (it is an io.Writer), then Close it. Most callers use Read, ReadUDP or
// Handler instead.
type Session struct {
	ctx   context.Context
	pub   live.Publisher
	log   *slog.Logger
	m     *ts.Demuxer
	opts  Options
	track map[uint32]int // PID → publisher track; -1 when the publisher refused it

	starting bool // holding back until every track is declared
	pending  []event
	held     int               // payload bytes in pending
	first    map[uint32]uint64 // decode time of each track's first held sample
	scale    map[uint32]uint32
	closed   bool
}

type event struct {
	t       *segment.Track // a Track; nil for a sample or a discontinuity
	pid     uint32
	s       segment.Sample
	payload []byte
	disc    bool
	cue     bool // an SCTE-35 section (payload) at s.DecodeTime
}

// NewSession returns a Session publishing to pub. opts may be nil.
func NewSession(ctx context.Context, pub live.Publisher, opts *Options) *Session {
	s := &Session{ctx: ctx, pub: pub, log: opts.logger(), track: map[uint32]int{}, starting: true,
		first: map[uint32]uint64{}, scale: map[uint32]uint32{}}
	if opts != nil {
		s.opts = *opts
	}
	if s.opts.Name == "" {
		s.opts.Name = "ts"
	}
	if s.opts.MaxStartDelay <= 0 {
		s.opts.MaxStartDelay = DefaultMaxStartDelay
	}
	if s.opts.MaxStartBytes <= 0 {
		s.opts.MaxStartBytes = DefaultMaxStartBytes
	}
	s.m = ts.NewDemuxer(s.opts.Name, &ts.Options{Logger: opts.logger(), Program: s.opts.Program}, (*handler)(s))
	return s
}

// Write feeds the next bytes of the stream. Damaged input is no error; an
// error means the publisher refused to go on.
func (s *Session) Write(p []byte) (int, error) { return s.m.Write(p) }

// Stats returns what the demuxer counted and repaired so far.
func (s *Session) Stats() ts.Stats { return s.m.Stats() }

// Close ends the stream: the last samples are published and the publisher
// is closed with cause (nil for a normal end). It returns the error that
// stopped publishing, if any.
func (s *Session) Close(cause error) error {
	if s.closed {
		return nil
	}
	s.closed = true
	err := s.m.Close()
	if err == nil && s.starting {
		err = s.flush()
	}
	if cause == nil {
		cause = err
	}
	s.pub.Close(cause)
	return err
}

// Read publishes the transport stream read from r until r ends (io.EOF,
// a normal end: nil is returned) or fails, or ctx is done (checked between
// reads; close r to stop a blocked Read), and then closes pub.
func Read(ctx context.Context, r io.Reader, pub live.Publisher, opts *Options) error {
	s := NewSession(ctx, pub, opts)
	buf := make([]byte, 128*188)
	var cause error
	for {
		if err := ctx.Err(); err != nil {
			cause = err
			break
		}
		n, err := r.Read(buf)
		if n > 0 {
			if _, werr := s.Write(buf[:n]); werr != nil {
				s.Close(werr)
				return werr
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			cause = fmt.Errorf("tsin: reading %s: %w", s.opts.Name, err)
			break
		}
	}
	if err := s.Close(cause); err != nil {
		return err
	}
	return cause
}

var _ ts.CueHandler = (*handler)(nil)

// handler is the Session as the demuxer's ts.Handler.
type handler Session

func (h *handler) Track(t *segment.Track) error {
	s := (*Session)(h)
	if s.starting {
		s.pending = append(s.pending, event{t: t, pid: t.ID})
		s.scale[t.ID] = t.Timescale
		return nil
	}
	return s.addTrack(t)
}

func (h *handler) Sample(pid uint32, smp segment.Sample, payload []byte) error {
	s := (*Session)(h)
	if !s.starting {
		return s.write(pid, smp, payload)
	}
	s.pending = append(s.pending, event{pid: pid, s: smp, payload: slices.Clone(payload)})
	s.held += len(payload)
	f, ok := s.first[pid]
	if !ok {
		s.first[pid], f = smp.DecodeTime, smp.DecodeTime
		if len(s.first) >= len(s.m.Streams()) {
			return s.flush() // a sample of every stream
		}
	}
	if s.held > s.opts.MaxStartBytes || smp.DecodeTime-f > uint64(s.opts.MaxStartDelay)*uint64(s.scale[pid]) {
		var missing []uint32
		for _, p := range s.m.Streams() {
			if _, ok := s.first[p]; !ok {
				missing = append(missing, p)
			}
		}
		s.log.Warn("tsin: starting without the tracks of some elementary streams", "source", s.opts.Name, "pids", missing)
		return s.flush()
	}
	return nil
}

// Cue hands an SCTE-35 section over to the publisher, if it takes cues
// (live.CuePublisher); a cue it refuses is skipped (it logged why).
func (h *handler) Cue(pid uint32, t uint64, section []byte) error {
	s := (*Session)(h)
	if s.starting {
		s.pending = append(s.pending, event{pid: pid, s: segment.Sample{DecodeTime: t}, payload: slices.Clone(section), cue: true})
		return nil
	}
	return s.writeCue(pid, t, section)
}

func (s *Session) writeCue(pid uint32, t uint64, section []byte) error {
	n, ok := s.track[pid]
	cp, can := s.pub.(live.CuePublisher)
	if !ok || n < 0 || !can {
		return nil
	}
	err := cp.WriteCue(s.ctx, n, t, section)
	if errors.Is(err, live.ErrBadCue) {
		return nil
	}
	return err
}

func (h *handler) Discontinuity() error {
	s := (*Session)(h)
	if s.starting {
		s.pending = append(s.pending, event{disc: true})
		return nil
	}
	s.pub.Discontinuity(s.ctx)
	return nil
}

// flush ends the start: every track declared while holding back is added
// first, then the held-back samples are published in order.
func (s *Session) flush() error {
	s.starting = false
	pending := s.pending
	s.pending, s.held, s.first = nil, 0, nil
	// Every track first.
	rest := pending[:0]
	for _, e := range pending {
		if e.t != nil {
			if _, ok := s.track[e.pid]; !ok {
				if err := s.addTrack(e.t); err != nil {
					return err
				}
				continue
			}
		}
		rest = append(rest, e)
	}
	// The demuxer hands audio over sooner than video (video waits for its
	// decode times): publish what was held back in time order across the
	// tracks (each track's order kept), so that the first sample the
	// publisher gets is the earliest one.
	for a := 0; a < len(rest); {
		b := a
		for b < len(rest) && !rest[b].disc && rest[b].t == nil {
			b++
		}
		slices.SortStableFunc(rest[a:b], func(x, y event) int {
			return cmpTime(x, y, s.scale)
		})
		a = b + 1
	}
	for _, e := range rest {
		var err error
		switch {
		case e.t != nil:
			err = s.addTrack(e.t)
		case e.disc:
			s.pub.Discontinuity(s.ctx)
		case e.cue:
			err = s.writeCue(e.pid, e.s.DecodeTime, e.payload)
		default:
			err = s.write(e.pid, e.s, e.payload)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *Session) addTrack(t *segment.Track) error {
	n, err := s.pub.AddTrack(s.ctx, t)
	if errors.Is(err, live.ErrBadTrack) {
		s.log.Warn("tsin: publisher refused a track; its samples are dropped", "source", s.opts.Name, "pid", t.ID, "err", err)
		s.track[t.ID] = -1
		return nil
	}
	if err != nil {
		return err
	}
	s.track[t.ID] = n
	return nil
}

func (s *Session) write(pid uint32, smp segment.Sample, payload []byte) error {
	n, ok := s.track[pid]
	if !ok || n < 0 {
		return nil
	}
	err := s.pub.WriteSample(s.ctx, n, smp, payload)
	if errors.Is(err, live.ErrBadSample) {
		return nil // the publisher logged and counted it; the stream goes on
	}
	return err
}

// cmpTime orders held-back samples by decode time in seconds.
func cmpTime(x, y event, scale map[uint32]uint32) int {
	// Compare x.s.DecodeTime/sx with y.s.DecodeTime/sy exactly.
	sx, sy := uint64(max(scale[x.pid], 1)), uint64(max(scale[y.pid], 1))
	xs, xr := x.s.DecodeTime/sx, x.s.DecodeTime%sx
	ys, yr := y.s.DecodeTime/sy, y.s.DecodeTime%sy
	if xs != ys {
		return cmp.Compare(xs, ys)
	}
	return cmp.Compare(xr*sy, yr*sx)
}

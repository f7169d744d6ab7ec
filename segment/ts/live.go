package ts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"github.com/cmafkit/cmafkit/segment"
)

// Handler receives what a Demuxer finds in a transport stream fed to it
// incrementally. Its methods are called from the Demuxer's Write and Close,
// in stream order; an error stops the Demuxer (Write and Close return it).
type Handler interface {
	// Track declares the track of an elementary stream (t.ID is its PID)
	// before its first sample: Kind, Timescale (90 kHz for video, the
	// sample rate for audio), Language, Codec and the SampleEntry (as in
	// an MP4 init segment). It is called again for the same PID when the
	// stream's configuration changes (a new sample entry: the samples that
	// follow need it) or when the PMT replaces the stream.
	Track(t *segment.Track) error
	// Sample hands over one sample of the track whose ID is pid: an access
	// unit of video as 4-byte length-prefixed NAL units, or one audio
	// frame. s.DecodeTime is the stream's own clock on the track's
	// timescale: the PES DTS/PTS unwrapped past the 33-bit wrap (a wrap
	// is no discontinuity) and offset by 2^33 ticks of 90 kHz so that it is
	// never negative. s.Offset is the input byte offset of the sample's
	// packets' start, for messages only; s.Duration is 0 (the next
	// sample's decode time tells it). payload is valid only during the
	// call.
	Sample(pid uint32, s segment.Sample, payload []byte) error
	// Discontinuity reports that the samples that follow are on a new time
	// base (timestamps reset or jump, signalled by the
	// discontinuity_indicator or not): they do not continue the earlier
	// ones, and the tracks keep their relative timing on the new base.
	Discontinuity() error
}

// CueHandler is implemented by a Handler that takes the SCTE-35 cues of a
// live stream: the splice_info_sections of the program's stream type 0x86
// PIDs, CRC checked (bad ones are counted in Stats.BadCues and logged).
// splice_null heartbeats are not handed over.
type CueHandler interface {
	// Cue hands over one section: pid is the elementary stream whose clock
	// t is on (the first video stream, else the first with a timestamp),
	// and t is the splice time, splice_time plus pts_adjustment (for an
	// immediate splice, the latest timestamp of that stream), on the
	// stream's unwrapped clock as Sample's DecodeTime (90 kHz, offset by
	// 2^33). The stream's Track call may still be to come (video access
	// units wait for their decode times). section is valid only during
	// the call.
	Cue(pid uint32, t uint64, section []byte) error
}

// Demuxer reads a transport stream of 188-byte packets as it arrives (from
// a pipe, a socket, an HTTP body) with the parsing of Open, and hands each
// elementary stream's samples with their payloads to a Handler as soon as
// they are complete. Nothing is indexed: memory is bounded by one access
// unit per stream (Options.MaxSampleSize), the 17 video access units that
// wait for their decode time (see Open), and the packets held back before
// the first PMT (at most maxLiveHeld, 1.5 MiB).
//
// Damage is dropped and counted in Stats, never fatal: lost sync is found
// again (garbage between packets is skipped), a continuity_counter gap drops
// the access unit it damaged (and for video the ones up to the next sync
// sample), and an elementary stream that cannot go on as it is (an audio
// configuration change, an oversized access unit, scrambled packets) starts
// again, declared anew. The PMT is followed: a new version that removes a
// stream or changes its codec ends that stream, and new streams are added.
//
// Unlike Open, time-base discontinuities are not stitched: the Handler is
// told (Discontinuity) and the timestamps that follow are the stream's own.
// A Demuxer is not safe for concurrent use.
type Demuxer struct {
	d    *demuxer
	lv   *liveState
	pend []byte // bytes not yet consumed, pend[0] at input offset off
	off  int64
	lost bool // sync lost, not yet found again
	done bool
}

// maxLiveHeld bounds the packets held back before the first PMT: 8,192
// packets (1.5 MiB, a few seconds of an HD programme).
const maxLiveHeld = 1 << 13

// liveBase is added to every unwrapped timestamp so that decode times, which
// may start a little below the first PTS seen, are never negative.
const liveBase = 1 << 33

// NewDemuxer returns a Demuxer that hands what it finds to h. name names the
// input in errors and logs; opts may be nil (Options.Program selects the
// program, Options.Logger receives the warnings).
func NewDemuxer(name string, opts *Options, h Handler) *Demuxer {
	if opts == nil {
		opts = &Options{}
	}
	d := &demuxer{
		ctx: context.Background(), name: name, opts: *opts,
		log:     opts.Logger,
		streams: map[uint16]*stream{},
		psi:     map[uint16]*section{},
		ignored: map[uint16]bool{},
		logged:  map[uint16]bool{},
		cuePIDs: map[uint16]bool{},
		pmtPID:  -1,
		maxHeld: maxLiveHeld,
		maxAU:   opts.MaxSampleSize,
		ps:      tsLen,
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.maxAU <= 0 {
		d.maxAU = DefaultMaxSampleSize
	}
	if opts.maxHeld > 0 {
		d.maxHeld = opts.maxHeld
	}
	d.log = d.log.With("source", name)
	lv := &liveState{h: h, pmtVer: -1, warned: map[string]bool{}}
	d.live = lv
	return &Demuxer{d: d, lv: lv}
}

// Stats returns what the Demuxer counted so far.
func (m *Demuxer) Stats() Stats { return m.d.stats }

// Streams returns the PIDs of the supported elementary streams of the
// program's current PMT, in increasing order (none before the PMT). Each
// gets a Track call before its first sample.
func (m *Demuxer) Streams() []uint32 {
	out := make([]uint32, 0, len(m.d.streams))
	for _, s := range m.d.sortedStreams() {
		out = append(out, uint32(s.pid))
	}
	return out
}

// ErrClosedDemuxer is returned by Write after Close.
var ErrClosedDemuxer = errors.New("ts: write to a closed Demuxer")

// Write feeds the next bytes of the stream. It demuxes every complete packet
// (a packet waits until the first byte of the next one confirms its end)
// and returns len(p), or the Handler's error. Damage in p is no error.
func (m *Demuxer) Write(p []byte) (int, error) {
	if m.done {
		return 0, ErrClosedDemuxer
	}
	if m.lv.err != nil {
		return 0, m.lv.err
	}
	m.pend = append(m.pend, p...)
	err := m.process(false)
	return len(p), err
}

// Close ends the stream: the remaining packets are read, the access units
// still open or waiting are completed and handed over. It returns the
// Handler's error, if any.
func (m *Demuxer) Close() error {
	if m.done {
		return m.lv.err
	}
	err := m.process(true)
	m.done = true
	if err != nil {
		return err
	}
	d := m.d
	if m.lost {
		// Out of sync, the bytes skipped so far depend on where the
		// writes ended (findSync skips to the first sync byte it cannot
		// judge yet, or over all bytes without one): skip to the first
		// sync byte of the remainder, as a single write would have.
		q := bytes.IndexByte(m.pend, 0x47)
		if q < 0 {
			q = len(m.pend)
		}
		d.stats.SkippedBytes += int64(q)
		m.off += int64(q)
		m.pend = m.pend[q:]
	}
	if rem := len(m.pend); rem > 0 {
		d.stats.TruncatedPackets++
		d.log.Warn("input ends with a partial TS packet", "offset", m.off, "bytes", rem)
		if rem >= 3 && m.pend[0] == 0x47 {
			pid := uint16(m.pend[1]&0x1f)<<8 | uint16(m.pend[2])
			if s := d.streams[pid]; s != nil {
				s.truncated = true
			}
		}
		m.off += int64(rem)
		m.pend = nil
	}
	if m.lv.heldN > 0 {
		d.log.Warn("no PMT for the held-back packets; dropped", "packets", m.lv.heldN)
		m.lv.held, m.lv.heldN = nil, 0
	}
	for _, s := range d.sortedStreams() {
		if err := s.endPES(true); err != nil {
			m.streamError(s, err)
		}
		if m.lv.err != nil {
			return m.lv.err
		}
	}
	return m.lv.err
}

// process demuxes the complete packets in m.pend. Unless final, a packet is
// read only once the byte after it is there, so that a packet cut short by
// lost bytes is recognised (as Open does) before it is read.
func (m *Demuxer) process(final bool) error {
	d, b := m.d, m.pend
	i := 0
	for m.lv.err == nil {
		r := b[i:]
		if len(r) < tsLen || !final && len(r) < tsLen+1 {
			break
		}
		if m.lost {
			// Out of sync: a packet starts only where three sync bytes
			// follow each other on the packet grid.
			q, more := findSync(r, 0, final)
			if q > 0 || more {
				d.stats.SkippedBytes += int64(q)
				i += q
				if more {
					break
				}
				continue
			}
		} else if r[0] != 0x47 || len(r) > tsLen && r[tsLen] != 0x47 {
			// Where does the next packet start? Inside this one (then
			// this one is garbage that happens to start with 0x47), or
			// after it (then the damage follows it).
			q, more := findSync(r, 1, final)
			if r[0] == 0x47 && q >= tsLen {
				goto read
			}
			if more && q < tsLen && r[0] == 0x47 {
				break // the next bytes tell
			}
			if !m.lost {
				m.lost = true
				d.stats.Resyncs++
				d.breakAll()
				d.log.Warn("lost TS sync; skipping bytes until packets start again", "offset", m.off+int64(i))
			}
			d.stats.SkippedBytes += int64(q)
			i += q
			if more {
				break
			}
			continue
		}
	read:
		m.lost = false
		pkt := r[:tsLen]
		m.lv.cur = pkt
		if err := d.packet(m.off+int64(i), pkt); err != nil {
			m.packetError(pkt, err)
		}
		if d.pmtSeen && m.lv.heldN > 0 {
			if err := m.lv.replayHeld(d); err != nil {
				m.packetError(nil, err)
			}
		}
		i += tsLen
	}
	m.off += int64(i)
	n := copy(m.pend, b[i:])
	m.pend = m.pend[:n]
	if cap(m.pend) > 64<<10 && n < 4<<10 {
		m.pend = slices.Clone(m.pend) // do not keep a large read buffer
	}
	return m.lv.err
}

// findSync returns the first position at or after from where a packet
// starts: a sync byte followed by two more on the packet grid. more reports
// that the bytes from q on cannot tell yet (unless final, when one sync
// byte followed by a full packet is enough).
func findSync(b []byte, from int, final bool) (q int, more bool) {
	for q = from; q < len(b); q++ {
		if b[q] != 0x47 {
			continue
		}
		switch {
		case q+2*tsLen < len(b):
			if b[q+tsLen] == 0x47 && b[q+2*tsLen] == 0x47 {
				return q, false
			}
		case final:
			if q+tsLen <= len(b) && (q+tsLen == len(b) || b[q+tsLen] == 0x47) {
				return q, false
			}
		default:
			return q, true
		}
	}
	return len(b), !final
}

// packetError handles an error of an elementary stream: input it cannot go
// on with. The stream starts again (a new PES, a new Track declaration).
func (m *Demuxer) packetError(pkt []byte, err error) {
	var fe *segment.FormatError
	if errors.As(err, &fe) && fe.Track != 0 {
		if s := m.d.streams[uint16(fe.Track)]; s != nil {
			m.streamError(s, err)
			return
		}
	}
	m.d.stats.DroppedPES++
	m.lv.warnOnce(m.d, err.Error(), "dropped input the demuxer cannot read", "err", err)
}

func (m *Demuxer) streamError(s *stream, err error) {
	d := m.d
	d.stats.DroppedPES++
	m.lv.warnOnce(d, fmt.Sprint(s.pid, err), "elementary stream starts again after input it cannot read", "pid", s.pid, "err", err)
	es := esInfo{codec: s.codec, lang: s.lang, opusCode: -1}
	if s.acfg != nil {
		es.opusCode = s.acfg.opusCode
	}
	ns := newStream(d, s.pid, es)
	ns.lastCC = s.lastCC
	d.streams[s.pid] = ns
}

// liveState is the part of the demuxer that only a Demuxer uses.
type liveState struct {
	h   Handler
	err error // the first Handler error: the Demuxer stops

	epoch     int   // time bases begun: bumped by each timestamp jump
	jump      int64 // the last jump, so the other streams' matching jumps join its time base
	jumpValid bool
	out       int  // the time base of the samples handed over
	started   bool // a sample was handed over

	cur              []byte // the packet being read
	held             []byte // copies of held-back packets, a ring of maxHeld once full
	heldN, heldStart int
	heldBreak        []bool

	buf    []byte // a video sample being converted
	pmtVer int    // version_number of the PMT in use, -1 before one
	warned map[string]bool
}

func (lv *liveState) warnOnce(d *demuxer, key, msg string, args ...any) {
	if len(lv.warned) > 256 {
		clear(lv.warned)
	}
	if !lv.warned[key] {
		lv.warned[key] = true
		d.log.Warn(msg, args...)
	}
}

// hold keeps a copy of the current packet until the PMT arrives.
func (lv *liveState) hold(d *demuxer, off int64) {
	if lv.cur == nil {
		return
	}
	brk := d.heldBreak
	d.heldBreak = false
	if lv.heldN < d.maxHeld {
		lv.held = append(lv.held, lv.cur...)
		lv.heldBreak = append(lv.heldBreak, brk)
		lv.heldN++
		return
	}
	if d.stats.UnheldPackets == 0 {
		d.log.Warn("no PMT yet: dropping the oldest held-back packets", "held", d.maxHeld, "offset", off)
	}
	d.stats.UnheldPackets++
	k := lv.heldStart
	copy(lv.held[k*tsLen:], lv.cur)
	lv.heldBreak[k] = brk
	lv.heldStart = (k + 1) % lv.heldN
}

// replayHeld reads the held-back packets now that the PMT is known.
func (lv *liveState) replayHeld(d *demuxer) error {
	held, brks, n, start := lv.held, lv.heldBreak, lv.heldN, lv.heldStart
	lv.held, lv.heldBreak, lv.heldN, lv.heldStart = nil, nil, 0, 0
	brk := d.heldBreak
	for k := range n {
		j := (start + k) % n
		b := held[j*tsLen : (j+1)*tsLen]
		h := parseHeader(b)
		if brks[j] {
			d.breakAll()
		}
		if h.disc && int(h.pid) == d.pcrPID {
			for _, s := range d.streams {
				s.discPending = true
			}
		}
		if s := d.streams[h.pid]; s != nil {
			d.stats.HeldPackets++
			if err := s.packet(-1, b, h); err != nil {
				return err
			}
		}
	}
	d.heldBreak = brk
	return nil
}

// pmtVersion handles the version of a PMT section of the program; it
// reports whether pmt should read it. A new version ends the streams it no
// longer lists, or lists with another codec; pmt adds the new ones.
func (lv *liveState) pmtVersion(d *demuxer, s []byte) bool {
	ver := int(s[5] >> 1 & 0x1f)
	if lv.pmtVer < 0 || ver == lv.pmtVer {
		lv.pmtVer = ver
		return true
	}
	lv.pmtVer = ver
	listed := map[uint16]codec{}
	pil := int(s[10]&0x0f)<<8 | int(s[11])
	body := s[12 : len(s)-4]
	if pil > len(body) {
		return false
	}
	for body = body[pil:]; len(body) >= 5; {
		pid := uint16(body[1]&0x1f)<<8 | uint16(body[2])
		il := int(body[3]&0x0f)<<8 | int(body[4])
		if 5+il > len(body) {
			break
		}
		listed[pid] = classify(body[0], body[5:5+il]).codec
		body = body[5+il:]
	}
	d.log.Info("PMT changed", "version", ver)
	for _, st := range d.sortedStreams() {
		if c, ok := listed[st.pid]; ok && c == st.codec {
			continue
		}
		d.log.Warn("elementary stream removed or replaced by a new PMT", "pid", st.pid, "codec", st.codec.String())
		if err := st.endPES(true); err != nil {
			d.log.Warn("elementary stream ends with damage", "pid", st.pid, "err", err)
		}
		delete(d.streams, st.pid)
	}
	clear(d.ignored)
	return true
}

// unwrap is stream.unwrap for a live stream: a 33-bit wrap is unwrapped, a
// jump starts a new time base (epoch) instead of being stitched.
func (lv *liveState) unwrap(s *stream, raw int64) int64 {
	d := s.d
	if !s.tsInit {
		s.tsInit, s.lastRaw, s.last = true, raw, raw+liveBase
		s.discPending = false
		s.epoch = lv.epoch
		return s.last
	}
	delta := signed33(raw - s.lastRaw)
	s.lastRaw = raw
	v := s.last + delta
	signalled := s.discPending
	s.discPending = false
	if signalled && (delta < 0 || delta > second) || delta < -second || delta > 10*second {
		jump := delta - s.step
		if lv.jumpValid && s.epoch < lv.epoch && abs64(jump-lv.jump) < second {
			s.epoch = lv.epoch // the same jump as another stream's
		} else {
			lv.epoch++
			s.epoch = lv.epoch
			lv.jump, lv.jumpValid = jump, true
			d.stats.Discontinuities++
			s.warn("timestamp discontinuity: a new time base", "signalled", signalled, "jump_90khz", delta, "offset", s.pesOff)
			lv.drain(d)
		}
		if v < liveBase/4 {
			v = raw + liveBase
		}
	} else if delta > 0 {
		s.step = delta
		if s.epoch < lv.epoch && s.tsInit && v-s.bumpAt > 2*second {
			// The other streams jumped and this one did not: join them
			// rather than have its samples dropped as late.
			s.epoch = lv.epoch
		}
	}
	s.last = v
	return v
}

// drain hands over the video access units waiting for their decode times:
// they are on the time base that just ended.
func (lv *liveState) drain(d *demuxer) {
	for _, s := range d.sortedStreams() {
		s.bumpAt = s.last
		for len(s.vq) > 0 && lv.err == nil {
			if err := s.timeAU(); err != nil {
				d.log.Warn("dropped video access units at a discontinuity", "pid", s.pid, "err", err)
				s.vq, s.vpts = s.vq[:0], s.vpts[:0]
			}
		}
		s.vpts = s.vpts[:0]
	}
}

// keep copies an access unit's bytes (the stream's buffer is reused).
func (lv *liveState) keep(raw []byte) []byte { return slices.Clone(raw) }

// newAU places a complete video access unit on its time base; one on a new
// time base first hands over those waiting on the old one.
func (lv *liveState) newAU(s *stream, au *pendingAU, raw []byte) error {
	au.raw = raw
	if !au.timed {
		au.t.epoch = s.tickEpoch
	}
	if au.t.epoch != s.tickEpoch {
		for len(s.vq) > 0 {
			if err := s.timeAU(); err != nil {
				return err
			}
		}
		s.vpts = s.vpts[:0]
		s.tickEpoch, s.fresh = au.t.epoch, true
	}
	return nil
}

// sample hands a sample over to the Handler: a Discontinuity first when it
// is the first one on a new time base, a Track first when its stream was
// not declared yet (or its configuration changed). Samples of an older time
// base than one already handed over are dropped.
func (lv *liveState) sample(s *stream, dt int64, cto int32, sync bool, epoch int, payload []byte) {
	d := s.d
	if lv.err != nil {
		return
	}
	if epoch < lv.out {
		d.stats.DroppedSamples++
		return
	}
	if epoch > lv.out {
		lv.out = epoch
		if lv.started {
			if lv.err = lv.h.Discontinuity(); lv.err != nil {
				return
			}
		}
	}
	i := s.idx.len()
	want := 1
	if s.vcfg != nil && s.vcfg.changed && i >= s.vcfg.keepFrom {
		want = 2
	}
	if s.declared < want {
		t, err := s.liveTrack()
		if err != nil {
			d.stats.DroppedSamples++
			lv.warnOnce(d, fmt.Sprint("track", s.pid, err), "cannot describe the elementary stream yet; dropping its samples", "pid", s.pid, "err", err)
			return
		}
		if lv.err = lv.h.Track(t); lv.err != nil {
			return
		}
		s.declared = want
	}
	if s.vcfg != nil {
		var err error
		if lv.buf, err = s.vcfg.appendSample(lv.buf[:0], payload, i); err != nil || len(lv.buf) == 0 {
			d.stats.DroppedSamples++
			return
		}
		payload = lv.buf
		if cap(lv.buf) > maxPooled {
			lv.buf = nil
		}
	}
	smp := segment.Sample{DecodeTime: uint64(dt), Size: uint32(len(payload)), CompositionOffset: cto, Sync: sync}
	lv.err = lv.h.Sample(uint32(s.pid), smp, payload)
	lv.started = true
}

// liveTrack describes a live stream's track from what it has seen so far.
func (s *stream) liveTrack() (*segment.Track, error) {
	t := &segment.Track{ID: uint32(s.pid), Source: s.d.name, Language: s.lang, Timescale: clock}
	var err error
	if s.vcfg != nil {
		err = s.videoTrack(t, nil)
	} else {
		t.Timescale = uint32(s.acfg.rate)
		err = s.audioTrack(t)
	}
	if err != nil {
		return nil, err
	}
	if t.SampleEntry == nil || t.Timescale == 0 {
		return nil, fmt.Errorf("no sample entry")
	}
	return t, nil
}

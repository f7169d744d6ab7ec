package ts

import (
	"fmt"

	"github.com/cmafkit/cmafkit/segment"
)

type codec int

const (
	codecNone codec = iota
	codecUnsupported
	codecH264
	codecHEVC
	codecAAC
	codecAC3
	codecEAC3
	codecOpus
)

func (c codec) String() string {
	return [...]string{"none", "unsupported", "h264", "hevc", "aac", "ac-3", "e-ac-3", "opus"}[c]
}

func (c codec) video() bool { return c == codecH264 || c == codecHEVC }

// chunk maps a run of elementary-stream bytes (the payload of one TS packet,
// or the part of it after a PES header) to its place in the file.
type chunk struct {
	es   int64  // elementary-stream position of the first byte
	pkt  int64  // file offset of the packet
	skip uint16 // offset of the first byte inside the packet
	n    uint16
	// reg means the packet is the next payload-carrying packet of the PID on
	// the packet grid after the previous chunk's packet, with nothing between
	// them that a reader walking the grid would misinterpret (lost sync, TEI,
	// duplicates, a PES header spanning packets, bytes beyond PES_packet_length).
	reg bool
}

// loc locates one sample's elementary-stream bytes in the file. A regular
// sample is read by walking the packet grid from pkt over span packets and
// taking the payload of the track's PID (skipping PES headers), starting skip
// bytes into the first packet, until raw bytes are collected. An irregular one
// lists its byte runs explicitly (runs[first : first+span]).
type loc struct {
	pkt  int64
	span uint32
	raw  uint32
	runs int32 // -1: regular; else the index of the first run
	skip uint16
}

type run struct {
	off int64
	n   uint32
}

// pendingPTS is the timestamp of a PES packet, waiting for the first frame
// or access unit that starts in its payload.
type pendingPTS struct {
	es     int64 // ES position of the PES payload's first byte
	pts    int64 // unwrapped, 90 kHz
	dts    int64 // video only: unwrapped, 90 kHz; the PTS when the PES has no DTS
	hasDTS bool  // the PES has a DTS
	epoch  int   // live: the time base (see liveState.epoch) pts and dts are on
}

// stream is the indexing state of one elementary stream (one PID).
type stream struct {
	d     *demuxer
	pid   uint16
	codec codec
	lang  string

	lastCC      int
	broken      bool // the next chunk is not regular (see chunk.reg)
	discPending bool // a discontinuity_indicator was seen
	truncated   bool // the input ends inside a packet of this PID

	// PES being read.
	inPES     bool
	hdrDone   bool
	pesHdr    []byte
	pesRemain int // payload bytes still expected, -1 when PES_packet_length is 0
	pesOff    int64

	// Elementary-stream bytes not yet turned into samples.
	buf     []byte
	bufBase int64 // ES position of buf[0]
	chunks  []chunk

	// Timestamp unwrapping.
	tsInit  bool
	lastRaw int64
	last    int64
	step    int64

	// Output index, with absolute decode times until buildTracks rebases them.
	idx     indexBuilder
	ref     *refIndex // a plain copy of the index, kept only for tests
	first90 int64     // DTS of the first sample, 90 kHz
	minPTS  int64     // smallest PTS, 90 kHz

	// Video: access units rebuilt from the Annex B byte stream (access.go).
	vcfg        *videoConfig
	auOpen      bool // an access unit starts at bufBase
	auVCL       bool // it has a VCL NAL unit already
	auTime      pendingPTS
	auTimed     bool  // auTime holds the timestamp of the PES it starts in
	scanES      int64 // ES position to look for the next start code from
	needSync    bool
	vq          []pendingAU // complete access units waiting for their DTS
	vpts        []int64     // PTS of the timed ones among them and before, sorted
	dtsOff      int64       // DTS minus the sorted PTS at the last trusted DTS
	lastDur     int64
	lastCTO     int64
	dtsWarn     bool
	untimedWarn bool

	// Audio.
	acfg     *audioConfig
	ptsq     []pendingPTS
	scan     int64 // ES position to look for the next frame from
	haveTick bool
	nextTick int64
	grpOpen  bool // E-AC-3: sample being assembled from several sync frames
	grpStart int64
	grpBlks  int
	grpTick  int64
	grp90    int64
	junkWarn bool
	psWarned bool

	// Live (fed by a Demuxer): the time base of the last timestamp read,
	// of the last audio tick, and whether the next video access unit
	// starts a new time base (no previous decode time to follow).
	epoch     int
	tickEpoch int
	fresh     bool
	bumpAt    int64 // the unwrapped time when another stream's jump began a time base
	declared  int   // sample entries declared: 0, 1, or 2 once the parameter sets changed
}

func newStream(d *demuxer, pid uint16, es esInfo) *stream {
	c := es.codec
	s := &stream{d: d, pid: pid, codec: c, lang: es.lang, lastCC: -1, needSync: true, broken: true}
	s.idx.x.ps = int64(d.ps)
	if d.keepRef {
		s.ref = &refIndex{}
	}
	if c.video() {
		s.vcfg = &videoConfig{codec: c}
		s.idx.counts = map[uint32]int{}
	} else {
		s.acfg = &audioConfig{codec: c, opusCode: es.opusCode}
	}
	return s
}

func (s *stream) errf(sample int, off int64, err error, format string, args ...any) error {
	return formatErr(s.d.name, s.pid, sample, off, err, format, args...)
}

func (s *stream) warn(msg string, args ...any) {
	s.d.log.Warn(msg, append([]any{"pid", s.pid}, args...)...)
}

// packet handles one TS packet of this PID.
func (s *stream) packet(off int64, b []byte, h tsPacket) error {
	if h.bad {
		s.warn("packet with invalid adaptation_field_length", "offset", off)
		s.damage(off)
		return nil
	}
	if h.disc {
		s.discPending = true
	}
	if !h.hasPay {
		return nil // continuity_counter only counts packets with payload
	}
	if h.scr != 0 {
		return s.errf(0, off, segment.ErrUnsupportedCodec, "scrambled transport packets")
	}
	if s.lastCC >= 0 && !h.disc {
		switch int(h.cc) {
		case s.lastCC:
			s.d.stats.Duplicates++
			s.broken = true
			return nil
		case (s.lastCC + 1) & 15:
		default:
			s.d.stats.CCErrors++
			s.warn("continuity_counter jump: packets lost", "offset", off, "expected", (s.lastCC+1)&15, "got", h.cc)
			s.damage(off)
		}
	}
	s.lastCC = int(h.cc)
	data := b[h.payload:]
	pos := h.payload
	if h.pusi {
		if err := s.endPES(false); err != nil {
			return err
		}
		s.inPES, s.hdrDone = true, false
		s.pesHdr = s.pesHdr[:0]
		s.pesOff = off
	} else if !s.inPES {
		s.broken = true
		return nil // waiting for the start of a PES
	}
	for !s.hdrDone && len(data) > 0 {
		want, _, err := pesHeaderSize(s.pesHdr)
		if err != nil {
			return s.dropPES(off, err.Error())
		}
		n := min(want-len(s.pesHdr), len(data))
		s.pesHdr = append(s.pesHdr, data[:n]...)
		data, pos = data[n:], pos+n
		_, complete, err := pesHeaderSize(s.pesHdr)
		if err != nil {
			return s.dropPES(off, err.Error())
		}
		if complete {
			if !h.pusi {
				s.broken = true // the reader only skips headers held in one packet
			}
			if err := s.startPES(off); err != nil || !s.inPES {
				return err
			}
		}
	}
	if !s.hdrDone || len(data) == 0 {
		return nil
	}
	if s.pesRemain >= 0 {
		if len(data) > s.pesRemain {
			data = data[:s.pesRemain]
			s.broken = true
		}
		s.pesRemain -= len(data)
	}
	return s.data(off, pos, data)
}

// startPES parses the completed PES header in s.pesHdr.
func (s *stream) startPES(off int64) error {
	h := s.pesHdr
	s.hdrDone = true
	s.pesRemain = -1
	if l := int(h[4])<<8 | int(h[5]); l != 0 {
		s.pesRemain = l + 6 - len(h)
		if s.pesRemain < 0 {
			return s.dropPES(off, "PES_packet_length shorter than its header")
		}
	}
	pts, dts := int64(-1), int64(-1)
	if len(h) >= 9 && h[3] != 0xBE && h[3] != 0xBF {
		flags := h[7] >> 6
		ok := true
		if flags&2 != 0 && len(h) >= 14 {
			pts, ok = readTS(h[9:14])
			if ok && flags == 3 && len(h) >= 19 {
				dts, ok = readTS(h[14:19])
			}
		}
		if !ok {
			s.warn("PES timestamp with bad marker bits; ignoring timestamps", "offset", off)
			pts, dts = -1, -1
		}
	}
	if pts < 0 {
		return nil
	}
	e := pendingPTS{es: s.bufBase + int64(len(s.buf))}
	if s.codec.video() {
		// H.222.0 2.4.3.7: the timestamps apply to the first access unit
		// that starts in this PES; which one that is, the byte stream says
		// (access.go).
		hasDTS := dts >= 0
		if !hasDTS {
			dts = pts
		}
		e.dts = s.unwrap(dts)
		e.pts = e.dts + signed33(pts-dts)
		e.hasDTS = hasDTS
	} else {
		e.pts = s.unwrap(pts)
	}
	if len(s.ptsq) >= 64 {
		s.ptsq = s.ptsq[1:]
	}
	e.epoch = s.epoch
	s.ptsq = append(s.ptsq, e)
	return nil
}

// endPES closes the current PES at a new PUSI (eof false) or at the end of
// the input (eof true).
func (s *stream) endPES(eof bool) error {
	if s.inPES {
		why := ""
		switch {
		case !s.hdrDone:
			why = "PES header cut short"
		case s.pesRemain > 0:
			why = fmt.Sprintf("PES truncated: %d bytes missing", s.pesRemain)
		case eof && s.truncated:
			why = "PES cut by the end of the input"
		}
		if why != "" {
			// At the end of the input, what came before the damaged PES
			// (access units waiting for their decode time) is still read.
			if err := s.dropPES(s.pesOff, why); err != nil || !eof {
				return err
			}
		}
	}
	if eof {
		if s.codec.video() {
			return s.endVideo()
		}
		return s.flushAudio(true)
	}
	return nil
}

// dropPES discards the PES being read and everything that depends on it.
func (s *stream) dropPES(off int64, why string) error {
	s.d.stats.DroppedPES++
	s.warn("dropped damaged PES", "offset", off, "reason", why)
	s.inPES = false
	s.reset()
	return nil
}

// damage handles lost packets inside a PES.
func (s *stream) damage(off int64) {
	if s.inPES {
		_ = s.dropPES(off, "packets lost")
	} else {
		s.reset()
	}
}

// reset drops the partial access unit or frames and, for video, waits for
// the next sync sample.
func (s *stream) reset() {
	if s.auOpen && len(s.buf) > 0 {
		s.d.stats.DroppedSamples++
	}
	if s.codec.video() && (s.auOpen || s.idx.len()+len(s.vq) > 0) {
		s.needSync = true
	}
	s.auOpen, s.auVCL, s.auTimed = false, false, false
	s.bufBase += int64(len(s.buf))
	s.buf, s.chunks = s.buf[:0], s.chunks[:0]
	s.scan, s.scanES = s.bufBase, s.bufBase
	s.ptsq = s.ptsq[:0]
	s.grpOpen = false
	s.broken = true
}

// data appends ES bytes carried by the packet at off, starting pos bytes into it.
func (s *stream) data(off int64, pos int, b []byte) error {
	if s.d.live == nil { // a live stream keeps payloads, not locators
		s.chunks = append(s.chunks, chunk{
			es: s.bufBase + int64(len(s.buf)), pkt: off, skip: uint16(pos + s.d.hdr), n: uint16(len(b)),
			reg: !s.broken,
		})
	}
	s.broken = false
	s.buf = append(s.buf, b...)
	if len(s.buf) > s.d.maxAU {
		return s.errf(s.idx.len()+1, off, segment.ErrMalformed, "access unit larger than %d bytes", s.d.maxAU)
	}
	if s.codec.video() {
		return s.scanVideo(false)
	}
	return s.flushAudio(false)
}

// locate builds the locator of ES bytes [a, b).
func (s *stream) locate(a, b int64) loc {
	if s.d.live != nil || len(s.chunks) == 0 {
		return loc{runs: -1, raw: uint32(b - a)}
	}
	i := 0
	for i < len(s.chunks) && s.chunks[i].es+int64(s.chunks[i].n) <= a {
		i++
	}
	first := s.chunks[i]
	l := loc{pkt: first.pkt, skip: first.skip + uint16(a-first.es), raw: uint32(b - a), runs: -1}
	last := i
	reg := true
	for j := i + 1; j < len(s.chunks) && s.chunks[j].es < b; j++ {
		last = j
		reg = reg && s.chunks[j].reg && (s.chunks[j].pkt-first.pkt)%int64(s.d.ps) == 0
	}
	if reg {
		l.span = uint32((s.chunks[last].pkt-first.pkt)/int64(s.d.ps) + 1)
		return l
	}
	l.runs = int32(len(s.idx.x.runs))
	for j := i; j <= last; j++ {
		c := s.chunks[j]
		lo, hi := max(a, c.es), min(b, c.es+int64(c.n))
		s.idx.x.runs = append(s.idx.x.runs, run{off: c.pkt + int64(c.skip) + lo - c.es, n: uint32(hi - lo)})
	}
	l.span = uint32(last - i + 1)
	return l
}

// consume forgets ES bytes before position es.
func (s *stream) consume(es int64) {
	k := int(es - s.bufBase)
	if k <= 0 {
		return
	}
	n := copy(s.buf, s.buf[k:])
	s.buf = s.buf[:n]
	s.bufBase = es
	i := 0
	for i < len(s.chunks) && s.chunks[i].es+int64(s.chunks[i].n) <= es {
		i++
	}
	n = copy(s.chunks, s.chunks[i:])
	s.chunks = s.chunks[:n]
}

// unwrap turns a 33-bit timestamp into a continuous 90 kHz time, stitching
// time-base discontinuities.
func (s *stream) unwrap(raw int64) int64 {
	if s.d.live != nil {
		return s.d.live.unwrap(s, raw)
	}
	if !s.tsInit {
		s.tsInit, s.lastRaw, s.last = true, raw, raw
		s.discPending = false
		return raw
	}
	delta := signed33(raw - s.lastRaw)
	s.lastRaw = raw
	v := s.last + delta
	signalled := s.discPending
	s.discPending = false
	if signalled && (delta < 0 || delta > second) || delta < -second || delta > 10*second {
		expected := s.last + s.step
		adj := expected - v
		d := s.d
		if d.discDeltaValid && abs64(v+d.discDelta-expected) < second {
			adj = d.discDelta
		} else {
			d.discDelta, d.discDeltaValid = adj, true
		}
		v += adj
		d.stats.Discontinuities++
		s.warn("timestamp discontinuity stitched", "signalled", signalled, "jump_90khz", delta, "offset", s.pesOff)
	} else if delta > 0 {
		s.step = delta
	}
	s.last = v
	return v
}

// signed33 interprets a difference of 33-bit timestamps as the nearest signed value.
func signed33(d int64) int64 {
	d &= 1<<33 - 1
	if d >= 1<<32 {
		d -= 1 << 33
	}
	return d
}

func abs64(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// floorDiv divides rounding towards minus infinity.
func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// rescale converts t from 90 kHz to timescale ts, rounding to nearest.
func rescale(t int64, ts int64) int64 {
	if ts == clock {
		return t
	}
	return floorDiv(t*ts+clock/2, clock)
}

// start is the file offset of the sample's first byte, used as Sample.Offset.
func (l *loc) start() int64 { return l.pkt + int64(l.skip) }

// addSample appends a sample (absolute decode time) to the index.
// A live stream hands the sample (payload: its elementary-stream bytes, an
// Annex B access unit for video) to the Demuxer's Handler instead.
func (s *stream) addSample(dt int64, cto int32, size uint32, sync bool, l loc, epoch int, payload []byte) {
	if s.d.live != nil {
		s.d.live.sample(s, dt, cto, sync, epoch, payload)
		s.idx.lastDT = dt
		s.idx.x.n++
		return
	}
	s.idx.add(dt, cto, size, sync, l)
	if s.ref != nil {
		s.ref.add(dt, cto, size, sync, l)
	}
}

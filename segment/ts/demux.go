package ts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strconv"

	"github.com/cmafkit/cmafkit/segment"
)

const (
	tsLen   = 188    // transport packet length without any M2TS/FEC extra bytes
	nullPID = 0x1FFF // stuffing packets
	clock   = 90000  // PTS/DTS clock
	second  = clock
	winSize = 256 * tsLen // sequential read window while indexing
)

// Open indexes the transport stream read from r (size bytes, named name in
// errors and logs) and returns its tracks. It reads the input once,
// sequentially, and keeps only a compact per-sample index; sample payloads
// are read later through each track's Data.
//
// Damage is repaired where it can be (lost sync, continuity errors, TEI
// packets, truncated PES: the affected access unit is dropped and, for video,
// the following ones up to the next sync sample), counted in Stats and logged
// as warnings. Errors are *segment.FormatError values wrapping a sentinel of
// package segment (or ErrParameterChange).
func Open(ctx context.Context, r io.ReaderAt, size int64, name string, opts *Options) (*Source, error) {
	src, _, err := open(ctx, r, size, name, opts, false)
	return src, err
}

// open is Open; keepRef makes every stream also keep its index in plain
// form (stream.ref), for tests.
func open(ctx context.Context, r io.ReaderAt, size int64, name string, opts *Options, keepRef bool) (*Source, *demuxer, error) {
	if opts == nil {
		opts = &Options{}
	}
	d := &demuxer{
		ctx: ctx, r: r, size: size, name: name, opts: *opts,
		log:     opts.Logger,
		streams: map[uint16]*stream{},
		psi:     map[uint16]*section{},
		ignored: map[uint16]bool{},
		logged:  map[uint16]bool{},
		cuePIDs: map[uint16]bool{},
		pmtPID:  -1,
		maxHeld: maxHeldPackets,
		maxAU:   opts.MaxSampleSize,
		keepRef: keepRef,
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
	if err := d.run(); err != nil {
		return nil, nil, err
	}
	tracks, err := d.buildTracks()
	if err != nil {
		return nil, nil, err
	}
	return &Source{Source: segment.Source{Name: name, Size: size, Tracks: tracks, Cues: d.sourceCues()}, Stats: d.stats}, d, nil
}

type demuxer struct {
	ctx   context.Context
	r     io.ReaderAt
	size  int64
	name  string
	opts  Options
	log   *slog.Logger
	maxAU int

	ps, hdr int // packet stride (188, 192 or 204) and offset of the sync byte in it

	win    []byte // read window
	winOff int64

	psi     map[uint16]*section // PAT and PMT section assemblers
	pmtPID  int
	program int
	pcrPID  int
	streams map[uint16]*stream
	ignored map[uint16]bool // elementary streams of the PMT that are not read
	logged  map[uint16]bool // PIDs outside the PMT, logged once
	cuePIDs map[uint16]bool // SCTE-35 PIDs (stream type 0x86)
	cues    []rawCue
	p0      int64 // the common presentation zero, set by buildTracks

	// Packets of unknown PIDs before the first PMT of the program, held
	// back (as file offsets) to be read once the PMT says what they are.
	pmtSeen   bool
	held      []int64 // offset<<1 | 1 if packets were lost or damaged before it
	heldStart int     // held is a ring once full: its oldest entry
	heldBreak bool
	maxHeld   int

	// Shared time-base correction of the last discontinuity, so all tracks
	// of the program are shifted by the same amount.
	discDelta      int64
	discDeltaValid bool

	stats Stats

	keepRef bool // streams keep a plain copy of their index (tests only)

	live *liveState // set when fed incrementally by a Demuxer (live.go)
}

// read returns n bytes at off from the sequential window (fewer at EOF).
func (d *demuxer) read(off int64, n int) ([]byte, error) {
	if off >= d.winOff && off+int64(n) <= d.winOff+int64(len(d.win)) {
		return d.win[off-d.winOff : off-d.winOff+int64(n)], nil
	}
	want := max(n, winSize)
	if rem := d.size - off; int64(want) > rem {
		want = int(max(rem, 0))
	}
	if cap(d.win) < want {
		d.win = make([]byte, want)
	}
	d.win = d.win[:want]
	m, err := d.r.ReadAt(d.win, off)
	if m < want {
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		d.win = d.win[:0]
		return nil, formatErr(d.name, 0, 0, off+int64(m), segment.ErrTruncated, "reading: %v", err)
	}
	d.winOff = off
	return d.win[:min(n, want)], nil
}

// syncAt reports whether a packet of the detected stride starts at off.
func (d *demuxer) syncAt(off int64) bool {
	b, err := d.read(off+int64(d.hdr), 1)
	return err == nil && len(b) == 1 && b[0] == 0x47
}

// looksLikeTS reports whether packets of stride ps (sync byte at hdr) start
// at off: up to four consecutive sync bytes, as many as the input holds.
func (d *demuxer) looksLikeTS(off int64, ps, hdr int) bool {
	for k := int64(0); k < 4; k++ {
		p := off + k*int64(ps)
		if p+int64(hdr) >= d.size {
			return k > 0 || off+int64(ps) >= d.size
		}
		b, err := d.read(p+int64(hdr), 1)
		if err != nil || b[0] != 0x47 {
			return false
		}
	}
	return true
}

// detect finds the packet stride and the first packet.
func (d *demuxer) detect() (int64, error) {
	limit := min(d.size, 1<<20)
	for q := int64(0); q < limit; q++ {
		b, err := d.read(q, 1)
		if err != nil {
			return 0, err
		}
		if b[0] != 0x47 {
			continue
		}
		for _, c := range []struct{ ps, hdr int }{{188, 0}, {192, 4}, {204, 0}} {
			start := q - int64(c.hdr)
			if start < 0 {
				continue
			}
			if d.looksLikeTS(start, c.ps, c.hdr) {
				d.ps, d.hdr = c.ps, c.hdr
				return start, nil
			}
		}
	}
	return 0, formatErr(d.name, 0, 0, 0, segment.ErrMalformed, "no MPEG-TS sync byte pattern in the first %d bytes", limit)
}

// resync finds the next packet start in [from, to), or -1.
func (d *demuxer) resync(from, to int64) int64 {
	for q := from; q < to && q+int64(d.hdr) < d.size; q++ {
		b, err := d.read(q+int64(d.hdr), 1)
		if err != nil {
			return -1
		}
		if b[0] == 0x47 && d.looksLikeTS(q, d.ps, d.hdr) {
			return q
		}
	}
	return -1
}

func (d *demuxer) run() error {
	off, err := d.detect()
	if err != nil {
		return err
	}
	if off > 0 {
		d.stats.SkippedBytes += off
		d.log.Warn("skipped leading bytes before the first TS packet", "bytes", off)
	}
	for off+int64(d.ps) <= d.size {
		if d.stats.Packets&4095 == 0 {
			if err := d.ctx.Err(); err != nil {
				return err
			}
		}
		p, err := d.read(off, d.ps)
		if err != nil {
			return err
		}
		if p[d.hdr] != 0x47 {
			next := d.resync(off+1, d.size)
			d.stats.Resyncs++
			d.breakAll()
			if next < 0 {
				d.stats.SkippedBytes += d.size - off
				d.log.Warn("lost TS sync; no packet found until the end", "offset", off)
				off = d.size
				break
			}
			d.stats.SkippedBytes += next - off
			d.log.Warn("lost TS sync; resynchronised", "offset", off, "skipped", next-off)
			off = next
			continue
		}
		if next := off + int64(d.ps); next+int64(d.hdr) < d.size && !d.syncAt(next) {
			// The next packet is not where it should be. If a packet starts
			// inside this one, this one is garbage that happens to start
			// with 0x47; otherwise the damage is after it.
			if q := d.resync(off+1, next); q > off {
				d.stats.Resyncs++
				d.stats.SkippedBytes += q - off
				d.breakAll()
				d.log.Warn("lost TS sync; resynchronised", "offset", off, "skipped", q-off)
				off = q
				continue
			}
		}
		// The checks above may have moved the read window.
		if p, err = d.read(off, d.ps); err != nil {
			return err
		}
		if err := d.packet(off, p); err != nil {
			return err
		}
		if d.pmtSeen && len(d.held) > 0 {
			if err := d.replayHeld(); err != nil {
				return err
			}
		}
		off += int64(d.ps)
	}
	if len(d.held) > 0 {
		d.log.Warn("no PMT for the held-back packets; dropped", "packets", len(d.held))
		d.held = nil
	}
	if rem := d.size - off; rem > 0 {
		d.stats.TruncatedPackets++
		d.log.Warn("input ends with a partial TS packet", "offset", off, "bytes", rem)
		if p, err := d.read(off, int(rem)); err == nil && int(rem) >= d.hdr+3 && p[d.hdr] == 0x47 {
			pid := uint16(p[d.hdr+1]&0x1f)<<8 | uint16(p[d.hdr+2])
			if s := d.streams[pid]; s != nil {
				s.truncated = true
			}
		}
	}
	for _, s := range d.sortedStreams() {
		if err := s.endPES(true); err != nil {
			return err
		}
	}
	return nil
}

// breakAll marks every open PES as no longer regularly laid out (see chunk.reg).
func (d *demuxer) breakAll() {
	for _, s := range d.streams {
		s.broken = true
	}
	d.heldBreak = true
}

// maxHeldPackets bounds how many packets of not yet known PIDs are held
// back before the first PMT: 32,768 packets (6 MiB of 188-byte packets, a
// few seconds of a typical HD programme), held as file offsets (256 KiB).
// A stream joined mid-way, or a file cut from one, often has its first
// (or only) IDR before the PMT. Beyond the bound the oldest are dropped and
// counted in Stats.UnheldPackets.
const maxHeldPackets = 1 << 15

// hold remembers the packet at off until the PMT arrives.
func (d *demuxer) hold(off int64) {
	if d.live != nil {
		d.live.hold(d, off)
		return
	}
	e := off << 1
	if d.heldBreak {
		e |= 1
		d.heldBreak = false
	}
	if len(d.held) < d.maxHeld {
		d.held = append(d.held, e)
		return
	}
	if d.stats.UnheldPackets == 0 {
		d.log.Warn("no PMT yet: dropping the oldest held-back packets", "held", d.maxHeld, "offset", off)
	}
	d.stats.UnheldPackets++
	// Overwrite the oldest. The streams do not exist yet, so they start
	// from the new oldest as from any first packet.
	d.held[d.heldStart] = e
	d.heldStart = (d.heldStart + 1) % len(d.held)
}

// replayHeld reads the held-back packets again now that the PMT is known,
// in their order and before any packet after the PMT.
func (d *demuxer) replayHeld() error {
	if d.live != nil {
		return d.live.replayHeld(d)
	}
	held, start := d.held, d.heldStart
	d.held, d.heldStart = nil, 0
	brk := d.heldBreak
	for k := range held {
		e := held[(start+k)%len(held)]
		off := e >> 1
		p, err := d.read(off, d.ps)
		if err != nil {
			return err
		}
		b := p[d.hdr : d.hdr+tsLen]
		h := parseHeader(b)
		if e&1 != 0 {
			d.breakAll()
		}
		if h.disc && int(h.pid) == d.pcrPID {
			for _, s := range d.streams {
				s.discPending = true
			}
		}
		if s := d.streams[h.pid]; s != nil {
			d.stats.HeldPackets++
			if err := s.packet(off, b, h); err != nil {
				return err
			}
		} else {
			d.unlisted(h.pid, off)
		}
	}
	// What happened between the last held packet and the PMT still counts.
	d.heldBreak = brk
	if brk {
		d.breakAll()
	}
	return nil
}

func (d *demuxer) sortedStreams() []*stream {
	out := make([]*stream, 0, len(d.streams))
	for _, s := range d.streams {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].pid < out[j].pid })
	return out
}

// tsPacket is a parsed transport packet header.
type tsPacket struct {
	pid     uint16
	pusi    bool
	tei     bool
	scr     byte
	cc      byte
	disc    bool
	payload int  // offset of the payload in the 188-byte packet
	hasPay  bool // adaptation_field_control says payload, and it is non-empty
	bad     bool // inconsistent adaptation field length
}

// parseHeader parses a 188-byte packet (starting at the sync byte). The
// SampleReader uses the same function, so both agree on where payloads are.
func parseHeader(b []byte) tsPacket {
	h := tsPacket{
		tei:  b[1]&0x80 != 0,
		pusi: b[1]&0x40 != 0,
		pid:  uint16(b[1]&0x1f)<<8 | uint16(b[2]),
		scr:  b[3] >> 6,
		cc:   b[3] & 0xf,
	}
	afc := b[3] >> 4 & 3
	h.payload = 4
	if afc&2 != 0 {
		afl := int(b[4])
		if afc == 2 && afl > 183 || afc == 3 && afl > 182 {
			h.bad = true
			return h
		}
		if afl > 0 {
			h.disc = b[5]&0x80 != 0
		}
		h.payload = 5 + afl
	}
	h.hasPay = afc&1 != 0 && h.payload < tsLen
	return h
}

func (d *demuxer) packet(off int64, p []byte) error {
	d.stats.Packets++
	b := p[d.hdr : d.hdr+tsLen]
	h := parseHeader(b)
	if h.tei {
		d.stats.TEIPackets++
		d.breakAll()
		d.log.Warn("dropped packet with transport_error_indicator", "offset", off)
		return nil
	}
	if h.pid == nullPID {
		return nil
	}
	if h.disc && int(h.pid) == d.pcrPID {
		for _, s := range d.streams {
			s.discPending = true
		}
	}
	if s := d.streams[h.pid]; s != nil {
		return s.packet(off, b, h)
	}
	if h.pid == 0 || int(h.pid) == d.pmtPID || d.cuePIDs[h.pid] {
		return d.psiPacket(off, b, h)
	}
	if !d.pmtSeen {
		d.hold(off)
		return nil
	}
	d.unlisted(h.pid, off)
	return nil
}

// unlisted logs, once per PID, a PID that is no elementary stream of the
// program (other programs, SI tables, ...) or one the PMT lists but that
// is not read (already logged by pmt).
func (d *demuxer) unlisted(pid uint16, off int64) {
	if d.logged[pid] || d.ignored[pid] || d.streams[pid] != nil || pid == 0 || int(pid) == d.pmtPID {
		return
	}
	d.logged[pid] = true
	d.log.Debug("ignoring PID outside the program", "pid", pid, "offset", off)
}

// section reassembles PSI sections of one PID.
type section struct {
	buf    []byte
	lastCC int
	active bool
}

func (d *demuxer) psiPacket(off int64, b []byte, h tsPacket) error {
	sec := d.psi[h.pid]
	if sec == nil {
		sec = &section{lastCC: -1}
		d.psi[h.pid] = sec
	}
	if h.bad || !h.hasPay {
		return nil
	}
	if sec.lastCC >= 0 && !h.disc && int(h.cc) != (sec.lastCC+1)&15 {
		if int(h.cc) == sec.lastCC {
			d.stats.Duplicates++
			return nil
		}
		d.stats.CCErrors++
		d.log.Warn("continuity error on PSI PID", "pid", h.pid, "offset", off)
		sec.active = false
	}
	sec.lastCC = int(h.cc)
	data := b[h.payload:]
	if h.pusi {
		ptr := int(data[0])
		data = data[1:]
		if ptr > len(data) {
			sec.active = false
			return nil
		}
		if sec.active {
			sec.buf = append(sec.buf, data[:ptr]...)
			d.sections(h.pid, sec, off)
		}
		data = data[ptr:]
		sec.buf = append(sec.buf[:0], data...)
		sec.active = true
	} else if sec.active {
		sec.buf = append(sec.buf, data...)
	}
	if sec.active {
		d.sections(h.pid, sec, off)
	}
	if len(sec.buf) > 8192 { // no PSI section is longer than 4 KiB
		sec.active = false
		sec.buf = sec.buf[:0]
	}
	return nil
}

// sections handles every complete section at the start of sec.buf.
func (d *demuxer) sections(pid uint16, sec *section, off int64) {
	for len(sec.buf) >= 3 && sec.buf[0] != 0xFF {
		n := 3 + (int(sec.buf[1]&0x0f)<<8 | int(sec.buf[2]))
		if len(sec.buf) < n {
			return
		}
		s := sec.buf[:n]
		if d.cuePIDs[pid] {
			d.cueSection(s, off)
			sec.buf = sec.buf[n:]
			continue
		}
		if n < 12 || crc32MPEG(s) != 0 {
			d.log.Warn("dropped PSI section with bad length or CRC", "pid", pid, "offset", off)
		} else if s[5]&1 == 1 { // current_next_indicator
			switch {
			case pid == 0 && s[0] == 0x00:
				d.pat(s)
			case int(pid) == d.pmtPID && s[0] == 0x02:
				d.pmt(s, off)
			}
		}
		sec.buf = sec.buf[n:]
	}
	if len(sec.buf) > 0 && sec.buf[0] == 0xFF {
		sec.active = false // stuffing up to the end of the packet
		sec.buf = sec.buf[:0]
	}
}

func (d *demuxer) pat(s []byte) {
	body := s[8 : len(s)-4]
	for i := 0; i+4 <= len(body); i += 4 {
		prog := int(body[i])<<8 | int(body[i+1])
		pid := int(body[i+2]&0x1f)<<8 | int(body[i+3])
		if prog == 0 {
			continue // network PID
		}
		if d.opts.Program != 0 && prog != d.opts.Program {
			continue
		}
		if d.program != 0 && prog != d.program {
			continue
		}
		if d.pmtPID != pid {
			d.program, d.pmtPID = prog, pid
			d.log.Debug("PAT", "program", prog, "pmt_pid", pid)
		}
		return
	}
}

// Stream types of ISO/IEC 13818-1 Table 2-34 and ATSC A/52.
const (
	stH264   = 0x1B
	stHEVC   = 0x24
	stADTS   = 0x0F
	stAC3    = 0x81
	stEAC3   = 0x87
	stPriv   = 0x06
	stLATM   = 0x11
	stSCTE35 = 0x86
)

func (d *demuxer) pmt(s []byte, off int64) {
	if int(s[3])<<8|int(s[4]) != d.program {
		return
	}
	if d.live != nil && !d.live.pmtVersion(d, s) {
		return
	}
	d.pmtSeen = true
	d.pcrPID = int(s[8]&0x1f)<<8 | int(s[9])
	pil := int(s[10]&0x0f)<<8 | int(s[11])
	body := s[12 : len(s)-4]
	if pil > len(body) {
		return
	}
	body = body[pil:]
	for len(body) >= 5 {
		st := body[0]
		pid := uint16(body[1]&0x1f)<<8 | uint16(body[2])
		il := int(body[3]&0x0f)<<8 | int(body[4])
		if 5+il > len(body) {
			return
		}
		desc := body[5 : 5+il]
		body = body[5+il:]
		if d.streams[pid] != nil || d.ignored[pid] || d.cuePIDs[pid] {
			continue
		}
		if st == stSCTE35 {
			d.cuePIDs[pid] = true
			d.log.Debug("SCTE-35 stream", "pid", pid)
			continue
		}
		es := classify(st, desc)
		switch es.codec {
		case codecNone, codecUnsupported:
			d.ignored[pid] = true
			d.log.Warn("ignoring elementary stream: not supported", "pid", pid,
				"stream_type", fmt.Sprintf("0x%02X", st), "kind", describeStreamType(st, desc))
			continue
		case codecOpus:
			if es.opusCode > 8 {
				d.ignored[pid] = true
				d.log.Warn("ignoring Opus stream: channel_config_code not supported", "pid", pid,
					"stream_type", fmt.Sprintf("0x%02X", st), "channel_config_code", es.opusCode)
				continue
			}
			if es.opusCode < 0 {
				d.log.Warn("Opus stream without channel configuration (extension descriptor 0x80); assuming stereo", "pid", pid)
			}
		}
		d.streams[pid] = newStream(d, pid, es)
		d.log.Debug("elementary stream", "pid", pid, "codec", es.codec.String())
	}
}

// esInfo is what the PMT says about an elementary stream.
type esInfo struct {
	codec codec
	lang  string
	// opusCode is the channel_config_code of the Opus extension descriptor
	// (0x7F with tag extension 0x80), -1 without one.
	opusCode int
}

// classify maps a PMT entry to a codec.
func classify(st byte, desc []byte) esInfo {
	es := esInfo{lang: "und", opusCode: -1}
	var reg string
	var ac3, eac3 bool
	forDescriptors(desc, func(tag byte, v []byte) {
		switch tag {
		case 0x05: // registration
			if len(v) >= 4 {
				reg = string(v[:4])
			}
		case 0x0A: // ISO 639 language
			if len(v) >= 3 && isLower(v[:3]) {
				es.lang = string(v[:3])
			}
		case 0x6A:
			ac3 = true
		case 0x7A:
			eac3 = true
		case 0x7F: // extension descriptor; 0x80: Opus channel configuration
			if len(v) >= 2 && v[0] == 0x80 {
				es.opusCode = int(v[1])
			}
		}
	})
	switch st {
	case stH264:
		es.codec = codecH264
	case stHEVC:
		es.codec = codecHEVC
	case stADTS:
		es.codec = codecAAC
	case stAC3:
		es.codec = codecAC3
	case stEAC3:
		es.codec = codecEAC3
	case stPriv:
		switch {
		case eac3 || reg == "EAC3":
			es.codec = codecEAC3
		case ac3 || reg == "AC-3":
			es.codec = codecAC3
		case reg == "Opus":
			es.codec = codecOpus
		}
	case 0x01, 0x02, 0x03, 0x04, 0x10, 0x11, 0x1C, 0x42, 0x33, 0xD1, 0xEA:
		es.codec = codecUnsupported // MPEG-1/2 video and audio, MPEG-4 part 2, LATM, VVC, ...
	}
	return es
}

// describeStreamType names what an ignored elementary stream carries.
func describeStreamType(st byte, desc []byte) string {
	switch st {
	case stSCTE35:
		return "SCTE-35"
	case 0x15:
		return "ID3 metadata"
	case 0x01, 0x02:
		return "MPEG-1/2 video"
	case 0x03, 0x04:
		return "MPEG-1/2 audio"
	case 0x10:
		return "MPEG-4 part 2 video"
	case stLATM:
		return "AAC in LATM"
	case 0x1C:
		return "MPEG-4 audio without ADTS"
	case 0x33:
		return "VVC"
	case 0x42, 0xD1, 0xEA:
		return "AVS/Dirac/VC-1 video"
	case stPriv:
		k := "private data"
		forDescriptors(desc, func(tag byte, v []byte) {
			switch tag {
			case 0x05:
				if len(v) >= 4 && isPrintable(v[:4]) {
					k = "private data registered as " + strconv.Quote(string(v[:4]))
				}
			case 0x56:
				k = "teletext"
			case 0x59:
				k = "DVB subtitles"
			}
		})
		return k
	}
	return "data"
}

func isPrintable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7E {
			return false
		}
	}
	return true
}

func isLower(b []byte) bool {
	for _, c := range b {
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

func forDescriptors(b []byte, fn func(tag byte, v []byte)) {
	for len(b) >= 2 {
		n := int(b[1])
		if 2+n > len(b) {
			return
		}
		fn(b[0], b[2:2+n])
		b = b[2+n:]
	}
}

// crc32MPEG computes CRC-32/MPEG-2; over a whole section including its CRC it is 0.
func crc32MPEG(b []byte) uint32 {
	crc := uint32(0xFFFFFFFF)
	for _, v := range b {
		crc ^= uint32(v) << 24
		for i := 0; i < 8; i++ {
			if crc&0x80000000 != 0 {
				crc = crc<<1 ^ 0x04C11DB7
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// pesHeaderSize returns the size of the PES header at the start of h, and
// whether h holds all of it. The SampleReader uses it to skip headers.
func pesHeaderSize(h []byte) (size int, complete bool, err error) {
	if len(h) < 6 {
		return 6, false, nil
	}
	if !bytes.Equal(h[:3], []byte{0, 0, 1}) {
		return 0, false, errBadPES
	}
	switch h[3] {
	case 0xBC, 0xBE, 0xBF, 0xF0, 0xF1, 0xF2, 0xF8, 0xFF: // no optional header
		return 6, true, nil
	}
	if len(h) < 9 {
		return 9, false, nil
	}
	if h[6]>>6 != 2 {
		return 0, false, errBadPES
	}
	size = 9 + int(h[8])
	return size, len(h) >= size, nil
}

var errBadPES = errors.New("bad PES start code or header marker")

// readTS reads a 33-bit timestamp; ok is false if the marker bits are wrong.
func readTS(b []byte) (int64, bool) {
	if b[0]&1 != 1 || b[2]&1 != 1 || b[4]&1 != 1 {
		return 0, false
	}
	return int64(b[0]>>1&7)<<30 | int64(b[1])<<22 | int64(b[2]>>1)<<15 | int64(b[3])<<7 | int64(b[4]>>1), true
}

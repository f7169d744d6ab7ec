package ts

import (
	"fmt"
	"math"

	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/cmafkit/cmafkit/segment"
)

// audioConfig is the configuration of an audio stream, fixed by its first frame.
type audioConfig struct {
	codec    codec
	set      bool
	rate     int
	channels int
	frameDur int64 // samples per sample (AAC 1024, AC-3/E-AC-3 1536)
	sig      uint64

	asc      []byte // AAC AudioSpecificConfig
	objType  byte
	dac3     *mp4.Dac3Box
	dec3     *mp4.Dec3Box
	dec3Done bool
	grpBytes int // E-AC-3: bytes of the first sample, for the data rate

	// Opus.
	opusCode int  // channel_config_code of the PMT, -1 if none
	preSkip  int  // start trim of the first access units
	trimOpen bool // the access units so far were all trimmed away
	trimWarn bool // a start trim later in the stream was ignored
}

// frameHdr describes one ADTS frame, (E-)AC-3 sync frame or Opus access unit.
type frameHdr struct {
	size    int  // whole frame including the header
	hdrLen  int  // bytes before the raw payload (the ADTS header); 0 for AC-3
	indep0  bool // E-AC-3 independent substream 0 (starts a sample); always true otherwise
	blocks  int  // audio blocks of 256 samples (AC-3: 6)
	rate    int
	sig     uint64 // what must not change mid-stream
	profile byte   // AAC
	sfi     byte
	chcfg   byte
	ac3     mp4.Dac3Box
	ec3     mp4.EC3Sub
	strmtyp uint32
	chanmap uint32
	samples int // Opus: duration at 48 kHz
	trim    int // Opus: start_trim
}

type parseStatus int

const (
	frameOK parseStatus = iota
	frameNeedMore
	frameInvalid
)

// syncIndex returns the index of the first possible frame sync in b, or -1.
func syncIndex(c codec, b []byte) int {
	for i := 0; i+1 < len(b); i++ {
		switch c {
		case codecAAC:
			if b[i] == 0xFF && b[i+1]&0xF6 == 0xF0 {
				return i
			}
		case codecOpus:
			if b[i] == 0x7F && b[i+1]&0xE0 == 0xE0 {
				return i
			}
		default:
			if b[i] == 0x0B && b[i+1] == 0x77 {
				return i
			}
		}
	}
	return -1
}

func parseFrame(c codec, b []byte) (frameHdr, parseStatus) {
	switch c {
	case codecAAC:
		return parseADTS(b)
	case codecAC3:
		return parseAC3(b)
	case codecOpus:
		return parseOpus(b)
	default:
		return parseEAC3(b)
	}
}

// maxOpusAU bounds au_size: 120 ms of 8 channels at the highest Opus rate
// is about 64 KiB.
const maxOpusAU = 128 << 10

// parseOpus parses an opus_access_unit: the opus_control_header (11 bits
// 0x3FF, start_trim_flag, end_trim_flag, control_extension_flag, 2
// reserved bits; au_size as a sum of bytes continued while 0xFF; a 16-bit
// start_trim and end_trim (13 bits used) when flagged; a control
// extension with its length byte) and then au_size bytes of Opus packet.
// hdrLen is the control header's length: the sample is the Opus packet.
func parseOpus(b []byte) (frameHdr, parseStatus) {
	if len(b) < 2 {
		return frameHdr{}, frameNeedMore
	}
	if b[0] != 0x7F || b[1]&0xE0 != 0xE0 {
		return frameHdr{}, frameInvalid
	}
	flags := b[1]
	i, size := 2, 0
	for {
		if i >= len(b) {
			return frameHdr{}, frameNeedMore
		}
		v := b[i]
		i++
		size += int(v)
		if v != 0xFF {
			break
		}
		if size > maxOpusAU {
			return frameHdr{}, frameInvalid
		}
	}
	h := frameHdr{indep0: true}
	if flags&0x10 != 0 {
		if i+2 > len(b) {
			return frameHdr{}, frameNeedMore
		}
		h.trim = int(b[i]&0x1F)<<8 | int(b[i+1])
		i += 2
	}
	if flags&0x08 != 0 {
		i += 2 // end_trim: an end cannot be trimmed in a CMAF fragment
	}
	if flags&0x04 != 0 {
		if i >= len(b) {
			return frameHdr{}, frameNeedMore
		}
		i += 1 + int(b[i])
	}
	if size == 0 {
		return frameHdr{}, frameInvalid // no TOC byte
	}
	if len(b) < i+min(size, 2) {
		return frameHdr{}, frameNeedMore
	}
	h.hdrLen, h.size = i, i+size
	if h.samples = opusSamples(b[i : i+min(size, 2)]); h.samples == 0 {
		return frameHdr{}, frameInvalid
	}
	h.rate = 48000
	return h, frameOK
}

// opusSamples returns the duration at 48 kHz of the Opus packet starting
// with p (RFC 6716 3.1: the TOC byte's configuration gives the frame size,
// its code and, for code 3, the next byte the number of frames), or 0 if
// it is not a valid packet start. A multistream packet lasts as long as its
// first stream's.
func opusSamples(p []byte) int {
	if len(p) == 0 {
		return 0
	}
	toc := p[0]
	var fs int
	switch cfg := toc >> 3; {
	case cfg < 12: // SILK: 10, 20, 40, 60 ms
		fs = [4]int{480, 960, 1920, 2880}[cfg&3]
	case cfg < 16: // hybrid: 10, 20 ms
		fs = [2]int{480, 960}[cfg&1]
	default: // CELT: 2.5, 5, 10, 20 ms
		fs = [4]int{120, 240, 480, 960}[cfg&3]
	}
	n := 1
	switch toc & 3 {
	case 1, 2:
		n = 2
	case 3:
		if len(p) < 2 {
			return 0
		}
		n = int(p[1] & 0x3F)
	}
	if n == 0 || fs*n > 5760 { // at most 120 ms
		return 0
	}
	return fs * n
}

func parseADTS(b []byte) (frameHdr, parseStatus) {
	if len(b) < 7 {
		return frameHdr{}, frameNeedMore
	}
	if b[0] != 0xFF || b[1]&0xF6 != 0xF0 {
		return frameHdr{}, frameInvalid
	}
	h := frameHdr{hdrLen: 7, indep0: true, blocks: 4}
	if b[1]&1 == 0 {
		h.hdrLen = 9 // CRC
	}
	h.profile = b[2] >> 6
	h.sfi = b[2] >> 2 & 0xF
	h.chcfg = (b[2]&1)<<2 | b[3]>>6
	h.size = int(b[3]&3)<<11 | int(b[4])<<3 | int(b[5])>>5
	if h.sfi > 12 || h.size <= h.hdrLen || b[6]&3 != 0 { // several raw data blocks per ADTS frame are not supported
		return frameHdr{}, frameInvalid
	}
	h.rate = aacRates[h.sfi]
	h.sig = uint64(h.profile)<<16 | uint64(h.sfi)<<8 | uint64(h.chcfg)
	return h, frameOK
}

var aacRates = [13]int{96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350}

// AC-3 frame sizes in 16-bit words by frmsizecod, for fscod 0, 1, 2 (ETSI TS 102 366 Table 4.13).
var ac3Words = [3][38]uint16{
	{64, 64, 80, 80, 96, 96, 112, 112, 128, 128, 160, 160, 192, 192, 224, 224, 256, 256, 320, 320, 384, 384, 448, 448, 512, 512, 640, 640, 768, 768, 896, 896, 1024, 1024, 1152, 1152, 1280, 1280},
	{69, 70, 87, 88, 104, 105, 121, 122, 139, 140, 174, 175, 208, 209, 243, 244, 278, 279, 348, 349, 417, 418, 487, 488, 557, 558, 696, 697, 835, 836, 975, 976, 1114, 1115, 1253, 1254, 1393, 1394},
	{96, 96, 120, 120, 144, 144, 168, 168, 192, 192, 240, 240, 288, 288, 336, 336, 384, 384, 480, 480, 576, 576, 672, 672, 768, 768, 960, 960, 1152, 1152, 1344, 1344, 1536, 1536, 1728, 1728, 1920, 1920},
}

var ac3Rates = [3]int{48000, 44100, 32000}

type bitReader struct {
	b   []byte
	pos int
	bad bool
}

func (r *bitReader) u(n int) uint32 {
	var v uint32
	for i := 0; i < n; i++ {
		if r.pos>>3 >= len(r.b) {
			r.bad = true
			return 0
		}
		v = v<<1 | uint32(r.b[r.pos>>3]>>(7-r.pos&7)&1)
		r.pos++
	}
	return v
}

func parseAC3(b []byte) (frameHdr, parseStatus) {
	if len(b) < 8 {
		return frameHdr{}, frameNeedMore
	}
	if b[0] != 0x0B || b[1] != 0x77 {
		return frameHdr{}, frameInvalid
	}
	fscod, frmsizecod := b[4]>>6, b[4]&0x3f
	bsid := b[5] >> 3
	if fscod == 3 || frmsizecod > 37 || bsid > 10 {
		return frameHdr{}, frameInvalid
	}
	r := bitReader{b: b[6:]}
	acmod := r.u(3)
	if acmod&1 != 0 && acmod != 1 {
		r.u(2)
	}
	if acmod&4 != 0 {
		r.u(2)
	}
	if acmod == 2 {
		r.u(2)
	}
	lfeon := r.u(1)
	h := frameHdr{
		size: int(ac3Words[fscod][frmsizecod]) * 2, indep0: true, blocks: 6, rate: ac3Rates[fscod],
		ac3: mp4.Dac3Box{FSCod: fscod, BSID: bsid, BSMod: b[5] & 7, ACMod: byte(acmod), LFEOn: byte(lfeon), BitRateCode: frmsizecod >> 1},
	}
	h.sig = uint64(fscod)<<16 | uint64(acmod)<<8 | uint64(lfeon)<<4 | uint64(bsid)<<24
	return h, frameOK
}

func parseEAC3(b []byte) (frameHdr, parseStatus) {
	if len(b) < 16 {
		return frameHdr{}, frameNeedMore
	}
	if b[0] != 0x0B || b[1] != 0x77 {
		return frameHdr{}, frameInvalid
	}
	r := bitReader{b: b[2:]}
	strmtyp := r.u(2)
	substreamid := r.u(3)
	frmsiz := r.u(11)
	fscod := r.u(2)
	var numblkscod uint32 = 3
	rate := 0
	if fscod == 3 {
		fscod2 := r.u(2)
		if fscod2 == 3 {
			return frameHdr{}, frameInvalid
		}
		rate = [3]int{24000, 22050, 16000}[fscod2]
	} else {
		numblkscod = r.u(2)
		rate = ac3Rates[fscod]
	}
	blocks := [4]int{1, 2, 3, 6}[numblkscod]
	acmod := r.u(3)
	lfeon := r.u(1)
	bsid := r.u(5)
	if bsid < 11 || bsid > 16 || strmtyp == 3 {
		return frameHdr{}, frameInvalid
	}
	r.u(5) // dialnorm
	if r.u(1) == 1 {
		r.u(8) // compr
	}
	if acmod == 0 {
		r.u(5)
		if r.u(1) == 1 {
			r.u(8)
		}
	}
	var chanmap uint32
	if strmtyp == 1 && r.u(1) == 1 {
		chanmap = r.u(16)
	}
	if r.u(1) == 1 { // mixmdate
		if acmod > 2 {
			r.u(2)
		}
		if acmod&1 != 0 && acmod > 2 {
			r.u(6)
		}
		if acmod&4 != 0 {
			r.u(6)
		}
		if lfeon == 1 && r.u(1) == 1 {
			r.u(5)
		}
		if strmtyp == 0 {
			if r.u(1) == 1 {
				r.u(6)
			}
			if acmod == 0 && r.u(1) == 1 {
				r.u(6)
			}
			if r.u(1) == 1 {
				r.u(6)
			}
			switch r.u(2) { // mixdef
			case 1:
				r.u(5)
			case 2:
				r.u(12)
			case 3:
				n := r.u(5)
				r.pos += 8 * int(n+2)
			}
			if acmod < 2 {
				if r.u(1) == 1 {
					r.u(14)
				}
				if acmod == 0 && r.u(1) == 1 {
					r.u(14)
				}
			}
			if r.u(1) == 1 { // frmmixcfginfoe
				if numblkscod == 0 {
					r.u(5)
				} else {
					for i := 0; i < blocks; i++ {
						if r.u(1) == 1 {
							r.u(5)
						}
					}
				}
			}
		}
	}
	var bsmod uint32
	if r.u(1) == 1 { // infomdate
		bsmod = r.u(3)
	}
	if r.bad {
		bsmod = 0
	}
	h := frameHdr{
		size: int(frmsiz+1) * 2, indep0: strmtyp != 1 && substreamid == 0, blocks: blocks, rate: rate,
		strmtyp: strmtyp, chanmap: chanmap,
		ec3: mp4.EC3Sub{FSCod: byte(fscod), BSID: byte(bsid), BSMod: byte(bsmod), ACMod: byte(acmod), LFEOn: byte(lfeon)},
	}
	if h.size < 16 {
		return frameHdr{}, frameInvalid
	}
	h.sig = uint64(rate)<<16 | uint64(acmod)<<8 | uint64(lfeon)
	return h, frameOK
}

// flushAudio turns complete frames at the head of the buffer into samples.
// At the end of the input (final) a trailing partial frame is dropped.
func (s *stream) flushAudio(final bool) error {
	for {
		rel := int(s.scan - s.bufBase)
		b := s.buf[rel:]
		if len(b) < 2 {
			break
		}
		j := syncIndex(s.codec, b)
		if j < 0 {
			s.junk(len(b) - 1)
			break
		}
		if j > 0 {
			s.junk(j)
			continue
		}
		h, st := parseFrame(s.codec, b)
		if st == frameInvalid {
			s.junk(1)
			continue
		}
		if st == frameNeedMore || len(b) < h.size {
			if final {
				s.d.stats.DroppedSamples++
				s.warn("audio frame cut by the end of the input", "bytes", len(b))
			}
			break
		}
		if s.acfg.set && h.indep0 && h.sig != s.acfg.sig {
			// A real change or a false sync: a change is only believed
			// when another frame follows right after this one.
			if len(b) < h.size+2 && !final {
				break
			}
			if len(b) >= h.size+2 && syncIndex(s.codec, b[h.size:h.size+2]) == 0 {
				return s.errf(s.idx.len()+1, s.pesOff, ErrParameterChange,
					"audio configuration changes at %.3f s", float64(s.nextTick)/float64(max(s.acfg.rate, 1)))
			}
			s.junk(1)
			continue
		}
		if err := s.frame(h); err != nil {
			return err
		}
		s.scan += int64(h.size)
	}
	if final && s.grpOpen {
		s.emitGroup(s.scan)
	}
	keep := s.scan
	if s.grpOpen {
		keep = s.grpStart
	}
	s.consume(keep)
	return nil
}

func (s *stream) junk(n int) {
	if !s.junkWarn {
		s.junkWarn = true
		s.warn("skipping bytes that are not audio frames", "es_offset", s.scan)
	}
	s.scan += int64(n)
}

// frame handles one complete frame starting at s.scan.
func (s *stream) frame(h frameHdr) error {
	f := s.scan
	if !s.acfg.set {
		if !h.indep0 {
			s.junk(0)
			return nil
		}
		if err := s.acfg.init(h); err != nil {
			return s.errf(0, s.pesOff, err, "")
		}
	}
	if s.codec == codecOpus {
		s.acfg.frameDur = int64(h.samples)
	}
	if s.codec != codecEAC3 {
		tick, ok := s.tickAt(f)
		if !ok {
			s.d.stats.DroppedSamples++
			return nil
		}
		if s.codec == codecOpus {
			s.opusTrim(h)
		}
		s.emitAudio(f+int64(h.hdrLen), f+int64(h.size), tick)
		return nil
	}
	// E-AC-3: a sample is an independent substream 0 frame with the
	// substreams that follow it, until six audio blocks are complete.
	if h.indep0 {
		if s.grpOpen && s.grpBlks >= 6 {
			s.emitGroup(f)
		}
		if !s.grpOpen {
			tick, ok := s.tickAt(f)
			if !ok {
				s.d.stats.DroppedSamples++
				return nil
			}
			s.grpOpen, s.grpStart, s.grpBlks, s.grpTick = true, f, 0, tick
		}
		s.grpBlks += h.blocks
	} else if !s.grpOpen {
		return nil // a dependent substream without its independent one
	}
	if !s.acfg.dec3Done {
		s.acfg.addEC3(h)
	}
	return nil
}

// opusTrim applies the start trim of an Opus access unit. The trims of the
// first access units are the decoder's pre-skip (dOps PreSkip), and the
// audible start of the track moves by as much: the edit list the writer
// derives from the presentation offset then trims them (as Opus in MP4
// does). A start trim later in the stream (after a splice) cannot be
// expressed in CMAF; it is ignored with a warning. End trims are skipped
// by parseOpus for the same reason.
func (s *stream) opusTrim(h frameHdr) {
	c := s.acfg
	switch {
	case s.idx.len() == 0:
		c.trimOpen = true
		fallthrough
	case c.trimOpen:
		if h.trim > 0 {
			c.preSkip += min(h.trim, h.samples)
			s.minPTS = s.first90 + (int64(c.preSkip)*clock+24000)/48000
		}
		c.trimOpen = h.trim >= h.samples
	case h.trim > 0 && !c.trimWarn:
		c.trimWarn = true
		s.warn("Opus start trim inside the stream ignored (CMAF cannot trim there)", "offset", s.pesOff, "samples", h.trim)
	}
}

func (s *stream) emitGroup(end int64) {
	s.grpOpen = false
	if !s.acfg.dec3Done {
		s.acfg.finishEC3(int(end - s.grpStart))
	}
	s.emitAudio(s.grpStart, end, s.grpTick)
}

func (s *stream) emitAudio(a, b int64, tick int64) {
	var payload []byte
	if s.d.live != nil {
		payload = s.buf[a-s.bufBase : b-s.bufBase]
	}
	s.addSample(tick, 0, uint32(b-a), true, s.locate(a, b), s.tickEpoch, payload)
}

// tickAt returns the decode time in samples of the frame starting at ES
// position f: the count continued from the previous frame, re-anchored on a
// PES PTS only when that deviates by more than half a frame.
func (s *stream) tickAt(f int64) (int64, bool) {
	var pts int64
	have := false
	epoch := s.tickEpoch
	for len(s.ptsq) > 0 && s.ptsq[0].es <= f {
		pts, have, epoch = s.ptsq[0].pts, true, s.ptsq[0].epoch
		s.ptsq = s.ptsq[1:]
	}
	if epoch != s.tickEpoch {
		// Live: a new time base; the sample count starts again from it.
		s.haveTick, s.tickEpoch = false, epoch
	}
	dur := s.acfg.frameDur
	var tick int64
	switch {
	case have:
		actual := rescale(pts, int64(s.acfg.rate))
		tick = actual
		if s.haveTick {
			dev := actual - s.nextTick
			switch {
			case abs64(dev) <= dur/2:
				tick = s.nextTick
			case actual <= s.nextTick-dur:
				s.warn("audio PTS goes back; keeping the sample count", "offset", s.pesOff, "ticks", dev)
				tick = s.nextTick
			default:
				s.warn("audio timestamp gap", "offset", s.pesOff, "ticks", dev)
			}
		} else {
			s.first90, s.minPTS = pts, pts
		}
	case s.haveTick:
		tick = s.nextTick
	default:
		return 0, false
	}
	s.haveTick, s.nextTick = true, tick+dur
	return tick, true
}

func (c *audioConfig) init(h frameHdr) error {
	c.set, c.sig, c.rate = true, h.sig, h.rate
	c.frameDur = int64(h.blocks) * 256
	switch c.codec {
	case codecAAC:
		c.objType = h.profile + 1
		if h.chcfg == 0 {
			return fmt.Errorf("%w: ADTS with channel_configuration 0 (program config element)", segment.ErrUnsupportedCodec)
		}
		c.channels = int(h.chcfg)
		if h.chcfg == 7 {
			c.channels = 8
		}
		c.frameDur = 1024
		c.asc = []byte{c.objType<<3 | h.sfi>>1, h.sfi<<7 | h.chcfg<<3}
	case codecAC3:
		d := h.ac3
		c.dac3 = &d
		c.channels, _ = d.ChannelInfo()
	case codecEAC3:
		c.frameDur = 1536
		c.dec3 = &mp4.Dec3Box{}
	case codecOpus:
		c.frameDur = int64(h.samples)
		c.channels = 2
		if c.opusCode > 0 {
			c.channels = c.opusCode
		}
	}
	return nil
}

// Opus channel configurations for channel_config_code 3 to 8 (mapping
// family 1, RFC 7845 5.1.1.2): streams, coupled streams, channel mapping.
var opusFamily1 = [9]struct {
	streams, coupled byte
	mapping          []byte
}{
	3: {2, 1, []byte{0, 2, 1}},
	4: {2, 2, []byte{0, 1, 2, 3}},
	5: {3, 2, []byte{0, 4, 1, 2, 3}},
	6: {4, 2, []byte{0, 4, 1, 2, 3, 5}},
	7: {4, 3, []byte{0, 4, 1, 2, 3, 5, 6}},
	8: {5, 3, []byte{0, 6, 1, 2, 3, 4, 5, 7}},
}

// dops builds the Opus sample entry's configuration from the PMT's
// channel_config_code: 1 and 2 are mono and stereo (mapping family 0), 0
// dual mono (family 255: two uncoupled streams), 3 to 8 the Vorbis channel
// orders of family 1.
func (c *audioConfig) dops() *mp4.DopsBox {
	d := &mp4.DopsBox{OutputChannelCount: byte(c.channels), PreSkip: uint16(min(c.preSkip, math.MaxUint16)), InputSampleRate: 48000}
	switch code := c.opusCode; {
	case code == 0:
		d.ChannelMappingFamily, d.StreamCount, d.CoupledCount, d.ChannelMapping = 255, 2, 0, []byte{0, 1}
	case code >= 3 && code <= 8:
		m := opusFamily1[code]
		d.ChannelMappingFamily, d.StreamCount, d.CoupledCount, d.ChannelMapping = 1, m.streams, m.coupled, m.mapping
	}
	return d
}

// addEC3 adds a frame of the first E-AC-3 sample to the dec3 description.
func (c *audioConfig) addEC3(h frameHdr) {
	d := c.dec3
	if h.strmtyp == 1 { // dependent substream of the last independent one
		if n := len(d.EC3Subs); n > 0 {
			d.EC3Subs[n-1].NumDepSub++
			d.EC3Subs[n-1].ChanLoc |= uint16(h.chanmap>>5) & 0x1ff
		}
		return
	}
	if len(d.EC3Subs) < 8 {
		d.EC3Subs = append(d.EC3Subs, h.ec3)
	}
}

func (c *audioConfig) finishEC3(groupBytes int) {
	c.dec3Done = true
	d := c.dec3
	d.NumIndSub = uint16(max(len(d.EC3Subs), 1) - 1)
	// data_rate in kbit/s of the whole sample: bytes*8 per 1536 samples.
	d.DataRate = uint16(int64(groupBytes) * 8 * int64(c.rate) / 1536 / 1000)
	c.channels, _ = d.ChannelInfo()
}

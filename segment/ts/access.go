package ts

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/cmafkit/cmafkit/segment"
)

// Video access units are rebuilt from the Annex B byte stream, not from PES
// boundaries: many muxers (Apple's segmenter among them) start a PES with
// the tail of the previous access unit, and some split one access unit over
// several PES packets. The elementary-stream bytes of a PID are one
// continuous stream across its PES packets; an access unit begins at the
// first NAL unit that H.264 7.4.1.2.3 or HEVC 7.4.2.4.4 says starts one
// after a picture (an access unit delimiter, parameter set, SEI, ... or the
// first slice of the next picture) and ends where the next one begins. Its
// payload may therefore span PES boundaries; the locator walks the packet
// grid and skips the PES headers in between (sampleReader.appendRaw).
//
// The timestamps of a PES apply to the first access unit that starts in its
// payload (H.222.0 2.4.3.7): each PES with a PTS queues its timestamps at the
// ES position of its payload, and an access unit takes the last queued one
// at or before its first byte. An access unit without one (a PES that
// carries two pictures, or a PES without PTS) is timed from its neighbours.

// reorderWindow is how many complete access units wait for their decode
// time: enough to sort the PTS of any conforming reorder depth (H.264 and
// HEVC allow at most 16 pictures).
const reorderWindow = 17

// pendingAU is a complete access unit waiting for its decode time.
type pendingAU struct {
	t     pendingPTS
	timed bool
	size  uint32
	sync  bool
	l     loc
	raw   []byte // live: the Annex B access unit
}

// nalInfo classifies a NAL unit from its first bytes (header and the first
// byte after it, which holds first_mb_in_slice or
// first_slice_segment_in_pic_flag).
type nalInfo struct {
	vcl      bool // a slice (segment) of a coded picture
	first    bool // the first slice of a picture: starts an access unit after a picture
	startsAU bool // a non-VCL NAL unit that starts an access unit after a picture
}

// nalHeadLen is how many bytes after the start code classify needs.
func nalHeadLen(c codec) int {
	if c == codecHEVC {
		return 3
	}
	return 2
}

func classifyNAL(c codec, h []byte) nalInfo {
	if c == codecH264 {
		if len(h) < 1 {
			return nalInfo{}
		}
		switch t := h[0] & 0x1f; {
		case t == 1 || t == 2 || t == 5:
			// first_mb_in_slice is ue(v); 0 is the single bit 1.
			return nalInfo{vcl: true, first: len(h) > 1 && h[1]&0x80 != 0}
		case t == 3 || t == 4: // data partitions B and C continue their picture
			return nalInfo{vcl: true}
		case t == 6 || t == 7 || t == 8 || t == 9 || t >= 14 && t <= 18:
			return nalInfo{startsAU: true}
		}
		return nalInfo{}
	}
	if len(h) < 2 || h[0]&1 != 0 || h[1]>>3 != 0 {
		return nalInfo{} // nuh_layer_id > 0 belongs to the base picture's access unit
	}
	switch t := h[0] >> 1 & 0x3f; {
	case t <= 31:
		return nalInfo{vcl: true, first: len(h) > 2 && h[2]&0x80 != 0}
	case t >= 32 && t <= 35, t == 39, t >= 41 && t <= 44, t >= 48 && t <= 55:
		return nalInfo{startsAU: true}
	}
	return nalInfo{}
}

// scanVideo looks for NAL unit starts in the bytes not scanned yet and ends
// and begins access units at them. At the end of the input (final) a NAL
// unit too short to classify is taken as it is.
func (s *stream) scanVideo(final bool) error {
	need := nalHeadLen(s.codec)
	for {
		rel := int(s.scanES - s.bufBase)
		i := bytes.Index(s.buf[rel:], startCode)
		if i < 0 {
			s.scanES = s.bufBase + int64(max(rel, len(s.buf)-2))
			break
		}
		i += rel
		if i+3+need > len(s.buf) && !final {
			s.scanES = s.bufBase + int64(i)
			break
		}
		p := s.bufBase + int64(i)
		h := s.buf[i+3 : min(i+3+need, len(s.buf))]
		if err := s.nalStart(p, classifyNAL(s.codec, h)); err != nil {
			return err
		}
		s.scanES = p + 3
	}
	if !s.auOpen {
		s.consume(s.scanES) // bytes before any access unit: not part of one
	}
	return nil
}

var startCode = []byte{0, 0, 1}

// nalStart handles a NAL unit whose start code begins at ES position p.
func (s *stream) nalStart(p int64, n nalInfo) error {
	begins := n.startsAU || n.vcl && n.first
	switch {
	case s.auOpen && s.auVCL && begins:
		t, timed := s.takeTime(p)
		if !timed && s.vcfg.fieldPairs(s.buf) {
			// Interlaced H.264 that sends a field pair in one PES: keep the
			// second field in the access unit of the first, as MP4 stores
			// field pairs (the spec would make each field one).
			break
		}
		if err := s.endAU(p); err != nil {
			return err
		}
		s.openAU(t, timed)
	case !s.auOpen && begins:
		// Anything before this (the tail of an access unit whose start was
		// lost or precedes the input) is no access unit.
		s.consume(p)
		s.openAU(s.takeTime(p))
	case !s.auOpen:
		return nil
	}
	if n.vcl {
		s.auVCL = true
	}
	return nil
}

func (s *stream) openAU(t pendingPTS, timed bool) {
	s.auOpen, s.auVCL, s.auTime, s.auTimed = true, false, t, timed
}

// takeTime returns the timestamps of the last PES whose payload starts at
// or before ES position p (an access unit starting at p is the first one
// starting in it) and forgets those up to it. A start code cut by the PES
// boundary counts as starting in the new PES.
func (s *stream) takeTime(p int64) (pendingPTS, bool) {
	var t pendingPTS
	timed := false
	for len(s.ptsq) > 0 && s.ptsq[0].es <= p+3 {
		t, timed = s.ptsq[0], true
		s.ptsq = s.ptsq[1:]
	}
	return t, timed
}

// endAU closes the open access unit at ES position end (the start of the
// next one) and queues it for timing.
func (s *stream) endAU(end int64) error {
	s.auOpen = false
	raw := s.buf[:end-s.bufBase]
	l := s.locate(s.bufBase, end)
	size, sync := s.vcfg.analyze(raw)
	if s.vcfg.changed && !s.psWarned {
		s.psWarned = true
		s.vcfg.keepFrom = s.idx.len() + len(s.vq)
		sec := float64(s.auTime.pts-s.first90) / clock
		s.warn("parameter sets change mid-stream: keeping them in band with an "+s.vcfg.entryName()+" sample entry; Apple devices expect "+
			map[bool]string{true: "avc1", false: "hvc1"}[s.vcfg.codec == codecH264],
			"change", s.vcfg.why, "time", fmt.Sprintf("%.3fs", sec), "offset", l.pkt)
	}
	if s.d.live != nil {
		raw = s.d.live.keep(raw) // consume overwrites it
	}
	s.consume(end)
	switch {
	case size == 0 || (s.needSync && !sync) || !s.vcfg.ready():
		s.d.stats.DroppedSamples++
		return nil
	case !s.auTimed && s.idx.len()+len(s.vq) == 0:
		s.d.stats.DroppedSamples++ // nothing to time it from
		return nil
	}
	s.needSync = false
	au := pendingAU{t: s.auTime, timed: s.auTimed, size: uint32(size), sync: sync, l: l}
	if s.d.live != nil {
		if err := s.d.live.newAU(s, &au, raw); err != nil {
			return err
		}
	}
	s.vq = append(s.vq, au)
	if s.auTimed {
		i, _ := slices.BinarySearch(s.vpts, s.auTime.pts)
		s.vpts = slices.Insert(s.vpts, i, s.auTime.pts)
	}
	if len(s.vq) > reorderWindow {
		return s.timeAU()
	}
	return nil
}

// endVideo closes the last access unit at the end of the input and times
// every waiting one.
func (s *stream) endVideo() error {
	if err := s.scanVideo(true); err != nil {
		return err
	}
	if s.auOpen && s.auVCL {
		if err := s.endAU(s.bufBase + int64(len(s.buf))); err != nil {
			return err
		}
	}
	for len(s.vq) > 0 {
		if err := s.timeAU(); err != nil {
			return err
		}
	}
	return nil
}

// timeAU gives the oldest waiting access unit its decode time and adds it
// to the index.
//
// A DTS the stream gives is kept while decode times increase, and so is a
// PTS-only access unit's implied DTS (= PTS) where it fits between its
// neighbours'. Otherwise (PTS-only B-frames, repeated or decreasing DTS) the
// decode time is derived from the presentation order: the n-th decode time
// is the n-th smallest PTS, shifted as the last trusted DTS was; the
// window of waiting access units holds every PTS that can sort before it.
// Composition offsets may then be negative, as CMAF allows. An access unit
// without a timestamp follows the previous one by its duration.
func (s *stream) timeAU() error {
	a := s.vq[0]
	s.vq = s.vq[:copy(s.vq, s.vq[1:])]
	havePrev := s.idx.len() > 0 && !s.fresh
	s.fresh = false
	prev := s.idx.lastDT
	var pts, dts int64
	derived := false
	if a.timed {
		q := s.vpts[0]
		s.vpts = s.vpts[:copy(s.vpts, s.vpts[1:])]
		pts = a.t.pts
		fits := func(d int64) bool { return !havePrev || d > prev }
		switch {
		case a.t.hasDTS && fits(a.t.dts):
			dts = a.t.dts
		case !a.t.hasDTS && fits(pts) && (len(s.vq) == 0 || !s.vq[0].timed || pts < s.vq[0].t.dts):
			dts = pts
		default:
			dts, derived = q+s.dtsOff, true
		}
		if !derived {
			s.dtsOff = dts - q
		}
	} else {
		dts = prev + max(s.lastDur, 1)
		pts = dts + s.lastCTO
		s.d.stats.UntimedSamples++
		if !s.untimedWarn {
			s.untimedWarn = true
			s.warn("access unit without a timestamp of its own; timed from the one before", "offset", a.l.pkt)
		}
	}
	if havePrev && dts <= prev {
		dts, derived = prev+1, true
	}
	if derived && a.timed {
		s.d.stats.DerivedDTS++
		if !s.dtsWarn {
			s.dtsWarn = true
			s.warn("video DTS missing or not increasing; decode times derived from the presentation order", "offset", a.l.pkt)
		}
	}
	if havePrev {
		s.lastDur = dts - prev
	} else {
		s.first90, s.minPTS = dts, pts
	}
	cto := pts - dts
	if cto > 1<<30 || cto < -(1<<30) {
		return s.errf(s.idx.len()+1, a.l.pkt, segment.ErrMalformed, "PTS-DTS of %d ticks", cto)
	}
	s.lastCTO = cto
	s.minPTS = min(s.minPTS, pts)
	s.addSample(dts, int32(cto), a.size, a.sync, a.l, a.t.epoch, a.raw)
	return nil
}

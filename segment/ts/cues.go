package ts

import (
	"slices"
	"time"

	"github.com/cmafkit/cmafkit/scte35"
	"github.com/cmafkit/cmafkit/segment"
)

// maxCues bounds the SCTE-35 sections kept from one input (each at most
// 4 KiB): far more than the breaks of any programme, even with the
// repetitions senders send ahead of each splice.
const maxCues = 4096

// rawCue is an SCTE-35 section with its splice time on the demuxer's
// continuous 90 kHz timeline.
type rawCue struct {
	t90     int64
	section []byte
	off     int64
}

// cueSection keeps a splice_info_section of an SCTE-35 PID (stream type
// 0x86): checked by scte35.Parse, timed from its splice_time plus
// pts_adjustment (or, for an immediate splice, from the video's latest
// timestamp) and unwrapped against an elementary stream's timeline, so
// that wraps and stitched discontinuities apply to it as to the media.
// splice_null heartbeats are dropped; bad sections are counted and logged.
func (d *demuxer) cueSection(b []byte, off int64) {
	if b[0] != scte35.TableID {
		return
	}
	sec, err := scte35.Parse(b)
	if err != nil {
		d.stats.BadCues++
		d.log.Warn("SCTE-35 section skipped", "offset", off, "err", err)
		return
	}
	var pts *uint64
	switch c := sec.Command.(type) {
	case *scte35.SpliceNull:
		return
	case *scte35.SpliceInsert:
		if c.Cancel {
			break
		}
		pts = c.SpliceTime
		if !c.ProgramSplice && !c.Immediate && len(c.Components) > 0 {
			pts = c.Components[0].SpliceTime
		}
	case *scte35.TimeSignal:
		pts = c.SpliceTime
	}
	ref := d.cueClock()
	if ref == nil {
		d.stats.BadCues++
		d.log.Warn("SCTE-35 section before any timestamp skipped", "offset", off)
		return
	}
	t := ref.last
	if pts != nil {
		raw := int64((*pts + sec.PTSAdjustment) & (1<<33 - 1))
		t = ref.last + signed33(raw-ref.lastRaw)
	}
	if lv := d.live; lv != nil {
		if ch, ok := lv.h.(CueHandler); ok && lv.err == nil && t >= 0 {
			lv.err = ch.Cue(uint32(ref.pid), uint64(t), b)
		}
		return
	}
	if len(d.cues) >= maxCues {
		d.stats.BadCues++
		if len(d.cues) == maxCues {
			d.log.Warn("too many SCTE-35 sections; dropping the rest", "limit", maxCues, "offset", off)
		}
		return
	}
	d.cues = append(d.cues, rawCue{t90: t, section: slices.Clone(b), off: off})
}

// cueClock is the stream cue times are unwrapped against: the first video
// stream with a timestamp, else any stream with one.
func (d *demuxer) cueClock() *stream {
	var any *stream
	for _, s := range d.sortedStreams() {
		if !s.tsInit {
			continue
		}
		if s.vcfg != nil {
			return s
		}
		if any == nil {
			any = s
		}
	}
	return any
}

// sourceCues returns the cues on the output timeline (zero at the common
// presentation zero), in time order.
func (d *demuxer) sourceCues() []segment.Cue {
	if len(d.cues) == 0 {
		return nil
	}
	out := make([]segment.Cue, 0, len(d.cues))
	for _, c := range d.cues {
		out = append(out, segment.Cue{Time: time.Duration(c.t90-d.p0) * time.Second / clock, Section: c.section, Offset: c.off})
	}
	slices.SortStableFunc(out, func(a, b segment.Cue) int {
		switch {
		case a.Time < b.Time:
			return -1
		case a.Time > b.Time:
			return 1
		}
		return 0
	})
	return out
}

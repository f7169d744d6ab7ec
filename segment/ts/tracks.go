package ts

import (
	"fmt"
	"math"
	"sync"

	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/cmafkit/cmafkit/segment"
)

// buildTracks rebases the index onto the common origin and builds the tracks.
func (d *demuxer) buildTracks() ([]*segment.Track, error) {
	var ss []*stream
	for _, s := range d.sortedStreams() {
		if s.idx.len() == 0 {
			d.log.Warn("elementary stream has no usable samples; ignored", "pid", s.pid, "codec", s.codec.String())
			continue
		}
		ss = append(ss, s)
	}
	if len(ss) == 0 {
		detail := "no PAT/PMT found"
		if d.pmtPID >= 0 {
			detail = "no supported elementary stream with samples"
		}
		return nil, formatErr(d.name, 0, 0, -1, segment.ErrNoTracks, "%s", detail)
	}
	t0, p0 := ss[0].first90, ss[0].minPTS
	for _, s := range ss[1:] {
		t0, p0 = min(t0, s.first90), min(p0, s.minPTS)
	}
	d.p0 = p0
	tracks := make([]*segment.Track, 0, len(ss))
	for _, s := range ss {
		t, err := s.track(t0, p0)
		if err != nil {
			return nil, err
		}
		tracks = append(tracks, t)
	}
	return tracks, nil
}

func (s *stream) track(t0, p0 int64) (*segment.Track, error) {
	var ts int64 = clock
	lastDur, repeatLast := int64(3003), s.vcfg != nil
	if s.acfg != nil {
		ts = int64(s.acfg.rate)
		lastDur = s.acfg.frameDur
	}
	origin := rescale(t0, ts)
	counts := s.idx.counts
	x, err := s.idx.build(origin, repeatLast, lastDur, func(sample int, off, dur int64) error {
		return s.errf(sample, off, segment.ErrMalformed, "sample duration %d out of range", dur)
	})
	if err != nil {
		return nil, err
	}
	t := &segment.Track{
		ID: uint32(s.pid), Source: s.d.name, Language: s.lang,
		Timescale: uint32(ts), Duration: x.total,
		PresentationOffset: rescale(p0, ts) - origin,
		Index:              x,
		Data: &sampleReader{
			r: s.d.r, name: s.d.name, pid: s.pid, ps: s.d.ps, hdr: s.d.hdr,
			idx: x, vcfg: s.vcfg, cursors: new(sync.Pool),
		},
	}
	if s.vcfg != nil {
		err = s.videoTrack(t, counts)
	} else {
		err = s.audioTrack(t)
	}
	if err != nil {
		return nil, s.errf(0, -1, segment.ErrMalformed, "building the sample entry: %v", err)
	}
	return t, nil
}

func (s *stream) videoTrack(t *segment.Track, counts map[uint32]int) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	c := s.vcfg
	t.Kind = segment.KindVideo
	t.Width, t.Height = c.width, c.height
	t.PixelAspect = reduce(int64(c.sarW), int64(c.sarH))
	t.Color, t.VideoRange = c.color, c.color.VideoRange()
	var best uint32
	for d, n := range counts {
		if n > counts[best] || n == counts[best] && d < best {
			best = d
		}
	}
	if best > 0 {
		t.FrameRate = reduce(clock, int64(best))
	}
	var cfg mp4.Box
	name := c.entryName()
	// The codec string is built from the first SPS for avc1/hvc1; it names
	// the sample entry type.
	t.Codec = name + c.codecStr[4:]
	if c.codec == codecH264 {
		cfg, err = mp4.CreateAvcC(c.nalus(psSPS), c.nalus(psPPS), true)
	} else {
		// array_completeness 1 (every parameter set is in the entry) only
		// for hvc1; hev1 carries changed ones in band.
		complete := !c.changed
		cfg, err = mp4.CreateHvcC(c.nalus(psVPS), c.nalus(psSPS), c.nalus(psPPS), complete, complete, complete, true)
	}
	if err != nil {
		return err
	}
	if c.width > math.MaxUint16 || c.height > math.MaxUint16 {
		return fmt.Errorf("resolution %dx%d", c.width, c.height)
	}
	vse := mp4.CreateVisualSampleEntryBox(name, uint16(c.width), uint16(c.height), cfg)
	if t.PixelAspect.Num != t.PixelAspect.Den {
		vse.AddChild(&mp4.PaspBox{HSpacing: uint32(t.PixelAspect.Num), VSpacing: uint32(t.PixelAspect.Den)})
	}
	t.SampleEntry = vse
	return nil
}

func (s *stream) audioTrack(t *segment.Track) error {
	c := s.acfg
	t.Kind = segment.KindAudio
	t.SampleRate, t.Channels = c.rate, c.channels
	rate := uint16(0) // AudioSampleEntry holds 16 bits of rate; 0 above that
	if c.rate <= math.MaxUint16 {
		rate = uint16(c.rate)
	}
	switch s.codec {
	case codecAAC:
		t.Codec = fmt.Sprintf("mp4a.40.%d", c.objType)
		t.SampleEntry = mp4.CreateAudioSampleEntryBox("mp4a", uint16(c.channels), 16, rate, mp4.CreateEsdsBox(c.asc))
	case codecAC3:
		t.Codec = "ac-3"
		t.SampleEntry = mp4.CreateAudioSampleEntryBox("ac-3", uint16(c.channels), 16, rate, c.dac3)
	case codecOpus:
		t.Codec = "opus"
		t.SampleEntry = mp4.CreateAudioSampleEntryBox("Opus", uint16(c.channels), 16, 48000, c.dops())
	case codecEAC3:
		if !c.dec3Done || len(c.dec3.EC3Subs) == 0 {
			return fmt.Errorf("no complete E-AC-3 sample")
		}
		t.Codec = "ec-3"
		t.SampleEntry = mp4.CreateAudioSampleEntryBox("ec-3", uint16(c.channels), 16, rate, c.dec3)
	}
	return nil
}

func reduce(n, d int64) segment.Rational {
	if n <= 0 || d <= 0 {
		return segment.Rational{Num: 1, Den: 1}
	}
	a, b := n, d
	for b != 0 {
		a, b = b, a%b
	}
	return segment.Rational{Num: n / a, Den: d / a}
}

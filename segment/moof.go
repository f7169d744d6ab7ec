package segment

import "fmt"

// Flags of tfhd and trun (ISO/IEC 14496-12 8.8.7, 8.8.8).
const (
	tfhdBaseDataOffset      = 0x000001
	tfhdSampleDescIndex     = 0x000002
	tfhdDefaultDuration     = 0x000008
	tfhdDefaultSize         = 0x000010
	tfhdDefaultFlags        = 0x000020
	tfhdDefaultBaseIsMoof   = 0x020000
	trunDataOffset          = 0x000001
	trunFirstSampleFlags    = 0x000004
	trunSampleDuration      = 0x000100
	trunSampleSize          = 0x000200
	trunSampleFlags         = 0x000400
	trunSampleCompOffset    = 0x000800
	sampleFlagNonSync       = 0x00010000
	sampleFlagDependsOnNone = 0x02000000
	sampleFlagDependsOnMore = 0x01000000
)

// indexMoofAt appends the samples described by the moof at off to the tracks.
func (p *mp4Parser) indexMoofAt(off int64) error {
	typ, size, hdrLen, err := readBoxHeader(p.r, off, p.size)
	if err != nil {
		return p.errAt(ErrTruncated, off, "moof header")
	}
	moof, err := p.readBox(typ, off, size, hdrLen)
	if err != nil {
		return err
	}
	p.moofs++
	kids, err := boxReader{src: p.name, path: "moof"}.children(moof.payload, off+int64(hdrLen))
	if err != nil {
		return err
	}
	nextBase := off // base for a traf without explicit base when not default-base-is-moof
	for _, traf := range kids {
		if traf.typ != "traf" {
			continue
		}
		end, err := p.indexTraf(&traf, off, nextBase)
		if err != nil {
			return err
		}
		nextBase = end
	}
	return nil
}

func (p *mp4Parser) indexTraf(traf *rawBox, moofOff, implicitBase int64) (dataEnd int64, err error) {
	kids, err := boxReader{src: p.name, path: "moof/traf"}.children(traf.payload, traf.offset+int64(traf.hdrLen))
	if err != nil {
		return 0, err
	}
	tfhd := findBox(kids, "tfhd")
	if tfhd == nil {
		return 0, &FormatError{Source: p.name, Box: "moof/traf", Offset: traf.offset, Err: ErrMalformed, Detail: "no tfhd"}
	}
	c := cursor{b: tfhd.payload}
	flags := c.u32() & 0xffffff
	id := c.u32()
	var t *mp4Track
	for _, cand := range p.tracks {
		if cand.ID == id {
			t = cand
		}
	}
	if t == nil {
		return 0, &FormatError{Source: p.name, Box: "moof/traf/tfhd", Offset: tfhd.offset, Err: ErrMalformed, Detail: fmt.Sprintf("track %d not in moov", id)}
	}
	fe := func(sentinel error, box string, off int64, format string, args ...any) error {
		return &FormatError{Source: p.name, Box: "moof/traf/" + box, Track: id, Offset: off, Err: sentinel, Detail: fmt.Sprintf(format, args...)}
	}
	base := implicitBase
	if flags&tfhdDefaultBaseIsMoof != 0 {
		base = moofOff
	}
	if flags&tfhdBaseDataOffset != 0 {
		base = int64(c.u64())
	}
	if flags&tfhdSampleDescIndex != 0 {
		c.skip(4)
	}
	defDur, defSize, defFlags := t.trex.dur, t.trex.size, t.trex.flags
	if flags&tfhdDefaultDuration != 0 {
		defDur = c.u32()
	}
	if flags&tfhdDefaultSize != 0 {
		defSize = c.u32()
	}
	if flags&tfhdDefaultFlags != 0 {
		defFlags = c.u32()
	}
	if c.err {
		return 0, fe(ErrTruncated, "tfhd", tfhd.offset, "")
	}
	if t.skip {
		return base, nil
	}
	dts := t.fragTime
	if tfdt := findBox(kids, "tfdt"); tfdt != nil {
		c := cursor{b: tfdt.payload}
		v := c.u8()
		c.skip(3)
		if v == 1 {
			dts = c.u64()
		} else {
			dts = uint64(c.u32())
		}
		if c.err {
			return 0, fe(ErrTruncated, "tfdt", tfdt.offset, "")
		}
	}
	dataPos := base
	for _, trun := range kids {
		if trun.typ != "trun" {
			continue
		}
		c := cursor{b: trun.payload}
		vf := c.u32()
		tf := vf & 0xffffff
		entry := 0
		for _, f := range []uint32{trunSampleDuration, trunSampleSize, trunSampleFlags, trunSampleCompOffset} {
			if tf&f != 0 {
				entry += 4
			}
		}
		cnt := c.u32()
		if tf&trunDataOffset != 0 {
			dataPos = base + int64(int32(c.u32()))
		}
		firstFlags, hasFirst := uint32(0), tf&trunFirstSampleFlags != 0
		if hasFirst {
			firstFlags = c.u32()
		}
		if c.err || uint64(cnt)*uint64(entry) > uint64(c.remaining()) {
			return 0, fe(ErrTruncated, "trun", trun.offset, "sample count %d exceeds box size", cnt)
		}
		// Bound the index by the input: no sample is smaller than a byte, so a
		// file cannot describe more samples than it has bytes.
		p.samples += int64(cnt)
		if p.samples > p.size {
			return 0, fe(ErrMalformed, "trun", trun.offset, "%d samples described in a %d byte file", p.samples, p.size)
		}
		for i := uint32(0); i < cnt; i++ {
			s := Sample{DecodeTime: dts, Duration: defDur, Size: defSize}
			fl := defFlags
			if tf&trunSampleDuration != 0 {
				s.Duration = c.u32()
			}
			if tf&trunSampleSize != 0 {
				s.Size = c.u32()
			}
			if tf&trunSampleFlags != 0 {
				fl = c.u32()
			}
			if i == 0 && hasFirst {
				fl = firstFlags
			}
			if tf&trunSampleCompOffset != 0 {
				s.CompositionOffset = int32(c.u32())
			}
			s.Sync = fl&sampleFlagNonSync == 0
			if t.Kind != KindVideo {
				s.Sync = true
			}
			if dataPos < 0 || dataPos+int64(s.Size) > p.size {
				return 0, fe(ErrTruncated, "trun", trun.offset, "sample %d of %d bytes at %d extends past the end of the %d byte file", t.samplesSoFar()+1, s.Size, dataPos, p.size)
			}
			s.Offset = dataPos
			dataPos += int64(s.Size)
			dts += uint64(s.Duration)
			t.list = append(t.list, s)
		}
	}
	t.fragTime = dts
	if len(t.list) > 0 {
		t.Duration = dts - t.list[0].DecodeTime
	}
	return dataPos, nil
}

// samplesSoFar counts the samples indexed so far, for errors.
func (t *mp4Track) samplesSoFar() int {
	n := len(t.list)
	if t.Index != nil {
		n += t.Index.Len()
	}
	return n
}

// finishTrack validates a completed index and fills derived properties.
func (p *mp4Parser) finishTrack(t *mp4Track) error {
	if t.list != nil {
		// Samples from moof boxes, after any in the moov's tables.
		if t.Index != nil && t.Index.Len() > 0 {
			all, err := t.Index.AppendSamples(make(SampleList, 0, t.Index.Len()+len(t.list)), 0, t.Index.Len())
			if err != nil {
				return err
			}
			t.list = append(all, t.list...)
		}
		t.Index = t.list
		t.list = nil
	}
	if t.SampleCount() == 0 {
		return &FormatError{Source: p.name, Track: t.ID, Offset: -1, Err: ErrMalformed, Detail: "track has no samples"}
	}
	if t.Kind == KindVideo {
		first := -1
		sc := t.Scan(0, t.SampleCount())
		for sc.Next() {
			if sc.Sample().Sync {
				first = sc.Index()
				break
			}
		}
		if err := sc.Err(); err != nil {
			return err
		}
		if first < 0 {
			return &FormatError{Source: p.name, Track: t.ID, Offset: -1, Err: ErrNoSyncSample, Detail: "video track has no sync sample"}
		}
		if first > 0 {
			p.log.Warn("dropping samples before the first sync sample", "source", p.name, "track", t.ID, "samples", first)
			switch x := t.Index.(type) {
			case *stblIndex:
				x.skip = first
			case SampleList:
				t.Index = x[first:]
			}
		}
	}
	t.Data = &readerAtSamples{r: p.r}
	fr, err := frameRateOf(t.Track)
	if err != nil {
		return err
	}
	t.FrameRate = fr
	return nil
}

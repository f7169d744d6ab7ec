package isobmff

import (
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/cmafkit/cmafkit/segment"
)

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
		return p.errAt(segment.ErrTruncated, off, "moof header")
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

// indexTraf records the traf (of the moof at moofOff) for its track and
// validates its samples; it returns where the traf's data ends, the
// implicit base of the next traf.
func (p *mp4Parser) indexTraf(traf *rawBox, moofOff, implicitBase int64) (dataEnd int64, err error) {
	kids, err := boxReader{src: p.name, path: "moof/traf"}.children(traf.payload, traf.payloadOffset())
	if err != nil {
		return 0, err
	}
	tfhd := findBox(kids, "tfhd")
	if tfhd == nil {
		return 0, &segment.FormatError{Source: p.name, Box: "moof/traf", Offset: traf.offset, Err: segment.ErrMalformed, Detail: "no tfhd"}
	}
	c := cursor{b: tfhd.payload}
	c.skip(4)
	id := c.u32()
	var t *mp4Track
	for _, cand := range p.tracks {
		if cand.ID == id {
			t = cand
		}
	}
	if t == nil {
		return 0, &segment.FormatError{Source: p.name, Box: "moof/traf/tfhd", Offset: tfhd.offset, Err: segment.ErrMalformed, Detail: fmt.Sprintf("track %d not in moov", id)}
	}
	tr := trafReader{src: p.name, size: p.size, track: id, kind: t.Kind, trex: t.trex}
	if t.skip {
		base, _, _, err := tr.read(kids, traf, moofOff, implicitBase, 0, nil)
		return base, err
	}
	t.frags.r, t.frags.tr = p.r, tr // re-reads need no count check
	tr.count = func(trun *rawBox, n uint32) error {
		// Bound the index by the input: no sample is smaller than a byte, so a
		// file cannot describe more samples than it has bytes.
		p.samples += int64(n)
		if p.samples > p.size {
			return &segment.FormatError{Source: p.name, Box: "moof/traf/trun", Track: id, Offset: trun.offset, Err: segment.ErrMalformed, Detail: fmt.Sprintf("%d samples described in a %d byte file", p.samples, p.size)}
		}
		return nil
	}
	ref := fragRef{traf: traf.offset, size: traf.size, moof: moofOff, base: implicitBase, first: t.frags.count}
	n := 0
	before := t.frags.count // samples before this traf: those of the moov's tables, then of earlier trafs
	if t.Index != nil {
		before += t.Index.Len()
	}
	var subs []subsEntry
	nextSubs := 0
	if b := findBox(kids, "subs"); b != nil && carriesSubs(t.Track) {
		if subs, err = parseSubs(b.payload, &p.subsBudget); err != nil {
			return 0, &segment.FormatError{Source: p.name, Box: "moof/traf/subs", Track: id, Offset: b.offset, Err: segment.ErrMalformed, Detail: err.Error()}
		}
	}
	var subsErr error
	_, dataEnd, dts, err := tr.read(kids, traf, moofOff, implicitBase, t.fragTime, func(s *segment.Sample) {
		if n == 0 {
			ref.dts = s.DecodeTime
		}
		n++
		t.empty.add(s, before+n)
		if subs != nil && subsErr == nil {
			subsErr = p.addSubs(t, subs, &nextSubs, n, s)
		}
	})
	if err == nil {
		err = subsErr
	}
	if err != nil {
		return 0, err
	}
	if n > 0 {
		if t.frags.count == 0 {
			t.fragStart = ref.dts
		}
		t.frags.frags = append(t.frags.frags, ref)
		t.frags.count += n
		t.Duration = dts - t.fragStart
	}
	t.fragTime = dts
	return dataEnd, nil
}

// trafReader reads the samples of one track's traf boxes.
type trafReader struct {
	src   string
	size  int64 // input size
	track uint32
	kind  segment.Kind
	trex  trexDefaults
	// count, when set, is told each trun's sample count before its samples
	// are produced, to refuse counts the input cannot hold.
	count func(trun *rawBox, n uint32) error
}

// read produces the samples of the traf with children kids (in the moof at
// moofOff; implicitBase is the base data offset when tfhd gives none and is
// not default-base-is-moof; dts is the decode time when there is no tfdt).
// With a nil emit it only resolves the base data offset. It returns the
// base, where the traf's data ends and the decode time after its samples.
func (tr *trafReader) read(kids []rawBox, traf *rawBox, moofOff, implicitBase int64, dts uint64, emit func(*segment.Sample)) (base, dataEnd int64, endDTS uint64, err error) {
	fe := func(sentinel error, box string, off int64, format string, args ...any) error {
		return &segment.FormatError{Source: tr.src, Box: "moof/traf/" + box, Track: tr.track, Offset: off, Err: sentinel, Detail: fmt.Sprintf(format, args...)}
	}
	tfhd := findBox(kids, "tfhd")
	if tfhd == nil {
		return 0, 0, 0, fe(segment.ErrMalformed, "", traf.offset, "no tfhd")
	}
	c := cursor{b: tfhd.payload}
	flags := c.u32() & 0xffffff
	c.skip(4) // track ID
	base = implicitBase
	if flags&tfhdDefaultBaseIsMoof != 0 {
		base = moofOff
	}
	if flags&tfhdBaseDataOffset != 0 {
		base = int64(c.u64())
	}
	if flags&tfhdSampleDescIndex != 0 {
		c.skip(4)
	}
	defDur, defSize, defFlags := tr.trex.dur, tr.trex.size, tr.trex.flags
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
		return 0, 0, 0, fe(segment.ErrTruncated, "tfhd", tfhd.offset, "")
	}
	if emit == nil {
		return base, base, dts, nil
	}
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
			return 0, 0, 0, fe(segment.ErrTruncated, "tfdt", tfdt.offset, "")
		}
	}
	dataPos := base
	n := 0
	for i := range kids {
		trun := &kids[i]
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
			return 0, 0, 0, fe(segment.ErrTruncated, "trun", trun.offset, "sample count %d exceeds box size", cnt)
		}
		if tr.count != nil {
			if err := tr.count(trun, cnt); err != nil {
				return 0, 0, 0, err
			}
		}
		for i := uint32(0); i < cnt; i++ {
			s := segment.Sample{DecodeTime: dts, Duration: defDur, Size: defSize}
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
			s.Sync = fl&sampleFlagNonSync == 0 || tr.kind != segment.KindVideo
			if dataPos < 0 || dataPos+int64(s.Size) > tr.size {
				return 0, 0, 0, fe(segment.ErrTruncated, "trun", trun.offset, "sample %d of the traf, %d bytes at %d, extends past the end of the %d byte file", n+1, s.Size, dataPos, tr.size)
			}
			s.Offset = dataPos
			dataPos += int64(s.Size)
			dts += uint64(s.Duration)
			emit(&s)
			n++
		}
	}
	return base, dataPos, dts, nil
}

// fragRef locates the samples of one traf of a track in a fragmented input.
type fragRef struct {
	traf  int64  // offset of the traf box
	size  int64  // traf box size
	moof  int64  // offset of its moof
	base  int64  // implicit base data offset of the traf
	dts   uint64 // decode time of its first sample
	first int    // index of its first sample in the track
}

// moofIndex is the Index of a fragmented MP4 track. It keeps where each traf
// is and parses the trafs holding the asked samples again on every read, so
// it costs a few dozen bytes per fragment instead of per sample.
type moofIndex struct {
	tr    trafReader
	r     io.ReaderAt
	frags []fragRef
	count int // samples in the trafs
	skip  int // leading samples hidden from Len (before the first sync sample)
}

// Len returns the number of samples.
func (x *moofIndex) Len() int { return x.count - x.skip }

// AppendSamples reads samples [from, to) from the trafs holding them.
func (x *moofIndex) AppendSamples(dst []segment.Sample, from, to int) ([]segment.Sample, error) {
	from += x.skip
	to += x.skip
	i := sort.Search(len(x.frags), func(i int) bool { return x.frags[i].first > from }) - 1
	var buf []byte
	for ; i >= 0 && i < len(x.frags) && x.frags[i].first < to; i++ {
		f := &x.frags[i]
		if int64(cap(buf)) < f.size {
			buf = make([]byte, f.size)
		}
		b := buf[:f.size]
		if _, err := x.r.ReadAt(b, f.traf); err != nil && !errors.Is(err, io.EOF) {
			return dst, fmt.Errorf("%s: read traf at %d: %w", x.tr.src, f.traf, err)
		}
		boxes, err := boxReader{src: x.tr.src, path: "moof"}.children(b, f.traf)
		if err != nil {
			return dst, err
		}
		if len(boxes) != 1 || boxes[0].typ != "traf" {
			return dst, &segment.FormatError{Source: x.tr.src, Box: "moof/traf", Track: x.tr.track, Offset: f.traf, Err: segment.ErrMalformed, Detail: "traf changed since the input was opened"}
		}
		kids, err := boxReader{src: x.tr.src, path: "moof/traf"}.children(boxes[0].payload, boxes[0].payloadOffset())
		if err != nil {
			return dst, err
		}
		k := f.first
		if _, _, _, err := x.tr.read(kids, &boxes[0], f.moof, f.base, f.dts, func(s *segment.Sample) {
			if k >= from && k < to {
				dst = append(dst, *s)
			}
			k++
		}); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

// checkEmpty applies the rule on samples of size 0 (see Open) to t, whose
// samples have all been counted.
func (p *mp4Parser) checkEmpty(t *mp4Track) error {
	e, n := &t.empty, t.SampleCount()
	if e.n == 0 {
		return nil
	}
	fe := func(sample int, format string, args ...any) error {
		return &segment.FormatError{Source: p.name, Track: t.ID, Sample: sample, Offset: -1, Err: segment.ErrEmptySamples, Detail: fmt.Sprintf(format, args...)}
	}
	switch {
	case e.n >= n:
		return fe(0, "all %d samples of the %s track have size 0: there is no media to package", n, t.Kind)
	case t.Kind == segment.KindText:
	case t.Kind == segment.KindVideo && e.sync > 0:
		return fe(e.firstSync, "sync sample of size 0 (%d of the track's sync samples are empty): decoding cannot start there", e.sync)
	case 2*e.n > n:
		return fe(e.first, "%d of the %d samples of the %s track have size 0 (the first is sample %d): a mostly empty track is not media", e.n, n, t.Kind, e.first)
	}
	p.log.Warn("track has samples of size 0; they are packaged as they are", "source", p.name, "track", t.ID, "empty", e.n, "samples", n, "first", e.first)
	return nil
}

// finishTrack validates a completed index and fills derived properties.
func (p *mp4Parser) finishTrack(t *mp4Track) error {
	if t.frags.count > 0 {
		if t.Index != nil && t.Index.Len() > 0 {
			// Samples in the moov's tables and in moof boxes (rare): keep
			// them all in memory, those of the moov first.
			all, err := t.Index.AppendSamples(make(segment.SampleList, 0, t.Index.Len()+t.frags.Len()), 0, t.Index.Len())
			if err != nil {
				return err
			}
			if all, err = t.frags.AppendSamples(all, 0, t.frags.Len()); err != nil {
				return err
			}
			t.Index = segment.SampleList(all)
		} else {
			t.Index = &t.frags
		}
	}
	if t.SampleCount() == 0 {
		detail := "track has no samples"
		if p.fragmentedMoov && p.moofs == 0 {
			detail += ": the input is an init segment without media segments; join them first (cat init.mp4 segment.m4s > input.mp4)"
		}
		return &segment.FormatError{Source: p.name, Track: t.ID, Offset: -1, Err: segment.ErrMalformed, Detail: detail}
	}
	if err := p.checkEmpty(t); err != nil {
		return err
	}
	if t.Kind == segment.KindVideo {
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
			return &segment.FormatError{Source: p.name, Track: t.ID, Offset: -1, Err: segment.ErrNoSyncSample, Detail: "video track has no sync sample"}
		}
		if first > 0 {
			p.log.Warn("dropping samples before the first sync sample", "source", p.name, "track", t.ID, "samples", first)
			switch x := t.Index.(type) {
			case *stblIndex:
				x.skip = first
			case *moofIndex:
				x.skip = first
			case segment.SampleList:
				t.Index = x[first:]
			}
		}
	}
	t.Data = segment.NewReaderAtSamples(p.r)
	fr, err := frameRateOf(t.Track)
	if err != nil {
		return err
	}
	t.FrameRate = fr
	return nil
}

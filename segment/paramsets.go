package segment

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"

	"github.com/Eyevinn/mp4ff/bits"
	"github.com/Eyevinn/mp4ff/hevc"
	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/cmafkit/cmafkit/internal/mediatime"
)

// Parameter sets of avc3/hev1 tracks.
//
// ISO/IEC 14496-15 lets 'avc3' and 'hev1' streams carry their parameter sets
// in the samples (in-band), while 'avc1' and 'hvc1' keep them in the sample
// entry only: for 'hvc1' array_completeness is 1 for the VPS, SPS and PPS
// arrays (8.4.1.1.1), meaning every parameter set of the stream is in the
// array and none is in the samples. Apple devices want avc1/hvc1. So an
// avc3/hev1 track whose parameter sets never change is converted: its
// sample entry receives every parameter set seen (in-band-only ones
// included) and the in-band copies are removed from the samples. A track
// whose parameter sets change (a parameter set ID with two different
// contents, e.g. a mid-stream resolution change) cannot be described by one
// sample entry and stays avc3/hev1, with a warning.
//
// Only sync samples are read. A new SPS can only be activated at an IDR
// (H.264 7.4.1.2.1) or IRAP picture (H.265 7.4.2.4.2), and encoders repeat
// their headers at those pictures; a parameter set sent in a non-sync sample
// is left where it is, which decoders accept. Within a sync sample only the
// NAL units before the first slice are read (a few hundred bytes), so the
// check costs one small read per sync sample, even on a multi-GB input.

// maxParamSetSize bounds one in-band parameter set read into memory.
const maxParamSetSize = 64 << 10

// psHeadWindow is how much of a sync sample is read at once to find the
// NAL units that precede its first slice.
const psHeadWindow = 4096

type nalSyntax struct {
	hevc       bool
	lengthSize int
}

// nalType returns the NAL unit type of nal (header included).
func (c nalSyntax) nalType(nal []byte) byte {
	if c.hevc {
		return (nal[0] >> 1) & 0x3f
	}
	return nal[0] & 0x1f
}

func (c nalSyntax) headerLen() int {
	if c.hevc {
		return 2
	}
	return 1
}

// isVCL reports whether typ is a slice (coded picture data) NAL unit type.
func (c nalSyntax) isVCL(typ byte) bool {
	if c.hevc {
		return typ < 32
	}
	return typ >= 1 && typ <= 5
}

// isParamSet reports whether typ is a VPS, SPS or PPS, the types kept in
// the decoder configuration record.
func (c nalSyntax) isParamSet(typ byte) bool {
	if c.hevc {
		return typ >= 32 && typ <= 34
	}
	return typ == 7 || typ == 8
}

// paramSetID returns the ID of parameter set nal, read from its RBSP.
func (c nalSyntax) paramSetID(nal []byte) (uint32, bool) {
	typ := c.nalType(nal)
	r := bits.NewEBSPReader(bytes.NewReader(nal[c.headerLen():]))
	var id uint
	switch {
	case !c.hevc && typ == 7: // profile_idc, constraint flags, level_idc, seq_parameter_set_id
		r.Read(24)
		id = r.ReadExpGolomb()
	case typ == 8 || typ == 34: // pic_parameter_set_id first
		id = r.ReadExpGolomb()
	case typ == 32: // vps_video_parameter_set_id u(4)
		id = r.Read(4)
	case typ == 33:
		r.Read(4) // sps_video_parameter_set_id
		maxSub := int(r.Read(3))
		r.Read(1)
		r.Read(96) // general profile_tier_level and general_level_idc
		prof := make([]bool, maxSub)
		lvl := make([]bool, maxSub)
		for i := 0; i < maxSub; i++ {
			prof[i], lvl[i] = r.ReadFlag(), r.ReadFlag()
		}
		if maxSub > 0 {
			for i := maxSub; i < 8; i++ {
				r.Read(2)
			}
		}
		for i := 0; i < maxSub; i++ {
			if prof[i] {
				r.Read(32)
				r.Read(32)
				r.Read(24)
			}
			if lvl[i] {
				r.Read(8)
			}
		}
		id = r.ReadExpGolomb()
	default:
		return 0, false
	}
	if r.AccError() != nil || id > 63 {
		return 0, false
	}
	return uint32(id), true
}

// paramSetKey identifies a parameter set: its NAL unit type and ID.
type paramSetKey struct {
	typ byte
	id  uint32
}

// paramSets collects distinct parameter sets in the order first seen.
type paramSets struct {
	c     nalSyntax
	byKey map[paramSetKey][]byte
	order []paramSetKey
}

// add records nal and reports a conflict: the same type and ID seen before
// with different content. ok is false when the ID cannot be parsed.
func (ps *paramSets) add(nal []byte) (conflict, ok bool) {
	id, ok := ps.c.paramSetID(nal)
	if !ok {
		return false, false
	}
	k := paramSetKey{ps.c.nalType(nal), id}
	if old, seen := ps.byKey[k]; seen {
		return !bytes.Equal(old, nal), true
	}
	ps.byKey[k] = bytes.Clone(nal)
	ps.order = append(ps.order, k)
	return false, true
}

// ofType returns the parameter sets of NAL unit type typ, sorted by ID
// (14496-15 wants SPSs and PPSs in ascending ID order).
func (ps *paramSets) ofType(typ byte) [][]byte {
	var keys []paramSetKey
	for _, k := range ps.order {
		if k.typ == typ {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].id < keys[j].id })
	out := make([][]byte, len(keys))
	for i, k := range keys {
		out[i] = ps.byKey[k]
	}
	return out
}

// ResolveParameterSets converts an avc3/hev1 track whose parameter sets do
// not change to avc1/hvc1 (see above), or keeps it with a warning to log.
// Other tracks are left alone. Readers call it on the video tracks they
// open; it reads the head of every sync sample through t.Data.
func ResolveParameterSets(ctx context.Context, t *Track, log *slog.Logger) error {
	vse, ok := t.SampleEntry.(*mp4.VisualSampleEntryBox)
	if !ok || (vse.Type() != "avc3" && vse.Type() != "hev1") {
		return nil
	}
	c := nalSyntax{hevc: vse.Type() == "hev1", lengthSize: 4}
	ps := &paramSets{c: c, byKey: map[paramSetKey][]byte{}}
	var entryNALs [][]byte
	if c.hevc {
		if vse.HvcC == nil {
			return nil
		}
		c.lengthSize = int(vse.HvcC.LengthSizeMinusOne) + 1
		ps.c = c
		for _, a := range vse.HvcC.NaluArrays {
			if c.isParamSet(byte(a.NaluType())) {
				entryNALs = append(entryNALs, a.Nalus...)
			}
		}
	} else {
		if vse.AvcC == nil {
			return nil
		}
		entryNALs = append(append(entryNALs, vse.AvcC.SPSnalus...), vse.AvcC.PPSnalus...)
	}
	keep := func(reason string, args ...any) error {
		log.Warn("keeping "+vse.Type()+" sample entry: "+reason+"; Apple devices expect "+map[bool]string{false: "avc1", true: "hvc1"}[c.hevc],
			append([]any{"source", t.Source, "track", t.ID}, args...)...)
		return nil
	}
	for _, nal := range entryNALs {
		if len(nal) < c.headerLen() {
			continue
		}
		if conflict, ok := ps.add(nal); conflict || !ok {
			return keep("sample entry parameter sets are not distinct or unreadable")
		}
	}
	strip := map[int64]uint32{}
	head := &sampleHead{t: t, c: c}
	sc := t.Scan(0, t.SampleCount())
	for sc.Next() {
		s := sc.Sample()
		if !s.Sync {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		nals, err := head.paramSets(s)
		if err != nil {
			return SampleError(t, sc.Index(), s, err)
		}
		var n uint32
		for _, nal := range nals {
			conflict, ok := ps.add(nal)
			if !ok {
				return keep("unreadable in-band parameter set", "sample", sc.Index()+1)
			}
			if conflict {
				return keep("parameter sets change in-band", "sample", sc.Index()+1,
					"time", mediatime.Duration(relPresentation(t, s), t.Timescale))
			}
			n += uint32(c.lengthSize + len(nal))
		}
		if n > 0 {
			strip[s.Offset] = n
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if len(ps.order) == 0 {
		return keep("no parameter sets in the sample entry or the sync samples")
	}
	if c.hevc {
		var arrays []hevc.NaluArray
		for _, typ := range []hevc.NaluType{hevc.NALU_VPS, hevc.NALU_SPS, hevc.NALU_PPS} {
			if nals := ps.ofType(byte(typ)); len(nals) > 0 {
				arrays = append(arrays, hevc.NewNaluArray(true, typ, nals))
			}
		}
		// Other arrays (SEI) are not parameter sets: kept, array_completeness 0.
		for _, a := range vse.HvcC.NaluArrays {
			if !c.isParamSet(byte(a.NaluType())) {
				arrays = append(arrays, hevc.NewNaluArray(false, a.NaluType(), a.Nalus))
			}
		}
		vse.HvcC.NaluArrays = arrays
		vse.SetType("hvc1")
	} else {
		vse.AvcC.SPSnalus = ps.ofType(7)
		vse.AvcC.PPSnalus = ps.ofType(8)
		vse.SetType("avc1")
	}
	// The codec string follows the sample entry name.
	t.Codec = vse.Type() + t.Codec[4:]
	if len(strip) > 0 {
		t.Index = &strippedIndex{inner: t.Index, strip: strip}
		t.Data = &strippedData{inner: t.Data, strip: strip, c: c}
	}
	log.Info("converted sample entry: parameter sets do not change", "source", t.Source, "track", t.ID,
		"codec", t.Codec, "parameter_sets", len(ps.order), "samples_stripped", len(strip))
	return nil
}

// sampleHead reads the NAL units that precede the first slice of a sample
// (or, with all set, every NAL unit of it).
type sampleHead struct {
	t   *Track
	c   nalSyntax
	all bool
	buf []byte
}

// paramSets returns the parameter sets among the NAL units of s before its
// first slice, in order.
func (h *sampleHead) paramSets(s *Sample) ([][]byte, error) {
	var out [][]byte
	err := h.walk(s, h.c.isParamSet, func(nal []byte) { out = append(out, bytes.Clone(nal)) })
	return out, err
}

// walk calls fn for each NAL unit before the first slice of s (each NAL
// unit with h.all) whose type want accepts, at most maxParamSetSize bytes
// each; nal is valid until fn returns. With a source that exposes its
// io.ReaderAt it reads a small window and then only the NAL units' length
// fields and the NAL units wanted; otherwise it reads the whole sample.
func (h *sampleHead) walk(s *Sample, want func(typ byte) bool, fn func(nal []byte)) error {
	c := h.c
	size := int64(s.Size)
	var ra io.ReaderAt
	if r, ok := h.t.Data.(interface{ ReaderAt() io.ReaderAt }); ok {
		ra = r.ReaderAt()
	}
	var whole, win []byte
	if ra != nil {
		win = make([]byte, min(size, psHeadWindow))
		if m, err := ra.ReadAt(win, s.Offset); m < len(win) {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
	} else {
		var err error
		if whole, err = h.t.Data.AppendSample(h.buf[:0], s); err != nil {
			return err
		}
		h.buf = whole
	}
	// read returns bytes [pos, pos+n) of the sample.
	read := func(pos, n int64) ([]byte, error) {
		if pos+n > size {
			return nil, fmt.Errorf("%w: NAL unit past the end of the sample", ErrMalformed)
		}
		if whole != nil {
			return whole[pos : pos+n], nil
		}
		if pos+n <= int64(len(win)) {
			return win[pos : pos+n], nil
		}
		if cap(h.buf) < int(n) {
			h.buf = make([]byte, n)
		}
		b := h.buf[:n]
		if m, err := ra.ReadAt(b, s.Offset+pos); int64(m) < n {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		return b, nil
	}
	ls := int64(c.lengthSize)
	for pos := int64(0); pos+ls+int64(c.headerLen()) <= size; {
		hdr, err := read(pos, ls+int64(c.headerLen()))
		if err != nil {
			return err
		}
		var n int64
		for _, b := range hdr[:ls] {
			n = n<<8 | int64(b)
		}
		if n < int64(c.headerLen()) || pos+ls+n > size {
			return fmt.Errorf("%w: NAL unit length %d at byte %d of a %d-byte sample", ErrMalformed, n, pos, size)
		}
		typ := c.nalType(hdr[ls:])
		if c.isVCL(typ) && !h.all {
			return nil
		}
		if want(typ) {
			if n > maxParamSetSize {
				return fmt.Errorf("%w: %d-byte NAL unit of type %d before the first slice", ErrMalformed, n, typ)
			}
			nal, err := read(pos+ls, n)
			if err != nil {
				return err
			}
			fn(nal)
		}
		pos += ls + n
	}
	return nil
}

// strippedIndex is the index of a converted track: sync samples that
// carried in-band parameter sets are smaller by their size.
type strippedIndex struct {
	inner Index
	strip map[int64]uint32 // sample offset -> bytes removed
}

func (x *strippedIndex) Len() int { return x.inner.Len() }

func (x *strippedIndex) AppendSamples(dst []Sample, from, to int) ([]Sample, error) {
	n := len(dst)
	dst, err := x.inner.AppendSamples(dst, from, to)
	if err != nil {
		return dst, err
	}
	for k := n; k < len(dst); k++ {
		if d, ok := x.strip[dst[k].Offset]; ok && dst[k].Sync {
			dst[k].Size -= d
		}
	}
	return dst, nil
}

// strippedData reads the samples of a converted track, leaving out the
// in-band parameter sets counted in strip.
type strippedData struct {
	inner SampleReader
	strip map[int64]uint32
	c     nalSyntax
}

func (d *strippedData) AppendSample(dst []byte, s *Sample) ([]byte, error) {
	cut, ok := d.strip[s.Offset]
	if !ok || !s.Sync {
		return d.inner.AppendSample(dst, s)
	}
	orig := *s
	orig.Size += cut
	n := len(dst)
	dst, err := d.inner.AppendSample(dst, &orig)
	if err != nil {
		return dst, err
	}
	if len(dst)-n != int(orig.Size) {
		return dst, nil // short read: the caller reports it
	}
	// Remove the parameter sets before the first slice, compacting in place.
	c := d.c
	ls := c.lengthSize
	w, r := n, n
	for vcl := false; r < len(dst); {
		if r+ls+c.headerLen() > len(dst) {
			return dst[:n], fmt.Errorf("%w: NAL unit past the end of sample at byte %d", ErrMalformed, s.Offset)
		}
		var l int
		for _, b := range dst[r : r+ls] {
			l = l<<8 | int(b)
		}
		end := r + ls + l
		if end > len(dst) || l < c.headerLen() {
			return dst[:n], fmt.Errorf("%w: NAL unit length %d past the end of sample at byte %d", ErrMalformed, l, s.Offset)
		}
		typ := c.nalType(dst[r+ls:])
		vcl = vcl || c.isVCL(typ)
		if vcl || !c.isParamSet(typ) {
			w += copy(dst[w:], dst[r:end])
		}
		r = end
	}
	if w-n != int(s.Size) {
		return dst[:n], fmt.Errorf("%w: sample at byte %d changed since it was indexed", ErrMalformed, s.Offset)
	}
	return dst[:w], nil
}

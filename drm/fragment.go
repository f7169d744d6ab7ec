package drm

import (
	"context"
	"crypto/cipher"
	"fmt"

	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/cmafkit/cmafkit/drm/internal/fastaes"
	"github.com/cmafkit/cmafkit/segment"
)

// maxAuxInfo is the largest per-sample auxiliary information (saiz stores
// sizes in 8 bits).
const maxAuxInfo = 255

// ProtectFragment encrypts the samples of this track in one fragment (one
// moof+mdat chunk) in place and adds the sample auxiliary information:
// senc, saiz and a saio pointing into senc, per traf and therefore correct
// for every chunk of a segment. segmentIndex is the 0-based index of the
// segment the chunk belongs to; with Config.CryptoPeriod it selects the key,
// and the traf gets seig (sgpd) + sbgp and the moof pssh boxes for it.
// firstSample is the 0-based index in the track of the fragment's first
// sample: cenc IVs are derived from it (see fragmentIV), so fragments may be
// protected in any order, and concurrently unless Sequential reports true.
//
// The mdat payload must be in memory (MdatBox.Data, or DataParts that do not
// split a sample). ProtectFragment must be the last change to the moof before
// encoding: it applies mp4ff's trun optimization itself if
// f.EncOptimize asks for it (and clears the flag), because optimizing after
// saio is computed would move senc and corrupt saio. For cbcs audio there is
// no auxiliary information (constant IV, full samples) and no senc/saiz/saio
// is written, as CMAF recommends.
func (tp *TrackProtector) ProtectFragment(ctx context.Context, f *mp4.Fragment, segmentIndex, firstSample int) error {
	if !tp.enabled {
		return nil
	}
	traf, seq, err := tp.clearTraf(f)
	if err != nil {
		return err
	}
	moof := f.Moof
	period := tp.Period(segmentIndex)
	k, err := tp.key(ctx, period)
	if err != nil {
		return err
	}
	c, err := tp.cipherFor(k)
	if err != nil {
		return err
	}
	if firstSample < 0 {
		return fmt.Errorf("drm: track %d fragment %d: first sample %d: %w", tp.trackID, seq, firstSample, ErrMalformed)
	}
	sc := tp.scratch.Get().(*fragmentScratch)
	defer tp.scratch.Put(sc)
	oldMoofSize := moof.Size()
	samples, err := sampleData(sc.samples[:0], f, traf, tp.trex, oldMoofSize)
	// Keep the slice for the next fragment, not its pointers into this mdat.
	defer func() {
		clear(samples)
		sc.samples = samples[:0]
		clear(sc.chains)
		sc.chains = sc.chains[:0]
	}()
	if err != nil {
		return fmt.Errorf("drm: track %d fragment %d: %w", tp.trackID, seq, err)
	}
	senc, saiz, err := tp.encryptSamples(ctx, c, sc, samples, firstSample, seq)
	if err != nil {
		return err
	}
	var saio *mp4.SaioBox
	if saiz.SampleCount > 0 {
		saio = mp4.NewSaioBox()
		for _, b := range []mp4.Box{saiz, saio, senc} {
			_ = traf.AddChild(b)
		}
	}
	if tp.cfg.CryptoPeriod > 0 {
		if err := tp.addKeyPeriod(moof, traf, k, period, len(samples)); err != nil {
			return err
		}
	}
	if saio != nil {
		off, ok := sencDataOffset(moof, traf, senc)
		if !ok {
			return fmt.Errorf("drm: track %d fragment %d: senc not found after insertion: %w", tp.trackID, seq, ErrMalformed)
		}
		saio.Offset[0] = int64(off)
	}
	// The moof grew: move data offsets that were already set (Encode resets
	// them anyway when mp4ff knows the write order).
	if grow := int64(moof.Size()) - int64(oldMoofSize); grow != 0 {
		for _, t := range moof.Trafs {
			for _, tr := range t.Truns {
				if tr.DataOffset != 0 {
					tr.DataOffset += int32(grow)
				}
			}
		}
	}
	return nil
}

// clearTraf returns the traf of this track in f and the fragment's sequence
// number, after checking that the fragment can be protected: one traf of
// the track, no base_data_offset, not encrypted yet. It applies mp4ff's
// trun optimization now if f asks for it (see ProtectFragment).
func (tp *TrackProtector) clearTraf(f *mp4.Fragment) (*mp4.TrafBox, uint32, error) {
	if f == nil || f.Moof == nil || f.Mdat == nil {
		return nil, 0, fmt.Errorf("drm: track %d: fragment without moof or mdat: %w", tp.trackID, ErrMalformed)
	}
	moof := f.Moof
	var traf *mp4.TrafBox
	for _, t := range moof.Trafs {
		if t.Tfhd != nil && t.Tfhd.TrackID == tp.trackID {
			traf = t
		}
	}
	seq := uint32(0)
	if moof.Mfhd != nil {
		seq = moof.Mfhd.SequenceNumber
	}
	if traf == nil {
		return nil, seq, fmt.Errorf("drm: fragment %d has no traf for track %d: %w", seq, tp.trackID, ErrMalformed)
	}
	if traf.Tfhd.HasBaseDataOffset() {
		return nil, seq, fmt.Errorf("drm: track %d fragment %d: tfhd base_data_offset: %w", tp.trackID, seq, ErrUnsupported)
	}
	if traf.Senc != nil || traf.Saiz != nil || traf.Saio != nil || traf.UUIDSenc != nil {
		return nil, seq, fmt.Errorf("drm: track %d fragment %d is already encrypted: %w", tp.trackID, seq, ErrMalformed)
	}
	if f.EncOptimize&mp4.OptimizeTrun != 0 {
		// mp4ff optimizes (only the first traf) inside Encode, after we
		// would have computed saio; do it now instead.
		if err := moof.Traf.OptimizeTfhdTrun(); err != nil {
			return nil, seq, fmt.Errorf("drm: track %d fragment %d: optimize trun: %w", tp.trackID, seq, err)
		}
		f.EncOptimize &^= mp4.OptimizeTrun
	}
	return traf, seq, nil
}

// encryptSamples encrypts the samples of one fragment in place, the first
// of them the track's sample firstSample, and returns their auxiliary
// information: the senc and saiz boxes (with no samples for cbcs audio).
func (tp *TrackProtector) encryptSamples(ctx context.Context, c *sampleCipher, sc *fragmentScratch, samples [][]byte, firstSample int, seq uint32) (*mp4.SencBox, *mp4.SaizBox, error) {
	video := tp.kind == segment.KindVideo
	cbcs := tp.cfg.Scheme == SchemeCBCS
	n := len(samples)
	senc := mp4.NewSencBox(n, n)
	saiz := mp4.NewSaizBox(n)
	// One allocation each for the fragment's IVs and subsamples: senc keeps
	// slices of them until it is encoded, so they cannot be reused across
	// fragments.
	var ivs []byte
	var stream cipher.Stream // 16-byte cenc IVs: one keystream per fragment
	ivLen := 0               // per-sample IV in senc
	var next []byte          // not cbcs: the next sample's IV
	if !cbcs {
		ivLen = len(tp.iv)
		ivs = make([]byte, n*ivLen)
		next = tp.fragmentIV(sc.iv[:0], firstSample)
		if ivLen == 16 && tp.cfg.Scheme == SchemeCENC {
			stream = c.ctrStream(&sc.cipher, next)
		}
	}
	var arena []mp4.SubSamplePattern
	if video {
		arena = make([]mp4.SubSamplePattern, 0, 2*n+4)
	}
	var err error
	for i, s := range samples {
		if i&63 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, nil, err
			}
		}
		var subs []mp4.SubSamplePattern
		if video {
			start := len(arena)
			if arena, err = tp.ranges(arena, s); err != nil {
				return nil, nil, &SampleError{Track: tp.trackID, Sequence: seq, Sample: i + 1, Err: err}
			}
			subs = arena[start:len(arena):len(arena)]
		}
		if ivLen+len(subs)*6+2 > maxAuxInfo && len(subs) > 0 {
			return nil, nil, &SampleError{Track: tp.trackID, Sequence: seq, Sample: i + 1,
				Err: fmt.Errorf("%d subsamples do not fit saiz's 8-bit sample info size: %w", len(subs), ErrUnsupported)}
		}
		var iv []byte
		switch {
		case cbcs:
			sc.chains = c.cbcsChains(sc.chains, s, subs)
		case tp.cfg.Scheme == SchemeCENS:
			iv = ivs[i*ivLen : i*ivLen+ivLen : i*ivLen+ivLen]
			copy(iv, next)
			advanceIV(next, c.cens(&sc.cipher, s, iv, subs))
		case tp.cfg.Scheme == SchemeCBC1:
			iv = ivs[i*ivLen : i*ivLen+ivLen : i*ivLen+ivLen]
			copy(iv, next)
			if err := c.cbc1(s, iv, subs); err != nil {
				return nil, nil, &SampleError{Track: tp.trackID, Sequence: seq, Sample: i + 1, Err: err}
			}
			nextIV(next, subs, len(s))
		case stream != nil:
			// With 16-byte IVs consecutive samples use consecutive counter
			// blocks (see nextIV), so one keystream serves the fragment:
			// after each sample it skips to the next sample's first block.
			iv = ivs[i*16 : i*16+16 : i*16+16]
			copy(iv, next)
			used := xorRanges(stream, s, subs)
			skip := (16 - used%16) % 16
			if used == 0 {
				skip = 16
			}
			pad := sc.cipher.pad[:skip] // scratch; a local array would escape
			stream.XORKeyStream(pad, pad)
			nextIV(next, subs, len(s))
		default:
			iv = ivs[i*ivLen : i*ivLen+ivLen : i*ivLen+ivLen]
			copy(iv, next)
			c.ctr(&sc.cipher, s, iv, subs)
			nextIV(next, subs, len(s))
		}
		if err := senc.AddSample(mp4.SencSample{IV: iv, SubSamples: subs}); err != nil {
			return nil, nil, &SampleError{Track: tp.trackID, Sequence: seq, Sample: i + 1, Err: err}
		}
		if err := saiz.AddSampleInfo(iv, subs); err != nil {
			return nil, nil, &SampleError{Track: tp.trackID, Sequence: seq, Sample: i + 1, Err: err}
		}
	}
	if cbcs {
		if err := c.key.EncryptChains((*[16]byte)(tp.iv), sc.chains); err != nil {
			return nil, nil, fmt.Errorf("drm: track %d fragment %d: %w", tp.trackID, seq, err)
		}
	}
	return senc, saiz, nil
}

// addKeyPeriod signals, under key rotation, the key of crypto period
// period in the fragment: a seig sample group entry for all n samples of
// traf (sgpd + sbgp) and, unless Config.OmitPSSH, the period's pssh boxes
// in moof.
func (tp *TrackProtector) addKeyPeriod(moof *mp4.MoofBox, traf *mp4.TrafBox, k ContentKey, period, n int) error {
	seig := &mp4.SeigSampleGroupEntry{IsProtected: 1, KID: mp4.UUID(k.KID[:])}
	seig.CryptByteBlock, seig.SkipByteBlock = byte(tp.crypt), byte(tp.skip)
	if tp.cfg.Scheme == SchemeCBCS {
		seig.ConstantIV = append([]byte(nil), tp.iv...)
	} else {
		seig.PerSampleIVSize = byte(tp.ivSize)
	}
	sgpd := &mp4.SgpdBox{Version: 1, GroupingType: "seig", DefaultLength: uint32(seig.Size()),
		SampleGroupEntries: []mp4.SampleGroupEntry{seig}}
	// 0x10001: the first entry of the sgpd in this traf (ISO/IEC 14496-12 §8.9.4).
	sbgp := &mp4.SbgpBox{GroupingType: "seig", SampleCounts: []uint32{uint32(n)}, GroupDescriptionIndices: []uint32{0x10001}}
	_ = traf.AddChild(sbgp)
	_ = traf.AddChild(sgpd)
	if tp.cfg.OmitPSSH {
		return nil
	}
	boxes, err := tp.psshBoxes(k, period)
	if err != nil {
		return err
	}
	for _, b := range boxes {
		_ = moof.AddChild(b)
	}
	return nil
}

// fragmentScratch is the reusable working memory of one ProtectFragment
// call (pooled, so concurrent calls each have their own).
type fragmentScratch struct {
	samples [][]byte
	chains  []fastaes.Chain // cbcs: the fragment's CBC chains, encrypted together
	iv      [16]byte
	cipher  cipherScratch
}

// fragmentIV appends to dst the cenc IV of the first sample of a fragment
// that starts at the track's sample firstSample (0-based). IVs follow from a
// sample's position in the track, not from the fragments protected before,
// so that any fragment can be protected alone (a just-in-time origin) or
// alongside others, and the output does not depend on the order:
//
//   - 8-byte IVs: base + firstSample, and +1 per sample (nextIV). The
//     counter block is IV||0 and counts up within the sample, so no block
//     repeats while IVs differ.
//   - 16-byte IVs: base + firstSample·2^64, then the samples of the fragment
//     follow on from the blocks each one used (nextIV). A fragment uses
//     fewer than 2^64 blocks, so fragments never share a counter block.
//
// Tracks that share a key must still not share the base IV (Config.IV).
func (tp *TrackProtector) fragmentIV(dst []byte, firstSample int) []byte {
	dst = append(dst, tp.iv...)
	// Bytes 0-7 are the whole of an 8-byte IV and the high half of a
	// 16-byte one; the sum wraps within them.
	add := uint64(firstSample)
	for i := 7; i >= 0 && add > 0; i-- {
		sum := uint64(dst[i]) + add&0xff
		dst[i] = byte(sum)
		add = add>>8 + sum>>8
	}
	return dst
}

// nextIV advances a cenc per-sample IV past a sample of size bytes with
// subsamples subs. With 8-byte IVs the counter block is IV||0 and the next
// sample's IV is IV+1; with 16-byte IVs the next IV follows the blocks this
// sample used, so no counter block is ever reused.
func nextIV(iv []byte, subs []mp4.SubSamplePattern, size int) {
	p := size
	if len(subs) > 0 {
		p = 0
		for _, s := range subs {
			p += int(s.BytesOfProtectedData)
		}
	}
	advanceIV(iv, (p+15)/16)
}

// advanceIV advances a per-sample IV past a sample that used blocks counter
// blocks: by one for 8-byte IVs (whose counter block is IV||0), by
// max(blocks, 1) for 16-byte IVs, so no counter block is ever reused.
func advanceIV(iv []byte, blocks int) {
	steps := 1
	if len(iv) == 16 {
		steps = max(blocks, 1)
	}
	for i := len(iv) - 1; i >= 0 && steps > 0; i-- {
		sum := int(iv[i]) + steps
		iv[i] = byte(sum)
		steps = sum >> 8
	}
}

// sencDataOffset returns the offset from the moof start to the first
// per-sample entry in senc (after its header, version/flags and count).
func sencDataOffset(moof *mp4.MoofBox, traf *mp4.TrafBox, senc *mp4.SencBox) (uint64, bool) {
	off := uint64(8)
	for _, c := range moof.Children {
		if c != traf {
			off += c.Size()
			continue
		}
		off += 8
		for _, tc := range traf.Children {
			if tc == senc {
				return off + 8 + 4 + 4, true
			}
			off += tc.Size()
		}
	}
	return 0, false
}

// sampleData returns the payload of each sample of traf, as slices into the
// mdat (so encryption happens in place, without copying).
// The slices are appended to out.
func sampleData(out [][]byte, f *mp4.Fragment, traf *mp4.TrafBox, trex *mp4.TrexBox, moofSize uint64) ([][]byte, error) {
	mdat := f.Mdat
	if len(mdat.Data) == 0 && len(mdat.DataParts) == 0 && mdat.GetLazyDataSize() > 0 {
		return out, fmt.Errorf("mdat payload is not in memory: %w", ErrUnsupported)
	}
	unset := false
	for _, t := range f.Moof.Trafs {
		for _, tr := range t.Truns {
			tr.AddSampleDefaultValues(t.Tfhd, trex)
			if tr.DataOffset == 0 {
				unset = true
			}
		}
	}
	if unset {
		// An in-memory fragment not yet encoded: let mp4ff lay out the data
		// as Encode will.
		f.SetTrunDataOffsets()
	}
	contiguous := int64(0)
	for _, tr := range traf.Truns {
		var pos int64
		switch {
		case tr.DataOffset == 0 && len(f.Moof.Trafs) == 1:
			pos = contiguous // mp4ff leaves offsets unset for >1 trun without write order
		case mdat.StartPos > f.Moof.StartPos:
			// Decoded from a file: absolute positions are known.
			pos = int64(f.Moof.StartPos) + int64(tr.DataOffset) - int64(mdat.PayloadAbsoluteOffset())
		default:
			pos = int64(tr.DataOffset) - int64(moofSize) - int64(mdat.HeaderSize())
		}
		for _, s := range tr.Samples {
			b, err := mdatSlice(mdat, pos, int64(s.Size))
			if err != nil {
				return out, err
			}
			out = append(out, b)
			pos += int64(s.Size)
		}
		contiguous = pos
	}
	return out, nil
}

func mdatSlice(m *mp4.MdatBox, off, size int64) ([]byte, error) {
	if off < 0 {
		return nil, fmt.Errorf("sample data at negative mdat offset %d: %w", off, ErrMalformed)
	}
	if len(m.DataParts) == 0 {
		if off+size > int64(len(m.Data)) {
			return nil, fmt.Errorf("sample data [%d,%d) beyond %d-byte mdat: %w", off, off+size, len(m.Data), ErrMalformed)
		}
		return m.Data[off : off+size : off+size], nil
	}
	start := int64(0)
	for _, p := range m.DataParts {
		end := start + int64(len(p))
		if off >= start && off < end || size == 0 && off == start {
			if off+size > end {
				return nil, fmt.Errorf("sample [%d,%d) spans mdat data parts: %w", off, off+size, ErrUnsupported)
			}
			return p[off-start : off-start+size : off-start+size], nil
		}
		start = end
	}
	return nil, fmt.Errorf("sample data at %d beyond mdat: %w", off, ErrMalformed)
}

package drm

// An independent Common Encryption decryptor, written from ISO/IEC 23001-7
// and ISO/IEC 14496-12 with encoding/binary and crypto/aes only. It parses
// boxes itself and never calls mp4ff or this package's encryption code, so
// that the encryptor is not its own judge.

import (
	"crypto/aes"
	"encoding/binary"
	"fmt"
)

type box struct {
	typ     string
	start   int // offset of the box header in the buffer
	payload []byte
}

// boxes splits b into boxes; base is b's offset in the enclosing buffer.
func boxes(b []byte, base int) ([]box, error) {
	var out []box
	for pos := 0; pos < len(b); {
		if len(b)-pos < 8 {
			return nil, fmt.Errorf("truncated box header at %d", base+pos)
		}
		size := int(binary.BigEndian.Uint32(b[pos:]))
		hdr := 8
		if size == 1 {
			size = int(binary.BigEndian.Uint64(b[pos+8:]))
			hdr = 16
		}
		if size < hdr || pos+size > len(b) {
			return nil, fmt.Errorf("box %q at %d: bad size %d", b[pos+4:pos+8], base+pos, size)
		}
		out = append(out, box{typ: string(b[pos+4 : pos+8]), start: base + pos, payload: b[pos+hdr : pos+size]})
		pos += size
	}
	return out, nil
}

func child(bs []box, typ string) (box, bool) {
	for _, b := range bs {
		if b.typ == typ {
			return b, true
		}
	}
	return box{}, false
}

func path(b []byte, types ...string) (box, error) {
	cur := box{payload: b}
	for _, t := range types {
		bs, err := boxes(cur.payload, 0)
		if err != nil {
			return box{}, err
		}
		c, ok := child(bs, t)
		if !ok {
			return box{}, fmt.Errorf("no %s box", t)
		}
		cur = c
	}
	return cur, nil
}

// cencInfo is the protection of a track as read from tenc or seig.
type cencInfo struct {
	scheme      string
	format      string // frma original format
	crypt, skip int
	protected   bool
	ivSize      int
	kid         [16]byte
	constIV     []byte
}

type initInfo struct {
	cencInfo
	entryType       string
	defaultSize     uint32 // trex default_sample_size
	psshSystems     [][16]byte
	psshKIDs        [][][16]byte
	psshData        [][]byte
	sampleEntryBody []byte
}

// parseTencLike parses the common tail of tenc and seig: reserved, pattern,
// isProtected, perSampleIVSize, KID, [constant IV].
func parseTencLike(p []byte, version byte) (cencInfo, error) {
	var c cencInfo
	if len(p) < 20 {
		return c, fmt.Errorf("short tenc/seig")
	}
	if version > 0 {
		c.crypt, c.skip = int(p[1]>>4), int(p[1]&15)
	}
	c.protected = p[2] == 1
	c.ivSize = int(p[3])
	copy(c.kid[:], p[4:20])
	if c.protected && c.ivSize == 0 {
		if len(p) < 21 || len(p) < 21+int(p[20]) {
			return c, fmt.Errorf("short constant IV")
		}
		c.constIV = append([]byte(nil), p[21:21+int(p[20])]...)
	}
	return c, nil
}

func parsePSSH(p []byte) (sys [16]byte, kids [][16]byte, data []byte, err error) {
	if len(p) < 24 {
		return sys, nil, nil, fmt.Errorf("short pssh")
	}
	version := p[0]
	copy(sys[:], p[4:20])
	pos := 20
	if version > 0 {
		n := int(binary.BigEndian.Uint32(p[pos:]))
		pos += 4
		for i := 0; i < n; i++ {
			var k [16]byte
			copy(k[:], p[pos:pos+16])
			kids = append(kids, k)
			pos += 16
		}
	}
	n := int(binary.BigEndian.Uint32(p[pos:]))
	pos += 4
	if pos+n != len(p) {
		return sys, nil, nil, fmt.Errorf("pssh data size %d does not fill box", n)
	}
	return sys, kids, p[pos:], nil
}

func parseInit(b []byte) (*initInfo, error) {
	moov, err := path(b, "moov")
	if err != nil {
		return nil, err
	}
	info := &initInfo{}
	mb, err := boxes(moov.payload, 0)
	if err != nil {
		return nil, err
	}
	for _, c := range mb {
		if c.typ == "pssh" {
			sys, kids, data, err := parsePSSH(c.payload)
			if err != nil {
				return nil, err
			}
			info.psshSystems = append(info.psshSystems, sys)
			info.psshKIDs = append(info.psshKIDs, kids)
			info.psshData = append(info.psshData, data)
		}
	}
	if trex, err := path(moov.payload, "mvex", "trex"); err == nil {
		info.defaultSize = binary.BigEndian.Uint32(trex.payload[16:])
	}
	stsd, err := path(moov.payload, "trak", "mdia", "minf", "stbl", "stsd")
	if err != nil {
		return nil, err
	}
	entries, err := boxes(stsd.payload[8:], 0)
	if err != nil || len(entries) == 0 {
		return nil, fmt.Errorf("stsd entries: %v", err)
	}
	e := entries[0]
	info.entryType = e.typ
	var skip int
	switch e.typ {
	case "encv":
		skip = 78
	case "enca":
		skip = 28
	default:
		return info, nil // clear track
	}
	info.sampleEntryBody = e.payload
	sinf, err := path(e.payload[skip:], "sinf")
	if err != nil {
		return nil, err
	}
	frma, err := path(sinf.payload, "frma")
	if err != nil {
		return nil, err
	}
	schm, err := path(sinf.payload, "schm")
	if err != nil {
		return nil, err
	}
	tenc, err := path(sinf.payload, "schi", "tenc")
	if err != nil {
		return nil, err
	}
	c, err := parseTencLike(tenc.payload[4:], tenc.payload[0])
	if err != nil {
		return nil, err
	}
	info.cencInfo = c
	info.format = string(frma.payload[:4])
	info.scheme = string(schm.payload[4:8])
	return info, nil
}

type subsample struct{ clear, prot int }

type decryptedFragment struct {
	samples     [][]byte // decrypted sample payloads
	encrypted   [][]byte // the encrypted payloads as found in mdat
	subsamples  [][]subsample
	kids        [][16]byte // KID used per sample
	ivs         [][]byte
	psshSystems [][16]byte
	psshData    [][]byte
}

// decryptFragment parses one moof+mdat and decrypts every sample of its traf.
func decryptFragment(frag []byte, in *initInfo, keys map[[16]byte][]byte) (*decryptedFragment, error) {
	top, err := boxes(frag, 0)
	if err != nil {
		return nil, err
	}
	moof, ok := child(top, "moof")
	if !ok {
		return nil, fmt.Errorf("no moof")
	}
	moofStart := moof.start
	mb, err := boxes(moof.payload, moof.start+8)
	if err != nil {
		return nil, err
	}
	out := &decryptedFragment{}
	var traf box
	for _, c := range mb {
		switch c.typ {
		case "traf":
			if traf.typ == "" { // the first traf: the protected track in these tests
				traf = c
			}
		case "pssh":
			sys, _, data, err := parsePSSH(c.payload)
			if err != nil {
				return nil, err
			}
			out.psshSystems = append(out.psshSystems, sys)
			out.psshData = append(out.psshData, data)
		}
	}
	tb, err := boxes(traf.payload, traf.start+8)
	if err != nil {
		return nil, err
	}
	tfhd, _ := child(tb, "tfhd")
	tf := binary.BigEndian.Uint32(tfhd.payload) & 0xffffff
	if tf&1 != 0 {
		return nil, fmt.Errorf("base_data_offset not handled by test decryptor")
	}
	p := 8
	if tf&2 != 0 {
		p += 4
	}
	if tf&8 != 0 {
		p += 4
	}
	defSize := in.defaultSize
	if tf&0x10 != 0 {
		defSize = binary.BigEndian.Uint32(tfhd.payload[p:])
	}
	// Samples from all truns, positioned by data_offset relative to moof.
	type rng struct{ off, size int }
	var ranges []rng
	for _, c := range tb {
		if c.typ != "trun" {
			continue
		}
		fl := binary.BigEndian.Uint32(c.payload) & 0xffffff
		n := int(binary.BigEndian.Uint32(c.payload[4:]))
		q := 8
		off := 0
		if fl&1 != 0 {
			off = int(int32(binary.BigEndian.Uint32(c.payload[q:])))
			q += 4
		}
		if fl&4 != 0 {
			q += 4
		}
		pos := moofStart + off
		for i := 0; i < n; i++ {
			size := int(defSize)
			if fl&0x100 != 0 {
				q += 4
			}
			if fl&0x200 != 0 {
				size = int(binary.BigEndian.Uint32(c.payload[q:]))
				q += 4
			}
			if fl&0x400 != 0 {
				q += 4
			}
			if fl&0x800 != 0 {
				q += 4
			}
			ranges = append(ranges, rng{pos, size})
			pos += size
		}
	}
	// Per-sample CENC parameters: tenc, overridden through sbgp/sgpd 'seig'.
	params := make([]cencInfo, len(ranges))
	for i := range params {
		params[i] = in.cencInfo
	}
	if sbgp, ok := child(tb, "sbgp"); ok && string(sbgp.payload[4:8]) == "seig" {
		sgpd, ok := child(tb, "sgpd")
		if !ok || string(sgpd.payload[4:8]) != "seig" || sgpd.payload[0] != 1 {
			return nil, fmt.Errorf("sbgp seig without traf sgpd v1 seig")
		}
		defLen := int(binary.BigEndian.Uint32(sgpd.payload[8:]))
		cnt := int(binary.BigEndian.Uint32(sgpd.payload[12:]))
		var seigs []cencInfo
		q := 16
		for i := 0; i < cnt; i++ {
			l := defLen
			if l == 0 {
				l = int(binary.BigEndian.Uint32(sgpd.payload[q:]))
				q += 4
			}
			c, err := parseTencLike(sgpd.payload[q:q+l], 1)
			if err != nil {
				return nil, err
			}
			seigs = append(seigs, c)
			q += l
		}
		ec := int(binary.BigEndian.Uint32(sbgp.payload[8:]))
		s := 0
		for i := 0; i < ec; i++ {
			n := int(binary.BigEndian.Uint32(sbgp.payload[12+8*i:]))
			idx := int(binary.BigEndian.Uint32(sbgp.payload[16+8*i:]))
			for j := 0; j < n && s < len(params); j, s = j+1, s+1 {
				switch {
				case idx > 0x10000:
					params[s] = seigs[idx-0x10001]
				case idx == 0:
				default:
					return nil, fmt.Errorf("seig index %d refers to the init segment", idx)
				}
			}
		}
	}
	// Auxiliary information: located through saio/saiz, cross-checked with senc.
	aux := make([][]byte, len(ranges))
	if saiz, ok := child(tb, "saiz"); ok {
		saio, ok := child(tb, "saio")
		if !ok {
			return nil, fmt.Errorf("saiz without saio")
		}
		q := 4
		if binary.BigEndian.Uint32(saiz.payload)&1 != 0 {
			q += 8
		}
		def := int(saiz.payload[q])
		n := int(binary.BigEndian.Uint32(saiz.payload[q+1:]))
		if n != len(ranges) {
			return nil, fmt.Errorf("saiz count %d, %d samples", n, len(ranges))
		}
		q2 := 4
		if binary.BigEndian.Uint32(saio.payload)&1 != 0 {
			q2 += 8
		}
		if binary.BigEndian.Uint32(saio.payload[q2:]) != 1 {
			return nil, fmt.Errorf("saio entry count != 1")
		}
		var off int
		if saio.payload[0] == 0 {
			off = int(binary.BigEndian.Uint32(saio.payload[q2+4:]))
		} else {
			off = int(binary.BigEndian.Uint64(saio.payload[q2+4:]))
		}
		pos := moofStart + off
		senc, ok := child(tb, "senc")
		if !ok {
			return nil, fmt.Errorf("saio without senc")
		}
		sencData := senc.start + 8 + 8
		if pos != sencData {
			return nil, fmt.Errorf("saio points at %d, senc sample data starts at %d", pos, sencData)
		}
		for i := range aux {
			sz := def
			if def == 0 {
				sz = int(saiz.payload[q+5+i])
			}
			aux[i] = frag[pos : pos+sz]
			pos += sz
		}
		if pos != senc.start+8+len(senc.payload) {
			return nil, fmt.Errorf("aux info ends at %d, senc ends at %d", pos, senc.start+8+len(senc.payload))
		}
		if int(binary.BigEndian.Uint32(senc.payload[4:])) != len(ranges) {
			return nil, fmt.Errorf("senc sample count mismatch")
		}
	} else if _, ok := child(tb, "senc"); ok {
		return nil, fmt.Errorf("senc without saiz")
	}
	for i, r := range ranges {
		c := params[i]
		if r.off+r.size > len(frag) {
			return nil, fmt.Errorf("sample %d beyond fragment", i)
		}
		enc := frag[r.off : r.off+r.size]
		dec := append([]byte(nil), enc...)
		out.encrypted = append(out.encrypted, enc)
		out.kids = append(out.kids, c.kid)
		if !c.protected {
			out.samples = append(out.samples, dec)
			out.subsamples = append(out.subsamples, nil)
			out.ivs = append(out.ivs, nil)
			continue
		}
		a := aux[i]
		iv := c.constIV
		if c.ivSize > 0 {
			if len(a) < c.ivSize {
				return nil, fmt.Errorf("sample %d: no IV in aux info", i)
			}
			iv = a[:c.ivSize]
			a = a[c.ivSize:]
		}
		var subs []subsample
		if len(a) > 0 {
			n := int(binary.BigEndian.Uint16(a))
			if len(a) != 2+6*n {
				return nil, fmt.Errorf("sample %d: aux info size %d for %d subsamples", i, len(a), n)
			}
			total := 0
			for j := 0; j < n; j++ {
				s := subsample{int(binary.BigEndian.Uint16(a[2+6*j:])), int(binary.BigEndian.Uint32(a[4+6*j:]))}
				subs = append(subs, s)
				total += s.clear + s.prot
			}
			if total != r.size {
				return nil, fmt.Errorf("sample %d: subsamples cover %d of %d bytes", i, total, r.size)
			}
		}
		key, ok := keys[c.kid]
		if !ok {
			return nil, fmt.Errorf("sample %d: no key for KID %x", i, c.kid)
		}
		blk, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		switch in.scheme {
		case "cenc":
			// One AES-CTR keystream over the concatenated protected bytes.
			var ctr [16]byte
			copy(ctr[:], iv)
			var ks [16]byte
			used := 16
			xor := func(b []byte) {
				for k := range b {
					if used == 16 {
						blk.Encrypt(ks[:], ctr[:])
						for m := 15; m >= 0; m-- {
							ctr[m]++
							if ctr[m] != 0 {
								break
							}
						}
						used = 0
					}
					b[k] ^= ks[used]
					used++
				}
			}
			if subs == nil {
				xor(dec)
			} else {
				pos := 0
				for _, s := range subs {
					pos += s.clear
					xor(dec[pos : pos+s.prot])
					pos += s.prot
				}
			}
		case "cbcs":
			// Each protected range restarts from the constant IV; crypt:skip
			// pattern (0:0 = every block); trailing partial block clear.
			dr := func(b []byte) {
				prev := append([]byte(nil), iv...)
				full := len(b) / 16
				period := c.crypt + c.skip
				var tmp [16]byte
				for blkN := 0; blkN < full; blkN++ {
					if period > 0 && blkN%period >= c.crypt {
						continue
					}
					ct := append([]byte(nil), b[16*blkN:16*blkN+16]...)
					blk.Decrypt(tmp[:], ct)
					for m := 0; m < 16; m++ {
						b[16*blkN+m] = tmp[m] ^ prev[m]
					}
					prev = ct
				}
			}
			if subs == nil {
				dr(dec)
			} else {
				pos := 0
				for _, s := range subs {
					pos += s.clear
					dr(dec[pos : pos+s.prot])
					pos += s.prot
				}
			}
		case "cens":
			// AES-CTR under the pattern: the counter runs on over the
			// encrypted blocks of the whole sample; each protected range
			// starts the pattern again; partial blocks stay clear.
			var ctr [16]byte
			copy(ctr[:], iv)
			var ks [16]byte
			period := c.crypt + c.skip
			dr := func(b []byte) {
				for blkN := 0; blkN < len(b)/16 || period == 0 && blkN*16 < len(b); blkN++ {
					if period > 0 && blkN%period >= c.crypt {
						continue
					}
					blk.Encrypt(ks[:], ctr[:])
					for m := 15; m >= 0; m-- {
						ctr[m]++
						if ctr[m] != 0 {
							break
						}
					}
					end := min(16*blkN+16, len(b))
					for m := 16 * blkN; m < end; m++ {
						b[m] ^= ks[m-16*blkN]
					}
				}
			}
			if period == 0 && subs != nil {
				// No pattern: one keystream over the concatenated ranges, as cenc.
				var all []byte
				pos := 0
				for _, s := range subs {
					pos += s.clear
					all = append(all, dec[pos:pos+s.prot]...)
					pos += s.prot
				}
				dr(all)
				pos = 0
				for _, s := range subs {
					pos += s.clear
					pos += copy(dec[pos:pos+s.prot], all[:s.prot])
					all = all[s.prot:]
				}
			} else if subs == nil {
				dr(dec)
			} else {
				pos := 0
				for _, s := range subs {
					pos += s.clear
					dr(dec[pos : pos+s.prot])
					pos += s.prot
				}
			}
		case "cbc1":
			// One CBC chain per sample from its IV over the whole blocks of
			// every protected range in turn; partial blocks stay clear.
			if len(iv) != 16 {
				return nil, fmt.Errorf("sample %d: cbc1 IV of %d bytes", i, len(iv))
			}
			prev := append([]byte(nil), iv...)
			var tmp [16]byte
			dr := func(b []byte) {
				for blkN := 0; blkN < len(b)/16; blkN++ {
					ct := append([]byte(nil), b[16*blkN:16*blkN+16]...)
					blk.Decrypt(tmp[:], ct)
					for m := 0; m < 16; m++ {
						b[16*blkN+m] = tmp[m] ^ prev[m]
					}
					prev = ct
				}
			}
			if subs == nil {
				dr(dec)
			} else {
				pos := 0
				for _, s := range subs {
					pos += s.clear
					dr(dec[pos : pos+s.prot])
					pos += s.prot
				}
			}
		default:
			return nil, fmt.Errorf("scheme %q", in.scheme)
		}
		out.samples = append(out.samples, dec)
		out.subsamples = append(out.subsamples, subs)
		out.ivs = append(out.ivs, append([]byte(nil), iv...))
	}
	return out, nil
}

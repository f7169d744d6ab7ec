package drm

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"

	"github.com/Eyevinn/mp4ff/mp4"
)

// sampleCipher encrypts samples in place. The AES key schedule is built once
// per key (mp4ff's CryptSampleCenc rebuilds it for every sample). It holds
// no mutable state, so concurrent fragments share it; their working memory
// is a cipherScratch each.
type sampleCipher struct {
	block       cipher.Block
	crypt, skip int // cbcs pattern in 16-byte blocks; 0:0 means every block
}

// cipherScratch is the working memory of one fragment's encryption.
type cipherScratch struct {
	// ctrIV is the counter block handed to cipher.NewCTR, which copies it;
	// a field because a local would escape to the heap.
	ctrIV [16]byte
	ks    [smallCTR + 16]byte // keystream scratch for small samples
}

func newSampleCipher(key Key, crypt, skip int) (*sampleCipher, error) {
	b, err := aes.NewCipher(key.b[:])
	if err != nil {
		return nil, err
	}
	return &sampleCipher{block: b, crypt: crypt, skip: skip}, nil
}

// ctrStream returns an AES-CTR keystream starting at counter block iv,
// padded with zeros when the IV has 8 bytes.
func (c *sampleCipher) ctrStream(sc *cipherScratch, iv []byte) cipher.Stream {
	sc.ctrIV = [16]byte{}
	copy(sc.ctrIV[:], iv)
	// crypto/cipher's AES-CTR runs 8 blocks at a time in assembly (~8 GB/s
	// here) but each stream costs a 512-byte allocation (~200 ns); see ctr.
	return cipher.NewCTR(c.block, sc.ctrIV[:])
}

// smallCTR is the protected size up to which ctr computes the keystream
// block by block (~8 ns a block, the calls overlap as the counter blocks
// are independent) instead of allocating a crypto/cipher stream: most
// audio frames are below it.
const smallCTR = 384

// ctr encrypts the protected ranges of sample with AES-CTR. The keystream
// runs continuously across the protected ranges of one sample (ISO/IEC
// 23001-7 §10.1); the counter block is the IV followed by zeros when the IV
// has 8 bytes. No subsamples means the whole sample is protected.
func (c *sampleCipher) ctr(sc *cipherScratch, sample []byte, iv []byte, subs []mp4.SubSamplePattern) {
	n := len(sample)
	if len(subs) > 0 {
		n = 0
		for _, ss := range subs {
			n += int(ss.BytesOfProtectedData)
		}
	}
	if n > smallCTR {
		xorRanges(c.ctrStream(sc, iv), sample, subs)
		return
	}
	ks := c.keystream(sc, iv, n)
	if len(subs) == 0 {
		subtle.XORBytes(sample, sample, ks)
		return
	}
	pos := 0
	for _, ss := range subs {
		pos += int(ss.BytesOfClearData)
		p := int(ss.BytesOfProtectedData)
		subtle.XORBytes(sample[pos:pos+p], sample[pos:pos+p], ks[:p])
		pos += p
		ks = ks[p:]
	}
}

// keystream returns n <= smallCTR bytes of AES-CTR keystream from counter
// block iv (zero-padded), in sc.
func (c *sampleCipher) keystream(sc *cipherScratch, iv []byte, n int) []byte {
	var ctr [16]byte
	copy(ctr[:], iv)
	hi, lo := binary.BigEndian.Uint64(ctr[:8]), binary.BigEndian.Uint64(ctr[8:])
	blocks := (n + 15) / 16
	ks := sc.ks[:blocks*16]
	for j := 0; j < blocks; j++ {
		b := ks[16*j : 16*j+16 : 16*j+16]
		binary.BigEndian.PutUint64(b[:8], hi)
		binary.BigEndian.PutUint64(b[8:], lo)
		if lo++; lo == 0 {
			hi++ // the counter is 128 bits wide
		}
	}
	for j := 0; j < blocks; j++ {
		b := ks[16*j : 16*j+16 : 16*j+16]
		c.block.Encrypt(b, b)
	}
	return ks[:n]
}

// xorRanges applies s to the protected ranges of sample (all of it without
// subsamples) and returns the number of keystream bytes used.
func xorRanges(s cipher.Stream, sample []byte, subs []mp4.SubSamplePattern) int {
	if len(subs) == 0 {
		s.XORKeyStream(sample, sample)
		return len(sample)
	}
	pos, used := 0, 0
	for _, ss := range subs {
		pos += int(ss.BytesOfClearData)
		n := int(ss.BytesOfProtectedData)
		if n > 0 {
			s.XORKeyStream(sample[pos:pos+n], sample[pos:pos+n])
			pos += n
			used += n
		}
	}
	return used
}

// cbcs encrypts with AES-CBC and the constant IV. Each protected range
// (subsample) restarts the chain from the constant IV; within it, crypt
// blocks are encrypted and skip blocks left clear, and a trailing partial
// block is always clear (ISO/IEC 23001-7 §10.4). No subsamples means the
// whole sample is one range.
func (c *sampleCipher) cbcs(sample []byte, iv []byte, subs []mp4.SubSamplePattern) {
	if len(subs) == 0 {
		c.cbcsRange(sample, iv)
		return
	}
	pos := 0
	for _, ss := range subs {
		pos += int(ss.BytesOfClearData)
		n := int(ss.BytesOfProtectedData)
		if n > 0 {
			c.cbcsRange(sample[pos:pos+n], iv)
			pos += n
		}
	}
}

func (c *sampleCipher) cbcsRange(data []byte, iv []byte) {
	full := len(data) &^ 15
	if full < 16 || len(iv) < 16 {
		return
	}
	// CBC by hand: the chain runs over the encrypted blocks only (the skip
	// blocks between them are not part of it), so crypto/cipher's CBC mode
	// would need the crypt blocks gathered, and Go's AES-CBC encrypter is a
	// loop over single-block encryption anyway. The chain is serial, so
	// this is bound by AES latency (~14 ns a block here). prev points at
	// the previous ciphertext instead of copying it, and the XOR is one
	// 16-byte store that the Encrypt load can forward from.
	prev := iv[:16:16]
	run, step := full, full // 0:0 pattern: every block
	if c.crypt > 0 && c.skip > 0 {
		run, step = c.crypt*16, (c.crypt+c.skip)*16
	}
	for pos := 0; pos < full; pos += step {
		end := min(pos+run, full)
		for b := pos; b < end; b += 16 {
			blk := data[b : b+16 : b+16]
			subtle.XORBytes(blk, blk, prev)
			c.block.Encrypt(blk, blk)
			prev = blk
		}
	}
}

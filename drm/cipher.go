package drm

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"

	"github.com/Eyevinn/mp4ff/mp4"
)

// sampleCipher encrypts samples in place. The AES key schedule is built once
// per key (mp4ff's CryptSampleCenc rebuilds it for every sample).
type sampleCipher struct {
	block       cipher.Block
	crypt, skip int // cbcs pattern in 16-byte blocks; 0:0 means every block
}

func newSampleCipher(key Key, crypt, skip int) (*sampleCipher, error) {
	b, err := aes.NewCipher(key.b[:])
	if err != nil {
		return nil, err
	}
	return &sampleCipher{block: b, crypt: crypt, skip: skip}, nil
}

// ctr encrypts the protected ranges of sample with AES-CTR. The keystream
// runs continuously across the protected ranges of one sample (ISO/IEC
// 23001-7 §10.1); the counter block is the IV followed by zeros when the IV
// has 8 bytes. No subsamples means the whole sample is protected.
func (c *sampleCipher) ctr(sample []byte, iv []byte, subs []mp4.SubSamplePattern) {
	var ctrIV [16]byte
	copy(ctrIV[:], iv)
	s := cipher.NewCTR(c.block, ctrIV[:])
	if len(subs) == 0 {
		s.XORKeyStream(sample, sample)
		return
	}
	pos := 0
	for _, ss := range subs {
		pos += int(ss.BytesOfClearData)
		n := int(ss.BytesOfProtectedData)
		if n > 0 {
			s.XORKeyStream(sample[pos:pos+n], sample[pos:pos+n])
			pos += n
		}
	}
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
	if full == 0 {
		return
	}
	// CBC by hand: crypto/cipher's AES CBC encrypter cannot be re-keyed
	// with a new IV, and allocating one per subsample costs more than the
	// chaining itself (which is serial either way).
	var prev [16]byte
	copy(prev[:], iv)
	run, step := full, full // 0:0 pattern: every block
	if c.crypt > 0 && c.skip > 0 {
		run, step = c.crypt*16, (c.crypt+c.skip)*16
	}
	for pos := 0; pos < full; pos += step {
		end := min(pos+run, full)
		for b := pos; b < end; b += 16 {
			blk := data[b : b+16]
			subtle.XORBytes(blk, blk, prev[:])
			c.block.Encrypt(blk, blk)
			copy(prev[:], blk)
		}
	}
}

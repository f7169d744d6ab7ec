package drm

import (
	"crypto/cipher"
	"fmt"

	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/cmafkit/cmafkit/drm/internal/fastaes"
)

// sampleCipher encrypts samples in place. The AES key schedule is built once
// per key (mp4ff's CryptSampleCenc rebuilds it for every sample). It holds
// no mutable state, so concurrent fragments share it; their working memory
// is a cipherScratch each.
type sampleCipher struct {
	key         *fastaes.Key
	crypt, skip int // cbcs/cens pattern in 16-byte blocks; 0:0 means every block
}

// cipherScratch is the working memory of one fragment's encryption.
type cipherScratch struct {
	// stream is reset for each keystream instead of allocating one, as
	// crypto/cipher.NewCTR does (~200 ns, noticeable per audio frame).
	stream fastaes.CTR
	pad    [16]byte // keystream skipped to the next block boundary
}

func newSampleCipher(key Key, crypt, skip int) (*sampleCipher, error) {
	if crypt > 1 {
		return nil, fmt.Errorf("drm: pattern %d:%d: %w", crypt, skip, ErrUnsupported)
	}
	k, err := fastaes.NewKey(key.b[:])
	if err != nil {
		return nil, err
	}
	return &sampleCipher{key: k, crypt: crypt, skip: skip}, nil
}

// ctrStream returns an AES-CTR keystream starting at counter block iv,
// padded with zeros when the IV has 8 bytes. It lives in sc until the
// next call.
func (c *sampleCipher) ctrStream(sc *cipherScratch, iv []byte) cipher.Stream {
	var ctr [16]byte
	copy(ctr[:], iv)
	sc.stream.Reset(c.key, &ctr)
	return &sc.stream
}

// ctr encrypts the protected ranges of sample with AES-CTR. The keystream
// runs continuously across the protected ranges of one sample (ISO/IEC
// 23001-7 §10.1); the counter block is the IV followed by zeros when the IV
// has 8 bytes. No subsamples means the whole sample is protected.
func (c *sampleCipher) ctr(sc *cipherScratch, sample []byte, iv []byte, subs []mp4.SubSamplePattern) {
	xorRanges(c.ctrStream(sc, iv), sample, subs)
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

// cbcsChains appends to dst the CBC chains of sample's protected ranges,
// for fastaes to encrypt with the constant IV. Each protected range
// (subsample) is one chain restarting from the IV; within it, crypt blocks
// are encrypted and skip blocks left clear, and a trailing partial block is
// always clear (ISO/IEC 23001-7 §10.4). No subsamples means the whole
// sample is one range. The chain runs over the encrypted blocks only, so
// with the 1:9 pattern it is every tenth block (Stride 160); with 0:0 every
// block. Chains of a whole fragment are encrypted together, several at a
// time, because one chain alone is bound by AES latency (see fastaes).
func (c *sampleCipher) cbcsChains(dst []fastaes.Chain, sample []byte, subs []mp4.SubSamplePattern) []fastaes.Chain {
	if len(subs) == 0 {
		return c.cbcsChain(dst, sample)
	}
	pos := 0
	for _, ss := range subs {
		pos += int(ss.BytesOfClearData)
		n := int(ss.BytesOfProtectedData)
		dst = c.cbcsChain(dst, sample[pos:pos+n])
		pos += n
	}
	return dst
}

func (c *sampleCipher) cbcsChain(dst []fastaes.Chain, data []byte) []fastaes.Chain {
	full := len(data) &^ 15
	if full < 16 {
		return dst
	}
	if c.crypt > 0 && c.skip > 0 {
		// Only 1:N patterns are configured (NewTrackProtector), so a chain
		// is one block every (1+N)·16 bytes.
		step := (c.crypt + c.skip) * 16
		return append(dst, fastaes.Chain{Data: data[:full], Stride: step, Blocks: (full + step - 16) / step})
	}
	return append(dst, fastaes.Chain{Data: data[:full], Stride: 16, Blocks: full / 16})
}

// cens encrypts the protected ranges of sample with AES-CTR under the
// pattern (ISO/IEC 23001-7 §9.6, §10.3) and returns the number of counter
// blocks used. The counter block starts at iv (zero-padded when it has 8
// bytes) and advances over encrypted blocks only, continuously across the
// sample's subsamples; the pattern restarts at each protected range, and a
// partial block at a range's end stays clear. Without a pattern (0:0,
// audio) it is cenc's whole-range CTR.
func (c *sampleCipher) cens(sc *cipherScratch, sample, iv []byte, subs []mp4.SubSamplePattern) int {
	s := c.ctrStream(sc, iv)
	if c.crypt == 0 || c.skip == 0 {
		return (xorRanges(s, sample, subs) + 15) / 16
	}
	if len(subs) == 0 {
		return c.censRange(s, sample)
	}
	pos, blocks := 0, 0
	for _, ss := range subs {
		pos += int(ss.BytesOfClearData)
		n := int(ss.BytesOfProtectedData)
		blocks += c.censRange(s, sample[pos:pos+n])
		pos += n
	}
	return blocks
}

// censRange applies the pattern to one protected range.
func (c *sampleCipher) censRange(s cipher.Stream, data []byte) int {
	full := len(data) / 16
	period := c.crypt + c.skip
	blocks := 0
	for b := 0; b < full; b += period {
		n := min(c.crypt, full-b)
		r := data[16*b : 16*(b+n)]
		s.XORKeyStream(r, r)
		blocks += n
	}
	return blocks
}

// cbc1 encrypts the protected ranges of sample with AES-CBC (ISO/IEC
// 23001-7 §10.2): one chain from iv over the whole 16-byte blocks of every
// range, carried on from one range to the next; a partial block at a
// range's end stays clear. No subsamples means the whole sample is one
// range (audio: its trailing partial block stays clear).
func (c *sampleCipher) cbc1(sample, iv []byte, subs []mp4.SubSamplePattern) error {
	var prev [16]byte
	copy(prev[:], iv)
	chain := func(data []byte) error {
		full := len(data) &^ 15
		if full == 0 {
			return nil
		}
		if err := c.key.EncryptChains(&prev, []fastaes.Chain{{Data: data[:full], Stride: 16, Blocks: full / 16}}); err != nil {
			return err
		}
		copy(prev[:], data[full-16:full])
		return nil
	}
	if len(subs) == 0 {
		return chain(sample)
	}
	pos := 0
	for _, ss := range subs {
		pos += int(ss.BytesOfClearData)
		n := int(ss.BytesOfProtectedData)
		if err := chain(sample[pos : pos+n]); err != nil {
			return err
		}
		pos += n
	}
	return nil
}

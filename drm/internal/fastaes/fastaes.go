// Package fastaes runs the two AES-128 modes of CENC faster than
// crypto/aes does on amd64, with crypto/aes as the fallback and the
// reference everywhere else.
//
//   - CBC (cbcs): many independent chains at once ("multi-buffer").
//   - CTR (cenc): sixteen counter blocks at a time with 512-bit VAES.
//
// A CBC chain is serial: each block waits for the previous ciphertext, so
// one chain runs at the latency of AES (~40 cycles a block with AES-NI),
// while the hardware could start a new block every cycle or two. A cbcs
// fragment holds many chains (one per protected range of each sample, each
// restarting from the constant IV), so this package runs eight of them side
// by side, one AES round of all eight at a time. On amd64 with AES-NI that is
// about eight times the throughput of one chain through crypto/aes, which
// also pays a call per block.
//
// crypto/aes's CTR runs eight blocks at a time through 128-bit AES-NI
// (~8.8 GB/s on the machine in bench/README.md); with VAES on ZMM registers
// one instruction does four blocks (~19 GB/s there).
package fastaes

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"math/bits"
)

// Chain is one CBC chain to encrypt in place: Blocks blocks of 16 bytes at
// Data[0:16], Data[Stride:Stride+16], Data[2·Stride:], and so on. A cbcs
// pattern of one encrypted block in ten is Stride 160; whole-sample CBC is
// Stride 16.
type Chain struct {
	Data   []byte
	Stride int
	Blocks int
}

// ErrChain reports a chain whose blocks do not fit its Data, or whose Stride
// is not a positive multiple of 16.
var ErrChain = errors.New("fastaes: chain outside its data")

// Key is an expanded AES-128 key. It holds no mutable state and is safe for
// concurrent use.
type Key struct {
	block  cipher.Block // the portable path, and the reference
	rk     []byte       // 11 round keys, 16-byte aligned, when the assembly runs
	vaesOK bool         // CTR may use ctrVAES
}

// NewKey expands a 16-byte AES key.
func NewKey(key []byte) (*Key, error) {
	if len(key) != 16 {
		return nil, aes.KeySizeError(len(key))
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	k := &Key{block: b}
	if haveAsm {
		k.rk = expand(key)
		k.vaesOK = haveVAES
	}
	return k, nil
}

// check validates chains before any byte is touched, so a bad chain leaves
// every chain unencrypted rather than some.
func check(chains []Chain) error {
	for _, c := range chains {
		if c.Blocks < 0 || c.Stride < 16 || c.Stride%16 != 0 {
			return ErrChain
		}
		if c.Blocks > 0 && (len(c.Data) < 16 || c.Blocks-1 > (len(c.Data)-16)/c.Stride) {
			return ErrChain
		}
	}
	return nil
}

// EncryptChains encrypts every chain in place with AES-128-CBC, each one
// starting from iv. The chains must not overlap each other or iv. The
// result is the same as encrypting them one after the other, in any order.
func (k *Key) EncryptChains(iv *[16]byte, chains []Chain) error {
	if err := check(chains); err != nil {
		return err
	}
	if k.rk != nil {
		k.lanes(iv, chains)
		return nil
	}
	for _, c := range chains {
		k.chain(iv, c)
	}
	return nil
}

// chain encrypts one chain through crypto/aes, a block at a time.
func (k *Key) chain(iv *[16]byte, c Chain) {
	prev := iv[:]
	for b := 0; b < c.Blocks; b++ {
		blk := c.Data[b*c.Stride : b*c.Stride+16 : b*c.Stride+16]
		subtle.XORBytes(blk, blk, prev)
		k.block.Encrypt(blk, blk)
		prev = blk
	}
}

// CTR is an AES-CTR keystream (a cipher.Stream) with a 128-bit big-endian
// counter, as crypto/cipher.NewCTR makes, but reusable: Reset starts it
// again without allocating. The zero value is not usable; call Reset.
type CTR struct {
	k   *Key
	ctr [16]byte // the next counter block
	ks  [16]byte // keystream of the block before ctr
	off int      // bytes of ks already used; 16 when none are left
	// std is the portable path's crypto/cipher stream, once a run was
	// long enough to pay for its allocation; it then takes every byte.
	std cipher.Stream
}

// Reset makes s the keystream of k starting at counter block iv.
func (s *CTR) Reset(k *Key, iv *[16]byte) {
	s.k, s.ctr, s.off, s.std = k, *iv, 16, nil
}

// XORKeyStream XORs src with the keystream into dst, like
// cipher.Stream.XORKeyStream: dst must be at least as long as src, and
// may be src itself.
func (s *CTR) XORKeyStream(dst, src []byte) {
	if len(dst) < len(src) {
		panic("fastaes: output smaller than input")
	}
	dst = dst[:len(src)]
	if s.std != nil {
		s.std.XORKeyStream(dst, src)
		return
	}
	for s.off < 16 && len(src) > 0 {
		dst[0] = src[0] ^ s.ks[s.off]
		dst, src = dst[1:], src[1:]
		s.off++
	}
	if n := len(src) / 16; n > 0 && s.k.vaesOK {
		done := s.vaes(dst, src, n)
		dst, src = dst[16*done:], src[16*done:]
	} else if n >= portableStreamBlocks {
		// crypto/cipher's stream costs an allocation (~200 ns); below
		// this many blocks one Encrypt a block (~8 ns, independent blocks
		// overlap) is cheaper.
		s.std = cipher.NewCTR(s.k.block, s.ctr[:])
		s.std.XORKeyStream(dst, src)
		return
	}
	for len(src) > 0 {
		s.k.block.Encrypt(s.ks[:], s.ctr[:])
		s.inc(1)
		n := subtle.XORBytes(dst, src, s.ks[:])
		dst, src = dst[n:], src[n:]
		s.off = n
	}
}

// portableStreamBlocks is the smallest run for which the portable path
// uses a crypto/cipher CTR stream.
const portableStreamBlocks = 24

// inc adds n to the 128-bit big-endian counter.
func (s *CTR) inc(n uint64) {
	lo, carry := bits.Add64(binary.BigEndian.Uint64(s.ctr[8:]), n, 0)
	binary.BigEndian.PutUint64(s.ctr[8:], lo)
	binary.BigEndian.PutUint64(s.ctr[:8], binary.BigEndian.Uint64(s.ctr[:8])+carry)
}

// vaes XORs up to n whole blocks of keystream into dst and returns how many
// it did (a multiple of 4), advancing the counter; the caller does the rest
// block by block.
func (s *CTR) vaes(dst, src []byte, n int) int {
	done := 0
	for n-done >= 4 {
		// The assembly counts in the low 64 bits only: stop at a wrap.
		room := -binary.BigEndian.Uint64(s.ctr[8:]) // blocks before the wrap; 0 means 2^64
		m := (n - done) &^ 3
		if room != 0 && uint64(m) > room {
			m = int(room) &^ 3
		}
		if m == 0 {
			return done // within 4 blocks of a wrap: block by block
		}
		ctrVAES(&s.k.rk[0], &s.ctr, &dst[16*done], &src[16*done], m)
		s.inc(uint64(m))
		done += m
	}
	return done
}

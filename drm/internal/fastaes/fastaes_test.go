package fastaes

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"math/rand/v2"
	"testing"
)

// referenceCBC encrypts one chain with crypto/cipher's CBC mode over the
// chain's blocks gathered in order, then scattered back: a different route
// to the same result.
func referenceCBC(t testing.TB, key []byte, iv [16]byte, c Chain) {
	b, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	g := make([]byte, 16*c.Blocks)
	for i := 0; i < c.Blocks; i++ {
		copy(g[16*i:], c.Data[i*c.Stride:i*c.Stride+16])
	}
	cipher.NewCBCEncrypter(b, iv[:]).CryptBlocks(g, g)
	for i := 0; i < c.Blocks; i++ {
		copy(c.Data[i*c.Stride:], g[16*i:16*i+16])
	}
}

// randomChains lays n chains with random strides and lengths out in one
// buffer, with gaps between them, and returns them with a copy of the buffer.
func randomChains(r *rand.Rand, n int) ([]Chain, []byte) {
	total := 0
	type spec struct{ off, stride, blocks, size int }
	var specs []spec
	for i := 0; i < n; i++ {
		stride := 16 * (1 + r.IntN(12))
		blocks := r.IntN(40)
		if r.IntN(10) == 0 {
			blocks = 300 + r.IntN(300) // an I-frame among P-frames
		}
		size := 0
		if blocks > 0 {
			size = (blocks-1)*stride + 16 + r.IntN(stride) // a clear tail
		}
		specs = append(specs, spec{total, stride, blocks, size})
		total += size + r.IntN(7)
	}
	buf := make([]byte, total)
	for i := range buf {
		buf[i] = byte(r.Uint32())
	}
	chains := make([]Chain, n)
	for i, s := range specs {
		chains[i] = Chain{Data: buf[s.off : s.off+s.size], Stride: s.stride, Blocks: s.blocks}
	}
	return chains, buf
}

func TestEncryptChainsMatchesCBC(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 200; trial++ {
		key := make([]byte, 16)
		for i := range key {
			key[i] = byte(r.Uint32())
		}
		var iv [16]byte
		for i := range iv {
			iv[i] = byte(r.Uint32())
		}
		n := r.IntN(30)
		chains, buf := randomChains(r, n)
		want := bytes.Clone(buf)
		wantChains := rebase(chains, buf, want)
		for _, c := range wantChains {
			referenceCBC(t, key, iv, c)
		}
		k, err := NewKey(key)
		if err != nil {
			t.Fatal(err)
		}
		// Shuffled: the order of the chains must not matter.
		r.Shuffle(len(chains), func(i, j int) { chains[i], chains[j] = chains[j], chains[i] })
		if err := k.EncryptChains(&iv, chains); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf, want) {
			t.Fatalf("trial %d (%d chains, assembly %v): output differs from crypto/cipher CBC at byte %d", trial, n, k.rk != nil, firstDiff(buf, want))
		}
	}
}

// TestPortablePath runs the crypto/aes fallback on the same cases, so the
// path other architectures take is tested here too.
func TestPortablePath(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	key := []byte("0123456789abcdef")
	var iv [16]byte
	chains, buf := randomChains(r, 25)
	want := bytes.Clone(buf)
	for _, c := range rebase(chains, buf, want) {
		referenceCBC(t, key, iv, c)
	}
	k, err := NewKey(key)
	if err != nil {
		t.Fatal(err)
	}
	k.rk = nil
	if err := k.EncryptChains(&iv, chains); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf, want) {
		t.Fatal("portable path differs from crypto/cipher CBC")
	}
}

// TestKnownAnswer is the first AES-128 CBC vector of NIST SP 800-38A
// (F.2.1): a schedule or chaining mistake cannot hide behind crypto/aes
// being wrong the same way.
func TestKnownAnswer(t *testing.T) {
	key := unhex(t, "2b7e151628aed2a6abf7158809cf4f3c")
	var iv [16]byte
	copy(iv[:], unhex(t, "000102030405060708090a0b0c0d0e0f"))
	data := unhex(t, "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"+
		"30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710")
	want := unhex(t, "7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2"+
		"73bed6b8e3c1743b7116e69e222295163ff1caa1681fac09120eca307586e1a7")
	k, err := NewKey(key)
	if err != nil {
		t.Fatal(err)
	}
	// As one chain, and as four one-block chains, each with the previous
	// ciphertext block of the vector as its IV.
	one := bytes.Clone(data)
	if err := k.EncryptChains(&iv, []Chain{{Data: one, Stride: 16, Blocks: 4}}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(one, want) {
		t.Fatalf("got %x\nwant %x", one, want)
	}
	for b := 0; b < 4; b++ {
		blockIV := iv
		if b > 0 {
			copy(blockIV[:], want[16*(b-1):16*b])
		}
		blk := bytes.Clone(data[16*b : 16*b+16])
		if err := k.EncryptChains(&blockIV, []Chain{{Data: blk, Stride: 16, Blocks: 1}}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(blk, want[16*b:16*b+16]) {
			t.Fatalf("block %d alone: got %x, want %x", b, blk, want[16*b:16*b+16])
		}
	}
}

func TestBadChains(t *testing.T) {
	k, err := NewKey(make([]byte, 16))
	if err != nil {
		t.Fatal(err)
	}
	var iv [16]byte
	data := make([]byte, 100)
	for _, c := range []Chain{
		{Data: data, Stride: 16, Blocks: 7},  // 112 bytes
		{Data: data, Stride: 48, Blocks: 3},  // last block at 96..112
		{Data: data, Stride: 8, Blocks: 1},   // stride not a block
		{Data: data, Stride: 0, Blocks: 1},   // zero stride
		{Data: data, Stride: 16, Blocks: -1}, // negative
		{Data: data[:10], Stride: 16, Blocks: 1},
	} {
		good := Chain{Data: make([]byte, 32), Stride: 16, Blocks: 2}
		if err := k.EncryptChains(&iv, []Chain{good, c}); !errors.Is(err, ErrChain) {
			t.Errorf("chain stride %d blocks %d over %d bytes: err %v, want ErrChain", c.Stride, c.Blocks, len(c.Data), err)
		}
		if !bytes.Equal(good.Data, make([]byte, 32)) {
			t.Errorf("a good chain was encrypted although the call failed")
		}
	}
	if _, err := NewKey(make([]byte, 24)); err == nil {
		t.Error("NewKey accepted a 24-byte key")
	}
}

func rebase(chains []Chain, from, to []byte) []Chain {
	out := make([]Chain, len(chains))
	for i, c := range chains {
		out[i] = c
		if len(c.Data) > 0 {
			off := cap(from) - cap(c.Data)
			out[i].Data = to[off : off+len(c.Data)]
		}
	}
	return out
}

func firstDiff(a, b []byte) int {
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return -1
}

func unhex(t testing.TB, s string) []byte {
	b := make([]byte, len(s)/2)
	for i := range b {
		var v byte
		for _, c := range s[2*i : 2*i+2] {
			v <<= 4
			switch {
			case c >= '0' && c <= '9':
				v |= byte(c - '0')
			case c >= 'a' && c <= 'f':
				v |= byte(c-'a') + 10
			}
		}
		b[i] = v
	}
	return b
}

// A cbcs video fragment: 120 samples of ~26 KB, one protected range each,
// one block in ten encrypted.
func benchChains(b *testing.B, portable bool) {
	r := rand.New(rand.NewPCG(5, 6))
	buf := make([]byte, 120*26000)
	var chains []Chain
	for off := 0; off+26000 <= len(buf); off += 26000 {
		size := 20000 + r.IntN(6000)
		chains = append(chains, Chain{Data: buf[off : off+size], Stride: 160, Blocks: (size&^15 + 159) / 160})
	}
	k, err := NewKey(make([]byte, 16))
	if err != nil {
		b.Fatal(err)
	}
	if portable {
		k.rk = nil
	}
	var iv [16]byte
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		if err := k.EncryptChains(&iv, chains); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFragment1in10(b *testing.B)         { benchChains(b, false) }
func BenchmarkFragment1in10Portable(b *testing.B) { benchChains(b, true) }

// TestCTRMatchesCryptoCipher compares CTR with crypto/cipher's CTR over
// random lengths split into random XORKeyStream calls, with counters that
// wrap their low 64 bits (and all 128) inside a call, on the VAES path and
// the portable one.
func TestCTRMatchesCryptoCipher(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	key := []byte("fedcba9876543210")
	k, err := NewKey(key)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := aes.NewCipher(key)
	if !k.vaesOK {
		t.Log("no AVX-512 VAES here: only the portable path is tested")
	}
	for _, vaes := range []bool{k.vaesOK, false} {
		kk := *k
		kk.vaesOK = vaes
		for trial := 0; trial < 300; trial++ {
			var iv [16]byte
			for i := range iv {
				iv[i] = byte(r.Uint32())
			}
			switch trial % 3 {
			case 0: // low half a few blocks before wrapping
				for i := 8; i < 16; i++ {
					iv[i] = 0xff
				}
				iv[15] -= byte(r.IntN(40))
			case 1: // all 128 bits about to wrap
				for i := range iv {
					iv[i] = 0xff
				}
				iv[15] -= byte(r.IntN(20))
			}
			size := r.IntN(3000)
			src := make([]byte, size)
			for i := range src {
				src[i] = byte(r.Uint32())
			}
			want := make([]byte, size)
			cipher.NewCTR(b, iv[:]).XORKeyStream(want, src)
			got := bytes.Clone(src)
			var s CTR
			s.Reset(&kk, &iv)
			for rest := got; len(rest) > 0; {
				n := min(len(rest), r.IntN(300)+1)
				if r.IntN(4) == 0 {
					n = min(len(rest), 16*r.IntN(60)) // long enough for the portable path's stream
				}
				s.XORKeyStream(rest[:n], rest[:n])
				rest = rest[n:]
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("vaes %v, iv %x, %d bytes: differs from crypto/cipher at byte %d", vaes, iv, size, firstDiff(got, want))
			}
		}
	}
}

func BenchmarkCTR(b *testing.B) {
	k, err := NewKey(make([]byte, 16))
	if err != nil {
		b.Fatal(err)
	}
	blk, _ := aes.NewCipher(make([]byte, 16))
	buf := make([]byte, 1<<20)
	var iv [16]byte
	b.Run("fastaes", func(b *testing.B) {
		b.SetBytes(int64(len(buf)))
		var s CTR
		for b.Loop() {
			s.Reset(k, &iv)
			s.XORKeyStream(buf, buf)
		}
	})
	b.Run("crypto-cipher", func(b *testing.B) {
		b.SetBytes(int64(len(buf)))
		for b.Loop() {
			cipher.NewCTR(blk, iv[:]).XORKeyStream(buf, buf)
		}
	})
}

package fastaes

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"testing"
)

// FuzzCTR compares CTR with crypto/cipher's CTR for any key, counter block,
// data and split of the data into XORKeyStream calls (each byte of splits
// is the length of the next call).
func FuzzCTR(f *testing.F) {
	f.Add(make([]byte, 16), bytes.Repeat([]byte{0xff}, 16), make([]byte, 1000), []byte{3, 200, 64})
	f.Add([]byte("0123456789abcdef"), []byte{0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xf0}, make([]byte, 4096), []byte{})
	f.Fuzz(func(t *testing.T, key, iv, data, splits []byte) {
		if len(key) != 16 || len(iv) != 16 {
			return
		}
		k, err := NewKey(key)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := aes.NewCipher(key)
		want := make([]byte, len(data))
		cipher.NewCTR(b, iv).XORKeyStream(want, data)
		for _, vaes := range []bool{k.vaesOK, false} {
			kk := *k
			kk.vaesOK = vaes
			got := bytes.Clone(data)
			var s CTR
			s.Reset(&kk, (*[16]byte)(iv))
			rest := got
			for _, n := range splits {
				n := min(int(n), len(rest))
				s.XORKeyStream(rest[:n], rest[:n])
				rest = rest[n:]
			}
			s.XORKeyStream(rest, rest)
			if !bytes.Equal(got, want) {
				t.Fatalf("vaes %v: differs from crypto/cipher at byte %d", vaes, firstDiff(got, want))
			}
		}
	})
}

// FuzzEncryptChains compares EncryptChains with crypto/cipher's CBC for
// chains cut from data by the layout bytes (stride in blocks, block count,
// gap), including chains that do not fit, which must be refused whole.
// The data is size bytes of a fixed pattern: AES takes the same path for
// any bytes, so only the length is fuzzed, which keeps every input small
// enough to minimize quickly.
func FuzzEncryptChains(f *testing.F) {
	f.Add(make([]byte, 16), make([]byte, 16), uint16(5000), []byte{10, 12, 0, 1, 40, 3, 1, 1, 0})
	f.Add([]byte("0123456789abcdef"), bytes.Repeat([]byte{0xa5}, 16), uint16(160), []byte{1, 10, 0})
	f.Fuzz(func(t *testing.T, key, iv []byte, size uint16, layout []byte) {
		if len(key) != 16 || len(iv) != 16 || len(layout) > 3*64 {
			return
		}
		iv = bytes.Clone(iv) // the fuzzing engine may hand over arguments that share memory
		data := make([]byte, int(size)%(16<<10))
		for i := range data {
			data[i] = byte(i*131) ^ key[i%16]
		}
		var chains []Chain
		off := 0
		for i := 0; i+2 < len(layout); i += 3 {
			stride, blocks, gap := 16*int(layout[i]), int(layout[i+1]), int(layout[i+2])
			off = min(off+gap, len(data))
			size := 0
			if blocks > 0 && stride > 0 {
				size = min((blocks-1)*stride+16, len(data)-off)
			}
			chains = append(chains, Chain{Data: data[off : off+size], Stride: stride, Blocks: blocks})
			off += size
		}
		k, err := NewKey(key)
		if err != nil {
			t.Fatal(err)
		}
		want := bytes.Clone(data)
		valid := check(chains) == nil
		if valid {
			for _, c := range rebase(chains, data, want) {
				referenceCBC(t, key, [16]byte(iv), c)
			}
		}
		err = k.EncryptChains((*[16]byte)(iv), chains)
		if valid != (err == nil) {
			t.Fatalf("valid %v, err %v", valid, err)
		}
		if !bytes.Equal(data, want) {
			t.Fatalf("differs from crypto/cipher CBC at byte %d (valid %v)", firstDiff(data, want), valid)
		}
	})
}

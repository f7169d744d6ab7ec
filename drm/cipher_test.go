package drm

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"fmt"
	"testing"

	"github.com/Eyevinn/mp4ff/mp4"
)

// TestCTRMatchesCryptoCipher checks the keystream paths of
// sampleCipher.ctr (block by block, VAES or crypto/cipher streams, by
// size and CPU) against one crypto/cipher CTR stream over the protected bytes,
// around the size threshold, with and without subsamples, and with
// counters that carry out of the low 64 bits.
func TestCTRMatchesCryptoCipher(t *testing.T) {
	c, err := newSampleCipher(videoKey.Key, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	ivs := [][]byte{
		{1, 2, 3, 4, 5, 6, 7, 8},
		{0, 0, 0, 0, 0, 0, 0, 9, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfd},
	}
	for _, iv := range ivs {
		for _, size := range []int{0, 1, 15, 16, 17, 63, 64, 65, 383, 384, 385, 1000} {
			for _, layout := range []string{"whole", "subsamples"} {
				t.Run(fmt.Sprintf("iv%d/%d/%s", len(iv), size, layout), func(t *testing.T) {
					var subs []mp4.SubSamplePattern
					sample := make([]byte, size)
					for i := range sample {
						sample[i] = byte(i * 7)
					}
					if layout == "subsamples" {
						// two protected ranges split by clear bytes
						p1 := size / 3
						subs = []mp4.SubSamplePattern{{BytesOfClearData: 5, BytesOfProtectedData: uint32(p1)}, {BytesOfClearData: 3, BytesOfProtectedData: uint32(size - p1)}}
						sample = append(make([]byte, 5), sample[:p1]...)
						sample = append(sample, 0xaa, 0xbb, 0xcc)
						for i := p1; i < size; i++ {
							sample = append(sample, byte(i*7))
						}
					}
					want := append([]byte(nil), sample...)
					blk, _ := aes.NewCipher(videoKey.Key.Secret())
					var ctrIV [16]byte
					copy(ctrIV[:], iv)
					s := cipher.NewCTR(blk, ctrIV[:])
					if subs == nil {
						s.XORKeyStream(want, want)
					} else {
						pos := 0
						for _, ss := range subs {
							pos += int(ss.BytesOfClearData)
							n := int(ss.BytesOfProtectedData)
							s.XORKeyStream(want[pos:pos+n], want[pos:pos+n])
							pos += n
						}
					}
					var sc cipherScratch
					c.ctr(&sc, sample, iv, subs)
					if !bytes.Equal(sample, want) {
						t.Fatal("ciphertext differs from crypto/cipher's AES-CTR")
					}
				})
			}
		}
	}
}

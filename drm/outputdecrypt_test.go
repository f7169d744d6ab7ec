package drm

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// units splits a media segment into moof+mdat byte ranges and returns them
// with each mdat's payload.
func units(t *testing.T, seg []byte) (frags, payloads [][]byte) {
	top, err := boxes(seg, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range top {
		if b.typ == "moof" && i+1 < len(top) && top[i+1].typ == "mdat" {
			m := top[i+1]
			frags = append(frags, seg[b.start:m.start+8+len(m.payload)])
			payloads = append(payloads, m.payload)
		}
	}
	return
}

// TestDecryptPackagedOutput is opt-in: it checks a whole packaged output
// with the test decryptor against a clear packaging of the same input,
// segment by segment, e.g. after a benchmark run:
//
//	cmafkit package -o clear in.mp4
//	cmafkit package -o enc --encryption cenc --key KID:KEY in.mp4
//	CMAFKIT_DECRYPT_CLEAR=clear CMAFKIT_DECRYPT_ENC=enc CMAFKIT_DECRYPT_KEY=KID:KEY \
//	  go test ./drm -run TestDecryptPackagedOutput -v
//
// Every representation directory with an init.mp4 and seg-N.m4s files is
// checked: decrypted payloads bit-exact, and no cenc IV used twice.
func TestDecryptPackagedOutput(t *testing.T) {
	clearDir, encDir := os.Getenv("CMAFKIT_DECRYPT_CLEAR"), os.Getenv("CMAFKIT_DECRYPT_ENC")
	if clearDir == "" || encDir == "" {
		t.Skip("set CMAFKIT_DECRYPT_CLEAR, CMAFKIT_DECRYPT_ENC and CMAFKIT_DECRYPT_KEY to run")
	}
	pairs, err := ParseKeyPairs(os.Getenv("CMAFKIT_DECRYPT_KEY"))
	if err != nil {
		t.Fatal(err)
	}
	keys := map[[16]byte][]byte{}
	for _, k := range pairs {
		keys[k.KID] = k.Key.Secret()
	}
	inits, err := filepath.Glob(filepath.Join(encDir, "*", "init.mp4"))
	if err != nil || len(inits) == 0 {
		t.Fatalf("no representation with an init.mp4 under %s (%v)", encDir, err)
	}
	for _, initPath := range inits {
		rep := filepath.Base(filepath.Dir(initPath))
		initB, err := os.ReadFile(initPath)
		if err != nil {
			t.Fatal(err)
		}
		info, err := parseInit(initB)
		if err != nil {
			t.Fatal(err)
		}
		var nSeg, nSamples, nBytes, changed int
		seenIV := map[string]bool{}
		for n := 1; ; n++ {
			name := fmt.Sprintf("seg-%d.m4s", n)
			enc, err := os.ReadFile(filepath.Join(encDir, rep, name))
			if os.IsNotExist(err) {
				break
			}
			clr, err := os.ReadFile(filepath.Join(clearDir, rep, name))
			if err != nil {
				t.Fatal(err)
			}
			ef, _ := units(t, enc)
			_, cp := units(t, clr)
			if len(ef) != len(cp) {
				t.Fatalf("%s %s: %d fragments, clear has %d", rep, name, len(ef), len(cp))
			}
			for k := range ef {
				dec, err := decryptFragment(ef[k], info, keys)
				if err != nil {
					t.Fatalf("%s %s fragment %d: %v", rep, name, k+1, err)
				}
				got := bytes.Join(dec.samples, nil)
				if !bytes.Equal(got, cp[k]) {
					t.Fatalf("%s %s fragment %d: decrypted payload differs from the clear run", rep, name, k+1)
				}
				for i, iv := range dec.ivs {
					if iv != nil && info.constIV == nil {
						if seenIV[string(iv)] {
							t.Fatalf("%s %s: IV %x reused", rep, name, iv)
						}
						seenIV[string(iv)] = true
					}
					changed += diffBytes(dec.encrypted[i], dec.samples[i])
				}
				nSamples += len(dec.samples)
				nBytes += len(got)
			}
			nSeg++
		}
		if nSeg == 0 {
			t.Fatalf("%s: no seg-1.m4s", rep)
		}
		t.Logf("%s: %d segments, %d samples, %d bytes decrypted bit-exact; %d bytes were changed by encryption; %d distinct cenc IVs", rep, nSeg, nSamples, nBytes, changed, len(seenIV))
	}
}

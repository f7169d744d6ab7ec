//go:build amd64 && !purego

package fastaes

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// The CPU's features do not change while running. x/sys/cpu reports the
// AVX-512 ones only when the OS saves the ZMM registers.
var (
	haveAsm  = cpu.X86.HasAES
	haveVAES = cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VAES
)

// lanesN is how many chains the assembly runs side by side. AESENC has a
// latency of 3–4 cycles and a throughput of one or two per cycle, so eight
// chains keep the AES units busy; eight states and the temporary fit the 16
// XMM registers with seven of the round keys.
const lanesN = 8

// lane is one chain's place in the assembly's state. The layout is read by
// cbc8 (32 bytes: pointer, stride, previous ciphertext).
type lane struct {
	p      unsafe.Pointer
	stride uintptr
	prev   [16]byte
}

//go:noescape
func expandKey128(key *byte, rk *byte)

// cbc8 runs n CBC steps of all eight lanes: for each lane, load the block at
// p + i·stride, XOR the previous ciphertext, encrypt, store. It writes the
// last ciphertext of each lane back to prev; p is left for the caller to
// advance (assembly must not store pointers into Go memory).
//
//go:noescape
func cbc8(rk *byte, lanes *[lanesN]lane, n int)

// ctrVAES XORs blocks (a multiple of 4) blocks of keystream from counter
// block ctr into dst from src; the low 64 bits of the counter must not wrap
// within the call.
//
//go:noescape
func ctrVAES(rk *byte, ctr *[16]byte, dst, src *byte, blocks int)

// expand returns the 11 AES-128 round keys in a 16-byte aligned slice: the
// assembly uses them as SSE memory operands, which must be aligned.
func expand(key []byte) []byte {
	buf := make([]byte, 11*16+15)
	off := int(-uintptr(unsafe.Pointer(&buf[0])) & 15)
	rk := buf[off : off+11*16 : off+11*16]
	expandKey128(&key[0], &rk[0])
	return rk
}

// lanes encrypts the (checked) chains eight at a time. Each round the lanes
// advance by as many blocks as the shortest active chain has left; a lane
// whose chain is done takes the next one, and idle lanes encrypt a scratch
// block that nothing reads.
func (k *Key) lanes(iv *[16]byte, chains []Chain) {
	var (
		ls      [lanesN]lane
		left    [lanesN]int
		scratch [16]byte
		next    int
	)
	idle := lane{p: unsafe.Pointer(&scratch)}
	for j := range ls {
		ls[j] = idle
	}
	for {
		n, active := 0, false
		for j := range ls {
			if left[j] == 0 {
				ls[j] = idle
				for next < len(chains) && chains[next].Blocks == 0 {
					next++
				}
				if next < len(chains) {
					c := chains[next]
					next++
					ls[j] = lane{p: unsafe.Pointer(&c.Data[0]), stride: uintptr(c.Stride), prev: *iv}
					left[j] = c.Blocks
				}
			}
			if left[j] > 0 && (!active || left[j] < n) {
				n, active = left[j], true
			}
		}
		if !active {
			return
		}
		cbc8(&k.rk[0], &ls, n)
		for j := range ls {
			if left[j] == 0 {
				continue
			}
			if left[j] -= n; left[j] > 0 {
				// Still inside the chain's Data: its next block.
				ls[j].p = unsafe.Add(ls[j].p, uintptr(n)*ls[j].stride)
			}
		}
	}
}

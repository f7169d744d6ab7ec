//go:build !amd64 || purego

package fastaes

const (
	haveAsm  = false
	haveVAES = false
)

func ctrVAES(rk *byte, ctr *[16]byte, dst, src *byte, blocks int) { panic("unreachable") }

func expand([]byte) []byte { return nil }

func (k *Key) lanes(iv *[16]byte, chains []Chain) {
	for _, c := range chains {
		k.chain(iv, c)
	}
}

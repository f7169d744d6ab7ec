//go:build amd64 && !purego

#include "textflag.h"

// One AES-128 key expansion step (FIPS-197 §5.2). X0 holds the previous
// round key; AESKEYGENASSIST gives SubWord(RotWord(w3)) xor rcon in its top
// word, which is broadcast; X0 becomes the running XOR of its own words
// (shifted copies in X2) xor that word.
#define EXPAND(rcon, off) \
	AESKEYGENASSIST $rcon, X0, X1; \
	PSHUFD          $0xff, X1, X1; \
	MOVO            X0, X2;        \
	PSLLO           $4, X2;        \
	PXOR            X2, X0;        \
	PSLLO           $4, X2;        \
	PXOR            X2, X0;        \
	PSLLO           $4, X2;        \
	PXOR            X2, X0;        \
	PXOR            X1, X0;        \
	MOVOU           X0, off(BX)

// func expandKey128(key *byte, rk *byte)
TEXT ·expandKey128(SB), NOSPLIT, $0-16
	MOVQ  key+0(FP), AX
	MOVQ  rk+8(FP), BX
	MOVOU (AX), X0
	MOVOU X0, (BX)
	EXPAND(0x01, 16)
	EXPAND(0x02, 32)
	EXPAND(0x04, 48)
	EXPAND(0x08, 64)
	EXPAND(0x10, 80)
	EXPAND(0x20, 96)
	EXPAND(0x40, 112)
	EXPAND(0x80, 128)
	EXPAND(0x1b, 144)
	EXPAND(0x36, 160)
	RET

// The eight CBC lanes of cbc8: lane j's data pointer is in one of R8-R13,
// SI, DI and its chaining state in Xj. Round keys 1-7 stay in X9-X15; keys
// 0, 8, 9 and 10 are (aligned) memory operands; X8 is the load temporary.

// ROUND8 applies one AES round with key k to all eight states, so eight
// independent AESENCs are in flight.
#define ROUND8(k) \
	AESENC k, X0; \
	AESENC k, X1; \
	AESENC k, X2; \
	AESENC k, X3; \
	AESENC k, X4; \
	AESENC k, X5; \
	AESENC k, X6; \
	AESENC k, X7

#define LAST8(k) \
	AESENCLAST k, X0; \
	AESENCLAST k, X1; \
	AESENCLAST k, X2; \
	AESENCLAST k, X3; \
	AESENCLAST k, X4; \
	AESENCLAST k, X5; \
	AESENCLAST k, X6; \
	AESENCLAST k, X7

// LOAD xors lane j's next plaintext block (at ptr) and round key 0 into its state.
#define LOAD(ptr, x) \
	MOVOU (ptr), X8; \
	PXOR  X8, x;     \
	PXOR  (AX), x

// STORE writes lane j's ciphertext back and moves ptr on by the lane's stride.
#define STORE(ptr, x, lane) \
	MOVOU x, (ptr); \
	ADDQ  (lane*32+8)(BX), ptr

// func cbc8(rk *byte, lanes *[8]lane, n int)
TEXT ·cbc8(SB), NOSPLIT, $0-24
	MOVQ  rk+0(FP), AX
	MOVQ  lanes+8(FP), BX
	MOVQ  n+16(FP), CX
	MOVQ  0(BX), R8
	MOVQ  32(BX), R9
	MOVQ  64(BX), R10
	MOVQ  96(BX), R11
	MOVQ  128(BX), R12
	MOVQ  160(BX), R13
	MOVQ  192(BX), SI
	MOVQ  224(BX), DI
	MOVOU 16(BX), X0
	MOVOU 48(BX), X1
	MOVOU 80(BX), X2
	MOVOU 112(BX), X3
	MOVOU 144(BX), X4
	MOVOU 176(BX), X5
	MOVOU 208(BX), X6
	MOVOU 240(BX), X7
	MOVOU 16(AX), X9
	MOVOU 32(AX), X10
	MOVOU 48(AX), X11
	MOVOU 64(AX), X12
	MOVOU 80(AX), X13
	MOVOU 96(AX), X14
	MOVOU 112(AX), X15
	TESTQ CX, CX
	JZ    cbcdone

cbcloop:
	LOAD(R8, X0)
	LOAD(R9, X1)
	LOAD(R10, X2)
	LOAD(R11, X3)
	LOAD(R12, X4)
	LOAD(R13, X5)
	LOAD(SI, X6)
	LOAD(DI, X7)
	ROUND8(X9)
	ROUND8(X10)
	ROUND8(X11)
	ROUND8(X12)
	ROUND8(X13)
	ROUND8(X14)
	ROUND8(X15)
	ROUND8(128(AX))
	ROUND8(144(AX))
	LAST8(160(AX))
	STORE(R8, X0, 0)
	STORE(R9, X1, 1)
	STORE(R10, X2, 2)
	STORE(R11, X3, 3)
	STORE(R12, X4, 4)
	STORE(R13, X5, 5)
	STORE(SI, X6, 6)
	STORE(DI, X7, 7)
	DECQ  CX
	JNZ   cbcloop

cbcdone:
	MOVOU X0, 16(BX)
	MOVOU X1, 48(BX)
	MOVOU X2, 80(BX)
	MOVOU X3, 112(BX)
	MOVOU X4, 144(BX)
	MOVOU X5, 176(BX)
	MOVOU X6, 208(BX)
	MOVOU X7, 240(BX)
	RET

// Byte reversal within each 128-bit lane: CTR counter blocks are big-endian
// 128-bit numbers, VPADDQ adds little-endian quadwords.
DATA bswap<>+0(SB)/8, $0x08090a0b0c0d0e0f
DATA bswap<>+8(SB)/8, $0x0001020304050607
GLOBL bswap<>(SB), RODATA|NOPTR, $16

// Lane offsets 0..3 of the four counter blocks in a ZMM register (added to
// each lane's low quadword), and the steps of 4 and 16 blocks.
DATA lanes<>+0(SB)/8, $0
DATA lanes<>+8(SB)/8, $0
DATA lanes<>+16(SB)/8, $1
DATA lanes<>+24(SB)/8, $0
DATA lanes<>+32(SB)/8, $2
DATA lanes<>+40(SB)/8, $0
DATA lanes<>+48(SB)/8, $3
DATA lanes<>+56(SB)/8, $0
GLOBL lanes<>(SB), RODATA|NOPTR, $64

DATA four<>+0(SB)/8, $4
DATA four<>+8(SB)/8, $0
GLOBL four<>(SB), RODATA|NOPTR, $16

DATA sixteen<>+0(SB)/8, $16
DATA sixteen<>+8(SB)/8, $0
GLOBL sixteen<>(SB), RODATA|NOPTR, $16

// ENC4 runs AES-128 on the four ZMM registers of counter blocks, with the
// broadcast round keys in Z16-Z26.
#define ENC4(a, b, c, d) \
	VPXORQ      Z16, a, a; VPXORQ Z16, b, b; VPXORQ Z16, c, c; VPXORQ Z16, d, d; \
	VAESENC     Z17, a, a; VAESENC Z17, b, b; VAESENC Z17, c, c; VAESENC Z17, d, d; \
	VAESENC     Z18, a, a; VAESENC Z18, b, b; VAESENC Z18, c, c; VAESENC Z18, d, d; \
	VAESENC     Z19, a, a; VAESENC Z19, b, b; VAESENC Z19, c, c; VAESENC Z19, d, d; \
	VAESENC     Z20, a, a; VAESENC Z20, b, b; VAESENC Z20, c, c; VAESENC Z20, d, d; \
	VAESENC     Z21, a, a; VAESENC Z21, b, b; VAESENC Z21, c, c; VAESENC Z21, d, d; \
	VAESENC     Z22, a, a; VAESENC Z22, b, b; VAESENC Z22, c, c; VAESENC Z22, d, d; \
	VAESENC     Z23, a, a; VAESENC Z23, b, b; VAESENC Z23, c, c; VAESENC Z23, d, d; \
	VAESENC     Z24, a, a; VAESENC Z24, b, b; VAESENC Z24, c, c; VAESENC Z24, d, d; \
	VAESENC     Z25, a, a; VAESENC Z25, b, b; VAESENC Z25, c, c; VAESENC Z25, d, d; \
	VAESENCLAST Z26, a, a; VAESENCLAST Z26, b, b; VAESENCLAST Z26, c, c; VAESENCLAST Z26, d, d

#define ENC1(a) \
	VPXORQ      Z16, a, a; \
	VAESENC     Z17, a, a; \
	VAESENC     Z18, a, a; \
	VAESENC     Z19, a, a; \
	VAESENC     Z20, a, a; \
	VAESENC     Z21, a, a; \
	VAESENC     Z22, a, a; \
	VAESENC     Z23, a, a; \
	VAESENC     Z24, a, a; \
	VAESENC     Z25, a, a; \
	VAESENCLAST Z26, a, a

// func ctrVAES(rk *byte, ctr *[16]byte, dst, src *byte, blocks int)
//
// XORs blocks (a multiple of 4) blocks of AES-CTR keystream, from counter
// block *ctr on, into dst from src. The caller makes sure the low 64 bits
// of the counter do not wrap within the call, so each lane's low quadword
// can count on its own. Z0-Z3 hold 16 counter blocks, little-endian.
TEXT ·ctrVAES(SB), NOSPLIT, $0-40
	MOVQ            rk+0(FP), AX
	MOVQ            ctr+8(FP), BX
	MOVQ            dst+16(FP), DI
	MOVQ            src+24(FP), SI
	MOVQ            blocks+32(FP), CX
	VBROADCASTI32X4 (AX), Z16
	VBROADCASTI32X4 16(AX), Z17
	VBROADCASTI32X4 32(AX), Z18
	VBROADCASTI32X4 48(AX), Z19
	VBROADCASTI32X4 64(AX), Z20
	VBROADCASTI32X4 80(AX), Z21
	VBROADCASTI32X4 96(AX), Z22
	VBROADCASTI32X4 112(AX), Z23
	VBROADCASTI32X4 128(AX), Z24
	VBROADCASTI32X4 144(AX), Z25
	VBROADCASTI32X4 160(AX), Z26
	VBROADCASTI32X4 bswap<>(SB), Z27
	VBROADCASTI32X4 four<>(SB), Z28
	VBROADCASTI32X4 sixteen<>(SB), Z29
	VBROADCASTI32X4 (BX), Z0
	VPSHUFB         Z27, Z0, Z0
	VPADDQ          lanes<>(SB), Z0, Z0
	VPADDQ          Z28, Z0, Z1
	VPADDQ          Z28, Z1, Z2
	VPADDQ          Z28, Z2, Z3

ctr16:
	CMPQ      CX, $16
	JB        ctr4
	VPSHUFB   Z27, Z0, Z4
	VPSHUFB   Z27, Z1, Z5
	VPSHUFB   Z27, Z2, Z6
	VPSHUFB   Z27, Z3, Z7
	ENC4(Z4, Z5, Z6, Z7)
	VPXORQ    (SI), Z4, Z4
	VPXORQ    64(SI), Z5, Z5
	VPXORQ    128(SI), Z6, Z6
	VPXORQ    192(SI), Z7, Z7
	VMOVDQU64 Z4, (DI)
	VMOVDQU64 Z5, 64(DI)
	VMOVDQU64 Z6, 128(DI)
	VMOVDQU64 Z7, 192(DI)
	VPADDQ    Z29, Z0, Z0
	VPADDQ    Z29, Z1, Z1
	VPADDQ    Z29, Z2, Z2
	VPADDQ    Z29, Z3, Z3
	ADDQ      $256, SI
	ADDQ      $256, DI
	SUBQ      $16, CX
	JMP       ctr16

ctr4:
	CMPQ      CX, $4
	JB        ctrdone
	VPSHUFB   Z27, Z0, Z4
	ENC1(Z4)
	VPXORQ    (SI), Z4, Z4
	VMOVDQU64 Z4, (DI)
	VPADDQ    Z28, Z0, Z0
	ADDQ      $64, SI
	ADDQ      $64, DI
	SUBQ      $4, CX
	JMP       ctr4

ctrdone:
	VZEROUPPER
	RET

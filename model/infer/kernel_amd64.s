//go:build amd64 && !purego

#include "textflag.h"

// STEP6 does one k step of the 6×16 tile: it loads row k of B (two YMM, at
// b0 and b1 off BX) and, for each of the six A rows, broadcasts A[row][k]
// (at aoff off AX for rows 0–2, off DX for rows 3–5, rows SI bytes apart)
// and accumulates into Y4..Y15 (row r in Y(4+2r), Y(5+2r)).
#define STEP6(aoff, b0, b1) \
	VMOVUPS      b0(BX), Y0; \
	VMOVUPS      b1(BX), Y1; \
	VBROADCASTSS aoff(AX), Y2; \
	VFMADD231PS  Y0, Y2, Y4; \
	VFMADD231PS  Y1, Y2, Y5; \
	VBROADCASTSS aoff(AX)(SI*1), Y3; \
	VFMADD231PS  Y0, Y3, Y6; \
	VFMADD231PS  Y1, Y3, Y7; \
	VBROADCASTSS aoff(AX)(SI*2), Y2; \
	VFMADD231PS  Y0, Y2, Y8; \
	VFMADD231PS  Y1, Y2, Y9; \
	VBROADCASTSS aoff(DX), Y3; \
	VFMADD231PS  Y0, Y3, Y10; \
	VFMADD231PS  Y1, Y3, Y11; \
	VBROADCASTSS aoff(DX)(SI*1), Y2; \
	VFMADD231PS  Y0, Y2, Y12; \
	VFMADD231PS  Y1, Y2, Y13; \
	VBROADCASTSS aoff(DX)(SI*2), Y3; \
	VFMADD231PS  Y0, Y3, Y14; \
	VFMADD231PS  Y1, Y3, Y15

// func tiles6x16AVX2(a *float32, stride int, taps *int, ntaps int, chans int, b *float32, c *float32, ldc int, ntiles int)
//
// Registers: DI = A of the current tile, SI = A row stride (bytes),
// R11 = 3*SI, R8 = C of the current tile, R9 = C row stride (bytes),
// R12 = 3*R9, R10 = tiles left, R13 = next tap, R14 = taps left,
// BX = B, AX/DX = A for rows 0–2/3–5 of this tap, CX = channels left.
TEXT ·tiles6x16AVX2(SB), NOSPLIT, $0-72
	MOVQ a+0(FP), DI
	MOVQ stride+8(FP), SI
	SHLQ $2, SI
	MOVQ c+48(FP), R8
	MOVQ ldc+56(FP), R9
	SHLQ $2, R9
	MOVQ ntiles+64(FP), R10
	LEAQ (SI)(SI*2), R11
	LEAQ (R9)(R9*2), R12

tile:
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13
	VXORPS Y14, Y14, Y14
	VXORPS Y15, Y15, Y15
	MOVQ taps+16(FP), R13
	MOVQ ntaps+24(FP), R14
	MOVQ b+40(FP), BX

tap:
	MOVQ (R13), AX
	LEAQ (DI)(AX*4), AX
	LEAQ (AX)(R11*1), DX
	MOVQ chans+32(FP), CX
	CMPQ CX, $4
	JLT  ch1

ch4:
	STEP6(0, 0, 32)
	STEP6(4, 64, 96)
	STEP6(8, 128, 160)
	STEP6(12, 192, 224)
	ADDQ $16, AX
	ADDQ $16, DX
	ADDQ $256, BX
	SUBQ $4, CX
	CMPQ CX, $4
	JGE  ch4

ch1:
	TESTQ CX, CX
	JZ    tapdone
	STEP6(0, 0, 32)
	ADDQ  $4, AX
	ADDQ  $4, DX
	ADDQ  $64, BX
	DECQ  CX
	JMP   ch1

tapdone:
	ADDQ $8, R13
	DECQ R14
	JNZ  tap

	VMOVUPS Y4, (R8)
	VMOVUPS Y5, 32(R8)
	VMOVUPS Y6, (R8)(R9*1)
	VMOVUPS Y7, 32(R8)(R9*1)
	VMOVUPS Y8, (R8)(R9*2)
	VMOVUPS Y9, 32(R8)(R9*2)
	LEAQ    (R8)(R12*1), AX
	VMOVUPS Y10, (AX)
	VMOVUPS Y11, 32(AX)
	VMOVUPS Y12, (AX)(R9*1)
	VMOVUPS Y13, 32(AX)(R9*1)
	VMOVUPS Y14, (AX)(R9*2)
	VMOVUPS Y15, 32(AX)(R9*2)

	LEAQ (DI)(R11*2), DI
	LEAQ (R8)(R12*2), R8
	DECQ R10
	JNZ  tile

	VZEROUPPER
	RET

// func row1x16AVX2(a *float32, k int, b *float32, c *float32)
//
// c[0:16] = Σ_i a[i]·b[16i:16i+16]. Four interleaved pairs of accumulators
// (Y4..Y11) keep eight FMA chains in flight; they are summed at the end.
TEXT ·row1x16AVX2(SB), NOSPLIT, $0-32
	MOVQ a+0(FP), AX
	MOVQ k+8(FP), CX
	MOVQ b+16(FP), BX
	MOVQ c+24(FP), DI
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	CMPQ   CX, $4
	JLT    r1

r4:
	VBROADCASTSS 0(AX), Y0
	VFMADD231PS  0(BX), Y0, Y4
	VFMADD231PS  32(BX), Y0, Y5
	VBROADCASTSS 4(AX), Y1
	VFMADD231PS  64(BX), Y1, Y6
	VFMADD231PS  96(BX), Y1, Y7
	VBROADCASTSS 8(AX), Y2
	VFMADD231PS  128(BX), Y2, Y8
	VFMADD231PS  160(BX), Y2, Y9
	VBROADCASTSS 12(AX), Y3
	VFMADD231PS  192(BX), Y3, Y10
	VFMADD231PS  224(BX), Y3, Y11
	ADDQ         $16, AX
	ADDQ         $256, BX
	SUBQ         $4, CX
	CMPQ         CX, $4
	JGE          r4

r1:
	TESTQ        CX, CX
	JZ           sum
	VBROADCASTSS (AX), Y0
	VFMADD231PS  (BX), Y0, Y4
	VFMADD231PS  32(BX), Y0, Y5
	ADDQ         $4, AX
	ADDQ         $64, BX
	DECQ         CX
	JMP          r1

sum:
	VADDPS  Y6, Y4, Y4
	VADDPS  Y7, Y5, Y5
	VADDPS  Y10, Y8, Y8
	VADDPS  Y11, Y9, Y9
	VADDPS  Y8, Y4, Y4
	VADDPS  Y9, Y5, Y5
	VMOVUPS Y4, (DI)
	VMOVUPS Y5, 32(DI)
	VZEROUPPER
	RET

// func poolRelu16AVX2(dst *float32, dstStep int, src *float32, srcRow int, n int)
//
// For each output o: dst[o*dstStep:+16] = max(0, four 16-float pixels at
// src+32o, src+32o+16 and the same srcRow floats further on).
TEXT ·poolRelu16AVX2(SB), NOSPLIT, $0-40
	MOVQ   dst+0(FP), DI
	MOVQ   dstStep+8(FP), R8
	SHLQ   $2, R8
	MOVQ   src+16(FP), SI
	MOVQ   srcRow+24(FP), DX
	SHLQ   $2, DX
	MOVQ   n+32(FP), CX
	VXORPS Y15, Y15, Y15

pool:
	VMAXPS  0(SI), Y15, Y0
	VMAXPS  32(SI), Y15, Y1
	VMAXPS  64(SI), Y0, Y0
	VMAXPS  96(SI), Y1, Y1
	VMAXPS  0(SI)(DX*1), Y0, Y0
	VMAXPS  32(SI)(DX*1), Y1, Y1
	VMAXPS  64(SI)(DX*1), Y0, Y0
	VMAXPS  96(SI)(DX*1), Y1, Y1
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	ADDQ    $128, SI
	ADDQ    R8, DI
	DECQ    CX
	JNZ     pool

	VZEROUPPER
	RET

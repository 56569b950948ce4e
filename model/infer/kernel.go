package infer

import "fmt"

// Tile geometry of the micro-kernel: tileRows rows of A (output pixels or
// batch rows) by tileCols columns of B (output channels).
const (
	tileRows = 6
	tileCols = 16
)

// kernels is one implementation of the three primitive kernels. The fields
// take raw, unchecked arguments; the methods below check them first, so an
// assembly kernel never reads or writes outside its slices.
type kernels struct {
	name string

	// tiles computes ntiles consecutive 6×16 tiles of C. For tile t, row r
	// (i = 6t+r) and column j < 16:
	//
	//	c[i*ldc+j] = Σ_tap Σ_{ch<chans} a[i*stride+taps[tap]+ch] · b[(tap*chans+ch)*16+j]
	tiles func(a []float32, stride int, taps []int, chans int, b, c []float32, ldc, ntiles int)

	// row computes one row of a dense product: c[j] = Σ_{i<k} a[i]·b[i*16+j]
	// for j < 16.
	row func(a []float32, k int, b, c []float32)

	// pool computes n outputs of a ReLU'd 2×2 max-pool over 16 channels.
	// src holds pixels 16 floats apart, srcRow floats between the two rows:
	//
	//	dst[o*dstStep+j] = max(0, src[32o+j], src[32o+16+j], src[32o+srcRow+j], src[32o+srcRow+16+j])
	pool func(dst []float32, dstStep int, src []float32, srcRow, n int)
}

// tiles6x16 is kernels.tiles with its arguments checked.
func (k *kernels) tiles6x16(a []float32, stride int, taps []int, chans int, b, c []float32, ldc, ntiles int) {
	if ntiles <= 0 {
		return
	}
	maxTap := 0
	for _, t := range taps {
		if t < 0 {
			panic(fmt.Sprintf("infer: kernel tap offset %d < 0", t))
		}
		maxTap = max(maxTap, t)
	}
	last := tileRows*ntiles - 1
	switch {
	case len(taps) == 0 || chans <= 0 || stride < 0 || ldc < tileCols:
		panic(fmt.Sprintf("infer: bad kernel shape: %d taps, %d channels, stride %d, ldc %d", len(taps), chans, stride, ldc))
	case last*stride+maxTap+chans > len(a):
		panic(fmt.Sprintf("infer: kernel input of %d floats, need %d", len(a), last*stride+maxTap+chans))
	case len(taps)*chans*tileCols > len(b):
		panic(fmt.Sprintf("infer: kernel weights of %d floats, need %d", len(b), len(taps)*chans*tileCols))
	case last*ldc+tileCols > len(c):
		panic(fmt.Sprintf("infer: kernel output of %d floats, need %d", len(c), last*ldc+tileCols))
	}
	k.tiles(a, stride, taps, chans, b, c, ldc, ntiles)
}

// row1x16 is kernels.row with its arguments checked.
func (k *kernels) row1x16(a []float32, n int, b, c []float32) {
	if n < 0 || n > len(a) || n*tileCols > len(b) || len(c) < tileCols {
		panic(fmt.Sprintf("infer: bad row kernel shape: k %d, len(a) %d, len(b) %d, len(c) %d", n, len(a), len(b), len(c)))
	}
	k.row(a, n, b, c)
}

// poolRelu is kernels.pool with its arguments checked.
func (k *kernels) poolRelu(dst []float32, dstStep int, src []float32, srcRow, n int) {
	if n <= 0 {
		return
	}
	if dstStep < 0 || srcRow < 0 || 32*(n-1)+srcRow+32 > len(src) || (n-1)*dstStep+16 > len(dst) {
		panic(fmt.Sprintf("infer: bad pool shape: n %d, dstStep %d, srcRow %d, len(src) %d, len(dst) %d", n, dstStep, srcRow, len(src), len(dst)))
	}
	k.pool(dst, dstStep, src, srcRow, n)
}

// gemm computes C = A·B for m rows: A is m×kk with row stride lda, B is
// packed as panels consecutive kk×16 blocks (column j of B is column j%16
// of panel j/16), and C has row stride ldc. Whole groups of six rows go
// through the tile kernel and a leftover of one or two rows through the row
// kernel. A leftover of three to five rows is cheaper as one more tile; gemm
// does that when a and c are long enough to hold the six rows, computing
// rows past m that the caller ignores.
func (k *kernels) gemm(m, kk int, a []float32, lda int, b []float32, panels int, c []float32, ldc int, tap0 []int) {
	full := m / tileRows
	if rest := m - full*tileRows; rest >= 3 {
		rows := (full + 1) * tileRows
		if (rows-1)*lda+kk <= len(a) && (rows-1)*ldc+panels*tileCols <= len(c) {
			full++
		}
	}
	for p := range panels {
		bp := b[p*kk*tileCols : (p+1)*kk*tileCols]
		k.tiles6x16(a, lda, tap0, kk, bp, c[p*tileCols:], ldc, full)
		for r := full * tileRows; r < m; r++ {
			k.row1x16(a[r*lda:r*lda+kk], kk, bp, c[r*ldc+p*tileCols:])
		}
	}
}

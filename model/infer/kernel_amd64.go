//go:build amd64 && !purego

package infer

import "golang.org/x/sys/cpu"

// asmKernels returns the AVX2/FMA kernels, or nil when this CPU (or its
// operating system) does not support them.
func asmKernels() *kernels {
	if !cpu.X86.HasAVX2 || !cpu.X86.HasFMA {
		return nil
	}
	return &kernels{
		name: "avx2",
		tiles: func(a []float32, stride int, taps []int, chans int, b, c []float32, ldc, ntiles int) {
			tiles6x16AVX2(&a[0], stride, &taps[0], len(taps), chans, &b[0], &c[0], ldc, ntiles)
		},
		row: func(a []float32, k int, b, c []float32) {
			if k == 0 {
				clear(c[:tileCols])
				return
			}
			row1x16AVX2(&a[0], k, &b[0], &c[0])
		},
		pool: func(dst []float32, dstStep int, src []float32, srcRow, n int) {
			poolRelu16AVX2(&dst[0], dstStep, &src[0], srcRow, n)
		},
	}
}

// tiles6x16AVX2 implements kernels.tiles; see kernel_amd64.s. It requires
// ntiles, ntaps and chans ≥ 1.
//
//go:noescape
func tiles6x16AVX2(a *float32, stride int, taps *int, ntaps int, chans int, b *float32, c *float32, ldc int, ntiles int)

// row1x16AVX2 implements kernels.row for k ≥ 1; see kernel_amd64.s.
//
//go:noescape
func row1x16AVX2(a *float32, k int, b *float32, c *float32)

// poolRelu16AVX2 implements kernels.pool for n ≥ 1; see kernel_amd64.s.
//
//go:noescape
func poolRelu16AVX2(dst *float32, dstStep int, src *float32, srcRow int, n int)

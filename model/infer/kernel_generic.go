package infer

// goKernels returns the portable kernels, written in plain Go.
func goKernels() *kernels {
	return &kernels{name: "go", tiles: tilesGo, row: rowGo, pool: poolGo}
}

// tilesGo is the portable kernels.tiles: each output row through dot16.
func tilesGo(a []float32, stride int, taps []int, chans int, b, c []float32, ldc, ntiles int) {
	for i := range tileRows * ntiles {
		var acc [tileCols]float32
		base := i * stride
		for t, off := range taps {
			dot16(&acc, a[base+off:base+off+chans], b[t*chans*tileCols:(t+1)*chans*tileCols])
		}
		copy(c[i*ldc:i*ldc+tileCols], acc[:])
	}
}

// rowGo is the portable kernels.row.
func rowGo(a []float32, k int, b, c []float32) {
	var acc [tileCols]float32
	dot16(&acc, a[:k], b[:k*tileCols])
	copy(c[:tileCols], acc[:])
}

// dot16 adds a·B to acc, where B is len(a) rows of 16 floats. It makes two
// passes of eight columns so that the sums fit in registers.
func dot16(acc *[tileCols]float32, a, b []float32) {
	b = b[:len(a)*tileCols]
	for half := 0; half < tileCols; half += 8 {
		c0, c1, c2, c3 := acc[half], acc[half+1], acc[half+2], acc[half+3]
		c4, c5, c6, c7 := acc[half+4], acc[half+5], acc[half+6], acc[half+7]
		for i, av := range a {
			r := (*[8]float32)(b[i*tileCols+half:])
			c0 += av * r[0]
			c1 += av * r[1]
			c2 += av * r[2]
			c3 += av * r[3]
			c4 += av * r[4]
			c5 += av * r[5]
			c6 += av * r[6]
			c7 += av * r[7]
		}
		acc[half], acc[half+1], acc[half+2], acc[half+3] = c0, c1, c2, c3
		acc[half+4], acc[half+5], acc[half+6], acc[half+7] = c4, c5, c6, c7
	}
}

// poolGo is the portable kernels.pool.
func poolGo(dst []float32, dstStep int, src []float32, srcRow, n int) {
	for o := range n {
		s0 := src[32*o : 32*o+32]
		s1 := src[32*o+srcRow : 32*o+srcRow+32]
		d := dst[o*dstStep : o*dstStep+16]
		for j := range d {
			d[j] = max(0, s0[j], s0[16+j], s1[j], s1[16+j])
		}
	}
}

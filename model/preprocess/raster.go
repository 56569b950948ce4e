package preprocess

import (
	"encoding/binary"
	"math"

	"github.com/stratusml/stratus/model"
)

// box20 is the digit fitted into its BoxSide×BoxSide box, ink in 0..1.
type box20 [BoxSide * BoxSide]float32

// place quantises b and shifts it into the 28×28 frame by the whole number of
// pixels that brings its centre of mass closest to (CenterX, CenterY), as
// MNIST did. Ink shifted past the frame is cut off. It reports false when b
// holds no ink.
func place(b *box20) (Image28, bool) {
	var q [BoxSide * BoxSide]uint8
	var m, sx, sy int
	for y := range BoxSide {
		for x := range BoxSide {
			v := b[y*BoxSide+x]
			if v <= 0 {
				continue
			}
			p := uint8(255)
			if v < 1 {
				p = uint8(v*255 + 0.5)
			}
			q[y*BoxSide+x] = p
			m += int(p)
			sx += x * int(p)
			sy += y * int(p)
		}
	}
	var out Image28
	if m == 0 {
		return out, false
	}
	ox := int(math.Round(CenterX - float64(sx)/float64(m)))
	oy := int(math.Round(CenterY - float64(sy)/float64(m)))
	for y := range BoxSide {
		ty := y + oy
		if ty < 0 || ty >= model.Side {
			continue
		}
		for x := range BoxSide {
			tx := x + ox
			if tx < 0 || tx >= model.Side {
				continue
			}
			out[ty*model.Side+tx] = q[y*BoxSide+x]
		}
	}
	return out, true
}

// axisTaps are the source pixels that make one output pixel along one axis:
// weights w for source indices first, first+1, ….
type axisTaps struct {
	first int
	w     []float32
}

// axisWeights returns the resampling taps of n output pixels along one axis
// when output coordinate u maps to source coordinate origin + u/scale
// (pixel i covers [i, i+1) on both sides) over a source of srcN pixels;
// source pixels outside 0..srcN-1 count as paper. Downscaling (scale ≤ 1)
// averages the covered source area exactly (box filter); upscaling
// interpolates linearly between pixel centres.
func axisWeights(n int, origin, scale float64, srcN int) []axisTaps {
	taps := make([]axisTaps, n)
	inv := 1 / scale
	per := 2
	if scale < 1 {
		per = int(math.Ceil(inv)) + 1
	}
	buf := make([]float32, 0, n*per)
	for o := range taps {
		start := len(buf)
		first := 0
		if scale < 1 {
			a := origin + float64(o)*inv
			b := a + inv
			j0 := max(0, int(math.Floor(a)))
			j1 := min(srcN, int(math.Ceil(b)))
			first = j0
			for j := j0; j < j1; j++ {
				ov := min(b, float64(j+1)) - max(a, float64(j))
				buf = append(buf, float32(ov*scale))
			}
		} else {
			u := origin + (float64(o)+0.5)*inv - 0.5
			j := int(math.Floor(u))
			fr := float32(u - float64(j))
			switch {
			case j >= 0 && j+1 < srcN:
				first = j
				buf = append(buf, 1-fr, fr)
			case j >= 0 && j < srcN:
				first = j
				buf = append(buf, 1-fr)
			case j+1 >= 0 && j+1 < srcN:
				first = j + 1
				buf = append(buf, fr)
			}
		}
		if len(buf) == start {
			first = 0 // no source pixel: keep first a valid index
		}
		taps[o] = axisTaps{first: first, w: buf[start:len(buf):len(buf)]}
	}
	return taps
}

// resample computes dst (len(xs)×len(ys), row-major) from the sw-wide
// row-major src by the separable taps xs and ys.
func resample(src []float32, sw int, xs, ys []axisTaps, dst []float32) {
	dw := len(xs)
	r0, r1 := math.MaxInt, -1
	for _, t := range ys {
		if len(t.w) > 0 {
			r0 = min(r0, t.first)
			r1 = max(r1, t.first+len(t.w))
		}
	}
	clear(dst)
	if r1 < 0 {
		return
	}
	tmp := make([]float32, (r1-r0)*dw)
	for r := r0; r < r1; r++ {
		row := src[r*sw : (r+1)*sw]
		out := tmp[(r-r0)*dw : (r-r0+1)*dw]
		for o, t := range xs {
			var s float32
			px := row[t.first : t.first+len(t.w)]
			for k, w := range t.w {
				s += w * px[k]
			}
			out[o] = s
		}
	}
	for oy, t := range ys {
		out := dst[oy*dw : (oy+1)*dw]
		for k, w := range t.w {
			in := tmp[(t.first+k-r0)*dw : (t.first+k-r0+1)*dw]
			for o, v := range in {
				out[o] += w * v
			}
		}
	}
}

// sqDist sets d[i] to the squared Euclidean distance from pixel i of the
// w×h grid to the nearest pixel where feature is true (a large value when
// there is none), by the exact linear-time transform of Felzenszwalb and
// Huttenlocher: an exact scan along columns, then the lower envelope of
// parabolas along rows. All arithmetic is on small integers held exactly in
// float64.
func sqDist(feature []bool, w, h int, d []float64) {
	const inf = 1e12
	// Columns: distance to the nearest feature in the same column.
	for x := range w {
		last := -1
		for y := range h {
			if feature[y*w+x] {
				last = y
			}
			if last >= 0 {
				g := float64(y - last)
				d[y*w+x] = g * g
			} else {
				d[y*w+x] = inf
			}
		}
		last = -1
		for y := h - 1; y >= 0; y-- {
			if feature[y*w+x] {
				last = y
			}
			if last >= 0 {
				g := float64(last - y)
				d[y*w+x] = min(d[y*w+x], g*g)
			}
		}
	}
	// Rows: lower envelope of the parabolas (q-v)² + f(v).
	f := make([]float64, w)
	v := make([]int, w)
	z := make([]float64, w+1)
	for y := range h {
		row := d[y*w : (y+1)*w]
		copy(f, row)
		k := 0
		v[0] = 0
		z[0], z[1] = math.Inf(-1), math.Inf(1)
		for q := 1; q < w; q++ {
			fq := f[q] + float64(q*q)
			var s float64
			for {
				// z[0] is -Inf, so this stops at k == 0 at the latest.
				p := v[k]
				s = (fq - (f[p] + float64(p*p))) / float64(2*(q-p))
				if s > z[k] {
					break
				}
				k--
			}
			k++
			v[k] = q
			z[k] = s
			z[k+1] = math.Inf(1)
		}
		k = 0
		for q := range w {
			for z[k+1] < float64(q) {
				k++
			}
			g := float64(q - v[k])
			row[q] = g*g + f[v[k]]
		}
	}
}

// resampleLUT is resample for a plane of levels mapped through lut, made
// for sparse ink: the horizontal pass scatters only the non-zero source
// pixels (skipping paper eight bytes at a time) and the vertical pass skips
// the rows that got no ink.
func resampleLUT(src []uint8, sw int, lut *[256]float32, xs, ys []axisTaps, dst []float32) {
	dw := len(xs)
	clear(dst)
	r0, r1 := math.MaxInt, -1
	for _, t := range ys {
		if len(t.w) > 0 {
			r0 = min(r0, t.first)
			r1 = max(r1, t.first+len(t.w))
		}
	}
	c0, c1 := math.MaxInt, -1
	for _, t := range xs {
		if len(t.w) > 0 {
			c0 = min(c0, t.first)
			c1 = max(c1, t.first+len(t.w))
		}
	}
	if r1 < 0 || c1 < 0 {
		return
	}
	// The transpose of xs: the outputs each source column feeds.
	type feed struct {
		o int32
		w float32
	}
	start := make([]int32, c1-c0+1)
	for _, t := range xs {
		for k := range t.w {
			start[t.first+k-c0+1]++
		}
	}
	for j := 1; j < len(start); j++ {
		start[j] += start[j-1]
	}
	feeds := make([]feed, start[len(start)-1])
	next := append([]int32(nil), start[:len(start)-1]...)
	for o, t := range xs {
		for k, w := range t.w {
			j := t.first + k - c0
			feeds[next[j]] = feed{int32(o), w}
			next[j]++
		}
	}

	tmp := make([]float32, (r1-r0)*dw)
	used := make([]bool, r1-r0)
	for r := r0; r < r1; r++ {
		row := src[r*sw+c0 : r*sw+c1]
		out := tmp[(r-r0)*dw : (r-r0+1)*dw]
		for j := 0; j < len(row); j++ {
			if j+8 <= len(row) && binary.LittleEndian.Uint64(row[j:]) == 0 {
				j += 7
				continue
			}
			p := row[j]
			if p == 0 {
				continue
			}
			v := lut[p]
			used[r-r0] = true
			for _, f := range feeds[start[j]:start[j+1]] {
				out[f.o] += f.w * v
			}
		}
	}
	for oy, t := range ys {
		out := dst[oy*dw : (oy+1)*dw]
		for k, w := range t.w {
			if !used[t.first+k-r0] {
				continue
			}
			in := tmp[(t.first+k-r0)*dw : (t.first+k-r0+1)*dw]
			for o, v := range in {
				out[o] += w * v
			}
		}
	}
}

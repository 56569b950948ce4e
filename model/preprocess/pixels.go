package preprocess

import (
	"encoding/binary"
	"image"
)

// rowReader writes the luminance premultiplied by alpha (lp) and the alpha
// (a), both 0..255, of the pixels x0..x1-1 of row y, counted from the
// picture's Bounds().Min.
type rowReader func(x0, x1, y int, lp, a []uint8)

// lum8 is the Rec. 601 luma of 8-bit R, G, B (the weights of
// color.GrayModel).
func lum8(r, g, b uint32) uint8 {
	return uint8((19595*r + 38470*g + 7471*b + 1<<15) >> 16)
}

// mul255 is x·a/255, rounded (exact for all 8-bit x and a).
func mul255(x, a uint8) uint8 {
	t := uint32(x)*uint32(a) + 128
	return uint8((t + t>>8) >> 8)
}

// newRowReader returns a reader specialised for the common concrete image
// types (those image/png produces and YCbCr), and a generic one otherwise.
//
// It is long because it is one case per concrete image type, each a few
// lines of the same shape; a helper per case would only move the switch.
func newRowReader(img image.Image) rowReader {
	b := img.Bounds()
	switch m := img.(type) {
	case *image.Gray:
		return func(x0, x1, y int, lp, a []uint8) {
			i := m.PixOffset(b.Min.X+x0, b.Min.Y+y)
			copy(lp, m.Pix[i:i+x1-x0])
			fill255(a)
		}
	case *image.Gray16:
		return func(x0, x1, y int, lp, a []uint8) {
			i := m.PixOffset(b.Min.X+x0, b.Min.Y+y)
			for k := range x1 - x0 {
				lp[k] = m.Pix[i+2*k]
			}
			fill255(a)
		}
	case *image.RGBA:
		return func(x0, x1, y int, lp, a []uint8) {
			p := m.Pix[m.PixOffset(b.Min.X+x0, b.Min.Y+y):]
			for k := range x1 - x0 {
				q := p[4*k : 4*k+4 : 4*k+4]
				lp[k] = lum8(uint32(q[0]), uint32(q[1]), uint32(q[2]))
				a[k] = q[3]
			}
		}
	case *image.NRGBA:
		return func(x0, x1, y int, lp, a []uint8) {
			p := m.Pix[m.PixOffset(b.Min.X+x0, b.Min.Y+y):]
			for k := range x1 - x0 {
				q := p[4*k : 4*k+4 : 4*k+4]
				l := lum8(uint32(q[0]), uint32(q[1]), uint32(q[2]))
				if q[3] != 255 {
					l = mul255(l, q[3])
				}
				lp[k], a[k] = l, q[3]
			}
		}
	case *grayAlpha:
		return func(x0, x1, y int, lp, a []uint8) {
			p := m.Pix[m.PixOffset(b.Min.X+x0, b.Min.Y+y):]
			for k := range x1 - x0 {
				l, al := p[2*k], p[2*k+1]
				if al != 255 {
					l = mul255(l, al)
				}
				lp[k], a[k] = l, al
			}
		}
	case *image.RGBA64:
		return func(x0, x1, y int, lp, a []uint8) {
			p := m.Pix[m.PixOffset(b.Min.X+x0, b.Min.Y+y):]
			for k := range x1 - x0 {
				q := p[8*k : 8*k+8 : 8*k+8]
				lp[k] = lum8(uint32(q[0]), uint32(q[2]), uint32(q[4]))
				a[k] = q[6]
			}
		}
	case *image.NRGBA64:
		return func(x0, x1, y int, lp, a []uint8) {
			p := m.Pix[m.PixOffset(b.Min.X+x0, b.Min.Y+y):]
			for k := range x1 - x0 {
				q := p[8*k : 8*k+8 : 8*k+8]
				lp[k] = mul255(lum8(uint32(q[0]), uint32(q[2]), uint32(q[4])), q[6])
				a[k] = q[6]
			}
		}
	case *image.Paletted:
		var tl, ta [256]uint8
		for i, c := range m.Palette {
			if i >= 256 {
				break
			}
			r, g, bb, aa := c.RGBA()
			tl[i] = lum8(r>>8, g>>8, bb>>8)
			ta[i] = uint8(aa >> 8)
		}
		return func(x0, x1, y int, lp, a []uint8) {
			p := m.Pix[m.PixOffset(b.Min.X+x0, b.Min.Y+y):]
			for k := range x1 - x0 {
				lp[k], a[k] = tl[p[k]], ta[p[k]]
			}
		}
	case *image.YCbCr:
		return func(x0, x1, y int, lp, a []uint8) {
			for k := range x1 - x0 {
				lp[k] = m.Y[m.YOffset(b.Min.X+x0+k, b.Min.Y+y)]
			}
			fill255(a)
		}
	}
	return func(x0, x1, y int, lp, a []uint8) {
		for k := range x1 - x0 {
			r, g, bb, aa := img.At(b.Min.X+x0+k, b.Min.Y+y).RGBA()
			lp[k] = lum8(r>>8, g>>8, bb>>8)
			a[k] = uint8(aa >> 8)
		}
	}
}

func fill255(a []uint8) {
	for i := range a {
		a[i] = 255
	}
}

// inkReader writes the raw ink of row y (see extractInk), with levels at
// or below noiseFloor set to 0, into out.
type inkReader func(y int, out []uint8)

// newInkReader returns an inkReader for paper level paper and polarity
// sign, specialised for the common concrete types; read (with its row
// buffers lp and al) serves the others.
//
// It is long because it is one case per concrete image type sharing the
// opaque table and blend, each a few lines of the same shape; a helper per
// case would have to be handed both and would only move the switch.
func newInkReader(img image.Image, read rowReader, paper, sign int, lp, al []uint8) inkReader {
	// opaque maps the luminance of an opaque pixel to its ink.
	var opaque [256]uint8
	for l := range opaque {
		d := sign * (l - paper)
		if d > noiseFloor {
			opaque[l] = uint8(min(d, 255))
		}
	}
	// blend is the ink of a pixel with premultiplied luminance l and
	// alpha a.
	pa := sign * paper
	blend := func(l, a uint8) uint8 {
		d := (sign*int(l)*255 - int(a)*pa) / 255
		if d <= noiseFloor {
			return 0
		}
		return uint8(min(d, 255))
	}
	b := img.Bounds()
	switch m := img.(type) {
	case *image.Gray:
		return func(y int, out []uint8) {
			i := m.PixOffset(b.Min.X, b.Min.Y+y)
			for x, g := range m.Pix[i : i+len(out)] {
				out[x] = opaque[g]
			}
		}
	case *image.RGBA:
		conv := func(u uint32) uint8 {
			l := lum8(u&0xff, u>>8&0xff, u>>16&0xff)
			if a := uint8(u >> 24); a != 255 {
				return blend(l, a)
			}
			return opaque[l]
		}
		return func(y int, out []uint8) {
			convert32(m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):][:4*len(out)], out, conv)
		}
	case *image.NRGBA:
		conv := func(u uint32) uint8 {
			l := lum8(u&0xff, u>>8&0xff, u>>16&0xff)
			if a := uint8(u >> 24); a != 255 {
				return blend(mul255(l, a), a)
			}
			return opaque[l]
		}
		return func(y int, out []uint8) {
			convert32(m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):][:4*len(out)], out, conv)
		}
	case *grayAlpha:
		return func(y int, out []uint8) {
			p := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):][:2*len(out)]
			// Once per run of equal pixels (the paper, mostly), two
			// pixels at a time.
			conv := func(u uint16) uint8 {
				if l, a := uint8(u), uint8(u>>8); a != 255 {
					return blend(mul255(l, a), a)
				}
				return opaque[uint8(u)]
			}
			prev := binary.LittleEndian.Uint16(p)
			v := conv(prev)
			pair := uint32(prev) | uint32(prev)<<16
			for x := 0; x < len(out); x++ {
				if x+2 <= len(out) && binary.LittleEndian.Uint32(p[2*x:]) == pair {
					out[x], out[x+1] = v, v
					x++
					continue
				}
				if u := binary.LittleEndian.Uint16(p[2*x:]); u != prev {
					prev, v = u, conv(u)
					pair = uint32(u) | uint32(u)<<16
				}
				out[x] = v
			}
		}
	case *image.Paletted:
		var tbl [256]uint8
		for i, c := range m.Palette {
			if i >= 256 {
				break
			}
			r, g, bb, aa := c.RGBA()
			tbl[i] = blend(lum8(r>>8, g>>8, bb>>8), uint8(aa>>8))
		}
		return func(y int, out []uint8) {
			i := m.PixOffset(b.Min.X, b.Min.Y+y)
			for x, c := range m.Pix[i : i+len(out)] {
				out[x] = tbl[c]
			}
		}
	}
	return func(y int, out []uint8) {
		read(0, len(out), y, lp, al)
		for x := range out {
			out[x] = blend(lp[x], al[x])
		}
	}
}

// convert32 converts a row of 4-byte pixels p into out with conv, once per
// run of equal pixels (the paper, mostly), comparing two pixels at a time.
func convert32(p []byte, out []uint8, conv func(uint32) uint8) {
	n := len(out)
	if n == 0 {
		return
	}
	prev := binary.LittleEndian.Uint32(p)
	v := conv(prev)
	pair := uint64(prev) | uint64(prev)<<32
	for x := 0; x < n; x++ {
		if x+2 <= n && binary.LittleEndian.Uint64(p[4*x:]) == pair {
			out[x], out[x+1] = v, v
			x++
			continue
		}
		if u := binary.LittleEndian.Uint32(p[4*x:]); u != prev {
			prev, v = u, conv(u)
			pair = uint64(u) | uint64(u)<<32
		}
		out[x] = v
	}
}

package preprocess

import (
	"image"
	"image/color"
)

// plane is a picture as DecodePNG keeps it: w×h pixels of bpp bytes, one
// byte of luminance (or a palette index) and, with transparency, one of
// alpha.
type plane struct {
	pix     []byte
	w, h    int
	bpp     int
	palette color.Palette // paletted pictures only
}

// newPlane allocates the picture d decodes into: a palette index, a gray
// level, or a gray level and an alpha a pixel.
func (d *pngDecoder) newPlane() *plane {
	p := &plane{w: d.w, h: d.h, bpp: 1}
	switch {
	case d.ctype == pngPaletted:
		p.palette = d.palette
	case d.ctype == pngGrayAlpha, d.ctype == pngRGBA, d.trns:
		p.bpp = 2
	}
	p.pix = make([]byte, d.w*d.h*p.bpp)
	return p
}

// row is the storage of row y.
func (p *plane) row(y int) []byte { return p.pix[y*p.w*p.bpp : (y+1)*p.w*p.bpp] }

// scatter copies the pixels of row, a row of an interlaced pass, to every
// step-th pixel from x0 of dst.
func (p *plane) scatter(dst, row []byte, x0, step int) {
	for i, x := 0, x0*p.bpp; i < len(row); i, x = i+p.bpp, x+step*p.bpp {
		copy(dst[x:x+p.bpp], row[i:i+p.bpp])
	}
}

// image wraps the plane, without copying it, in the image type of its kind.
func (p *plane) image() image.Image {
	r := image.Rect(0, 0, p.w, p.h)
	switch {
	case p.palette != nil:
		return &image.Paletted{Pix: p.pix, Stride: p.w, Rect: r, Palette: p.palette}
	case p.bpp == 2:
		return &grayAlpha{Pix: p.pix, Stride: 2 * p.w, Rect: r}
	}
	return &image.Gray{Pix: p.pix, Stride: p.w, Rect: r}
}

// grayAlpha is a gray picture with an alpha channel, not premultiplied, 8
// bits each: what DecodePNG keeps of a picture with transparency.
type grayAlpha struct {
	Pix    []uint8 // gray, alpha; row-major
	Stride int
	Rect   image.Rectangle
}

// ColorModel is color.NRGBAModel: the gray level and alpha are not premultiplied.
func (g *grayAlpha) ColorModel() color.Model { return color.NRGBAModel }

// Bounds returns the picture's rectangle.
func (g *grayAlpha) Bounds() image.Rectangle { return g.Rect }

// At returns the pixel at (x, y) as a color.NRGBA.
func (g *grayAlpha) At(x, y int) color.Color {
	if !image.Pt(x, y).In(g.Rect) {
		return color.NRGBA{}
	}
	i := g.PixOffset(x, y)
	l := g.Pix[i]
	return color.NRGBA{l, l, l, g.Pix[i+1]}
}

// PixOffset returns the index in Pix of the pixel at (x, y).
func (g *grayAlpha) PixOffset(x, y int) int {
	return (y-g.Rect.Min.Y)*g.Stride + (x-g.Rect.Min.X)*2
}

// converter returns the function that turns one unfiltered row of samples
// (src) into the plane's pixels (dst, of the row's width), for d's colour
// type, bit depth and transparency: the luminance and alpha that
// newRowReader reads from image/png's decoding of the same row.
func (d *pngDecoder) converter() func(src, dst []byte) {
	switch d.ctype {
	case pngGray:
		return d.grayConverter()
	case pngRGB:
		if d.depth == 16 {
			return d.rgb16Converter()
		}
		return d.rgb8Converter()
	case pngPaletted:
		if d.depth == 8 {
			return func(src, dst []byte) { copy(dst, src) }
		}
		depth := d.depth
		return func(src, dst []byte) {
			for x := range dst {
				dst[x] = subByte(src, x, depth)
			}
		}
	case pngGrayAlpha:
		if d.depth == 16 {
			return func(src, dst []byte) {
				for i := 0; i < len(dst); i += 2 {
					dst[i], dst[i+1] = src[2*i], src[2*i+2]
				}
			}
		}
		return func(src, dst []byte) { copy(dst, src) }
	}
	// RGBA.
	if d.depth == 16 {
		return func(src, dst []byte) {
			for i := 0; i < len(dst); i += 2 {
				q := src[4*i : 4*i+8 : 4*i+8]
				dst[i], dst[i+1] = lum8(uint32(q[0]), uint32(q[2]), uint32(q[4])), q[6]
			}
		}
	}
	return func(src, dst []byte) {
		for i := 0; i < len(dst); i += 2 {
			q := src[2*i : 2*i+4 : 2*i+4]
			dst[i], dst[i+1] = lum8(uint32(q[0]), uint32(q[1]), uint32(q[2])), q[3]
		}
	}
}

// subByte is sample x of a row of depth-bit samples (depth 1, 2 or 4),
// most significant bits first.
func subByte(src []byte, x, depth int) byte {
	bit := x * depth
	return src[bit/8] >> (8 - depth - bit%8) & (1<<depth - 1)
}

// grayConverter converts gray rows of any depth, with their transparent
// level if there is one.
func (d *pngDecoder) grayConverter() func(src, dst []byte) {
	depth, trns := d.depth, d.trns
	switch {
	case depth == 16 && trns:
		key := uint16(d.key[0])<<8 | uint16(d.key[1])
		return func(src, dst []byte) {
			for i := 0; i < len(dst); i += 2 {
				dst[i], dst[i+1] = src[i], opacity(uint16(src[i])<<8|uint16(src[i+1]) == key)
			}
		}
	case depth == 16:
		return func(src, dst []byte) {
			for x := range dst {
				dst[x] = src[2*x]
			}
		}
	case depth == 8 && trns:
		key := d.key[1]
		return func(src, dst []byte) {
			for i := 0; i < len(dst); i += 2 {
				dst[i], dst[i+1] = src[i/2], opacity(src[i/2] == key)
			}
		}
	case depth == 8:
		return func(src, dst []byte) { copy(dst, src) }
	}
	scale := byte(0xff / (1<<depth - 1))
	if trns {
		key := d.key[1]
		return func(src, dst []byte) {
			for i := 0; i < len(dst); i += 2 {
				l := subByte(src, i/2, depth) * scale
				dst[i], dst[i+1] = l, opacity(l == key)
			}
		}
	}
	return func(src, dst []byte) {
		for x := range dst {
			dst[x] = subByte(src, x, depth) * scale
		}
	}
}

// rgb8Converter converts 8-bit RGB rows, with their transparent colour if
// there is one.
func (d *pngDecoder) rgb8Converter() func(src, dst []byte) {
	if !d.trns {
		return func(src, dst []byte) {
			for x := range dst {
				q := src[3*x : 3*x+3 : 3*x+3]
				dst[x] = lum8(uint32(q[0]), uint32(q[1]), uint32(q[2]))
			}
		}
	}
	kr, kg, kb := d.key[1], d.key[3], d.key[5]
	return func(src, dst []byte) {
		for i := 0; i < len(dst); i += 2 {
			q := src[3*i/2 : 3*i/2+3 : 3*i/2+3]
			dst[i], dst[i+1] = lum8(uint32(q[0]), uint32(q[1]), uint32(q[2])), opacity(q[0] == kr && q[1] == kg && q[2] == kb)
		}
	}
}

// rgb16Converter converts 16-bit RGB rows, with their transparent colour
// if there is one.
func (d *pngDecoder) rgb16Converter() func(src, dst []byte) {
	if !d.trns {
		return func(src, dst []byte) {
			for x := range dst {
				q := src[6*x : 6*x+6 : 6*x+6]
				dst[x] = lum8(uint32(q[0]), uint32(q[2]), uint32(q[4]))
			}
		}
	}
	key := d.key
	return func(src, dst []byte) {
		for i := 0; i < len(dst); i += 2 {
			q := src[3*i : 3*i+6 : 3*i+6]
			dst[i], dst[i+1] = lum8(uint32(q[0]), uint32(q[2]), uint32(q[4])), opacity([6]byte(q) == key)
		}
	}
}

// opacity is the alpha of a pixel that is, or is not, the transparent colour.
func opacity(transparent bool) byte {
	if transparent {
		return 0
	}
	return 0xff
}

// unfilter undoes the row filter ft of cur, given the previous row prev
// (zeros for the first) and the filters' pixel distance bpp.
func unfilter(ft byte, cur, prev []byte, bpp int) error {
	switch ft {
	case 0: // none
	case 1: // sub
		for i := bpp; i < len(cur); i++ {
			cur[i] += cur[i-bpp]
		}
	case 2: // up
		for i, p := range prev {
			cur[i] += p
		}
	case 3: // average
		for i := range min(bpp, len(cur)) {
			cur[i] += prev[i] / 2
		}
		for i := bpp; i < len(cur); i++ {
			cur[i] += byte((int(cur[i-bpp]) + int(prev[i])) / 2)
		}
	case 4: // Paeth
		for i := range cur {
			var a, c byte
			if i >= bpp {
				a, c = cur[i-bpp], prev[i-bpp]
			}
			cur[i] += paeth(a, prev[i], c)
		}
	default:
		return errPNG("bad filter type")
	}
	return nil
}

// paeth is the Paeth predictor of the PNG specification.
func paeth(a, b, c byte) byte {
	pa := absInt(int(b) - int(c))
	pb := absInt(int(a) - int(c))
	pc := absInt(int(a) + int(b) - 2*int(c))
	switch {
	case pa <= pb && pa <= pc:
		return a
	case pb <= pc:
		return b
	}
	return c
}

func absInt(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

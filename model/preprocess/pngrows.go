package preprocess

import (
	"encoding/binary"
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
			// Once per run of equal pixels.
			prev, l := ^binary.LittleEndian.Uint64(src), byte(0)
			for i := 0; i < len(dst); i += 2 {
				u := binary.LittleEndian.Uint64(src[4*i:])
				if u != prev {
					prev, l = u, lum8(uint32(u&0xff), uint32(u>>16&0xff), uint32(u>>32&0xff))
				}
				dst[i], dst[i+1] = l, byte(u>>48)
			}
		}
	}
	return func(src, dst []byte) {
		// Once per run of equal pixels (the paper, mostly), two pixels at
		// a time.
		prev := binary.LittleEndian.Uint32(src)
		la := uint16(lum8(prev&0xff, prev>>8&0xff, prev>>16&0xff)) | uint16(prev>>24)<<8
		pair, out := uint64(prev)|uint64(prev)<<32, uint32(la)|uint32(la)<<16
		for i := 0; i < len(dst); i += 2 {
			if i+4 <= len(dst) && binary.LittleEndian.Uint64(src[2*i:]) == pair {
				binary.LittleEndian.PutUint32(dst[i:], out)
				i += 2
				continue
			}
			if u := binary.LittleEndian.Uint32(src[2*i:]); u != prev {
				prev = u
				la = uint16(lum8(u&0xff, u>>8&0xff, u>>16&0xff)) | uint16(u>>24)<<8
				pair, out = uint64(u)|uint64(u)<<32, uint32(la)|uint32(la)<<16
			}
			binary.LittleEndian.PutUint16(dst[i:], la)
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
			// Once per run of equal pixels.
			var pr, pg, pb, l byte
			if len(dst) > 0 {
				pr, pg, pb = src[0], src[1], src[2]
				l = lum8(uint32(pr), uint32(pg), uint32(pb))
			}
			for x := range dst {
				q := src[3*x : 3*x+3 : 3*x+3]
				if q[0] != pr || q[1] != pg || q[2] != pb {
					pr, pg, pb = q[0], q[1], q[2]
					l = lum8(uint32(pr), uint32(pg), uint32(pb))
				}
				dst[x] = l
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
		addBytes(cur, prev[:len(cur)])
	case 3: // average
		for i := range min(bpp, len(cur)) {
			cur[i] += prev[i] / 2
		}
		for i := bpp; i < len(cur); i++ {
			cur[i] += byte((int(cur[i-bpp]) + int(prev[i])) / 2)
		}
	case 4: // Paeth
		unpaeth(cur, prev, bpp)
	default:
		return errPNG("bad filter type")
	}
	return nil
}

// addBytes adds src to dst byte by byte, modulo 256, eight bytes at a
// time: the low seven bits of each byte are added, their carry landing in
// the byte's top bit, whose sum is then the exclusive or of the three.
func addBytes(dst, src []byte) {
	const top = 0x8080808080808080
	i := 0
	for ; i+8 <= len(dst); i += 8 {
		a, b := binary.LittleEndian.Uint64(dst[i:]), binary.LittleEndian.Uint64(src[i:])
		binary.LittleEndian.PutUint64(dst[i:], (a&^top+b&^top)^((a^b)&top))
	}
	for ; i < len(dst); i++ {
		dst[i] += src[i]
	}
}

// unpaeth undoes the Paeth filter: each byte is predicted by the one of
// its left (a), upper (b) and upper-left (c) neighbours nearest to
// a + b − c, ties going to a, then b. Each of the bpp channels is one pass
// along the row, carrying its left and upper-left bytes.
func unpaeth(cur, prev []byte, bpp int) {
	for ch := range min(bpp, len(cur)) {
		var a, c int
		for i := ch; i < len(cur); i += bpp {
			b := int(prev[i])
			pa, pb := absInt(b-c), absInt(a-c) // |p−a|, |p−b| for p = a + b − c
			pc := absInt(a + b - 2*c)
			switch {
			case pa <= pb && pa <= pc:
			case pb <= pc:
				a = b
			default:
				a = c
			}
			a = (a + int(cur[i])) & 0xff
			cur[i] = byte(a)
			c = b
		}
	}
}

func absInt(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

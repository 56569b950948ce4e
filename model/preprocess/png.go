package preprocess

import (
	"compress/zlib"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"

	"github.com/stratusml/stratus/drawing"
)

// DecodePNG decodes a PNG picture from outside input, after drawing.ReadPNGInfo's
// checks, into the 8-bit luminance and opacity that preprocessing reads (a
// bounded picture whatever its header says: see drawing.Limits.MaxPixels). Rows are
// converted as they are decompressed, so the picture never exists at its
// file's depth: 16-bit channels become 8-bit (their high byte, as image/png
// and ImageDigit read them), colour becomes its Rec. 601 luma. It returns
// an *image.Gray for an opaque picture (one byte a pixel), an
// *image.Paletted for a paletted one (one byte), and a two-byte gray and
// alpha image for one with transparency. Preprocessing any of them gives
// exactly what it gives for image/png's decoding of the same file. Errors
// wrap ErrTooLarge or ErrInvalid.
func DecodePNG(data []byte, lim drawing.Limits) (image.Image, error) {
	h, err := drawing.ReadPNGHeader(data, lim)
	if err != nil {
		return nil, err
	}
	d := &pngDecoder{data: data, pos: h.Next, stage: stageIHDR,
		w: h.Width, h: h.Height, depth: h.Depth, ctype: h.ColorType, interlace: h.Interlace, nch: h.Channels}
	img, err := d.decode()
	if err != nil {
		return nil, fmt.Errorf("%w: PNG: %w", drawing.ErrInvalid, err)
	}
	return img, nil
}

// errPNG is a PNG file that breaks the format; it is wrapped with
// ErrInvalid on its way out.
type errPNG = drawing.PNGError

// PNG colour types.
const (
	pngGray      = drawing.PNGGray
	pngRGB       = drawing.PNGRGB
	pngPaletted  = drawing.PNGPaletted
	pngGrayAlpha = drawing.PNGGrayAlpha
	pngRGBA      = drawing.PNGRGBA
)

// Decoding stages: the PNG specification's chunk order (IHDR, PLTE,
// tRNS, IDAT, IEND), enforced as image/png enforces it.
const (
	stageStart = iota
	stageIHDR
	stagePLTE
	stageTRNS
	stageIDAT
	stageIEND
)

// pngDecoder decodes one PNG file held in memory.
type pngDecoder struct {
	data  []byte
	pos   int // offset of the next chunk
	stage int

	w, h      int
	depth     int // bits per sample
	ctype     byte
	interlace bool
	nch       int // samples per pixel

	palette color.Palette // paletted pictures: 256 entries, as image/png pads them
	trns    bool          // gray and RGB pictures: a transparent colour is set
	key     [6]byte       // its samples, as image/png keeps them
}

// chunk is one chunk of the file: its type and data, the CRC checked.
type chunk struct {
	typ  string
	body []byte
}

// nextChunk reads the chunk at d.pos and checks its CRC.
func (d *pngDecoder) nextChunk() (chunk, error) {
	typ, body, next, err := drawing.NextPNGChunk(d.data, d.pos)
	if err != nil {
		return chunk{}, err
	}
	d.pos = next
	return chunk{typ: typ, body: body}, nil
}

// channels is the number of samples in a pixel.
func (d *pngDecoder) channels() int { return d.nch }

// decode reads the chunks after IHDR and the picture in the IDAT chunks,
// and checks the rest of the file up to IEND.
func (d *pngDecoder) decode() (image.Image, error) {
	var img image.Image
	for d.stage != stageIEND {
		c, err := d.nextChunk()
		if err != nil {
			return nil, err
		}
		switch c.typ {
		case "IHDR":
			return nil, errPNG("chunk out of order")
		case "PLTE":
			err = d.parsePLTE(c.body)
		case "tRNS":
			err = d.parseTRNS(c.body)
		case "IDAT":
			if d.stage == stageIDAT {
				continue // trailing IDAT chunks after the picture are ignored, as by image/png
			}
			if d.ctype == pngPaletted && d.stage == stageIHDR {
				return nil, errPNG("chunk out of order")
			}
			d.stage = stageIDAT
			img, err = d.readPixels(c)
		case "IEND":
			if d.stage != stageIDAT {
				return nil, errPNG("chunk out of order")
			}
			if len(c.body) != 0 {
				return nil, errPNG("bad IEND length")
			}
			d.stage = stageIEND
		}
		if err != nil {
			return nil, err
		}
	}
	return img, nil
}

// parsePLTE reads the palette of a paletted picture; other colour types
// may have one (a suggestion for display), which is ignored.
func (d *pngDecoder) parsePLTE(b []byte) error {
	if d.stage != stageIHDR {
		return errPNG("chunk out of order")
	}
	d.stage = stagePLTE
	np := len(b) / 3
	if len(b)%3 != 0 || np <= 0 || np > 256 || np > 1<<d.depth {
		return errPNG("bad PLTE length")
	}
	switch d.ctype {
	case pngPaletted:
		// Entries past the palette are opaque black, as image/png and
		// libpng read an index out of range.
		d.palette = make(color.Palette, 256)
		for i := range d.palette {
			d.palette[i] = color.RGBA{A: 0xff}
		}
		for i := range np {
			d.palette[i] = color.RGBA{b[3*i], b[3*i+1], b[3*i+2], 0xff}
		}
	case pngRGB, pngRGBA:
	default:
		return errPNG("PLTE, colour type mismatch")
	}
	return nil
}

// parseTRNS reads the transparency of a picture without an alpha channel:
// one alpha per palette entry, or the one gray level or colour that is
// transparent.
func (d *pngDecoder) parseTRNS(b []byte) error {
	switch {
	case d.ctype == pngPaletted && d.stage != stagePLTE,
		d.ctype == pngRGB && d.stage != stageIHDR && d.stage != stagePLTE,
		d.ctype != pngPaletted && d.ctype != pngRGB && d.stage != stageIHDR:
		return errPNG("chunk out of order")
	}
	d.stage = stageTRNS
	switch d.ctype {
	case pngGray, pngRGB:
		if want := 2 * d.channels(); len(b) != want {
			return errPNG("bad tRNS length")
		}
		copy(d.key[:], b)
		if d.depth < 8 {
			// Compared with the sample scaled to 8 bits, as image/png
			// does (a byte product, wrapping as it does).
			d.key[1] *= byte(0xff / (1<<d.depth - 1))
		}
		d.trns = true
	case pngPaletted:
		if len(b) > 256 {
			return errPNG("bad tRNS length")
		}
		for i, a := range b {
			c := d.palette[i].(color.RGBA)
			d.palette[i] = color.NRGBA{c.R, c.G, c.B, a}
		}
	default:
		return errPNG("tRNS, colour type mismatch")
	}
	return nil
}

// idatReader presents the consecutive IDAT chunks from first on as one
// stream, one chunk at a time, the way image/png reads them (so that what
// is left over after the compressed stream ends is judged the same way).
type idatReader struct {
	d    *pngDecoder
	left []byte // unread data of the current chunk
}

func (r *idatReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for len(r.left) == 0 {
		c, err := r.d.nextChunk()
		if err != nil {
			return 0, err
		}
		if c.typ != "IDAT" {
			return 0, errPNG("not enough pixel data")
		}
		r.left = c.body
	}
	n := copy(p, r.left)
	r.left = r.left[n:]
	return n, nil
}

// readPixels decompresses the IDAT chunks from first on into the picture.
func (d *pngDecoder) readPixels(first chunk) (image.Image, error) {
	r := &idatReader{d: d, left: first.body}
	zr, err := zlib.NewReader(r)
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	img := d.newPlane()
	for pass := range d.passes() {
		if err := d.readPass(zr, img, pass); err != nil {
			return nil, err
		}
	}
	// The compressed stream must end here (its checksum is checked at its
	// end), and with it the current chunk.
	var one [1]byte
	n, err := 0, error(nil)
	for i := 0; n == 0 && err == nil; i++ {
		if i == 100 {
			return nil, io.ErrNoProgress
		}
		n, err = zr.Read(one[:])
	}
	if err != nil && err != io.EOF {
		return nil, err
	}
	if n != 0 || len(r.left) != 0 {
		return nil, errPNG("too much pixel data")
	}
	return img.image(), nil
}

// adam7 is the placement of the seven passes of an interlaced picture:
// every xStep-th pixel from x0 of every yStep-th row from y0.
var adam7 = [7]struct{ x0, y0, xStep, yStep int }{
	{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4}, {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2},
}

// pass is a sub-picture stored as one block of rows.
type pass struct{ x0, y0, xStep, yStep, w, h int }

// passes yields the picture's passes: itself, or Adam7's seven (those of
// zero width or height have no data at all).
func (d *pngDecoder) passes() func(yield func(pass) bool) {
	return func(yield func(pass) bool) {
		if !d.interlace {
			yield(pass{0, 0, 1, 1, d.w, d.h})
			return
		}
		for _, a := range adam7 {
			p := pass{a.x0, a.y0, a.xStep, a.yStep, (d.w - a.x0 + a.xStep - 1) / a.xStep, (d.h - a.y0 + a.yStep - 1) / a.yStep}
			if p.w > 0 && p.h > 0 && !yield(p) {
				return
			}
		}
	}
}

// readPass reads, unfilters and converts the rows of one pass into img.
func (d *pngDecoder) readPass(zr io.Reader, img *plane, p pass) error {
	bits := d.depth * d.channels()
	bpp := (bits + 7) / 8 // the filters' pixel distance
	rowLen := 1 + (bits*p.w+7)/8
	cur, prev := make([]byte, rowLen), make([]byte, rowLen)
	convert := d.converter()
	var row []byte // the converted row of a pass that is not the whole picture
	if p.xStep > 1 {
		row = make([]byte, p.w*img.bpp)
	}
	for y := range p.h {
		if _, err := io.ReadFull(zr, cur); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return errPNG("not enough pixel data")
			}
			return err
		}
		if err := unfilter(cur[0], cur[1:], prev[1:], bpp); err != nil {
			return err
		}
		dst := img.row(p.y0 + y*p.yStep)
		if p.xStep == 1 {
			convert(cur[1:], dst)
		} else {
			convert(cur[1:], row)
			img.scatter(dst, row, p.x0, p.xStep)
		}
		cur, prev = prev, cur
	}
	return nil
}

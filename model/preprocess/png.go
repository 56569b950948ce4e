package preprocess

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"io"
)

// pngSignature starts every PNG file.
const pngSignature = "\x89PNG\r\n\x1a\n"

// PNGInfo is what the header of a PNG file says of its picture, read
// before any pixel is.
type PNGInfo struct {
	Width, Height int
	// BitsPerPixel is the size of one pixel in the file's decompressed
	// data: the bit depth times the channels, 1 (a bilevel picture) to 64
	// (16-bit RGBA).
	BitsPerPixel int
	// Bytes is the size of the file.
	Bytes int
}

// Pixels is Width×Height.
func (p PNGInfo) Pixels() int { return p.Width * p.Height }

// ReadPNGInfo reads the header of a PNG file from outside input and checks
// it against lim: at most lim.MaxPNGBytes bytes, the PNG signature, a valid
// IHDR chunk, at most lim.MaxSide pixels a side, lim.MaxPixels in all and
// 4·lim.MaxPixels bytes of decompressed data (see Limits.MaxPixels). It
// reads the chunks up to IHDR only, so a picture whose header breaks a
// limit costs nothing however many pixels it declares. Errors wrap
// ErrTooLarge or ErrInvalid.
func ReadPNGInfo(data []byte, lim Limits) (PNGInfo, error) {
	lim = lim.orDefault()
	d, err := readPNGHeader(data, lim)
	if err != nil {
		return PNGInfo{}, err
	}
	return d.info(), nil
}

// DecodePNG decodes a PNG picture from outside input, after ReadPNGInfo's
// checks, into the 8-bit luminance and opacity that preprocessing reads (a
// bounded picture whatever its header says: see Limits.MaxPixels). Rows are
// converted as they are decompressed, so the picture never exists at its
// file's depth: 16-bit channels become 8-bit (their high byte, as image/png
// and ImageDigit read them), colour becomes its Rec. 601 luma. It returns
// an *image.Gray for an opaque picture (one byte a pixel), an
// *image.Paletted for a paletted one (one byte), and a two-byte gray and
// alpha image for one with transparency. Preprocessing any of them gives
// exactly what it gives for image/png's decoding of the same file. Errors
// wrap ErrTooLarge or ErrInvalid.
func DecodePNG(data []byte, lim Limits) (image.Image, error) {
	lim = lim.orDefault()
	d, err := readPNGHeader(data, lim)
	if err != nil {
		return nil, err
	}
	img, err := d.decode()
	if err != nil {
		return nil, fmt.Errorf("%w: PNG: %w", ErrInvalid, err)
	}
	return img, nil
}

// errPNG is a PNG file that breaks the format; it is wrapped with
// ErrInvalid on its way out.
type errPNG string

func (e errPNG) Error() string { return string(e) }

// PNG colour types.
const (
	pngGray      = 0
	pngRGB       = 2
	pngPaletted  = 3
	pngGrayAlpha = 4
	pngRGBA      = 6
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
	rest := d.data[d.pos:]
	if len(rest) < 12 {
		return chunk{}, errPNG("truncated file")
	}
	n := binary.BigEndian.Uint32(rest)
	if n > 0x7fffffff || int64(n) > int64(len(rest)-12) {
		return chunk{}, errPNG("truncated chunk")
	}
	end := 8 + int(n)
	if crc32.ChecksumIEEE(rest[4:end]) != binary.BigEndian.Uint32(rest[end:]) {
		return chunk{}, errPNG("invalid checksum")
	}
	d.pos += end + 4
	return chunk{typ: string(rest[4:8]), body: rest[8:end]}, nil
}

// readPNGHeader checks the file's size and signature and reads its chunks
// up to IHDR, which it checks against lim.
func readPNGHeader(data []byte, lim Limits) (*pngDecoder, error) {
	if len(data) > lim.MaxPNGBytes {
		return nil, fmt.Errorf("%w: PNG is %d bytes, the limit is %d", ErrTooLarge, len(data), lim.MaxPNGBytes)
	}
	if !bytes.HasPrefix(data, []byte(pngSignature)) {
		return nil, fmt.Errorf("%w: not a PNG file (the PNG signature is missing)", ErrInvalid)
	}
	d := &pngDecoder{data: data, pos: len(pngSignature)}
	for d.stage == stageStart {
		c, err := d.nextChunk()
		if err == nil {
			err = d.headerChunk(c)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: PNG header: %w", ErrInvalid, err)
		}
	}
	if d.w > lim.MaxSide || d.h > lim.MaxSide {
		return nil, fmt.Errorf("%w: PNG is %d×%d pixels, the limit is %d×%d", ErrTooLarge, d.w, d.h, lim.MaxSide, lim.MaxSide)
	}
	if d.w*d.h > lim.MaxPixels {
		return nil, fmt.Errorf("%w: PNG is %d×%d = %d pixels, the limit is %d pixels", ErrTooLarge, d.w, d.h, d.w*d.h, lim.MaxPixels)
	}
	if bits := d.w * d.h * d.depth * d.channels(); bits > 8*maxDataPerPixel*lim.MaxPixels {
		return nil, fmt.Errorf("%w: PNG is %d×%d pixels of %d bits, %d bytes of pixel data; the limit is %d bytes (%d pixels of 8-bit RGBA)",
			ErrTooLarge, d.w, d.h, d.depth*d.channels(), bits/8, maxDataPerPixel*lim.MaxPixels, lim.MaxPixels)
	}
	return d, nil
}

// maxDataPerPixel is the decompressed data a picture may hold per pixel
// of Limits.MaxPixels: what an 8-bit RGBA picture holds.
const maxDataPerPixel = 4

// headerChunk handles a chunk before IHDR: IHDR itself, or an unknown
// chunk, which is skipped.
func (d *pngDecoder) headerChunk(c chunk) error {
	switch c.typ {
	case "IHDR":
		d.stage = stageIHDR
		return d.parseIHDR(c.body)
	case "PLTE", "tRNS", "IDAT", "IEND":
		return errPNG("chunk out of order")
	}
	return nil
}

// parseIHDR reads the picture's size and format.
func (d *pngDecoder) parseIHDR(b []byte) error {
	if len(b) != 13 {
		return errPNG("bad IHDR length")
	}
	if b[10] != 0 || b[11] != 0 {
		return errPNG("unsupported compression or filter method")
	}
	if b[12] > 1 {
		return errPNG("invalid interlace method")
	}
	w, h := int32(binary.BigEndian.Uint32(b[0:])), int32(binary.BigEndian.Uint32(b[4:]))
	if w <= 0 || h <= 0 {
		return errPNG("non-positive dimension")
	}
	d.w, d.h, d.depth, d.ctype, d.interlace = int(w), int(h), int(b[8]), b[9], b[12] == 1
	if d.channels() == 0 {
		return errPNG(fmt.Sprintf("unsupported bit depth %d with colour type %d", b[8], b[9]))
	}
	return nil
}

// channels is the number of samples in a pixel, 0 for a colour type and
// bit depth that PNG does not allow.
func (d *pngDecoder) channels() int {
	switch d.ctype {
	case pngGray:
		if d.depth == 1 || d.depth == 2 || d.depth == 4 || d.depth == 8 || d.depth == 16 {
			return 1
		}
	case pngPaletted:
		if d.depth == 1 || d.depth == 2 || d.depth == 4 || d.depth == 8 {
			return 1
		}
	case pngRGB:
		if d.depth == 8 || d.depth == 16 {
			return 3
		}
	case pngGrayAlpha:
		if d.depth == 8 || d.depth == 16 {
			return 2
		}
	case pngRGBA:
		if d.depth == 8 || d.depth == 16 {
			return 4
		}
	}
	return 0
}

func (d *pngDecoder) info() PNGInfo {
	return PNGInfo{Width: d.w, Height: d.h, BitsPerPixel: d.depth * d.channels(), Bytes: len(d.data)}
}

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

package drawing

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// PNGSignature starts every PNG file.
const PNGSignature = "\x89PNG\r\n\x1a\n"

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

// PNGHeader is a PNG file's IHDR chunk, checked, and where the chunks after
// it start: what a pixel decoder (model/preprocess) reads on from.
type PNGHeader struct {
	PNGInfo
	Depth     int  // bits per sample
	ColorType byte // the PNG colour type
	Channels  int  // samples per pixel
	Interlace bool // Adam7
	// Next is the offset in the file of the chunk after IHDR.
	Next int
}

// ReadPNGInfo reads the header of a PNG file from outside input and checks
// it against lim: at most lim.MaxPNGBytes bytes, the PNG signature, a valid
// IHDR chunk, at most lim.MaxSide pixels a side, lim.MaxPixels in all and
// 4·lim.MaxPixels bytes of decompressed data (see Limits.MaxPixels). It
// reads the chunks up to IHDR only, so a picture whose header breaks a
// limit costs nothing however many pixels it declares. Errors wrap
// ErrTooLarge or ErrInvalid.
func ReadPNGInfo(data []byte, lim Limits) (PNGInfo, error) {
	h, err := ReadPNGHeader(data, lim)
	return h.PNGInfo, err
}

// ReadPNGHeader is ReadPNGInfo with the rest of the header.
func ReadPNGHeader(data []byte, lim Limits) (PNGHeader, error) {
	lim = lim.WithDefaults()
	if len(data) > lim.MaxPNGBytes {
		return PNGHeader{}, fmt.Errorf("%w: PNG is %d bytes, the limit is %d", ErrTooLarge, len(data), lim.MaxPNGBytes)
	}
	if !bytes.HasPrefix(data, []byte(PNGSignature)) {
		return PNGHeader{}, fmt.Errorf("%w: not a PNG file (the PNG signature is missing)", ErrInvalid)
	}
	h := PNGHeader{Next: len(PNGSignature)}
	for done := false; !done; {
		typ, body, next, err := NextPNGChunk(data, h.Next)
		if err == nil {
			h.Next = next
			done, err = h.headerChunk(typ, body)
		}
		if err != nil {
			return PNGHeader{}, fmt.Errorf("%w: PNG header: %w", ErrInvalid, err)
		}
	}
	h.Bytes = len(data)
	h.BitsPerPixel = h.Depth * h.Channels
	if h.Width > lim.MaxSide || h.Height > lim.MaxSide {
		return PNGHeader{}, fmt.Errorf("%w: PNG is %d×%d pixels, the limit is %d×%d", ErrTooLarge, h.Width, h.Height, lim.MaxSide, lim.MaxSide)
	}
	if h.Pixels() > lim.MaxPixels {
		return PNGHeader{}, fmt.Errorf("%w: PNG is %d×%d = %d pixels, the limit is %d pixels", ErrTooLarge, h.Width, h.Height, h.Pixels(), lim.MaxPixels)
	}
	if bits := h.Pixels() * h.BitsPerPixel; bits > 8*maxDataPerPixel*lim.MaxPixels {
		return PNGHeader{}, fmt.Errorf("%w: PNG is %d×%d pixels of %d bits, %d bytes of pixel data; the limit is %d bytes (%d pixels of 8-bit RGBA)",
			ErrTooLarge, h.Width, h.Height, h.BitsPerPixel, bits/8, maxDataPerPixel*lim.MaxPixels, lim.MaxPixels)
	}
	return h, nil
}

// maxDataPerPixel is the decompressed data a picture may hold per pixel
// of Limits.MaxPixels: what an 8-bit RGBA picture holds.
const maxDataPerPixel = 4

// PNGError is a PNG file that breaks the format; readers wrap it with
// ErrInvalid on its way out.
type PNGError string

func (e PNGError) Error() string { return string(e) }

// NextPNGChunk reads the chunk of data at offset pos, checks its CRC, and
// returns its type, its data and the offset of the chunk after it.
func NextPNGChunk(data []byte, pos int) (typ string, body []byte, next int, err error) {
	rest := data[pos:]
	if len(rest) < 12 {
		return "", nil, pos, PNGError("truncated file")
	}
	n := binary.BigEndian.Uint32(rest)
	if n > 0x7fffffff || int64(n) > int64(len(rest)-12) {
		return "", nil, pos, PNGError("truncated chunk")
	}
	end := 8 + int(n)
	if crc32.ChecksumIEEE(rest[4:end]) != binary.BigEndian.Uint32(rest[end:]) {
		return "", nil, pos, PNGError("invalid checksum")
	}
	return string(rest[4:8]), rest[8:end], pos + end + 4, nil
}

// headerChunk handles a chunk before IHDR: IHDR itself (done), or an
// unknown chunk, which is skipped.
func (h *PNGHeader) headerChunk(typ string, body []byte) (done bool, err error) {
	switch typ {
	case "IHDR":
		return true, h.parseIHDR(body)
	case "PLTE", "tRNS", "IDAT", "IEND":
		return false, PNGError("chunk out of order")
	}
	return false, nil
}

// parseIHDR reads the picture's size and format.
func (h *PNGHeader) parseIHDR(b []byte) error {
	if len(b) != 13 {
		return PNGError("bad IHDR length")
	}
	if b[10] != 0 || b[11] != 0 {
		return PNGError("unsupported compression or filter method")
	}
	if b[12] > 1 {
		return PNGError("invalid interlace method")
	}
	w, ht := int32(binary.BigEndian.Uint32(b[0:])), int32(binary.BigEndian.Uint32(b[4:]))
	if w <= 0 || ht <= 0 {
		return PNGError("non-positive dimension")
	}
	h.Width, h.Height, h.Depth, h.ColorType, h.Interlace = int(w), int(ht), int(b[8]), b[9], b[12] == 1
	h.Channels = pngChannels(h.ColorType, h.Depth)
	if h.Channels == 0 {
		return PNGError(fmt.Sprintf("unsupported bit depth %d with colour type %d", b[8], b[9]))
	}
	return nil
}

// PNG colour types.
const (
	PNGGray      = 0
	PNGRGB       = 2
	PNGPaletted  = 3
	PNGGrayAlpha = 4
	PNGRGBA      = 6
)

// pngChannels is the number of samples in a pixel, 0 for a colour type and
// bit depth that PNG does not allow.
func pngChannels(ctype byte, depth int) int {
	switch ctype {
	case PNGGray:
		if depth == 1 || depth == 2 || depth == 4 || depth == 8 || depth == 16 {
			return 1
		}
	case PNGPaletted:
		if depth == 1 || depth == 2 || depth == 4 || depth == 8 {
			return 1
		}
	case PNGRGB:
		if depth == 8 || depth == 16 {
			return 3
		}
	case PNGGrayAlpha:
		if depth == 8 || depth == 16 {
			return 2
		}
	case PNGRGBA:
		if depth == 8 || depth == 16 {
			return 4
		}
	}
	return 0
}

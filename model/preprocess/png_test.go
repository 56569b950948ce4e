package preprocess

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/stratusml/stratus/drawing"
	"hash/crc32"
	"image"
	"image/png"
	"math/rand/v2"
	"reflect"
	"testing"
)

// pngSpec describes a PNG file for pngFile to write: any colour type, bit
// depth, palette, transparency and interlacing, with random filtered rows
// (any bytes are valid filtered data, so both decoders must agree on what
// they unfilter to) drawn from a few byte values, so that transparent
// colours do occur.
type pngSpec struct {
	w, h         int
	ctype, depth byte
	interlace    bool
	plte, trns   []byte
	seed         uint64
	// idatSplit cuts the compressed data into IDAT chunks of this size
	// (0: one chunk).
	idatSplit int
}

func (s pngSpec) String() string {
	return fmt.Sprintf("%dx%d type %d depth %d interlace %v plte %d trns %d", s.w, s.h, s.ctype, s.depth, s.interlace, len(s.plte)/3, len(s.trns))
}

// pngChunk appends a chunk with its CRC.
func pngChunk(b []byte, typ string, data []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
	b = append(b, typ...)
	b = append(b, data...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(append([]byte(typ), data...)))
}

// pngFile writes the file s describes.
func pngFile(s pngSpec) []byte {
	r := rand.New(rand.NewPCG(s.seed, 7))
	chans := map[byte]int{pngGray: 1, pngRGB: 3, pngPaletted: 1, pngGrayAlpha: 2, pngRGBA: 4}[s.ctype]
	bits := int(s.depth) * chans
	alphabet := []byte{0x00, 0xff, 0x80, 0x01, 0x10}
	var raw []byte
	d := &pngDecoder{w: s.w, h: s.h, interlace: s.interlace}
	for p := range d.passes() {
		for range p.h {
			raw = append(raw, byte(r.IntN(5)))
			for range (bits*p.w + 7) / 8 {
				raw = append(raw, alphabet[r.IntN(len(alphabet))])
			}
		}
	}
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(raw)
	zw.Close()

	out := []byte(drawing.PNGSignature)
	out = pngChunk(out, "aaAA", []byte("an unknown chunk before IHDR"))
	ihdr := binary.BigEndian.AppendUint32(nil, uint32(s.w))
	ihdr = binary.BigEndian.AppendUint32(ihdr, uint32(s.h))
	ihdr = append(ihdr, s.depth, s.ctype, 0, 0, 0)
	if s.interlace {
		ihdr[12] = 1
	}
	out = pngChunk(out, "IHDR", ihdr)
	if s.plte != nil {
		out = pngChunk(out, "PLTE", s.plte)
	}
	if s.trns != nil {
		out = pngChunk(out, "tRNS", s.trns)
	}
	out = pngChunk(out, "tEXt", []byte("Comment\x00between the header and the data"))
	data := z.Bytes()
	for len(data) > 0 {
		n := len(data)
		if s.idatSplit > 0 {
			n = min(n, s.idatSplit)
		}
		out = pngChunk(out, "IDAT", data[:n])
		data = data[n:]
	}
	out = pngChunk(out, "tEXt", []byte("Comment\x00after the data"))
	return pngChunk(out, "IEND", nil)
}

// pngSpecs are files of every colour type and bit depth PNG allows, with
// and without transparency and interlacing, some with odd sizes (rows that
// end inside a byte, interlacing passes that are empty).
func pngSpecs() []pngSpec {
	var specs []pngSpec
	sizes := [][2]int{{13, 7}, {1, 1}, {3, 9}, {40, 33}}
	plte := func(n int) []byte {
		b := make([]byte, 3*n)
		for i := range b {
			b[i] = byte(i * 37)
		}
		return b
	}
	seed := uint64(1)
	add := func(ctype, depth byte, plteN int, trns []byte) {
		for _, sz := range sizes {
			for _, il := range []bool{false, true} {
				s := pngSpec{w: sz[0], h: sz[1], ctype: ctype, depth: depth, interlace: il, trns: trns, seed: seed, idatSplit: int(seed % 5 * 7)}
				if plteN > 0 {
					s.plte = plte(plteN)
				}
				specs = append(specs, s)
				seed++
			}
		}
	}
	for _, depth := range []byte{1, 2, 4, 8, 16} {
		add(pngGray, depth, 0, nil)
		add(pngGray, depth, 0, []byte{0x00, 0xff & (1<<depth - 1)})
		add(pngGray, depth, 0, []byte{0x01, 0x10})
		if depth <= 8 {
			add(pngPaletted, depth, min(1<<depth, 256), nil)
			add(pngPaletted, depth, max(1, 1<<depth/2), []byte{0, 128, 255}) // indices past the palette
		}
		if depth >= 8 {
			add(pngRGB, depth, 0, nil)
			add(pngRGB, depth, 0, []byte{0x00, 0xff, 0x00, 0xff, 0x00, 0xff})
			add(pngRGB, depth, 0, []byte{0x80, 0x80, 0x01, 0x01, 0xff, 0xff})
			add(pngRGB, depth, 5, nil) // a suggested palette, ignored
			add(pngGrayAlpha, depth, 0, nil)
			add(pngRGBA, depth, 0, nil)
		}
	}
	return specs
}

// samePixels reports the first row where the luminance and alpha that
// preprocessing reads from a and b differ, and compares their ink for a
// light and a dark paper.
func samePixels(a, b image.Image) error {
	if a.Bounds() != b.Bounds() {
		return fmt.Errorf("bounds %v and %v", a.Bounds(), b.Bounds())
	}
	W, H := a.Bounds().Dx(), a.Bounds().Dy()
	buf := make([][]uint8, 8)
	for i := range buf {
		buf[i] = make([]uint8, W)
	}
	ra, rb := newRowReader(a), newRowReader(b)
	inks := func(img image.Image, read rowReader, lp, al []uint8) []inkReader {
		return []inkReader{newInkReader(img, read, 230, -1, lp, al), newInkReader(img, read, 20, 1, lp, al)}
	}
	ia, ib := inks(a, ra, buf[4], buf[5]), inks(b, rb, buf[6], buf[7])
	for y := range H {
		ra(0, W, y, buf[0], buf[1])
		rb(0, W, y, buf[2], buf[3])
		if !bytes.Equal(buf[0], buf[2]) || !bytes.Equal(buf[1], buf[3]) {
			return fmt.Errorf("row %d: luminance %v alpha %v, want %v %v", y, buf[2], buf[3], buf[0], buf[1])
		}
		for k := range ia {
			ia[k](y, buf[0])
			ib[k](y, buf[2])
			if !bytes.Equal(buf[0], buf[2]) {
				return fmt.Errorf("row %d: ink %v, want %v", y, buf[2], buf[0])
			}
		}
	}
	return nil
}

// TestDecodePNGMatchesImagePNG decodes files of every format with
// DecodePNG and with image/png: the pixels that preprocessing reads are the
// same, each kept in one byte (two with transparency).
func TestDecodePNGMatchesImagePNG(t *testing.T) {
	for _, s := range pngSpecs() {
		t.Run(s.String(), func(t *testing.T) {
			data := pngFile(s)
			want, err := png.Decode(bytes.NewReader(data))
			if err != nil {
				t.Fatalf("image/png: %v", err)
			}
			got, err := DecodePNG(data, drawing.DefaultLimits())
			if err != nil {
				t.Fatalf("DecodePNG: %v", err)
			}
			if err := samePixels(want, got); err != nil {
				t.Fatal(err)
			}
			transparent := s.ctype == pngGrayAlpha || s.ctype == pngRGBA || (s.trns != nil && s.ctype != pngPaletted)
			switch g := got.(type) {
			case *image.Gray:
				if transparent || s.ctype == pngPaletted {
					t.Errorf("decoded as %T", got)
				}
			case *image.Paletted:
				if s.ctype != pngPaletted {
					t.Errorf("decoded as %T", got)
				}
			case *grayAlpha:
				if !transparent || len(g.Pix) != 2*s.w*s.h {
					t.Errorf("decoded as %T of %d bytes", got, len(g.Pix))
				}
			default:
				t.Errorf("decoded as %T", got)
			}
		})
	}
}

// TestDecodePNGRefusesWhatImagePNGRefuses breaks valid files in the ways
// image/png checks: both refuse them.
func TestDecodePNGRefusesWhatImagePNGRefuses(t *testing.T) {
	good := pngSpec{w: 9, h: 5, ctype: pngPaletted, depth: 4, plte: make([]byte, 12), trns: []byte{1}, seed: 3, idatSplit: 10}
	file := pngFile(good)
	chunkAt := func(typ string) int { return pngChunkAt(file, typ) }
	without := func(typ string) []byte {
		i := chunkAt(typ)
		n := int(binary.BigEndian.Uint32(file[i:]))
		return append(append([]byte(nil), file[:i]...), file[i+12+n:]...)
	}
	moved := func(typ, before string) []byte {
		i := chunkAt(typ)
		n := int(binary.BigEndian.Uint32(file[i:]))
		c := append([]byte(nil), file[i:i+12+n]...)
		rest := append(append([]byte(nil), file[:i]...), file[i+12+n:]...)
		j := pngChunkAt(rest, before)
		return append(append(append([]byte(nil), rest[:j]...), c...), rest[j:]...)
	}
	patched := func(off int, b byte) []byte {
		out := append([]byte(nil), file...)
		out[off] = b
		return out
	}
	ihdr := chunkAt("IHDR")
	cases := map[string][]byte{
		"no PLTE":             without("PLTE"),
		"no IEND":             without("IEND"),
		"tRNS before PLTE":    moved("tRNS", "PLTE"),
		"IEND before IDAT":    moved("IEND", "IDAT"),
		"PLTE after IDAT":     moved("PLTE", "IEND"),
		"bad CRC in IHDR":     patched(ihdr+20, file[ihdr+20]^1),
		"bad CRC in IDAT":     patched(chunkAt("IDAT")+9, file[chunkAt("IDAT")+9]^1),
		"bad depth":           fixedCRC(patched(ihdr+16, 3), ihdr),
		"bad colour type":     fixedCRC(patched(ihdr+17, 5), ihdr),
		"interlace method 2":  fixedCRC(patched(ihdr+20, 2), ihdr),
		"zero width":          fixedCRC(patched(ihdr+11, 0), ihdr),
		"truncated":           file[:len(file)-30],
		"signature only":      []byte(drawing.PNGSignature),
		"more rows than data": fixedCRC(patched(ihdr+15, 6), ihdr),
	}
	for name, data := range cases {
		_, errStd := png.Decode(bytes.NewReader(data))
		_, err := DecodePNG(data, drawing.DefaultLimits())
		if errStd == nil {
			t.Errorf("%s: image/png decodes it; the case is wrong", name)
		}
		if err == nil || !errors.Is(err, drawing.ErrInvalid) {
			t.Errorf("%s: DecodePNG: %v, want ErrInvalid (image/png: %v)", name, err, errStd)
		}
	}
}

// pngChunkAt is the offset of the first chunk of type typ in a PNG file.
func pngChunkAt(data []byte, typ string) int {
	for i := len(drawing.PNGSignature); i+8 <= len(data); i += 12 + int(binary.BigEndian.Uint32(data[i:])) {
		if string(data[i+4:i+8]) == typ {
			return i
		}
	}
	panic("no " + typ + " chunk")
}

// fixedCRC rewrites the CRC of the chunk at offset i of a PNG file.
func fixedCRC(data []byte, i int) []byte {
	n := int(binary.BigEndian.Uint32(data[i:]))
	binary.BigEndian.PutUint32(data[i+8+n:], crc32.ChecksumIEEE(data[i+4:i+8+n]))
	return data
}

// FuzzDecodePNGMatchesImagePNG: whatever the bytes, DecodePNG decodes a
// file (within the limits) if and only if image/png does, to the same
// pixels, and preprocessing reads the same digits from both.
func FuzzDecodePNGMatchesImagePNG(f *testing.F) {
	for i, s := range pngSpecs() {
		if i%3 == 0 {
			f.Add(pngFile(s))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := drawing.ReadPNGInfo(data, drawing.DefaultLimits()); err != nil {
			return // image/png would allocate what the header claims
		}
		want, errStd := png.Decode(bytes.NewReader(data))
		got, err := DecodePNG(data, drawing.DefaultLimits())
		if (err == nil) != (errStd == nil) {
			t.Fatalf("DecodePNG: %v; image/png: %v", err, errStd)
		}
		if err != nil {
			return
		}
		if err := samePixels(want, got); err != nil {
			t.Fatal(err)
		}
		dw, errW := FromImage(want)
		dg, errG := FromImage(got)
		if !reflect.DeepEqual(dw, dg) || (errW == nil) != (errG == nil) {
			t.Fatalf("FromImage: %v, %v; from image/png's picture: %v, %v", dg, errG, dw, errW)
		}
	})
}

package preprocess

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"github.com/stratusml/stratus/drawing"
	"image"
	"image/color"
	"image/png"
	"math"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// pictureFormat is how a test picture is stored in its PNG.
type pictureFormat struct {
	name string
	// convert turns the painted picture into the image png.Encode stores
	// in that format.
	convert func(*image.NRGBA) image.Image
}

// pictureFormats are the PNG formats the decode benchmark measures: the
// cheapest (8-bit gray, 1 byte a pixel), what a browser's canvas exports
// (8-bit RGBA, 4 bytes) and the costliest (16-bit RGBA, 8 bytes).
var pictureFormats = []pictureFormat{
	{"gray8", func(src *image.NRGBA) image.Image {
		g := image.NewGray(src.Bounds())
		for i := range g.Pix {
			g.Pix[i] = src.Pix[4*i] // the paper and the ink are gray
		}
		return g
	}},
	{"rgba8", func(src *image.NRGBA) image.Image { return src }},
	{"rgba16", func(src *image.NRGBA) image.Image {
		m := image.NewNRGBA64(src.Bounds())
		for i := 0; i < len(src.Pix); i += 4 {
			for c := range 4 {
				v := src.Pix[i+c]
				m.Pix[2*(i+c)], m.Pix[2*(i+c)+1] = v, v
			}
		}
		return m
	}},
}

// sidePicture is a "4" drawn across a side×side picture in blue ink on a
// sheet that is transparent at the corners (so that every format keeps its
// alpha channel), scaled as a person draws on a canvas of that size.
func sidePicture(side int) *image.NRGBA {
	s := float64(side)
	sk := skeleton("4", placement{size: 0.75 * s, x: 0.12 * s, y: 0.1 * s, slant: 0.1}, max(1, s/100))
	img := paint(sk, side, side, style{pen: max(3, s/18), ink: color.NRGBA{20, 30, 140, 255}, paper: white})
	img.Pix[3] = 0 // one transparent pixel: png.Encode keeps the alpha channel
	return img
}

// dotsPicture is 400 short strokes in a 20×20 grid across a side×side
// picture: as many pieces as segmentation groups (segMaxParts), each close
// enough to its neighbours to be grouped with them, the costliest content
// for number mode that this package's tests know of.
func dotsPicture(side int) *image.NRGBA {
	const n = 20
	step := float64(side) / (n + 1)
	var sk [][][2]float64
	for i := 1; i <= n; i++ {
		for j := 1; j <= n; j++ {
			x, y := float64(i)*step, float64(j)*step
			sk = append(sk, [][2]float64{{x, y}, {x + step/4, y + step/3}})
		}
	}
	img := paint(sk, side, side, style{pen: step / 6, ink: color.NRGBA{20, 30, 140, 255}, paper: white})
	img.Pix[3] = 0
	return img
}

// cpuTime is the CPU time this process has used (user and system, all
// threads): on a machine shared with other work, a benchmark's CPU time per
// operation is steadier than its wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the CPU time per operation since start, garbage
// collection included, as cpu-ms/op.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime()-start)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}

// benchSides are the picture sides the decode benchmark measures.
var benchSides = []int{280, 560, 1024, 1448, 2048, 4096}

// BenchmarkDecodePicture measures what a picture costs the pipeline from
// its PNG bytes to network inputs (FromPNG: decode, ink, segmentation in
// number mode), by format and side, with the pixel budget lifted so that
// the sizes over it are measured too. B/op is the memory it allocates.
// The image/png cases decode with the standard library instead, as
// DecodePNG did before it converted rows as it decompresses them.
func BenchmarkDecodePicture(b *testing.B) {
	lim := drawing.Limits{MaxPixels: 1 << 30}
	decoders := []struct {
		name   string
		digits func([]byte) ([]Digit, error)
	}{
		{"stratus", func(data []byte) ([]Digit, error) { return FromPNG(data, lim) }},
		{"image-png", func(data []byte) ([]Digit, error) {
			img, err := png.Decode(bytes.NewReader(data))
			if err != nil {
				return nil, err
			}
			return FromImage(img)
		}},
	}
	for _, side := range benchSides {
		for _, content := range []struct {
			name  string
			paint func(int) *image.NRGBA
		}{{"digit", sidePicture}, {"dots", dotsPicture}} {
			for _, f := range pictureFormats {
				for _, dec := range decoders {
					if content.name == "dots" && dec.name != "stratus" {
						continue // the content's cost is in segmentation, whatever the decoder
					}
					b.Run(fmt.Sprintf("%s/%s/%d/%s", content.name, f.name, side, dec.name), func(b *testing.B) {
						data := encodePNG(b, f.convert(content.paint(side)))
						b.ReportAllocs()
						cpu := cpuTime()
						for b.Loop() {
							if _, err := dec.digits(data); err != nil {
								b.Fatal(err)
							}
						}
						reportCPU(b, cpu)
						b.ReportMetric(float64(len(data)), "png-bytes")
					})
				}
			}
		}
	}
}

// scribble is n points of strokes on a 320×320 canvas in strokes of at
// most perStroke points: short zigzags side by side, a row of digit-sized
// scribbles (many groups for number mode), with integer coordinates so
// that many points fit the strokes JSON limit.
func scribble(n, perStroke int) []drawing.Stroke {
	var out []drawing.Stroke
	for i := 0; i < n; i += perStroke {
		k := len(out)
		x0, y0 := float64(10+k*37%290), float64(20+k/8*13%250)
		var s drawing.Stroke
		for j := range min(perStroke, n-i) {
			s = append(s, drawing.Point{X: x0 + float64(j%7*3), Y: y0 + float64(j%11*4)})
		}
		out = append(out, s)
	}
	return out
}

// strokesJSON writes strokes as a browser would, without times and with
// integer coordinates.
func strokesJSON(strokes []drawing.Stroke) []byte {
	b := []byte{'['}
	for i, s := range strokes {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		for j, p := range s {
			if j > 0 {
				b = append(b, ',')
			}
			b = fmt.Appendf(b, `{"x":%d,"y":%d}`, int(p.X), int(p.Y))
		}
		b = append(b, ']')
	}
	return append(b, ']')
}

// BenchmarkStrokesWork measures what strokes cost from their JSON to
// network inputs (DecodeStrokesJSON, then FromStrokes as in number mode),
// by number of points: an ordinary digit is 50 to 300 points; the 64 KiB
// JSON limit allows about 3,500 such points.
func BenchmarkStrokesWork(b *testing.B) {
	for _, c := range []struct{ points, perStroke int }{{150, 75}, {1000, 100}, {3500, 20}, {3500, 1750}} {
		data := strokesJSON(scribble(c.points, c.perStroke))
		b.Run(fmt.Sprintf("%d-points-%d-a-stroke", c.points, c.perStroke), func(b *testing.B) {
			b.ReportAllocs()
			cpu := cpuTime()
			for b.Loop() {
				s, err := drawing.DecodeStrokesJSON(data, drawing.DefaultLimits())
				if err != nil {
					b.Fatal(err)
				}
				if _, err := FromStrokes(s, 320, 320); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, cpu)
			b.ReportMetric(float64(len(data)), "json-bytes")
		})
	}
}

// plainPNG writes a w×h PNG of colour type ctype (gray or RGBA) and bit
// depth 8 or 16, ink where ink(x, y) says on white paper, quickly (no
// filters, the fastest compression): large test pictures without
// image/png's encoder, which is slow under the race detector.
func plainPNG(tb testing.TB, w, h int, ctype, depth byte, ink func(x, y int) bool) []byte {
	tb.Helper()
	chans := map[byte]int{pngGray: 1, pngRGBA: 4}[ctype]
	bpp := chans * int(depth) / 8
	paper, dark := bytes.Repeat([]byte{0xff}, bpp), make([]byte, bpp)
	if ctype == pngRGBA {
		copy(dark[bpp*3/4:], bytes.Repeat([]byte{0xff}, bpp/4)) // opaque
	}
	var z bytes.Buffer
	zw, err := zlib.NewWriterLevel(&z, zlib.BestSpeed)
	if err != nil {
		tb.Fatal(err)
	}
	row := make([]byte, 1+w*bpp)
	for y := range h {
		for x := range w {
			px := paper
			if ink(x, y) {
				px = dark
			}
			copy(row[1+x*bpp:], px)
		}
		zw.Write(row)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return pngHeaderFile(w, h, ctype, depth, z.Bytes())
}

// pngHeaderFile is a PNG file of a w×h picture whose IDAT chunk holds idat.
func pngHeaderFile(w, h int, ctype, depth byte, idat []byte) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, uint32(w))
	ihdr = binary.BigEndian.AppendUint32(ihdr, uint32(h))
	out := pngChunk([]byte(drawing.PNGSignature), "IHDR", append(ihdr, depth, ctype, 0, 0, 0))
	out = pngChunk(out, "IDAT", idat)
	return pngChunk(out, "IEND", nil)
}

// dots is the ink of dotsPicture's 20×20 grid on a side×side picture
// (squares rather than strokes): 400 pieces.
func dots(side int) func(x, y int) bool {
	step := side / 21
	return func(x, y int) bool { return x >= step && y >= step && x%step < step/4 && y%step < step/3 }
}

// allocated is the memory that f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestPictureCostBounded: the costliest pictures the limits let through
// (as many pixels and bytes of pixel data as they allow, 400 pieces of
// ink) are decoded and preprocessed in number mode within 6 bytes of
// memory a pixel and 2 MiB: the picture is kept at one or two bytes a
// pixel whatever its depth, where image/png kept RGBA at four bytes a
// pixel and 16-bit RGBA at eight (7.3 and 12.9 bytes a pixel in all).
// (Their time is BenchmarkDecodePicture's.)
func TestPictureCostBounded(t *testing.T) {
	lim := drawing.DefaultLimits()
	side := int(math.Sqrt(float64(lim.MaxPixels)))           // 1448
	side16 := int(math.Sqrt(float64(lim.MaxPixels * 4 / 8))) // 1024: 8 bytes a pixel
	cases := []struct {
		name         string
		side         int
		ctype, depth byte
	}{
		{"8-bit gray", side, pngGray, 8},
		{"8-bit RGBA", side, pngRGBA, 8},
		{"16-bit RGBA", side16, pngRGBA, 16},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := plainPNG(t, c.side, c.side, c.ctype, c.depth, dots(c.side))
			if _, err := drawing.ReadPNGInfo(data, lim); err != nil {
				t.Fatalf("the picture is over the limits: %v", err)
			}
			var ds []Digit
			var err error
			got := allocated(func() { ds, err = FromPNG(data, lim) })
			if err != nil || len(ds) == 0 {
				t.Fatalf("FromPNG: %d digits, %v", len(ds), err)
			}
			pixels := c.side * c.side
			if limit := 6*uint64(pixels) + 2<<20; got > limit {
				t.Errorf("%d×%d: %.1f MB allocated (%.1f bytes a pixel), want at most %.1f MB", c.side, c.side, float64(got)/1e6, float64(got)/float64(pixels), float64(limit)/1e6)
			}
			t.Logf("%d×%d: %d digits, %.1f MB allocated, %.1f bytes a pixel", c.side, c.side, len(ds), float64(got)/1e6, float64(got)/float64(pixels))
		})
	}
}

// TestPictureBudget: a picture is refused from its header alone, before
// any of its pixels is allocated, when it has more pixels than the budget
// (2 MiP) or more bytes of pixel data than 8-bit RGBA at the budget, and
// accepted up to them, 1170×1170 (a phone's canvas) and 1920×1080
// included.
func TestPictureBudget(t *testing.T) {
	cases := []struct {
		name         string
		w, h         int
		ctype, depth byte
		words        string // of the refusal, "" when accepted
	}{
		{"4096×4096 16-bit RGBA", 4096, 4096, pngRGBA, 16, "the limit is 2097152 pixels"},
		{"1449×1448 8-bit RGBA", 1449, 1448, pngRGBA, 8, "the limit is 2097152 pixels"},
		{"1025×1024 16-bit RGBA", 1025, 1024, pngRGBA, 16, "bytes of pixel data; the limit is 8388608 bytes"},
		{"4096×600 gray", 4096, 600, pngGray, 8, "the limit is 2097152 pixels"},
		{"1448×1448 8-bit RGBA", 1448, 1448, pngRGBA, 8, ""},
		{"1024×1024 16-bit RGBA", 1024, 1024, pngRGBA, 16, ""},
		{"1170×1170 8-bit RGBA", 1170, 1170, pngRGBA, 8, ""},
		{"1920×1080 8-bit RGBA", 1920, 1080, pngRGBA, 8, ""},
		{"4096×1 gray", 4096, 1, pngGray, 8, ""},
	}
	for _, c := range cases {
		// The header and a few bytes of data: enough to be refused by,
		// not to be decoded.
		data := pngHeaderFile(c.w, c.h, c.ctype, c.depth, []byte{0x78, 0x01, 0x01, 0x00, 0x00, 0xff, 0xff})
		info, err := drawing.ReadPNGInfo(data, drawing.DefaultLimits())
		if c.words == "" {
			if err != nil || info.Width != c.w || info.Height != c.h {
				t.Errorf("%s: %+v, %v; want it accepted", c.name, info, err)
			}
			continue
		}
		checkErr(t, c.name, err, drawing.ErrTooLarge, c.words)
		var derr error
		got := allocated(func() { _, derr = DecodePNG(data, drawing.DefaultLimits()) })
		checkErr(t, c.name+" decoded", derr, drawing.ErrTooLarge, c.words)
		if got > 64<<10 {
			t.Errorf("%s: refusing it allocated %d bytes", c.name, got)
		}
	}
}

// TestLocalLimits: the user's own files and stored samples keep the limits
// they had before the pixel budget (MaxSide on a side), which is for
// strangers' requests only.
func TestLocalLimits(t *testing.T) {
	for _, c := range []struct {
		w, h  int
		local bool // accepted by LocalLimits
	}{
		{1500, 1500, true}, {4096, 4096, true}, {4097, 16, false},
	} {
		data := pngHeaderFile(c.w, c.h, pngRGBA, 8, []byte{0x78, 0x01, 0x01, 0x00, 0x00, 0xff, 0xff})
		if _, err := drawing.ReadPNGInfo(data, drawing.DefaultLimits()); err == nil {
			t.Errorf("%d×%d: accepted by DefaultLimits", c.w, c.h)
		}
		if _, err := drawing.ReadPNGInfo(data, drawing.LocalLimits()); (err == nil) != c.local {
			t.Errorf("%d×%d: LocalLimits: %v, want accepted = %v", c.w, c.h, err, c.local)
		}
	}
}

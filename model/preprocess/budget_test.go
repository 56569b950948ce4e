package preprocess

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
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
var benchSides = []int{280, 560, 1024, 2048, 4096}

// BenchmarkDecodePicture measures what a picture costs the pipeline from
// its PNG bytes to network inputs (FromPNG: decode, ink, segmentation in
// number mode), by format and side, with the pixel budget lifted so that
// the sizes over it are measured too. B/op is the memory it allocates.
// The image/png cases decode with the standard library instead, as
// DecodePNG did before it converted rows as it decompresses them.
func BenchmarkDecodePicture(b *testing.B) {
	lim := Limits{MaxPixels: 1 << 30}
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
					if content.name == "dots" && (f.name != "rgba16" || dec.name != "stratus") {
						continue // the content's cost is in segmentation, whatever the format
					}
					b.Run(fmt.Sprintf("%s/%s/%d/%s", content.name, f.name, side, dec.name), func(b *testing.B) {
						data := encodePNG(b, f.convert(content.paint(side)))
						b.ReportAllocs()
						b.ReportMetric(float64(len(data)), "png-bytes")
						cpu := cpuTime()
						for b.Loop() {
							if _, err := dec.digits(data); err != nil {
								b.Fatal(err)
							}
						}
						reportCPU(b, cpu)
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
func scribble(n, perStroke int) []Stroke {
	var out []Stroke
	for i := 0; i < n; i += perStroke {
		k := len(out)
		x0, y0 := float64(10+k*37%290), float64(20+k/8*13%250)
		var s Stroke
		for j := range min(perStroke, n-i) {
			s = append(s, Point{X: x0 + float64(j%7*3), Y: y0 + float64(j%11*4)})
		}
		out = append(out, s)
	}
	return out
}

// strokesJSON writes strokes as a browser would, without times and with
// integer coordinates.
func strokesJSON(strokes []Stroke) []byte {
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
			b.ReportMetric(float64(len(data)), "json-bytes")
			cpu := cpuTime()
			defer reportCPU(b, cpu)
			for b.Loop() {
				s, err := DecodeStrokesJSON(data, DefaultLimits())
				if err != nil {
					b.Fatal(err)
				}
				if _, err := FromStrokes(s, 320, 320); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

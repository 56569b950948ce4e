package preprocess

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"strings"
	"testing"

	"github.com/stratusml/stratus/drawing"
	"github.com/stratusml/stratus/model"
)

// templates are stroke skeletons of a few digits in a unit box (x right, y
// down, the digit about 1 high), as a person would draw them on a canvas.
var templates = map[string][][][2]float64{
	"0": {ellipse(0.33, 0.5, 0.3, 0.48, 48)},
	"1": {{{0.18, 0.2}, {0.38, 0.02}, {0.38, 1}}},
	"4": {
		{{0.5, 0}, {0.04, 0.66}, {0.72, 0.66}},
		{{0.52, 0.3}, {0.52, 1}},
	},
	"7": {{{0.04, 0.04}, {0.7, 0.04}, {0.28, 1}}},
	"5": { // the top bar drawn apart, not touching the body
		{{0.18, 0}, {0.66, 0}},
		{{0.16, 0.14}, {0.12, 0.46}, {0.36, 0.38}, {0.58, 0.48}, {0.64, 0.72}, {0.5, 0.93}, {0.26, 0.99}, {0.04, 0.86}},
	},
	"2": {{{0.06, 0.25}, {0.15, 0.08}, {0.35, 0.0}, {0.55, 0.08}, {0.62, 0.27}, {0.5, 0.5}, {0.04, 1}, {0.7, 1}}},
}

// digitNames lists the templates in a fixed order.
var digitNames = []string{"0", "1", "2", "4", "5", "7"}

// mnistBand is the 2nd–98th percentile of a statistic over the MNIST
// training images of one digit, measured once from the idx files.
type mnistBand struct{ lo, hi float64 }

// mnistStats are those bands for the mean pixel value, the count of pixels
// above 0 and the count above 127, per digit.
var mnistStats = map[string]struct{ mean, nz, n128 mnistBand }{
	"0": {mnistBand{24.1, 68.2}, mnistBand{126, 264}, mnistBand{75, 213}},
	"1": {mnistBand{10.3, 33.5}, mnistBand{53, 136}, mnistBand{31, 104}},
	"2": {mnistBand{19.8, 59.1}, mnistBand{105, 237}, mnistBand{61, 184}},
	"4": {mnistBand{17.1, 50.1}, mnistBand{92, 203}, mnistBand{52, 156}},
	"5": {mnistBand{16.7, 55.5}, mnistBand{93, 228}, mnistBand{51, 173}},
	"7": {mnistBand{15.9, 47.5}, mnistBand{83, 193}, mnistBand{49, 148}},
}

// mnistWidth is the 2nd–98th percentile of strokeWidth over all MNIST
// training images; its median is 2.4.
var mnistWidth = mnistBand{1.5, 4.0}

func ellipse(cx, cy, rx, ry float64, n int) [][2]float64 {
	var p [][2]float64
	for i := 0; i <= n; i++ {
		a := -math.Pi/2 - 2*math.Pi*float64(i)/float64(n) // start at the top, counter-clockwise
		p = append(p, [2]float64{cx + rx*math.Cos(a), cy + ry*math.Sin(a)})
	}
	return p
}

// placement puts a template on a canvas: the digit's height in canvas
// pixels, its top-left corner, and a shear (slant: x += slant·(1−y)·size).
type placement struct {
	size, x, y, slant float64
}

// skeleton returns the template's polylines in canvas coordinates, densified
// to a sample every step pixels as a pointer would produce.
func skeleton(name string, pl placement, step float64) [][][2]float64 {
	var out [][][2]float64
	for _, s := range templates[name] {
		var line [][2]float64
		for i, p := range s {
			q := [2]float64{pl.x + (p[0]+pl.slant*(1-p[1]))*pl.size, pl.y + p[1]*pl.size}
			if i > 0 {
				prev := line[len(line)-1]
				d := math.Hypot(q[0]-prev[0], q[1]-prev[1])
				n := int(math.Ceil(d / step))
				for k := 1; k < n; k++ {
					t := float64(k) / float64(n)
					line = append(line, [2]float64{prev[0] + t*(q[0]-prev[0]), prev[1] + t*(q[1]-prev[1])})
				}
			}
			line = append(line, q)
		}
		out = append(out, line)
	}
	return out
}

// toStrokes converts a skeleton to Strokes with times 8 ms apart.
func toStrokes(sk [][][2]float64) []drawing.Stroke {
	var out []drawing.Stroke
	t := 0.0
	for _, l := range sk {
		var s drawing.Stroke
		for _, p := range l {
			s = append(s, drawing.Point{X: p[0], Y: p[1], T: t})
			t += 8
		}
		out = append(out, s)
		t += 200
	}
	return out
}

// style says how a test picture is painted.
type style struct {
	pen         float64 // pen diameter in picture pixels
	ink, paper  color.NRGBA
	transparent bool // paper fully transparent (alpha 0)
}

var (
	black = color.NRGBA{0, 0, 0, 255}
	white = color.NRGBA{255, 255, 255, 255}
)

// paint renders a skeleton into a W×H NRGBA picture with an anti-aliased
// round pen: 4×4 supersampling for pens up to 6 pixels (independent of the
// package's renderer), the analytic coverage r + ½ − d for wider ones.
func paint(sk [][][2]float64, W, H int, st style) *image.NRGBA {
	cov := make([]float64, W*H)
	r := st.pen / 2
	const ss = 4
	for _, l := range sk {
		for i := range l {
			a := l[i]
			b := a
			if i > 0 {
				a = l[i-1]
			}
			x0 := max(0, int(math.Floor(min(a[0], b[0])-r-1)))
			x1 := min(W, int(math.Ceil(max(a[0], b[0])+r+1)))
			y0 := max(0, int(math.Floor(min(a[1], b[1])-r-1)))
			y1 := min(H, int(math.Ceil(max(a[1], b[1])+r+1)))
			dx, dy := b[0]-a[0], b[1]-a[1]
			l2 := dx*dx + dy*dy
			for y := y0; y < y1; y++ {
				for x := x0; x < x1; x++ {
					if st.pen > 6 {
						px := float64(x) + 0.5 - a[0]
						py := float64(y) + 0.5 - a[1]
						t := 0.0
						if l2 > 0 {
							t = max(0, min(1, (px*dx+py*dy)/l2))
						}
						c := max(0, min(1, r+0.5-math.Hypot(px-t*dx, py-t*dy)))
						cov[y*W+x] = max(cov[y*W+x], c)
						continue
					}
					n := 0
					for sy := range ss {
						for sx := range ss {
							px := float64(x) + (float64(sx)+0.5)/ss - a[0]
							py := float64(y) + (float64(sy)+0.5)/ss - a[1]
							t := 0.0
							if l2 > 0 {
								t = max(0, min(1, (px*dx+py*dy)/l2))
							}
							if math.Hypot(px-t*dx, py-t*dy) <= r {
								n++
							}
						}
					}
					c := float64(n) / (ss * ss)
					cov[y*W+x] = max(cov[y*W+x], c)
				}
			}
		}
	}
	img := image.NewNRGBA(image.Rect(0, 0, W, H))
	for i, c := range cov {
		p := img.Pix[4*i : 4*i+4]
		if st.transparent {
			p[0], p[1], p[2], p[3] = st.ink.R, st.ink.G, st.ink.B, uint8(math.Round(c*255))
			continue
		}
		mix := func(a, b uint8) uint8 { return uint8(math.Round(float64(a)*(1-c) + float64(b)*c)) }
		p[0], p[1], p[2], p[3] = mix(st.paper.R, st.ink.R), mix(st.paper.G, st.ink.G), mix(st.paper.B, st.ink.B), 255
	}
	return img
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// stats are the MNIST-like properties of one network input.
type stats struct {
	mean     float64 // mean pixel value
	nz, n128 int     // pixels above 0 and above 127
	bw, bh   int     // bounding box of pixels above 0
	cx, cy   float64 // centre of mass, pixel indices
	width    float64 // stroke width: 2·mass / total variation
	maxV     uint8
	x0, y0   int
}

func measureInput(im *Image28) stats {
	var s stats
	const n = model.Side
	x0, y0, x1, y1 := n, n, -1, -1
	var sum, sx, sy, tv float64
	for y := range n {
		for x := range n {
			v := float64(im.At(x, y))
			s.maxV = max(s.maxV, im.At(x, y))
			sum += v
			if v > 0 {
				s.nz++
				x0, x1 = min(x0, x), max(x1, x)
				y0, y1 = min(y0, y), max(y1, y)
			}
			if v > 127 {
				s.n128++
			}
			sx += v * float64(x)
			sy += v * float64(y)
			var r, d float64
			if x+1 < n {
				r = float64(im.At(x+1, y))
			}
			if y+1 < n {
				d = float64(im.At(x, y+1))
			}
			tv += math.Hypot(r-v, d-v)
		}
	}
	s.mean = sum / model.Pixels
	if sum > 0 {
		s.cx, s.cy = sx/sum, sy/sum
		s.width = 2 * sum / tv
		s.bw, s.bh = x1-x0+1, y1-y0+1
		s.x0, s.y0 = x0, y0
	}
	return s
}

func (s stats) String() string {
	return fmt.Sprintf("mean %.1f nz %d n128 %d box %d×%d com (%.2f, %.2f) width %.2f max %d",
		s.mean, s.nz, s.n128, s.bw, s.bh, s.cx, s.cy, s.width, s.maxV)
}

// ascii draws an input for failure messages.
func ascii(im *Image28) string {
	var b strings.Builder
	const ramp = " .:-=+*#%@"
	for y := range model.Side {
		for x := range model.Side {
			b.WriteByte(ramp[int(im.At(x, y))*len(ramp)/256])
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// correlation is Pearson's correlation of two inputs' pixels.
func correlation(a, b *Image28) float64 {
	var sa, sb, saa, sbb, sab float64
	for i := range a {
		x, y := float64(a[i]), float64(b[i])
		sa += x
		sb += y
		saa += x * x
		sbb += y * y
		sab += x * y
	}
	n := float64(len(a))
	cov := sab - sa*sb/n
	return cov / math.Sqrt((saa-sa*sa/n)*(sbb-sb*sb/n))
}

// checkMNISTLike fails t unless im has the properties of an MNIST digit
// named digit ("" for no per-digit bands).
func checkMNISTLike(t *testing.T, digit string, im *Image28) {
	t.Helper()
	s := measureInput(im)
	fail := func(format string, args ...any) {
		t.Helper()
		t.Errorf("%s: "+format+"\n%s\n%s", append([]any{digit}, append(args, s, ascii(im))...)...)
	}
	if max(s.bw, s.bh) != BoxSide || min(s.bw, s.bh) > BoxSide {
		fail("ink box %d×%d, want the longer side exactly %d", s.bw, s.bh, BoxSide)
	}
	if math.Abs(s.cx-CenterX) > 0.6 || math.Abs(s.cy-CenterY) > 0.6 {
		fail("centre of mass (%.2f, %.2f), want within 0.6 px of (14, 14)", s.cx, s.cy)
	}
	if s.maxV < 250 {
		fail("brightest pixel %d, want ≥ 250", s.maxV)
	}
	if s.width < mnistWidth.lo || s.width > mnistWidth.hi {
		fail("stroke width %.2f, outside MNIST's [%.1f, %.1f]", s.width, mnistWidth.lo, mnistWidth.hi)
	}
	if b, ok := mnistStats[digit]; ok {
		in := func(v float64, band mnistBand) bool { return v >= band.lo && v <= band.hi }
		if !in(s.mean, b.mean) || !in(float64(s.nz), b.nz) || !in(float64(s.n128), b.n128) {
			fail("mean %.1f nz %d n128 %d outside MNIST's bands for this digit (mean %v, nz %v, n128 %v)",
				s.mean, s.nz, s.n128, b.mean, b.nz, b.n128)
		}
	}
}

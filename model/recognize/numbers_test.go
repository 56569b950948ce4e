package recognize

import (
	"image"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"

	"github.com/stratusml/stratus/drawing"
	"github.com/stratusml/stratus/model/mnist"
)

// This file builds whole numbers out of MNIST test digits, written left to
// right as a person would: each digit with its own size, slant and
// baseline, separated by random gaps, some of them zero or negative (the
// digits touch or overlap). A number is drawn both as a picture and as
// strokes: the strokes follow the skeleton of each digit's ink.

// glyph is one MNIST digit placed on a canvas. MNIST coordinates (u, v),
// pixel (i, j) covering [i, i+1)×[j, j+1), map to the canvas by
//
//	x = x0 + k·(u − u0) + slant·k·(v1 − v),  y = y0 + k·(v − v0)
//
// where [u0, u1)×[v0, v1) is the box of the digit's ink: k scales the ink
// to its height on the canvas, and a positive slant leans it to the right.
type glyph struct {
	img            *[784]uint8
	label          uint8
	k, slant       float64
	x0, y0         float64
	u0, v0, v1     float64
	left, right    float64 // the canvas x range of the ink
	bottom, height float64
}

func (g *glyph) toCanvas(u, v float64) (float64, float64) {
	return g.x0 + g.k*(u-g.u0) + g.slant*g.k*(g.v1-v), g.y0 + g.k*(v-g.v0)
}

// numberScene is one number: its glyphs left to right and the canvas.
type numberScene struct {
	want   string
	glyphs []glyph
	w, h   int
}

// numberStyle bounds the random choices of makeNumber.
type numberStyle struct {
	minDigits, maxDigits int
	minSize, maxSize     float64 // digit height in canvas pixels
	sizeJitter           float64 // each digit's size varies by ± this fraction
	maxSlant             float64 // slant of the whole number, ± (right-leaning more likely)
	slantJitter          float64 // and of each digit
	baseline             float64 // each digit moves up or down by ± this fraction of its size
	touching             float64 // share of the gaps that are zero or negative
	minGap, maxGap       float64 // other gaps, as fractions of the size
	overlap              float64 // the most negative gap, as a fraction of the size
}

// defaultNumberStyle is how numbers are written in the accuracy test.
var defaultNumberStyle = numberStyle{
	minDigits: 2, maxDigits: 6,
	minSize: 28, maxSize: 110, sizeJitter: 0.12,
	maxSlant: 0.3, slantJitter: 0.08, baseline: 0.08,
	touching: 0.2, minGap: 0.06, maxGap: 0.5, overlap: 0.06,
}

// inkBox returns the box of the pixels of img above 0.
func inkBox(img *[784]uint8) (u0, v0, u1, v1 float64) {
	x0, y0, x1, y1 := 28, 28, -1, -1
	for y := range 28 {
		for x := range 28 {
			if img[y*28+x] > 0 {
				x0, x1 = min(x0, x), max(x1, x)
				y0, y1 = min(y0, y), max(y1, y)
			}
		}
	}
	return float64(x0), float64(y0), float64(x1 + 1), float64(y1 + 1)
}

// makeNumber draws the digits of test picked by rng into a scene.
func makeNumber(rng *rand.Rand, test *mnist.Set, st numberStyle) numberScene {
	n := st.minDigits + rng.IntN(st.maxDigits-st.minDigits+1)
	size := st.minSize + rng.Float64()*(st.maxSize-st.minSize)
	slant := (rng.Float64()*2 - 0.7) * st.maxSlant / 1.3
	margin := 0.3*size + 4
	var sc numberScene
	x := margin
	top, bottom := math.Inf(1), math.Inf(-1)
	for i := range n {
		idx := rng.IntN(test.Len())
		img := &test.Images[idx]
		u0, v0, _, v1 := inkBox(img)
		g := glyph{img: img, label: test.Labels[idx], u0: u0, v0: v0, v1: v1}
		h := size * (1 + st.sizeJitter*(2*rng.Float64()-1))
		g.k = h / (v1 - v0)
		g.slant = slant + st.slantJitter*(2*rng.Float64()-1)
		g.height = h
		g.y0 = margin + size*st.baseline*(2*rng.Float64()-1)
		// The ink's x range for x0 = 0: the extremes over the corners of
		// the ink's pixels.
		lo, hi := math.Inf(1), math.Inf(-1)
		for py := range 28 {
			for px := range 28 {
				if img[py*28+px] == 0 {
					continue
				}
				for _, c := range [4][2]float64{{0, 0}, {1, 0}, {0, 1}, {1, 1}} {
					cx, _ := g.toCanvas(float64(px)+c[0], float64(py)+c[1])
					lo, hi = min(lo, cx), max(hi, cx)
				}
			}
		}
		if i > 0 {
			if rng.Float64() < st.touching {
				x -= st.overlap * rng.Float64() * size
			} else {
				x += (st.minGap + rng.Float64()*(st.maxGap-st.minGap)) * size
			}
		}
		g.x0 = x - lo
		g.left, g.right = x, x+hi-lo
		x = g.right
		top, bottom = min(top, g.y0), max(bottom, g.y0+h)
		g.bottom = g.y0 + h
		sc.glyphs = append(sc.glyphs, g)
		sc.want += strconv.Itoa(int(g.label))
	}
	sc.w = int(math.Ceil(x + margin))
	sc.h = int(math.Ceil(bottom + margin))
	_ = top
	return sc
}

// picture paints the scene dark on light paper, sampling each digit
// bilinearly; where digits overlap the darker ink wins.
func (sc *numberScene) picture() *image.Gray {
	cov := make([]float64, sc.w*sc.h)
	for gi := range sc.glyphs {
		g := &sc.glyphs[gi]
		px0, px1 := max(0, int(g.left)-1), min(sc.w, int(math.Ceil(g.right))+1)
		py0, py1 := max(0, int(g.y0)-1), min(sc.h, int(math.Ceil(g.bottom))+1)
		for py := py0; py < py1; py++ {
			y := float64(py) + 0.5
			for px := px0; px < px1; px++ {
				a := g.coverage(float64(px)+0.5, y)
				if a > cov[py*sc.w+px] {
					cov[py*sc.w+px] = a
				}
			}
		}
	}
	img := image.NewGray(image.Rect(0, 0, sc.w, sc.h))
	for i, c := range cov {
		img.Pix[i] = uint8(math.Round(255 * (1 - c)))
	}
	return img
}

// bilinear samples img (0..1) at pixel-index coordinates (x, y).
func bilinear(img *[784]uint8, x, y float64) float64 {
	if x <= -1 || y <= -1 || x >= 28 || y >= 28 {
		return 0
	}
	fx, fy := math.Floor(x), math.Floor(y)
	ax, ay := x-fx, y-fy
	ix, iy := int(fx), int(fy)
	at := func(x, y int) float64 {
		if x < 0 || y < 0 || x > 27 || y > 27 {
			return 0
		}
		return float64(img[y*28+x]) / 255
	}
	return (at(ix, iy)*(1-ax)+at(ix+1, iy)*ax)*(1-ay) + (at(ix, iy+1)*(1-ax)+at(ix+1, iy+1)*ax)*ay
}

// strokes draws the scene as pen strokes: each digit's skeleton, digit
// after digit, a sample every few canvas pixels, 8 ms apart.
func (sc *numberScene) strokes(skel func(img *[784]uint8) [][][2]float64) []drawing.Stroke {
	var out []drawing.Stroke
	t := 0.0
	for gi := range sc.glyphs {
		g := &sc.glyphs[gi]
		for _, line := range skel(g.img) {
			var s drawing.Stroke
			for _, p := range line {
				x, y := g.toCanvas(p[0], p[1])
				s = append(s, drawing.Point{X: x, Y: y, T: t})
				t += 8
			}
			out = append(out, s)
			t += 150
		}
		t += 300
	}
	return out
}

// alone returns the scene of glyph gi by itself, on a canvas with the same
// margins around it.
func (sc *numberScene) alone(gi int) numberScene {
	g := sc.glyphs[gi]
	margin := 0.3*g.height + 4
	dx := math.Round(margin - g.left) // whole pixels: the same rendering
	g.x0 += dx
	g.left += dx
	g.right += dx
	return numberScene{want: strconv.Itoa(int(g.label)), glyphs: []glyph{g}, w: int(math.Ceil(g.right + margin)), h: sc.h}
}

// skeletonCache remembers the strokes traced for each MNIST digit.
type skeletonCache struct {
	mu   sync.Mutex
	done map[*[784]uint8][][][2]float64
}

func (c *skeletonCache) get(img *[784]uint8) [][][2]float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if sk, ok := c.done[img]; ok {
		return sk
	}
	if c.done == nil {
		c.done = map[*[784]uint8][][][2]float64{}
	}
	sk := mnist.Skeleton(img)
	c.done[img] = sk
	return sk
}

// touching reports whether the inks of two neighbouring digits of the scene
// touch or overlap: a pixel holds ink (a quarter of full) of one digit
// within a pixel of ink of the other.
func (sc *numberScene) touching() bool {
	for gi := 1; gi < len(sc.glyphs); gi++ {
		a, b := &sc.glyphs[gi-1], &sc.glyphs[gi]
		x0, x1 := max(a.left, b.left)-1, min(a.right, b.right)+1
		y0, y1 := max(a.y0, b.y0)-1, min(a.bottom, b.bottom)+1
		for py := int(y0); py <= int(y1); py++ {
			for px := int(x0); px <= int(x1); px++ {
				if a.coverage(float64(px)+0.5, float64(py)+0.5) < 0.25 {
					continue
				}
				for dy := -1; dy <= 1; dy++ {
					for dx := -1; dx <= 1; dx++ {
						if b.coverage(float64(px+dx)+0.5, float64(py+dy)+0.5) >= 0.25 {
							return true
						}
					}
				}
			}
		}
	}
	return false
}

// coverage is the glyph's ink (0..1) at canvas point (x, y).
func (g *glyph) coverage(x, y float64) float64 {
	v := g.v0 + (y-g.y0)/g.k
	u := g.u0 + (x-g.x0-g.slant*g.k*(g.v1-v))/g.k
	return bilinear(g.img, u-0.5, v-0.5)
}

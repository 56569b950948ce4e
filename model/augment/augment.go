// Package augment distorts MNIST-style 28×28 digits at random so that a model
// trained on MNIST also recognises digits drawn on a canvas: random shifts,
// rotation, scale, slant, thicker and thinner strokes and elastic distortion
// (Simard et al., 2003).
package augment

import (
	"math"
	"math/rand/v2"
)

// Side is the width and height of the images this package distorts.
const Side = 28

// Config bounds the random distortions. The zero value distorts nothing.
type Config struct {
	// MaxShift is the largest translation in pixels along each axis.
	MaxShift float64
	// MaxRotate is the largest rotation in degrees, either way.
	MaxRotate float64
	// MinScale and MaxScale bound the isotropic scale factor.
	MinScale, MaxScale float64
	// MaxShear is the largest horizontal shear (slant), as a fraction.
	MaxShear float64
	// ThickProb and ThinProb are the chances of thickening or thinning the
	// strokes by a fraction of a pixel.
	ThickProb, ThinProb float64
	// ElasticProb is the chance of an elastic distortion, ElasticAlpha its
	// largest strength and ElasticSigma the smoothness of its field (pixels).
	ElasticProb, ElasticAlpha, ElasticSigma float64
	// CleanProb is the chance of leaving an image untouched.
	CleanProb float64
}

// Default is the augmentation Stratus models are trained with.
func Default() Config {
	return Config{
		MaxShift: 2.5, MaxRotate: 15, MinScale: 0.8, MaxScale: 1.2, MaxShear: 0.2,
		ThickProb: 0.25, ThinProb: 0.15,
		ElasticProb: 0.6, ElasticAlpha: 34, ElasticSigma: 4,
		CleanProb: 0.1,
	}
}

// Augmenter applies a Config with its own random source and scratch space.
// It is not safe for concurrent use; give each goroutine its own.
type Augmenter struct {
	cfg    Config
	rng    *rand.Rand
	kernel []float64
	dx, dy [Side * Side]float64
	tmp    [Side * Side]float64
	src    [Side * Side]float64
}

// New returns an Augmenter seeded with seed.
func New(cfg Config, seed uint64) *Augmenter {
	a := &Augmenter{cfg: cfg, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	if cfg.ElasticSigma > 0 {
		r := int(math.Ceil(3 * cfg.ElasticSigma))
		a.kernel = make([]float64, 2*r+1)
		var sum float64
		for i := -r; i <= r; i++ {
			v := math.Exp(-float64(i*i) / (2 * cfg.ElasticSigma * cfg.ElasticSigma))
			a.kernel[i+r] = v
			sum += v
		}
		for i := range a.kernel {
			a.kernel[i] /= sum
		}
	}
	return a
}

func (a *Augmenter) uniform(lo, hi float64) float64 { return lo + (hi-lo)*a.rng.Float64() }

// Apply writes a randomly distorted copy of src (0 = paper, 255 = ink) to dst.
func (a *Augmenter) Apply(src *[Side * Side]uint8, dst *[Side * Side]uint8) {
	c := a.cfg
	if a.rng.Float64() < c.CleanProb {
		*dst = *src
		return
	}
	for i, v := range src {
		a.src[i] = float64(v) / 255
	}
	switch p := a.rng.Float64(); {
	case p < c.ThickProb:
		a.morph(true, a.uniform(0.4, 1))
	case p < c.ThickProb+c.ThinProb:
		a.morph(false, a.uniform(0.3, 0.8))
	}
	elastic := a.rng.Float64() < c.ElasticProb && a.kernel != nil
	if elastic {
		alpha := a.uniform(0, c.ElasticAlpha)
		a.field(&a.dx, alpha)
		a.field(&a.dy, alpha)
	}

	// Inverse affine map: output pixel → source position, about the centre.
	theta := a.uniform(-c.MaxRotate, c.MaxRotate) * math.Pi / 180
	scale := 1.0
	if c.MaxScale > 0 {
		scale = a.uniform(c.MinScale, c.MaxScale)
	}
	shear := a.uniform(-c.MaxShear, c.MaxShear)
	tx, ty := a.uniform(-c.MaxShift, c.MaxShift), a.uniform(-c.MaxShift, c.MaxShift)
	cos, sin := math.Cos(theta), math.Sin(theta)
	// forward: p' = S·R·Sh·(p−c) + c + t ; invert it per pixel.
	const ctr = (Side - 1) / 2.0
	for y := 0; y < Side; y++ {
		for x := 0; x < Side; x++ {
			i := y*Side + x
			u := float64(x) - ctr - tx
			v := float64(y) - ctr - ty
			if elastic {
				u += a.dx[i]
				v += a.dy[i]
			}
			u, v = u/scale, v/scale
			u, v = cos*u+sin*v, -sin*u+cos*v // rotate by −θ
			u -= shear * v                   // undo the shear
			dst[i] = toByte(a.sample(u+ctr, v+ctr))
		}
	}
}

// morph thickens (dilate) or thins (erode) the strokes in a.src, blending the
// result with strength s so that changes finer than one pixel are possible.
func (a *Augmenter) morph(dilate bool, s float64) {
	for y := 0; y < Side; y++ {
		for x := 0; x < Side; x++ {
			best := a.src[y*Side+x]
			for _, d := range [4][2]int{{-1, 0}, {1, 0}, {0, -1}, {0, 1}} {
				xx, yy := x+d[0], y+d[1]
				var v float64
				if xx >= 0 && xx < Side && yy >= 0 && yy < Side {
					v = a.src[yy*Side+xx]
				}
				if (dilate && v > best) || (!dilate && v < best) {
					best = v
				}
			}
			a.tmp[y*Side+x] = best
		}
	}
	for i := range a.src {
		a.src[i] += s * (a.tmp[i] - a.src[i])
	}
}

// field fills f with a smooth random displacement field of strength alpha.
func (a *Augmenter) field(f *[Side * Side]float64, alpha float64) {
	for i := range a.tmp {
		a.tmp[i] = a.uniform(-1, 1)
	}
	r := len(a.kernel) / 2
	// horizontal pass into f, vertical pass back into tmp, then scale.
	for y := 0; y < Side; y++ {
		for x := 0; x < Side; x++ {
			var s float64
			for k := -r; k <= r; k++ {
				if xx := x + k; xx >= 0 && xx < Side {
					s += a.kernel[k+r] * a.tmp[y*Side+xx]
				}
			}
			f[y*Side+x] = s
		}
	}
	for x := 0; x < Side; x++ {
		for y := 0; y < Side; y++ {
			var s float64
			for k := -r; k <= r; k++ {
				if yy := y + k; yy >= 0 && yy < Side {
					s += a.kernel[k+r] * f[yy*Side+x]
				}
			}
			a.tmp[y*Side+x] = s
		}
	}
	for i := range f {
		f[i] = alpha * a.tmp[i]
	}
}

// sample reads a.src at a fractional position with bilinear interpolation;
// outside the frame is paper.
func (a *Augmenter) sample(x, y float64) float64 {
	x0, y0 := math.Floor(x), math.Floor(y)
	fx, fy := x-x0, y-y0
	ix, iy := int(x0), int(y0)
	at := func(x, y int) float64 {
		if x < 0 || x >= Side || y < 0 || y >= Side {
			return 0
		}
		return a.src[y*Side+x]
	}
	top := at(ix, iy)*(1-fx) + at(ix+1, iy)*fx
	bot := at(ix, iy+1)*(1-fx) + at(ix+1, iy+1)*fx
	return top*(1-fy) + bot*fy
}

func toByte(v float64) uint8 {
	v = math.Round(v * 255)
	if v <= 0 {
		return 0
	}
	if v >= 255 {
		return 255
	}
	return uint8(v)
}

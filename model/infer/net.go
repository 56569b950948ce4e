package infer

import (
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/stratusml/stratus/model"
)

// Net is a compiled ArchCNN2 network ready for inference. It is immutable
// and safe for concurrent use by many goroutines.
type Net struct {
	k       *kernels
	w       *weights
	lut     *[256]float32 // Normalize's table: lut[p] = Normalization.Apply(p)
	workers int
	pool    *sync.Pool // of *scratch
}

// New checks m's architecture and tensor shapes and packs its weights for
// the kernels. The returned Net keeps no reference to m. It uses the
// AVX2/FMA kernels when the CPU has them and runtime.GOMAXPROCS(0) workers;
// see WithWorkers. Errors wrap ErrModel.
func New(m *model.Model) (*Net, error) {
	k := asmKernels()
	if k == nil {
		k = goKernels()
	}
	return newNet(m, k)
}

// newNet is New with a chosen kernel set.
func newNet(m *model.Model, k *kernels) (*Net, error) {
	w, err := packWeights(m)
	if err != nil {
		return nil, err
	}
	lut := new([256]float32)
	for p := range lut {
		lut[p] = m.Input.Normalization.Apply(uint8(p))
	}
	return &Net{
		k:       k,
		w:       w,
		lut:     lut,
		workers: runtime.GOMAXPROCS(0),
		pool:    &sync.Pool{New: func() any { return newScratch() }},
	}, nil
}

// WithWorkers returns a Net that shares n's weights but runs each call on at
// most workers goroutines (the calling one included). workers < 1 means
// runtime.GOMAXPROCS(0), the default of New.
func (n *Net) WithWorkers(workers int) *Net {
	if workers < 1 {
		workers = runtime.GOMAXPROCS(0)
	}
	c := *n
	c.workers = workers
	return &c
}

// Workers reports how many goroutines a call may use.
func (n *Net) Workers() int { return n.workers }

// Kernels names the kernel implementation in use: "avx2" or "go".
func (n *Net) Kernels() string { return n.k.name }

// Logits computes the class scores of count images. x holds the images one
// after another, model.Pixels normalised floats each (see Normalize), and
// out receives model.Classes logits per image. It panics if count < 0 or x
// or out is too short.
func (n *Net) Logits(x []float32, count int, out []float32) {
	if count < 0 || len(x) < count*model.Pixels || len(out) < count*model.Classes {
		panic(fmt.Sprintf("infer: Logits(%d floats, count %d, %d floats): want %d inputs and %d outputs",
			len(x), count, len(out), count*model.Pixels, count*model.Classes))
	}
	switch {
	case count == 0:
	case n.workers > 1 && count < n.workers:
		for i := range count {
			n.single(x[i*model.Pixels:(i+1)*model.Pixels], out[i*model.Classes:(i+1)*model.Classes])
		}
	default:
		n.batch(x, count, out)
	}
}

// Probabilities is Logits followed by a softmax over each image's classes.
func (n *Net) Probabilities(x []float32, count int, out []float32) {
	n.Logits(x, count, out)
	for i := range count {
		Softmax(out[i*model.Classes : (i+1)*model.Classes])
	}
}

// Normalize converts 0..255 pixels (0 = paper, 255 = ink) into network
// input, dst[i] = Normalization.Apply(pix[i]) with the model's
// normalisation. It panics if dst is shorter than pix.
func (n *Net) Normalize(pix []uint8, dst []float32) {
	if len(dst) < len(pix) {
		panic(fmt.Sprintf("infer: Normalize: %d pixels into %d floats", len(pix), len(dst)))
	}
	for i, p := range pix {
		dst[i] = n.lut[p]
	}
}

// Softmax turns one image's logits v into its class probabilities, in
// place, as Probabilities does: exp(v)/Σexp(v), computed stably in float64.
func Softmax(v []float32) {
	hi := v[0]
	for _, x := range v[1:] {
		hi = max(hi, x)
	}
	var e [model.Classes]float64
	var sum float64
	for i, x := range v {
		e[i] = math.Exp(float64(x - hi))
		sum += e[i]
	}
	for i := range v {
		v[i] = float32(e[i] / sum)
	}
}

package infer

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/stratusml/stratus/model"
)

// randomModel returns an ArchCNN2 model with He-style uniform random weights,
// so that activations and logits have realistic magnitudes.
func randomModel(seed uint64) *model.Model {
	rng := rand.New(rand.NewPCG(seed, 1))
	m := model.New()
	fanIn := map[string]int{
		model.ParamConv1W: 9, model.ParamConv2W: 144,
		model.ParamFC1W: model.Flat, model.ParamFC2W: model.Hidden,
		model.ParamFC1B: 16, model.ParamFC2B: 16,
	}
	for name, w := range m.Weights {
		lim := math.Sqrt(6 / float64(fanIn[name]))
		for i := range w {
			w[i] = float32((2*rng.Float64() - 1) * lim)
		}
	}
	return m
}

// randomImages returns count normalised images: mostly paper with random
// ink, like a digit.
func randomImages(m *model.Model, seed uint64, count int) []float32 {
	rng := rand.New(rand.NewPCG(seed, 2))
	x := make([]float32, count*model.Pixels)
	for i := range x {
		var p uint8
		if rng.IntN(10) < 3 {
			p = uint8(rng.IntN(256))
		}
		x[i] = m.Input.Normalization.Apply(p)
	}
	return x
}

// reference computes one image's logits in float64, straight from the
// definition of ArchCNN2 (NCHW, zero padding, cross-correlation).
func reference(m *model.Model, x []float32) [model.Classes]float64 {
	const s, s1, s2 = model.Side, model.Pool1Side, model.Pool2Side
	conv := func(in [][]float64, side int, w []float32, outC int) [][]float64 {
		inC := len(in)
		out := make([][]float64, outC)
		for o := range outC {
			out[o] = make([]float64, side*side)
			for y := range side {
				for xx := range side {
					var sum float64
					for c := range inC {
						for ky := range 3 {
							for kx := range 3 {
								iy, ix := y+ky-1, xx+kx-1
								if iy < 0 || iy >= side || ix < 0 || ix >= side {
									continue
								}
								sum += float64(w[((o*inC+c)*3+ky)*3+kx]) * in[c][iy*side+ix]
							}
						}
					}
					out[o][y*side+xx] = math.Max(0, sum) // ReLU
				}
			}
		}
		return out
	}
	pool := func(in [][]float64, side int) [][]float64 {
		h := side / 2
		out := make([][]float64, len(in))
		for c := range in {
			out[c] = make([]float64, h*h)
			for y := range h {
				for xx := range h {
					v := in[c][2*y*side+2*xx]
					v = math.Max(v, in[c][2*y*side+2*xx+1])
					v = math.Max(v, in[c][(2*y+1)*side+2*xx])
					v = math.Max(v, in[c][(2*y+1)*side+2*xx+1])
					out[c][y*h+xx] = v
				}
			}
		}
		return out
	}
	img := make([]float64, s*s)
	for i := range img {
		img[i] = float64(x[i])
	}
	a := pool(conv([][]float64{img}, s, m.Weights[model.ParamConv1W], model.Conv1Out), s)
	a = pool(conv(a, s1, m.Weights[model.ParamConv2W], model.Conv2Out), s1)
	flat := make([]float64, 0, model.Flat)
	for c := range a {
		flat = append(flat, a[c][:s2*s2]...) // index c*49 + y*7 + x
	}
	w1, b1 := m.Weights[model.ParamFC1W], m.Weights[model.ParamFC1B]
	hid := make([]float64, model.Hidden)
	for j := range hid {
		sum := float64(b1[j])
		for i, v := range flat {
			sum += v * float64(w1[i*model.Hidden+j])
		}
		hid[j] = math.Max(0, sum)
	}
	w2, b2 := m.Weights[model.ParamFC2W], m.Weights[model.ParamFC2B]
	var out [model.Classes]float64
	for k := range out {
		sum := float64(b2[k])
		for j, v := range hid {
			sum += v * float64(w2[j*model.Classes+k])
		}
		out[k] = sum
	}
	return out
}

func argmax[T float32 | float64](v []T) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// kernelSets lists the kernel implementations this machine can run.
func kernelSets() []*kernels {
	ks := []*kernels{goKernels()}
	if k := asmKernels(); k != nil {
		ks = append(ks, k)
	}
	return ks
}

func TestLogitsMatchReference(t *testing.T) {
	m := randomModel(1)
	const unique = 67 // distinct images; larger batches repeat them
	x := randomImages(m, 7, unique)
	ref := make([][model.Classes]float64, unique)
	for i := range ref {
		ref[i] = reference(m, x[i*model.Pixels:(i+1)*model.Pixels])
	}
	for _, k := range kernelSets() {
		base, err := newNet(m, k)
		if err != nil {
			t.Fatal(err)
		}
		for _, workers := range []int{1, 2, 3} {
			net := base.WithWorkers(workers)
			for _, batch := range []int{1, 2, 7, 16, 64, 65, 256} {
				t.Run(fmt.Sprintf("%s/workers=%d/batch=%d", k.name, workers, batch), func(t *testing.T) {
					in := make([]float32, batch*model.Pixels)
					for i := range batch {
						copy(in[i*model.Pixels:], x[(i%unique)*model.Pixels:(i%unique+1)*model.Pixels])
					}
					out := make([]float32, batch*model.Classes+1)
					out[len(out)-1] = 42
					net.Logits(in, batch, out)
					if out[len(out)-1] != 42 {
						t.Fatalf("Logits wrote past count*10 outputs")
					}
					for i := range batch {
						want := ref[i%unique]
						got := out[i*model.Classes : (i+1)*model.Classes]
						for c := range got {
							if d := math.Abs(float64(got[c]) - want[c]); d > 1e-4*math.Max(1, math.Abs(want[c])) {
								t.Fatalf("image %d class %d: got %v, want %v (diff %g)", i, c, got[c], want[c], d)
							}
						}
						if a, b := argmax(got), argmax(want[:]); a != b {
							t.Fatalf("image %d: argmax %d, reference %d (logits %v, want %v)", i, a, b, got, want)
						}
					}
				})
			}
		}
	}
}

func TestProbabilities(t *testing.T) {
	m := randomModel(2)
	net, err := New(m)
	if err != nil {
		t.Fatal(err)
	}
	const batch = 5
	x := randomImages(m, 3, batch)
	logits := make([]float32, batch*model.Classes)
	probs := make([]float32, batch*model.Classes)
	net.Logits(x, batch, logits)
	net.Probabilities(x, batch, probs)
	for i := range batch {
		l := logits[i*model.Classes : (i+1)*model.Classes]
		p := probs[i*model.Classes : (i+1)*model.Classes]
		var z, sum float64
		for _, v := range l {
			z += math.Exp(float64(v))
		}
		for c := range p {
			sum += float64(p[c])
			if want := math.Exp(float64(l[c])) / z; math.Abs(float64(p[c])-want) > 1e-6 {
				t.Errorf("image %d class %d: p = %v, want %v", i, c, p[c], want)
			}
		}
		if math.Abs(sum-1) > 1e-5 {
			t.Errorf("image %d: probabilities sum to %v", i, sum)
		}
		if argmax(p) != argmax(l) {
			t.Errorf("image %d: argmax of probabilities %d != argmax of logits %d", i, argmax(p), argmax(l))
		}
	}
}

func TestNormalize(t *testing.T) {
	m := randomModel(3)
	m.Input.Normalization = model.Normalization{Mean: 0.5, Std: 0.25}
	net, err := New(m)
	if err != nil {
		t.Fatal(err)
	}
	pix := make([]uint8, 256)
	for i := range pix {
		pix[i] = uint8(i)
	}
	dst := make([]float32, 256)
	net.Normalize(pix, dst)
	for i, p := range pix {
		if want := m.Input.Normalization.Apply(p); dst[i] != want {
			t.Errorf("Normalize(%d) = %v, want %v", p, dst[i], want)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("Normalize into a short dst did not panic")
		}
	}()
	net.Normalize(pix, make([]float32, 255, 256))
}

func TestConcurrentLogits(t *testing.T) {
	m := randomModel(4)
	base, err := New(m)
	if err != nil {
		t.Fatal(err)
	}
	x := randomImages(m, 5, 70)
	batches := []int{1, 3, 64, 70}
	for _, workers := range []int{1, 2} {
		net := base.WithWorkers(workers)
		want := make([][]float32, len(batches))
		for i, b := range batches {
			want[i] = make([]float32, b*model.Classes)
			net.Logits(x, b, want[i])
		}
		var wg sync.WaitGroup
		errs := make(chan error, 32)
		for g := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for it := range 4 {
					i := (g + it) % len(batches)
					got := make([]float32, batches[i]*model.Classes)
					net.Logits(x, batches[i], got)
					for j := range got {
						if got[j] != want[i][j] {
							errs <- fmt.Errorf("workers %d, goroutine %d, batch %d: logit %d = %v, want %v",
								workers, g, batches[i], j, got[j], want[i][j])
							return
						}
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	}
}

func TestNewRejects(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(m *model.Model) *model.Model
	}{
		{"nil", func(*model.Model) *model.Model { return nil }},
		{"arch", func(m *model.Model) *model.Model { m.Arch = "mlp"; return m }},
		{"missing", func(m *model.Model) *model.Model { delete(m.Weights, model.ParamFC1B); return m }},
		{"short", func(m *model.Model) *model.Model {
			m.Weights[model.ParamConv2W] = m.Weights[model.ParamConv2W][:100]
			return m
		}},
		{"long", func(m *model.Model) *model.Model {
			m.Weights[model.ParamFC2B] = append(m.Weights[model.ParamFC2B], 1)
			return m
		}},
		{"std", func(m *model.Model) *model.Model { m.Input.Normalization.Std = 0; return m }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			net, err := New(tt.mutate(randomModel(5)))
			if !errors.Is(err, ErrModel) || net != nil {
				t.Fatalf("New = %v, %v; want nil, an ErrModel", net, err)
			}
		})
	}
}

func TestLogitsPanicsOnShortBuffers(t *testing.T) {
	net, err := New(randomModel(6))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		nx, count  int
		nout       int
		wantsPanic bool
	}{
		{"ok", 2 * model.Pixels, 2, 2 * model.Classes, false},
		{"zero", 0, 0, 0, false},
		{"negative", 0, -1, 0, true},
		{"short x", 2*model.Pixels - 1, 2, 2 * model.Classes, true},
		{"short out", 2 * model.Pixels, 2, 2*model.Classes - 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if r := recover(); (r != nil) != tt.wantsPanic {
					t.Fatalf("panic = %v, want panic %v", r, tt.wantsPanic)
				}
			}()
			net.Logits(make([]float32, tt.nx), tt.count, make([]float32, tt.nout))
		})
	}
}

func BenchmarkLogits(b *testing.B) {
	m := randomModel(8)
	net, err := New(m)
	if err != nil {
		b.Fatal(err)
	}
	for _, batch := range []int{1, 16, 64, 256} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			x := randomImages(m, 9, batch)
			out := make([]float32, batch*model.Classes)
			for b.Loop() {
				net.Logits(x, batch, out)
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "digits/s")
		})
	}
}

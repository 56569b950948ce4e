package gorgonet

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stratusml/stratus/model"
)

// TestLossGradient checks the graph's loss and its gradient with respect to
// the output bias against the closed form mean(softmax − onehot).
func TestLossGradient(t *testing.T) {
	const batch = 4
	rng := rand.New(rand.NewPCG(1, 2))
	m := model.New()
	for _, w := range m.Weights {
		for i := range w {
			w[i] = float32(rng.NormFloat64() * 0.1)
		}
	}
	x := make([]float32, batch*model.Pixels)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	labels := []uint8{3, 1, 4, 1}

	inf, err := NewInference(batch)
	if err != nil {
		t.Fatal(err)
	}
	defer inf.Close()
	if err := inf.SetWeights(m); err != nil {
		t.Fatal(err)
	}
	logits := make([]float32, batch*model.Classes)
	if err := inf.Logits(x, logits); err != nil {
		t.Fatal(err)
	}
	wantGrad := make([]float64, model.Classes)
	var wantLoss float64
	for i := 0; i < batch; i++ {
		l := logits[i*10 : i*10+10]
		var se float64
		for _, v := range l {
			se += math.Exp(float64(v))
		}
		for k, v := range l {
			p := math.Exp(float64(v)) / se
			if k == int(labels[i]) {
				p--
				wantLoss -= math.Log(math.Exp(float64(v))/se) / batch
			}
			wantGrad[k] += p / batch
		}
	}

	tr, err := NewTraining(batch, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if err := tr.SetWeights(m); err != nil {
		t.Fatal(err)
	}
	loss, err := tr.Train(x, labels)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(float64(loss)-wantLoss) > 1e-4 {
		t.Errorf("loss %v, want %v", loss, wantLoss)
	}
	acc := map[string][]float32{}
	for k, v := range m.Weights {
		acc[k] = make([]float32, len(v))
	}
	if err := tr.AddGrads(acc); err != nil {
		t.Fatal(err)
	}
	for k := range wantGrad {
		if got := acc[model.ParamFC2B][k]; math.Abs(float64(got)-wantGrad[k]) > 1e-4 {
			t.Errorf("d loss / d fc2.b[%d] = %v, want %v", k, got, wantGrad[k])
		}
	}
	// A second run must give the same gradients, not their sum.
	if _, err := tr.Train(x, labels); err != nil {
		t.Fatal(err)
	}
	for _, a := range acc {
		clear(a)
	}
	if err := tr.AddGrads(acc); err != nil {
		t.Fatal(err)
	}
	for k := range wantGrad {
		if got := acc[model.ParamFC2B][k]; math.Abs(float64(got)-wantGrad[k]) > 1e-4 {
			t.Errorf("second run: d loss / d fc2.b[%d] = %v, want %v (gradients accumulate?)", k, got, wantGrad[k])
		}
	}
}

// TestNumericalGradient compares the graph's gradients with central
// differences of the loss for a few entries of every weight tensor.
func TestNumericalGradient(t *testing.T) {
	const batch = 2
	rng := rand.New(rand.NewPCG(3, 4))
	m := model.New()
	for _, w := range m.Weights {
		for i := range w {
			w[i] = float32(rng.NormFloat64() * 0.2)
		}
	}
	x := make([]float32, batch*model.Pixels)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	labels := []uint8{3, 7}
	inf, err := NewInference(batch)
	if err != nil {
		t.Fatal(err)
	}
	defer inf.Close()
	lossOf := func(m *model.Model) float64 {
		if err := inf.SetWeights(m); err != nil {
			t.Fatal(err)
		}
		out := make([]float32, batch*model.Classes)
		if err := inf.Logits(x, out); err != nil {
			t.Fatal(err)
		}
		var loss float64
		for i := 0; i < batch; i++ {
			l := out[i*10 : i*10+10]
			var se float64
			for _, v := range l {
				se += math.Exp(float64(v))
			}
			loss -= (float64(l[labels[i]]) - math.Log(se)) / batch
		}
		return loss
	}
	tr, err := NewTraining(batch, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if err := tr.SetWeights(m); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Train(x, labels); err != nil {
		t.Fatal(err)
	}
	acc := map[string][]float32{}
	for k, v := range m.Weights {
		acc[k] = make([]float32, len(v))
	}
	if err := tr.AddGrads(acc); err != nil {
		t.Fatal(err)
	}
	for _, p := range model.Params() {
		w := m.Weights[p.Name]
		for trial := 0; trial < 5; trial++ {
			// pick the entry with the largest analytic gradient among a few random ones
			i := rng.IntN(len(w))
			for k := 0; k < 20; k++ {
				j := rng.IntN(len(w))
				if math.Abs(float64(acc[p.Name][j])) > math.Abs(float64(acc[p.Name][i])) {
					i = j
				}
			}
			const eps = 1e-2
			orig := w[i]
			w[i] = orig + eps
			up := lossOf(m)
			w[i] = orig - eps
			down := lossOf(m)
			w[i] = orig
			num := (up - down) / (2 * eps)
			got := float64(acc[p.Name][i])
			if math.Abs(num-got) > 1e-3+0.05*math.Abs(num) {
				t.Errorf("%s[%d]: gradient %.5f, numerical %.5f", p.Name, i, got, num)
			}
		}
	}
}

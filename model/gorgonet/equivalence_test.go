package gorgonet_test

import (
	"math"
	"testing"

	"github.com/stratusml/stratus/model"
	"github.com/stratusml/stratus/model/gorgonet"
	"github.com/stratusml/stratus/model/infer"
	"github.com/stratusml/stratus/model/mnist"
)

// TestFastPathMatchesGorgonia runs the shipped model over the whole MNIST
// test set through the gorgonia graph and through the serving path of
// model/infer: every argmax must agree and every logit within 1e-4.
func TestFastPathMatchesGorgonia(t *testing.T) {
	if testing.Short() {
		t.Skip("full MNIST test set: not in -short")
	}
	m, err := model.Default()
	if err != nil {
		t.Fatal(err)
	}
	test, err := mnist.Test("")
	if err != nil {
		t.Fatal(err)
	}
	fast, err := infer.New(m)
	if err != nil {
		t.Fatal(err)
	}
	const batch = 250
	ref, err := gorgonet.NewInference(batch)
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	if err := ref.SetWeights(m); err != nil {
		t.Fatal(err)
	}
	x := make([]float32, batch*model.Pixels)
	want := make([]float32, batch*model.Classes)
	got := make([]float32, batch*model.Classes)
	var maxDiff float64
	mismatches, correct := 0, 0
	for start := 0; start < test.Len(); start += batch {
		for i := 0; i < batch; i++ {
			fast.Normalize(test.Images[start+i][:], x[i*model.Pixels:(i+1)*model.Pixels])
		}
		if err := ref.Logits(x, want); err != nil {
			t.Fatal(err)
		}
		fast.Logits(x, batch, got)
		for i := 0; i < batch; i++ {
			w, g := want[i*10:i*10+10], got[i*10:i*10+10]
			if model.Argmax(w) != model.Argmax(g) {
				mismatches++
			}
			if model.Argmax(g) == int(test.Labels[start+i]) {
				correct++
			}
			for k := range w {
				maxDiff = math.Max(maxDiff, math.Abs(float64(w[k]-g[k])))
			}
		}
	}
	t.Logf("max |logit difference| over %d images: %.2g", test.Len(), maxDiff)
	if mismatches != 0 {
		t.Errorf("%d images get a different answer on the fast path", mismatches)
	}
	if maxDiff > 1e-4 {
		t.Errorf("logits differ by up to %.3g, want ≤ 1e-4", maxDiff)
	}
	// The shipped model's accuracy, measured here, is what its file records
	// and at least 99.4%.
	acc := float64(correct) / float64(test.Len())
	t.Logf("shipped model %s: MNIST test accuracy %.4f", m.ID, acc)
	if acc < 0.994 {
		t.Errorf("shipped model accuracy %.4f, want ≥ 0.994", acc)
	}
	if math.Abs(acc-m.Metrics.MNISTTestAccuracy) > 1e-9 {
		t.Errorf("measured accuracy %.4f, the file records %.4f", acc, m.Metrics.MNISTTestAccuracy)
	}
}

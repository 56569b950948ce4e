package mnist_test

import (
	"testing"

	"github.com/stratusml/stratus/drawing"
	"github.com/stratusml/stratus/model/mnist"
	"github.com/stratusml/stratus/model/recognize"
)

// TestStrokesAreTheDigit: MNIST test digits traced into strokes and drawn
// on a 280×280 canvas are recognised as their labels by the shipped model.
func TestStrokesAreTheDigit(t *testing.T) {
	set, err := mnist.Test("")
	if err != nil {
		t.Fatal(err)
	}
	rec, err := recognize.Default()
	if err != nil {
		t.Fatal(err)
	}
	const n = 300
	right := 0
	for i := 0; i < n; i++ {
		var strokes []drawing.Stroke
		for _, line := range set.Strokes(i) {
			var s drawing.Stroke
			for k, p := range line {
				s = append(s, drawing.Point{X: p[0] * 10, Y: p[1] * 10, T: float64(8 * k)})
			}
			strokes = append(strokes, s)
		}
		if len(strokes) == 0 {
			t.Fatalf("digit %d has no strokes", i)
		}
		res, err := rec.Strokes(strokes, 280, 280, drawing.ModeDigit)
		if err != nil {
			t.Fatalf("digit %d: %v", i, err)
		}
		if res.Digits == string(rune('0'+set.Labels[i])) {
			right++
		}
	}
	t.Logf("%d/%d MNIST test digits drawn as strokes recognised", right, n)
	if right < n*97/100 {
		t.Errorf("%d/%d recognised, want ≥ 97%%", right, n)
	}
}

package augment

import (
	"testing"

	"github.com/stratusml/stratus/model/mnist"
)

func inkStats(img *[Side * Side]uint8) (mass, cx, cy float64) {
	for y := 0; y < Side; y++ {
		for x := 0; x < Side; x++ {
			v := float64(img[y*Side+x])
			mass += v
			cx += v * float64(x)
			cy += v * float64(y)
		}
	}
	return mass, cx / mass, cy / mass
}

func TestApply(t *testing.T) {
	set, err := mnist.Test("")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name           string
		cfg            Config
		identity       bool
		minRatio, maxR float64 // ink mass after / before
	}{
		{"zero config is identity", Config{}, true, 1, 1},
		{"default", Default(), false, 0.3, 3.5},
		{"thicken only", Config{ThickProb: 1}, false, 1.05, 3},
		{"thin only", Config{ThinProb: 1}, false, 0.2, 0.98},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := New(tc.cfg, 1)
			var out [Side * Side]uint8
			changed := 0
			for i := 0; i < 200; i++ {
				src := &set.Images[i]
				a.Apply(src, &out)
				if out != *src {
					changed++
				}
				m0, _, _ := inkStats(src)
				m1, cx, cy := inkStats(&out)
				r := m1 / m0
				if r < tc.minRatio-1e-3 || r > tc.maxR+1e-3 {
					t.Fatalf("image %d: ink ratio %.2f outside [%.2f, %.2f]", i, r, tc.minRatio, tc.maxR)
				}
				if cx < 7 || cx > 20 || cy < 7 || cy > 20 {
					t.Fatalf("image %d: centre of mass (%.1f, %.1f) left the middle", i, cx, cy)
				}
			}
			if tc.identity && changed != 0 {
				t.Fatalf("%d images changed, want none", changed)
			}
			if !tc.identity && changed < 150 {
				t.Fatalf("only %d of 200 images changed", changed)
			}
		})
	}
}

func TestDeterministic(t *testing.T) {
	set, err := mnist.Test("")
	if err != nil {
		t.Fatal(err)
	}
	a, b := New(Default(), 7), New(Default(), 7)
	var x, y [Side * Side]uint8
	for i := 0; i < 50; i++ {
		a.Apply(&set.Images[i], &x)
		b.Apply(&set.Images[i], &y)
		if x != y {
			t.Fatalf("image %d: same seed, different output", i)
		}
	}
}

func BenchmarkApply(b *testing.B) {
	set, err := mnist.Test("")
	if err != nil {
		b.Fatal(err)
	}
	a := New(Default(), 1)
	var out [Side * Side]uint8
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		a.Apply(&set.Images[i%set.Len()], &out)
	}
}

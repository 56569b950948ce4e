package train

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/stratusml/stratus/model"
	"github.com/stratusml/stratus/model/mnist"
)

// TestSmoke trains briefly on a slice of MNIST: the loss must fall and the
// model must do far better than chance, and its file must carry the run's
// settings and metrics.
func TestSmoke(t *testing.T) {
	cfg := Config{Epochs: 1, LimitTrain: 3200, LimitTest: 500, Warmup: 20, LearnRate: 2e-3, Seed: 3}
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Accuracy < 0.6 {
		t.Fatalf("accuracy %.3f after a short run, want ≥ 0.6", res.Accuracy)
	}
	m := res.Model
	if m.Train.Epochs != 1 || m.Train.ImagesSeen != 3200 || m.Metrics.MNISTTestAccuracy != res.Accuracy || m.ID == "" {
		t.Fatalf("header does not describe the run: %+v", m.Header)
	}
	path := filepath.Join(t.TempDir(), "m.stratus")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	if _, err := model.Load(path); err != nil {
		t.Fatal(err)
	}
}

// TestResume stops a run through its context and resumes it from the
// checkpoint: the resumed run must finish the remaining steps only.
func TestResume(t *testing.T) {
	ckpt := filepath.Join(t.TempDir(), "run.ckpt")
	cfg := Config{Epochs: 2, LimitTrain: 1280, LimitTest: 200, Warmup: 10, Seed: 5, Checkpoint: ckpt, Resume: true}

	ctx, cancel := context.WithCancel(context.Background())
	stopAfter := 0
	cfg.onStep = func(step int64) {
		if stopAfter++; stopAfter == 25 { // in the middle of the second epoch
			cancel()
		}
	}
	if _, err := Run(ctx, cfg); err != context.Canceled {
		t.Fatalf("interrupted run: err = %v, want context.Canceled", err)
	}
	m, epochs, err := CheckpointModel(ckpt)
	if err != nil {
		t.Fatal(err)
	}
	if epochs != 1 || m.Arch != model.ArchCNN2 {
		t.Fatalf("checkpoint holds %d epochs, want 1", epochs)
	}

	steps := 0
	cfg.onStep = func(int64) { steps++ }
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	// 2 epochs × 20 steps = 40; 25 were done before the interruption.
	if steps != 15 {
		t.Fatalf("resumed run took %d steps, want 15", steps)
	}
	if res.Model.Train.ImagesSeen != 40*64 {
		t.Fatalf("images seen %d, want %d", res.Model.Train.ImagesSeen, 40*64)
	}
}

func TestRate(t *testing.T) {
	cfg := Config{LearnRate: 1e-3, MinRate: 1e-5, Warmup: 10}
	tests := []struct {
		step, total int64
		want        float64
	}{
		{0, 100, 1e-4},
		{9, 100, 1e-3},
		{10, 100, 1e-3},
		{55, 100, (1e-3 + 1e-5) / 2},
		{100, 100, 1e-5},
	}
	for _, tc := range tests {
		if got := rate(cfg, tc.step, tc.total); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("rate(%d/%d) = %g, want %g", tc.step, tc.total, got, tc.want)
		}
	}
}

// BenchmarkTrainStep measures training throughput (images/s): one optimiser
// step of 64 augmented images through the data-parallel gorgonia graphs.
func BenchmarkTrainStep(b *testing.B) {
	cfg := Defaults().withDefaults()
	set, err := mnistTrainSample(640)
	if err != nil {
		b.Fatal(err)
	}
	t, err := newTrainer(cfg, len(set))
	if err != nil {
		b.Fatal(err)
	}
	defer t.close()
	idx := make([]int, cfg.BatchSize)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for k := range idx {
			idx[k] = (i*cfg.BatchSize + k) % len(set)
		}
		if _, err := t.step(set, idx, 1e-3); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*cfg.BatchSize)/b.Elapsed().Seconds(), "images/s")
}

func mnistTrainSample(n int) ([]Sample, error) {
	set, err := mnist.Test("")
	if err != nil {
		return nil, err
	}
	out := make([]Sample, n)
	for i := range out {
		out[i] = Sample{Image: set.Images[i], Label: set.Labels[i]}
	}
	return out, nil
}

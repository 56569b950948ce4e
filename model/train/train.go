// Package train trains the Stratus CNN on MNIST (plus optional labelled
// samples) with gorgonia computing the gradients, data-parallel over several
// graphs, an Adam optimiser with a cosine learning-rate schedule, random
// augmentation, progress reporting, evaluation and resumable checkpoints.
package train

import (
	"bytes"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/stratusml/stratus/model"
	"github.com/stratusml/stratus/model/augment"
	"github.com/stratusml/stratus/model/gorgonet"
	"github.com/stratusml/stratus/model/mnist"
)

// Sample is one labelled 28×28 image (0 = paper, 255 = ink).
type Sample struct {
	Image [model.Pixels]uint8
	Label uint8
}

// Config sets up a training run. Zero fields take the defaults of Defaults.
type Config struct {
	Epochs    int     // passes over the training data
	BatchSize int     // images per optimiser step (split across workers)
	LearnRate float64 // peak Adam learning rate
	MinRate   float64 // final learning rate of the cosine schedule
	Warmup    int     // optimiser steps of linear warm-up
	Dropout   float64 // dropout probability on the hidden layer
	Workers   int     // parallel gorgonia graphs (default GOMAXPROCS)
	Seed      uint64
	Augment   augment.Config
	// NoAugment trains on the images as they are.
	NoAugment bool
	// MNISTDir is the folder of the MNIST idx files ("" = the module cache).
	MNISTDir string
	// LimitTrain, if > 0, trains on the first LimitTrain MNIST images only
	// (smoke tests); LimitTest likewise bounds evaluation.
	LimitTrain, LimitTest int
	// Extra are labelled samples (users' corrections) mixed into training.
	Extra []Sample
	// Checkpoint is where state is saved after every epoch and on
	// cancellation; Resume continues from it when it exists.
	Checkpoint string
	Resume     bool
	// Progress receives a progress line every ProgressEvery (default 2 s).
	Progress      io.Writer
	ProgressEvery time.Duration

	// onStep, if set, is called after every optimiser step (tests).
	onStep func(step int64)
}

// Defaults returns the settings the shipped model was trained with.
func Defaults() Config {
	return Config{
		Epochs: 40, BatchSize: 64, LearnRate: 2e-3, MinRate: 1e-5, Warmup: 300, Dropout: 0.25,
		Seed: 1, Augment: augment.Default(),
	}
}

// withDefaults returns c with its unset fields filled in from Defaults.
func (c Config) withDefaults() Config {
	d := Defaults()
	if c.Epochs <= 0 {
		c.Epochs = d.Epochs
	}
	if c.BatchSize <= 0 {
		c.BatchSize = d.BatchSize
	}
	if c.LearnRate <= 0 {
		c.LearnRate = d.LearnRate
	}
	if c.MinRate <= 0 {
		c.MinRate = d.MinRate
	}
	if c.Workers <= 0 {
		c.Workers = runtime.GOMAXPROCS(0)
	}
	if c.Workers > c.BatchSize {
		c.Workers = c.BatchSize
	}
	if c.Augment == (augment.Config{}) && !c.NoAugment {
		c.Augment = d.Augment
	}
	if c.NoAugment {
		c.Augment = augment.Config{}
	}
	if c.ProgressEvery <= 0 {
		c.ProgressEvery = 2 * time.Second
	}
	return c
}

// Result is what a finished run returns.
type Result struct {
	Model    *model.Model
	Accuracy float64 // on the (possibly limited) MNIST test set
	Loss     float64
}

// checkpoint is the resumable state, gob-encoded.
type checkpoint struct {
	Model      []byte // model file bytes
	M, V       map[string][]float32
	Step       int64
	Epoch      int // epochs completed
	ImagesSeen int64
	Elapsed    time.Duration
	Order      []int // permutation of the current epoch
}

// Run trains a model. Cancelling ctx saves a checkpoint (if configured) and
// returns ctx's error.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg = cfg.withDefaults()
	samples, n, testSet, err := trainingData(cfg)
	if err != nil {
		return nil, err
	}
	t, err := newTrainer(cfg, len(samples))
	if err != nil {
		return nil, err
	}
	defer t.close()
	if cfg.Resume && cfg.Checkpoint != "" {
		if err := t.load(cfg.Checkpoint); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		} else if err == nil {
			t.logf("resumed from %s: epoch %d done, step %d\n", cfg.Checkpoint, t.state.Epoch, t.state.Step)
		}
	}

	stepsPerEpoch := len(samples) / cfg.BatchSize
	totalSteps := int64(stepsPerEpoch * cfg.Epochs)
	for t.state.Epoch < cfg.Epochs {
		if len(t.state.Order) != len(samples) {
			rng := rand.New(rand.NewPCG(cfg.Seed, uint64(t.state.Epoch)))
			t.state.Order = rng.Perm(len(samples))
		}
		first := int(t.state.Step) % stepsPerEpoch
		for s := first; s < stepsPerEpoch; s++ {
			if ctx.Err() != nil {
				if cfg.Checkpoint != "" {
					if err := t.save(cfg.Checkpoint); err != nil {
						return nil, err
					}
					t.logf("\ncheckpoint saved to %s\n", cfg.Checkpoint)
				}
				return nil, ctx.Err()
			}
			idx := t.state.Order[s*cfg.BatchSize : (s+1)*cfg.BatchSize]
			loss, err := t.step(samples, idx, rate(cfg, t.state.Step, totalSteps))
			if err != nil {
				return nil, err
			}
			t.progress(loss, totalSteps, stepsPerEpoch)
			if cfg.onStep != nil {
				cfg.onStep(t.state.Step)
			}
		}
		t.state.Epoch++
		t.state.Order = nil
		acc, tl, err := Evaluate(t.master, testSet)
		if err != nil {
			return nil, err
		}
		t.logf("\repoch %d/%d done: test accuracy %.4f, test loss %.4f, %s elapsed%s\n",
			t.state.Epoch, cfg.Epochs, acc, tl, t.elapsed().Round(time.Second), clearEOL)
		if cfg.Checkpoint != "" {
			if err := t.save(cfg.Checkpoint); err != nil {
				return nil, err
			}
		}
	}
	acc, tl, err := Evaluate(t.master, testSet)
	if err != nil {
		return nil, err
	}
	m, err := t.finalModel(cfg, n, acc, tl)
	if err != nil {
		return nil, err
	}
	return &Result{Model: m, Accuracy: acc, Loss: tl}, nil
}

// trainingData reads MNIST: the samples to train on (the first LimitTrain
// of the training set, n of them, then cfg.Extra) and the test set (its
// first LimitTest).
func trainingData(cfg Config) (samples []Sample, n int, testSet *mnist.Set, err error) {
	trainSet, err := mnist.Train(cfg.MNISTDir)
	if err != nil {
		return nil, 0, nil, err
	}
	testSet, err = mnist.Test(cfg.MNISTDir)
	if err != nil {
		return nil, 0, nil, err
	}
	samples = make([]Sample, 0, trainSet.Len()+len(cfg.Extra))
	n = trainSet.Len()
	if cfg.LimitTrain > 0 && cfg.LimitTrain < n {
		n = cfg.LimitTrain
	}
	for i := 0; i < n; i++ {
		samples = append(samples, Sample{Image: trainSet.Images[i], Label: trainSet.Labels[i]})
	}
	samples = append(samples, cfg.Extra...)
	if cfg.LimitTest > 0 && cfg.LimitTest < testSet.Len() {
		testSet.Images, testSet.Labels = testSet.Images[:cfg.LimitTest], testSet.Labels[:cfg.LimitTest]
	}
	return samples, n, testSet, nil
}

// finalModel is a sealed copy of the trained model, with the record of its
// training (n: the MNIST samples trained on) and its test accuracy and loss.
func (t *trainer) finalModel(cfg Config, n int, acc, tl float64) (*model.Model, error) {
	m := t.master.Clone()
	m.CreatedAt = time.Now().UTC()
	m.Train = model.TrainInfo{
		Dataset: "mnist-train-60k", Epochs: cfg.Epochs, BatchSize: cfg.BatchSize, Optimizer: "adam(0.9,0.999,1e-8)",
		LearnRate: cfg.LearnRate, Schedule: fmt.Sprintf("warmup %d steps, cosine to %g", cfg.Warmup, cfg.MinRate),
		Dropout: cfg.Dropout, Augment: fmt.Sprintf("%+v", cfg.Augment), Seed: int64(cfg.Seed),
		ImagesSeen: t.state.ImagesSeen, Duration: t.elapsed(), ExtraSamples: len(cfg.Extra),
	}
	if cfg.LimitTrain > 0 {
		m.Train.Dataset = fmt.Sprintf("mnist-train-first-%d", n)
	}
	m.Metrics = model.Metrics{MNISTTestAccuracy: acc, MNISTTestLoss: tl}
	if err := m.Seal(); err != nil {
		return nil, err
	}
	return m, nil
}

const clearEOL = "\x1b[K"

// rate is the learning rate at a step: linear warm-up, then cosine decay.
func rate(cfg Config, step, total int64) float64 {
	if step < int64(cfg.Warmup) {
		return cfg.LearnRate * float64(step+1) / float64(cfg.Warmup)
	}
	p := float64(step-int64(cfg.Warmup)) / math.Max(1, float64(total-int64(cfg.Warmup)))
	if p > 1 {
		p = 1
	}
	return cfg.MinRate + (cfg.LearnRate-cfg.MinRate)*0.5*(1+math.Cos(math.Pi*p))
}

type worker struct {
	net  *gorgonet.Net
	aug  *augment.Augmenter
	x    []float32
	lbl  []uint8
	img  [model.Pixels]uint8
	grad map[string][]float32
	loss float32
	err  error
}

type trainer struct {
	cfg     Config
	master  *model.Model
	workers []*worker
	state   checkpoint
	norm    model.Normalization
	start   time.Time
	last    time.Time
	lastImg int64
	ema     float64
}

func newTrainer(cfg Config, nSamples int) (*trainer, error) {
	if nSamples < cfg.BatchSize {
		return nil, fmt.Errorf("train: %d samples, fewer than one batch of %d", nSamples, cfg.BatchSize)
	}
	if cfg.BatchSize%cfg.Workers != 0 {
		return nil, fmt.Errorf("train: batch %d does not split evenly over %d workers", cfg.BatchSize, cfg.Workers)
	}
	t := &trainer{cfg: cfg, master: model.New(), start: time.Now()}
	t.norm = t.master.Input.Normalization
	initWeights(t.master, cfg.Seed)
	t.state.M, t.state.V = zeros(t.master), zeros(t.master)
	for i := 0; i < cfg.Workers; i++ {
		net, err := gorgonet.NewTraining(cfg.BatchSize/cfg.Workers, cfg.Dropout)
		if err != nil {
			t.close()
			return nil, err
		}
		t.workers = append(t.workers, &worker{
			net: net, aug: augment.New(cfg.Augment, cfg.Seed*1000+uint64(i)),
			x: make([]float32, net.Batch*model.Pixels), lbl: make([]uint8, net.Batch),
			grad: zeros(t.master),
		})
	}
	t.last = t.start
	return t, nil
}

func (t *trainer) close() {
	for _, w := range t.workers {
		_ = w.net.Close()
	}
}

func zeros(m *model.Model) map[string][]float32 {
	z := make(map[string][]float32, len(m.Weights))
	for k, v := range m.Weights {
		z[k] = make([]float32, len(v))
	}
	return z
}

// initWeights draws He-normal weights (biases zero).
func initWeights(m *model.Model, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 42))
	fanIn := map[string]int{
		model.ParamConv1W: model.Kernel * model.Kernel,
		model.ParamConv2W: model.Conv1Out * model.Kernel * model.Kernel,
		model.ParamFC1W:   model.Flat,
		model.ParamFC2W:   model.Hidden,
	}
	for _, p := range model.Params() {
		fi, ok := fanIn[p.Name]
		if !ok {
			continue
		}
		std := math.Sqrt(2 / float64(fi))
		for i := range m.Weights[p.Name] {
			m.Weights[p.Name][i] = float32(rng.NormFloat64() * std)
		}
	}
}

// step runs one optimiser step over the samples at idx.
func (t *trainer) step(samples []Sample, idx []int, lr float64) (float32, error) {
	per := len(idx) / len(t.workers)
	var wg sync.WaitGroup
	for wi, w := range t.workers {
		wg.Add(1)
		go func(w *worker, part []int) {
			defer wg.Done()
			for j, si := range part {
				s := &samples[si]
				w.aug.Apply(&s.Image, &w.img)
				for k, p := range w.img {
					w.x[j*model.Pixels+k] = t.norm.Apply(p)
				}
				w.lbl[j] = s.Label
			}
			if w.err = w.net.SetWeights(t.master); w.err != nil {
				return
			}
			for _, g := range w.grad {
				clear(g)
			}
			if w.loss, w.err = w.net.Train(w.x, w.lbl); w.err != nil {
				return
			}
			w.err = w.net.AddGrads(w.grad)
		}(w, idx[wi*per:(wi+1)*per])
	}
	wg.Wait()
	var loss float32
	for _, w := range t.workers {
		if w.err != nil {
			return 0, w.err
		}
		loss += w.loss / float32(len(t.workers))
	}
	if math.IsNaN(float64(loss)) {
		return 0, fmt.Errorf("train: loss is NaN at step %d", t.state.Step)
	}
	t.state.Step++
	t.adam(lr)
	t.state.ImagesSeen += int64(len(idx))
	return loss, nil
}

// adam applies one Adam update with the workers' averaged gradients.
func (t *trainer) adam(lr float64) {
	const b1, b2, eps = 0.9, 0.999, 1e-8
	c1 := 1 - math.Pow(b1, float64(t.state.Step))
	c2 := 1 - math.Pow(b2, float64(t.state.Step))
	a := float32(lr * math.Sqrt(c2) / c1)
	inv := 1 / float32(len(t.workers))
	for name, w := range t.master.Weights {
		m, v := t.state.M[name], t.state.V[name]
		for i := range w {
			var g float32
			for _, wk := range t.workers {
				g += wk.grad[name][i]
			}
			g *= inv
			m[i] = b1*m[i] + (1-b1)*g
			v[i] = b2*v[i] + (1-b2)*g*g
			w[i] -= a * m[i] / (float32(math.Sqrt(float64(v[i]))) + eps)
		}
	}
}

func (t *trainer) elapsed() time.Duration { return t.state.Elapsed + time.Since(t.start) }

func (t *trainer) logf(format string, args ...any) {
	if t.cfg.Progress != nil {
		fmt.Fprintf(t.cfg.Progress, format, args...)
	}
}

func (t *trainer) progress(loss float32, totalSteps int64, stepsPerEpoch int) {
	if t.ema == 0 {
		t.ema = float64(loss)
	}
	t.ema = 0.98*t.ema + 0.02*float64(loss)
	now := time.Now()
	if now.Sub(t.last) < t.cfg.ProgressEvery {
		return
	}
	ips := float64(t.state.ImagesSeen-t.lastImg) / now.Sub(t.last).Seconds()
	t.last, t.lastImg = now, t.state.ImagesSeen
	left := time.Duration(float64(totalSteps-t.state.Step) * float64(t.cfg.BatchSize) / math.Max(ips, 1) * float64(time.Second))
	t.logf("\repoch %d/%d  step %d/%d  loss %.4f  %.0f img/s  ETA %s%s",
		t.state.Epoch+1, t.cfg.Epochs, int(t.state.Step)%stepsPerEpoch+1, stepsPerEpoch, t.ema, ips, left.Round(time.Second), clearEOL)
}

func (t *trainer) save(path string) error {
	var mb bytes.Buffer
	if err := t.master.Encode(&mb); err != nil {
		return err
	}
	st := t.state
	st.Model = mb.Bytes()
	st.Elapsed = t.elapsed()
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(&st); err != nil {
		return fmt.Errorf("train: encode checkpoint: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("train: write checkpoint: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("train: write checkpoint: %w", err)
	}
	return nil
}

func (t *trainer) load(path string) error {
	st, m, err := readCheckpoint(path)
	if err != nil {
		return err
	}
	t.master, t.state = m, st
	t.start = time.Now()
	t.last = t.start
	t.lastImg = st.ImagesSeen
	return nil
}

// readCheckpoint decodes a checkpoint file and the model it holds.
func readCheckpoint(path string) (checkpoint, *model.Model, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return checkpoint{}, nil, fmt.Errorf("train: read checkpoint: %w", err)
	}
	var st checkpoint
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&st); err != nil {
		return checkpoint{}, nil, fmt.Errorf("train: decode checkpoint %s: %w", path, err)
	}
	m, err := model.DecodeBytes(st.Model)
	if err != nil {
		return checkpoint{}, nil, fmt.Errorf("train: checkpoint %s: %w", path, err)
	}
	st.Model = nil
	return st, m, nil
}

// Evaluate returns the accuracy and mean cross-entropy of m on set, using the
// gorgonia reference graph.
func Evaluate(m *model.Model, set *mnist.Set) (acc, loss float64, err error) {
	const batch = 100
	net, err := gorgonet.NewInference(batch)
	if err != nil {
		return 0, 0, err
	}
	defer net.Close()
	if err := net.SetWeights(m); err != nil {
		return 0, 0, err
	}
	norm := m.Input.Normalization
	x := make([]float32, batch*model.Pixels)
	out := make([]float32, batch*model.Classes)
	correct, total := 0, 0
	for start := 0; start < set.Len(); start += batch {
		nb := min(batch, set.Len()-start)
		clear(x)
		for i := 0; i < nb; i++ {
			for k, p := range set.Images[start+i] {
				x[i*model.Pixels+k] = norm.Apply(p)
			}
		}
		if err := net.Logits(x, out); err != nil {
			return 0, 0, err
		}
		for i := 0; i < nb; i++ {
			l := out[i*model.Classes : (i+1)*model.Classes]
			best, mx := 0, l[0]
			for k, v := range l {
				if v > mx {
					best, mx = k, v
				}
			}
			var se float64
			for _, v := range l {
				se += math.Exp(float64(v - mx))
			}
			loss += -(float64(l[set.Labels[start+i]]-mx) - math.Log(se))
			if best == int(set.Labels[start+i]) {
				correct++
			}
			total++
		}
	}
	return float64(correct) / float64(total), loss / float64(total), nil
}

// CheckpointModel returns the model held in a checkpoint file, with the
// epochs completed so far recorded, so an interrupted run can still be used.
func CheckpointModel(path string) (*model.Model, int, error) {
	st, m, err := readCheckpoint(path)
	if err != nil {
		return nil, 0, err
	}
	return m, st.Epoch, nil
}

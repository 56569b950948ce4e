// Package gorgonet defines the Stratus CNN (model.ArchCNN2) as a gorgonia
// expression graph. It is the reference implementation of the network: the
// training loop computes gradients with it, and the fast serving path in
// model/infer is tested against its forward pass.
package gorgonet

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/stratusml/stratus/model"
)

// Net is one compiled graph of the network for a fixed batch size (gorgonia
// graphs have static shapes). It is not safe for concurrent use.
type Net struct {
	// Batch is the number of images per run.
	Batch int

	g      *G.ExprGraph
	x      *G.Node // [Batch,1,28,28] normalised input
	y      *G.Node // [Batch,10] one-hot targets (training graphs only)
	logits *G.Node // [Batch,10]
	loss   *G.Node // scalar mean cross-entropy (training graphs only)
	params []*G.Node
	names  []string
	vm     G.VM

	lossVal   G.Value
	logitsVal G.Value
}

// NewInference builds a forward-only graph.
func NewInference(batch int) (*Net, error) { return build(batch, false, 0) }

// NewTraining builds a graph with dropout (probability dropout on the hidden
// layer) and a mean cross-entropy loss, and binds gradients to every weight.
func NewTraining(batch int, dropout float64) (*Net, error) { return build(batch, true, dropout) }

func build(batch int, train bool, dropout float64) (n *Net, err error) {
	if batch < 1 {
		return nil, fmt.Errorf("gorgonet: batch %d < 1", batch)
	}
	defer func() {
		// gorgonia's Must panics on shape errors; turn them into errors.
		if r := recover(); r != nil {
			n, err = nil, fmt.Errorf("gorgonet: build graph: %v", r)
		}
	}()
	n = &Net{Batch: batch, g: G.NewGraph()}
	g := n.g
	dt := tensor.Float32
	param := func(name string, shape ...int) *G.Node {
		var p *G.Node
		if len(shape) == 1 { // biases are stored as [k]; in the graph they are [1,k] rows
			p = G.NewMatrix(g, dt, G.WithShape(1, shape[0]), G.WithName(name), G.WithInit(G.Zeroes()))
		} else {
			p = G.NewTensor(g, dt, len(shape), G.WithShape(shape...), G.WithName(name), G.WithInit(G.Zeroes()))
		}
		n.params = append(n.params, p)
		n.names = append(n.names, name)
		return p
	}
	shapes := map[string][]int{}
	for _, p := range model.Params() {
		shapes[p.Name] = p.Shape
	}
	w1 := param(model.ParamConv1W, shapes[model.ParamConv1W]...)
	w2 := param(model.ParamConv2W, shapes[model.ParamConv2W]...)
	fc1w := param(model.ParamFC1W, shapes[model.ParamFC1W]...)
	fc1b := param(model.ParamFC1B, shapes[model.ParamFC1B]...)
	fc2w := param(model.ParamFC2W, shapes[model.ParamFC2W]...)
	fc2b := param(model.ParamFC2B, shapes[model.ParamFC2B]...)

	n.x = G.NewTensor(g, dt, 4, G.WithShape(batch, 1, model.Side, model.Side), G.WithName("x"), G.WithInit(G.Zeroes()))
	k := tensor.Shape{model.Kernel, model.Kernel}
	one, pad, zero, two := []int{1, 1}, []int{1, 1}, []int{0, 0}, []int{2, 2}

	c1 := G.Must(G.Conv2d(n.x, w1, k, pad, one, one))
	p1 := G.Must(G.MaxPool2D(G.Must(G.Rectify(c1)), tensor.Shape{2, 2}, zero, two))
	c2 := G.Must(G.Conv2d(p1, w2, k, pad, one, one))
	p2 := G.Must(G.MaxPool2D(G.Must(G.Rectify(c2)), tensor.Shape{2, 2}, zero, two))
	flat := G.Must(G.Reshape(p2, tensor.Shape{batch, model.Flat}))
	h := G.Must(G.Rectify(G.Must(G.BroadcastAdd(G.Must(G.Mul(flat, fc1w)), fc1b, nil, []byte{0}))))
	if train && dropout > 0 {
		h = G.Must(G.Dropout(h, dropout))
	}
	n.logits = G.Must(G.BroadcastAdd(G.Must(G.Mul(h, fc2w)), fc2b, nil, []byte{0}))
	G.Read(n.logits, &n.logitsVal)

	if train {
		n.y = G.NewMatrix(g, dt, G.WithShape(batch, model.Classes), G.WithName("y"), G.WithInit(G.Zeroes()))
		logp := G.Must(G.LogSoftMax(n.logits))
		perImage := G.Must(G.Sum(G.Must(G.HadamardProd(logp, n.y)), 1))
		n.loss = G.Must(G.Neg(G.Must(G.Mean(perImage))))
		G.Read(n.loss, &n.lossVal)
		if _, err := G.Grad(n.loss, n.params...); err != nil {
			return nil, fmt.Errorf("gorgonet: gradients: %w", err)
		}
		n.vm = G.NewTapeMachine(g, G.BindDualValues(n.params...))
	} else {
		n.vm = G.NewTapeMachine(g)
	}
	return n, nil
}

// Close releases the graph's machine.
func (n *Net) Close() error { return n.vm.Close() }

func data(v G.Value) []float32 { return v.Data().([]float32) }

// SetWeights copies m's weights into the graph.
func (n *Net) SetWeights(m *model.Model) error {
	for i, p := range n.params {
		w, ok := m.Weights[n.names[i]]
		dst := data(p.Value())
		if !ok || len(w) != len(dst) {
			return fmt.Errorf("gorgonet: weight %q: have %d values, want %d", n.names[i], len(w), len(dst))
		}
		copy(dst, w)
	}
	return nil
}

// Weights copies the graph's weights into m.
func (n *Net) Weights(m *model.Model) {
	for i, p := range n.params {
		copy(m.Weights[n.names[i]], data(p.Value()))
	}
}

// AddGrads adds the gradients of the last Train call into acc (by name) and
// zeroes them in the graph: gorgonia accumulates gradients across runs.
func (n *Net) AddGrads(acc map[string][]float32) error {
	for i, p := range n.params {
		gv, err := p.Grad()
		if err != nil {
			return fmt.Errorf("gorgonet: gradient of %q: %w", n.names[i], err)
		}
		a := acc[n.names[i]]
		g := data(gv)
		for j, v := range g {
			a[j] += v
		}
		clear(g)
	}
	return nil
}

// Train runs forward and backward on one batch: x holds Batch normalised
// images (784 floats each) and labels their digits. It returns the mean loss;
// the gradients are then available through AddGrads.
func (n *Net) Train(x []float32, labels []uint8) (float32, error) {
	if n.y == nil {
		return 0, fmt.Errorf("gorgonet: Train on an inference graph")
	}
	copy(data(n.x.Value()), x)
	y := data(n.y.Value())
	clear(y)
	for i, l := range labels {
		y[i*model.Classes+int(l)] = 1
	}
	defer n.vm.Reset()
	if err := n.vm.RunAll(); err != nil {
		return 0, fmt.Errorf("gorgonet: run: %w", err)
	}
	return n.lossVal.Data().(float32), nil
}

// Logits runs the forward pass on Batch normalised images and writes
// Batch×10 logits to out.
func (n *Net) Logits(x []float32, out []float32) error {
	copy(data(n.x.Value()), x)
	defer n.vm.Reset()
	if err := n.vm.RunAll(); err != nil {
		return fmt.Errorf("gorgonet: run: %w", err)
	}
	copy(out, data(n.logitsVal))
	return nil
}

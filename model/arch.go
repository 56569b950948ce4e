// Package model holds the Stratus digit classifier: its architecture, its
// versioned on-disk file format and the model that ships with Stratus.
//
// The network is a small convolutional net over MNIST-style 28×28 input:
//
//	conv 3×3, 1→16, pad 1, ReLU → max-pool 2×2 → conv 3×3, 16→32, pad 1, ReLU
//	→ max-pool 2×2 → dense 1568→128, ReLU → dense 128→10 → softmax
//
// Subpackages train it with gorgonia (gorgonet, train), run it fast for
// serving (infer) and turn drawings into its input (preprocess).
package model

// ArchCNN2 names the architecture described in the package comment. It is
// written into every model file so that a loader can refuse weights meant for
// another network.
const ArchCNN2 = "cnn2-v1"

// Input geometry and class count.
const (
	// Side is the width and height of the network input in pixels.
	Side = 28
	// Pixels is Side*Side.
	Pixels = Side * Side
	// Classes is the number of output classes (digits 0–9).
	Classes = 10
)

// Layer sizes of ArchCNN2.
const (
	Conv1Out  = 16                               // output channels of the first convolution
	Conv2Out  = 32                               // output channels of the second convolution
	Kernel    = 3                                // both convolutions are Kernel×Kernel, padding 1, stride 1
	Pool1Side = Side / 2                         // 14: side after the first 2×2 max-pool
	Pool2Side = Pool1Side / 2                    // 7: side after the second 2×2 max-pool
	Flat      = Conv2Out * Pool2Side * Pool2Side // 1568: dense input, NCHW order (c*49 + y*7 + x)
	Hidden    = 128                              // width of the hidden dense layer
)

// Parameter names, in the order they are stored in a model file.
const (
	ParamConv1W = "conv1.w" // [Conv1Out, 1, Kernel, Kernel]
	ParamConv2W = "conv2.w" // [Conv2Out, Conv1Out, Kernel, Kernel]
	ParamFC1W   = "fc1.w"   // [Flat, Hidden]   (input-major: y = x·W + b)
	ParamFC1B   = "fc1.b"   // [Hidden]
	ParamFC2W   = "fc2.w"   // [Hidden, Classes]
	ParamFC2B   = "fc2.b"   // [Classes]
)

// ParamShape is the name and shape of one learned tensor.
type ParamShape struct {
	Name  string
	Shape []int
}

// Params lists every learned tensor of ArchCNN2 with its shape, in file order.
func Params() []ParamShape {
	return []ParamShape{
		{ParamConv1W, []int{Conv1Out, 1, Kernel, Kernel}},
		{ParamConv2W, []int{Conv2Out, Conv1Out, Kernel, Kernel}},
		{ParamFC1W, []int{Flat, Hidden}},
		{ParamFC1B, []int{Hidden}},
		{ParamFC2W, []int{Hidden, Classes}},
		{ParamFC2B, []int{Classes}},
	}
}

// Size returns the number of elements of a shape.
func Size(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// Normalization maps a pixel p in 0..255 (0 = paper, 255 = ink, the MNIST
// convention) to the network input (p/255 − Mean) / Std.
type Normalization struct {
	Mean float32 `json:"mean"`
	Std  float32 `json:"std"`
}

// MNISTNormalization is the normalisation every shipped model uses: the mean
// and standard deviation of the MNIST training pixels.
func MNISTNormalization() Normalization { return Normalization{Mean: 0.1307, Std: 0.3081} }

// Apply converts a 0..255 pixel into the network's input value.
func (n Normalization) Apply(p uint8) float32 {
	return (float32(p)/255 - n.Mean) / n.Std
}

// Argmax returns the index of the largest value of p (the first one on a
// tie): the class a row of logits or probabilities answers.
func Argmax(p []float32) int {
	best := 0
	for k, v := range p {
		if v > p[best] {
			best = k
		}
	}
	return best
}

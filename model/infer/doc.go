// Package infer runs the ArchCNN2 digit classifier fast on the CPU, for
// serving.
//
// New compiles a model.Model into a Net: it checks the weights' shapes and
// packs them once into the layouts the kernels read. A Net is immutable and
// safe for concurrent use; every call takes its scratch memory from a
// sync.Pool.
//
// # Design
//
// Every heavy layer runs on one micro-kernel: a 6×16 tile of C = A·B where A
// is read through a list of tap offsets, so a 3×3 convolution reads its input
// in place (an "implicit im2col") and a dense layer is the one-tap case.
// The kernel is written in AVX2/FMA assembly on amd64 (12 YMM accumulators,
// B rows of 16 floats, six broadcast A values per step) and in plain Go
// elsewhere, with the purego build tag, or when the CPU lacks AVX2 or FMA.
//
// Activations are kept channels-last (HWC) so that one kernel tile is six
// neighbouring pixels by sixteen channels and 2×2 max-pooling is a vector max
// of four rows. Each convolution's input lives in a zero-padded grid whose
// row stride is the image width plus one or two, so that the padding between
// rows doubles as the left and right border and the kernel's six output pixels
// may run past the end of a row (those few outputs are discarded).
// ReLU is folded into pooling (max(0, a, b, c, d)), the flatten permutation
// into the packed fc1 weights, and fc2's ten columns are padded to sixteen.
//
// Work is split across the Net's workers (see WithWorkers). A batch is cut
// into groups of at most 48 images that the workers claim one at a time;
// each worker runs the whole network on its group, so the dense layers see
// many rows at once. A call with fewer images than workers (a single image,
// typically) is split inside the layers instead: row pairs of the first
// block, (channel half, row) units of the second, column panels of the dense
// layers.
package infer

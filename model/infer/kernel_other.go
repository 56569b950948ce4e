//go:build !amd64 || purego

package infer

// asmKernels returns nil: this build has no assembly kernels.
func asmKernels() *kernels { return nil }

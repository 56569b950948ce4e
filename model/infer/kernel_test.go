package infer

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stratusml/stratus/model"
)

func randSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(2*rng.Float64() - 1)
	}
	return s
}

// closeTo reports whether got and want agree to ~1e-5 relative to scale, the
// sum of the magnitudes of the products behind them.
func closeTo(got, want, scale float32) bool {
	return math.Abs(float64(got-want)) <= 1e-5*math.Max(1, float64(scale))
}

func TestAsmTilesMatchGo(t *testing.T) {
	asm := asmKernels()
	if asm == nil {
		t.Skip("no assembly kernels on this CPU/build")
	}
	ref := goKernels()
	rng := rand.New(rand.NewPCG(1, 1))
	tests := []struct{ ntiles, ntaps, chans, stride, ldc int }{
		{1, 1, 1, 1, 16},
		{1, 1, 3, 3, 16},
		{2, 9, 1, 1, 16},   // conv1-like
		{5, 9, 16, 16, 16}, // conv2-like
		{3, 1, 1568, 1568, 128},
		{1, 2, 5, 7, 17},
		{4, 3, 7, 0, 19}, // all rows read the same A
		{2, 1, 17, 20, 33},
		{3, 4, 4, 9, 16},
		{1, 9, 131, 200, 40},
	}
	for i := range 20 {
		tests = append(tests, struct{ ntiles, ntaps, chans, stride, ldc int }{
			1 + rng.IntN(4), 1 + rng.IntN(9), 1 + rng.IntN(40), rng.IntN(60), 16 + rng.IntN(20) + i%2,
		})
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%+v", tt), func(t *testing.T) {
			taps := make([]int, tt.ntaps)
			maxTap := 0
			for i := range taps {
				taps[i] = rng.IntN(50)
				maxTap = max(maxTap, taps[i])
			}
			rows := tileRows * tt.ntiles
			a := randSlice(rng, (rows-1)*tt.stride+maxTap+tt.chans)
			b := randSlice(rng, tt.ntaps*tt.chans*tileCols)
			want := randSlice(rng, (rows-1)*tt.ldc+tileCols)
			got := append([]float32(nil), want...)
			ref.tiles6x16(a, tt.stride, taps, tt.chans, b, want, tt.ldc, tt.ntiles)
			asm.tiles6x16(a, tt.stride, taps, tt.chans, b, got, tt.ldc, tt.ntiles)
			for i := range got {
				r, j := i/tt.ldc, i%tt.ldc
				var scale float32
				if j < tileCols {
					for t, off := range taps {
						for c := range tt.chans {
							scale += float32(math.Abs(float64(a[r*tt.stride+off+c] * b[(t*tt.chans+c)*tileCols+j])))
						}
					}
				}
				if !closeTo(got[i], want[i], scale) {
					t.Fatalf("c[%d] (row %d col %d) = %v, want %v", i, r, j, got[i], want[i])
				}
			}
		})
	}
}

func TestAsmRowMatchesGo(t *testing.T) {
	asm := asmKernels()
	if asm == nil {
		t.Skip("no assembly kernels on this CPU/build")
	}
	ref := goKernels()
	rng := rand.New(rand.NewPCG(2, 2))
	for _, k := range []int{0, 1, 2, 3, 4, 5, 7, 8, 9, 16, 127, 128, 1567, 1568, 1569} {
		t.Run(fmt.Sprintf("k=%d", k), func(t *testing.T) {
			a := randSlice(rng, k)
			b := randSlice(rng, k*tileCols)
			want := randSlice(rng, tileCols+3)
			got := append([]float32(nil), want...)
			ref.row1x16(a, k, b, want)
			asm.row1x16(a, k, b, got)
			for j := range got {
				var scale float32
				for i := range min(k, len(a)) {
					if j < tileCols {
						scale += float32(math.Abs(float64(a[i] * b[i*tileCols+j])))
					}
				}
				if !closeTo(got[j], want[j], scale) {
					t.Fatalf("c[%d] = %v, want %v", j, got[j], want[j])
				}
			}
		})
	}
}

func TestAsmPoolMatchesGo(t *testing.T) {
	asm := asmKernels()
	if asm == nil {
		t.Skip("no assembly kernels on this CPU/build")
	}
	ref := goKernels()
	rng := rand.New(rand.NewPCG(3, 3))
	tests := []struct{ n, dstStep, srcRow int }{
		{1, 16, 32}, {14, 16, 480}, {7, 32, 240}, {3, 17, 33}, {5, 40, 100}, {2, 16, 0},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%+v", tt), func(t *testing.T) {
			src := randSlice(rng, 32*(tt.n-1)+tt.srcRow+32)
			want := randSlice(rng, (tt.n-1)*tt.dstStep+16)
			got := append([]float32(nil), want...)
			ref.poolRelu(want, tt.dstStep, src, tt.srcRow, tt.n)
			asm.poolRelu(got, tt.dstStep, src, tt.srcRow, tt.n)
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("dst[%d] = %v, want %v", i, got[i], want[i])
				}
			}
		})
	}
}

func TestGemmEdgeSizes(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	for _, k := range kernelSets() {
		for _, m := range []int{1, 2, 5, 6, 7, 11, 12, 13, 48} {
			for _, kk := range []int{1, 3, 16, 130} {
				for _, panels := range []int{1, 3} {
					for _, slack := range []int{0, tileRows} { // slack rows let gemm pad the last tile
						t.Run(fmt.Sprintf("%s/m=%d/k=%d/panels=%d/slack=%d", k.name, m, kk, panels, slack), func(t *testing.T) {
							lda, ldc := kk+rng.IntN(3), panels*tileCols+rng.IntN(3)
							a := randSlice(rng, (m+slack-1)*lda+kk)
							b := randSlice(rng, panels*kk*tileCols)
							c := make([]float32, (m+slack-1)*ldc+panels*tileCols)
							k.gemm(m, kk, a, lda, b, panels, c, ldc, []int{0})
							for i := range m {
								for j := range panels * tileCols {
									var want, scale float64
									for l := range kk {
										p := float64(a[i*lda+l]) * float64(b[(j/tileCols*kk+l)*tileCols+j%tileCols])
										want += p
										scale += math.Abs(p)
									}
									if !closeTo(c[i*ldc+j], float32(want), float32(scale)) {
										t.Fatalf("c[%d][%d] = %v, want %v", i, j, c[i*ldc+j], want)
									}
								}
							}
						})
					}
				}
			}
		}
	}
}

// BenchmarkConv2Tiles times the tile kernel on one image's conv2 (both
// panels, 35 tiles each) and reports its arithmetic rate.
func BenchmarkConv2Tiles(b *testing.B) {
	net, err := New(randomModel(1))
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 5))
	in := randSlice(rng, grid2Len)
	out := make([]float32, model.Pool1Side*grid2*tileCols)
	const tiles = model.Pool1Side * grid2 / tileRows
	for _, k := range kernelSets() {
		b.Run(k.name, func(b *testing.B) {
			for b.Loop() {
				for p := range conv2Panels {
					k.tiles6x16(in, model.Conv1Out, net.w.taps2, model.Conv1Out,
						net.w.conv2[p*taps*model.Conv1Out*tileCols:], out, tileCols, tiles)
				}
			}
			flops := 2 * conv2Panels * tiles * tileRows * tileCols * taps * model.Conv1Out
			b.ReportMetric(float64(b.N)*float64(flops)/b.Elapsed().Seconds()/1e9, "GFLOPS")
		})
	}
}

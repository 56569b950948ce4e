package recognize

// skeletonScale is the upsampling of a 28×28 digit before thinning.
const skeletonScale = 4

// skeletonLevel is the ink level (0..1) above which an upsampled pixel is
// inside a stroke.
const skeletonLevel = 0.35

// holeLevels are the ink levels at which holes (paper enclosed by ink) are
// also looked for and kept open: a loop drawn with a thick or a faint pen
// may be closed only at one of them.
var holeLevels = []float64{0.5, 0.75, 0.9}

// skeleton returns pen strokes that trace the ink of an MNIST digit, in
// MNIST coordinates: the digit is upsampled (bilinear), thresholded, with
// its holes kept open, and thinned (Zhang–Suen) to lines one pixel wide;
// each connected piece of the lines becomes one stroke, walked depth first
// from its top-most end (the pen goes back over a line to reach a branch,
// which draws nothing new). A digit drawn in one piece is one stroke; a
// broken one (a 5's hat, a gap in a faint stroke) has several.
func skeleton(img *[784]uint8) [][][2]float64 {
	const n = 28 * skeletonScale
	level := make([]float64, n*n)
	on := make([]bool, n*n)
	for j := range n {
		for i := range n {
			u, v := (float64(i)+0.5)/skeletonScale, (float64(j)+0.5)/skeletonScale
			level[j*n+i] = bilinear(img, u-0.5, v-0.5)
			on[j*n+i] = level[j*n+i] > skeletonLevel
		}
	}
	in := make([]bool, n*n)
	for _, hl := range holeLevels {
		for i, l := range level {
			in[i] = l > hl
		}
		for i, h := range holes(in, n, n) {
			if h {
				on[i] = false
			}
		}
	}
	thinZhangSuen(on, n, n)
	return tracePieces(on, n, n)
}

// holes returns the pixels of paper (not in) that paper connected to the
// border of the w×h image cannot reach.
func holes(in []bool, w, h int) []bool {
	seen := make([]bool, len(in))
	var stack []int
	for p := range in {
		x, y := p%w, p/w
		if !in[p] && (x == 0 || y == 0 || x == w-1 || y == h-1) {
			seen[p] = true
			stack = append(stack, p)
		}
	}
	for len(stack) > 0 {
		p := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		x, y := p%w, p/w
		for _, d := range [4][2]int{{1, 0}, {-1, 0}, {0, 1}, {0, -1}} {
			nx, ny := x+d[0], y+d[1]
			if nx < 0 || ny < 0 || nx >= w || ny >= h {
				continue
			}
			if q := ny*w + nx; !in[q] && !seen[q] {
				seen[q] = true
				stack = append(stack, q)
			}
		}
	}
	out := make([]bool, len(in))
	for p := range in {
		out[p] = !in[p] && !seen[p]
	}
	return out
}

// thinZhangSuen thins the w×h binary image on in place to 8-connected
// lines one pixel wide (T. Y. Zhang and C. Y. Suen, 1984).
func thinZhangSuen(on []bool, w, h int) {
	at := func(x, y int) bool { return x >= 0 && y >= 0 && x < w && y < h && on[y*w+x] }
	var del []int
	for changed := true; changed; {
		changed = false
		for pass := range 2 {
			del = del[:0]
			for y := range h {
				for x := range w {
					if !on[y*w+x] {
						continue
					}
					// Neighbours P2..P9 clockwise from north.
					p := [8]bool{at(x, y-1), at(x+1, y-1), at(x+1, y), at(x+1, y+1), at(x, y+1), at(x-1, y+1), at(x-1, y), at(x-1, y-1)}
					b, a := 0, 0
					for k := range 8 {
						if p[k] {
							b++
							if !p[(k+1)%8] {
								a++
							}
						}
					}
					if b < 2 || b > 6 || a != 1 {
						continue
					}
					if pass == 0 && (p[0] && p[2] && p[4] || p[2] && p[4] && p[6]) {
						continue
					}
					if pass == 1 && (p[0] && p[2] && p[6] || p[0] && p[4] && p[6]) {
						continue
					}
					del = append(del, y*w+x)
				}
			}
			for _, i := range del {
				on[i] = false
			}
			changed = changed || len(del) > 0
		}
	}
}

// tracePieces walks each 8-connected piece of the one-pixel lines of on
// into one polyline in MNIST coordinates, a sample every half pixel of the
// digit. Two pixels are linked when they are 4-neighbours, or diagonal
// neighbours with no 4-neighbour of both on (which would make the diagonal
// link a shortcut).
func tracePieces(on []bool, w, h int) [][][2]float64 {
	at := func(x, y int) bool { return x >= 0 && y >= 0 && x < w && y < h && on[y*w+x] }
	links := func(p int) []int {
		x, y := p%w, p/w
		var out []int
		for _, d := range [8][2]int{{0, -1}, {1, 0}, {0, 1}, {-1, 0}, {1, -1}, {1, 1}, {-1, 1}, {-1, -1}} {
			nx, ny := x+d[0], y+d[1]
			if !at(nx, ny) || d[0] != 0 && d[1] != 0 && (at(x+d[0], y) || at(x, y+d[1])) {
				continue
			}
			out = append(out, ny*w+nx)
		}
		return out
	}
	// Start points: free ends (one link), top to bottom, then any pixel
	// (a loop).
	var starts []int
	for p, v := range on {
		if v && len(links(p)) == 1 {
			starts = append(starts, p)
		}
	}
	for p, v := range on {
		if v {
			starts = append(starts, p)
		}
	}
	seen := make([]bool, len(on))
	var out [][][2]float64
	for _, s := range starts {
		if seen[s] {
			continue
		}
		// Depth first; the path records every step, going back included,
		// up to the last new pixel.
		var path []int
		lastNew := 0
		var walk func(p int)
		walk = func(p int) {
			seen[p] = true
			path = append(path, p)
			lastNew = len(path)
			for _, q := range links(p) {
				if !seen[q] {
					walk(q)
					path = append(path, p)
				}
			}
		}
		walk(s)
		path = path[:lastNew]
		var line [][2]float64
		for i, p := range path {
			if i%(skeletonScale/2) != 0 && i != len(path)-1 {
				continue
			}
			line = append(line, [2]float64{(float64(p%w) + 0.5) / skeletonScale, (float64(p/w) + 0.5) / skeletonScale})
		}
		out = append(out, line)
	}
	return out
}

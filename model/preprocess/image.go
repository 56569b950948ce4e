package preprocess

import (
	"fmt"
	"github.com/stratusml/stratus/drawing"
	"image"
	"math"
)

// Tuning of the picture path.
const (
	// noiseFloor is the smallest difference from the paper level, in
	// 0..255 levels, that can count as ink.
	noiseFloor = 20
	// midSide is the longer side of the digit, in pixels, at the
	// intermediate resolution where the stroke width is normalised.
	midSide = 64
	// binLevel is the ink level (0..1) above which an intermediate pixel is
	// inside a stroke.
	binLevel = 0.5
	// midPad is the margin, in intermediate pixels, around the digit: room
	// for thickening a one-pixel stroke to PenWidth/BoxSide·midSide = 8
	// pixels, and two more.
	midPad = 6
	// fitLevel is the ink level (0..1) below which an intermediate pixel is
	// paper after the stroke width is normalised.
	fitLevel = 0.1
)

// FromImage turns a picture of any size (at most DefaultLimits().MaxSide on
// each side) into network inputs, one per digit, left to right.
//
// The ink (found as in ImageDigit) is split into connected pieces, on a
// grid of at most 1024 cells a side and about 100 across the ink's height
// (each cell the darkest of its pixels): the cores of the strokes connected
// through strong ink, with fainter ink (anti-aliasing, a faint bridge)
// going to the core it reaches first. Pieces are grouped into digits as
// strokes are by FromStrokes: pieces that overlap horizontally are one
// digit (a 5's broken-off hat, a 4's bar, the loops of a broken 8), unless
// both are digit-sized and one leans on the other's edge; pieces shorter
// than a digit join one near them (the dots of a broken stroke); dust and
// specks far from every digit are dropped. A piece too wide for one digit
// is cut where digits may touch, along the cheapest path from its top to
// its bottom (dynamic programming over the ink it crosses, following the
// slant). Where grouping or cutting is unsure, the pieces are one Digit
// whose Runs offer the other readings, for the classifier to decide (see
// Digit.Runs). Each digit, with the ink of the others cleared, is
// normalised as by ImageDigit, and its Box is the bounding box of its ink
// pixels. A picture that is one digit gives exactly ImageDigit's result.
//
// It returns ErrEmpty when nothing stands out from the paper and
// ErrTooLarge for a picture above the limits.
func FromImage(img image.Image) ([]Digit, error) {
	return fromImage(img, drawing.DefaultLimits().MaxSide)
}

// FromPNG decodes a PNG with DecodePNG under lim, then calls FromImage.
func FromPNG(data []byte, lim drawing.Limits) ([]Digit, error) {
	img, err := DecodePNG(data, lim)
	if err != nil {
		return nil, err
	}
	return fromImage(img, lim.WithDefaults().MaxSide)
}

func fromImage(img image.Image, maxSide int) ([]Digit, error) {
	pl, origin, err := pictureInk(img, maxSide)
	if err != nil {
		return nil, err
	}
	ds, err := segmentPlane(pl, origin)
	if err != nil || ds != nil {
		return ds, err
	}
	d, err := planeDigit(pl, origin)
	if err != nil {
		return nil, err
	}
	return []Digit{d}, nil
}

// ImageDigit normalises a whole picture as one digit, like MNIST:
//
//  1. Ink. Each pixel's ink is its distance from the paper level, with its
//     alpha, the paper being the median of the picture's border: dark ink
//     on light paper and light ink on dark paper both work, and over a
//     transparent border whatever is opaque is ink, whatever its colour.
//     The ink's own contrast (a high percentile) becomes full ink, and
//     levels near the paper (a noise floor) become paper. Specks apart from
//     the drawing that hold less than 1% of its ink (dust, scanner noise)
//     are dropped.
//  2. Crop to the ink's bounding box and area-average it to an intermediate
//     resolution where its longer side is 64 pixels; strokes too fine to
//     survive the averaging get their contrast back.
//  3. Normalise the stroke width there, like a pen: measure it (area over
//     half the outline), then thicken every stroke, or thin the strokes
//     that are too thick (each by its own excess, at most halving it, so
//     that no part vanishes), by the exact Euclidean distance transform,
//     until the width over the digit's size is PenWidth/BoxSide, as for
//     strokes.
//  4. Fit the ink into BoxSide×BoxSide keeping its aspect ratio, with exact
//     area averaging, and shift it to put its centre of mass at (CenterX,
//     CenterY).
//
// Box is the bounding box of the ink pixels in img's coordinates.
// ImageDigit refuses pictures larger than DefaultLimits().MaxSide.
func ImageDigit(img image.Image) (Digit, error) {
	return imageDigit(img, drawing.DefaultLimits().MaxSide)
}

func imageDigit(img image.Image, maxSide int) (Digit, error) {
	pl, origin, err := pictureInk(img, maxSide)
	if err != nil {
		return Digit{}, err
	}
	return planeDigit(pl, origin)
}

// pictureInk checks the picture's size against maxSide and extracts its
// ink (step 1 of ImageDigit); origin is the picture coordinate of the
// plane's pixel (0, 0).
func pictureInk(img image.Image, maxSide int) (pl *inkPlane, origin image.Point, err error) {
	if img == nil {
		return nil, origin, fmt.Errorf("%w: no picture", drawing.ErrInvalid)
	}
	bounds := img.Bounds()
	W, H := bounds.Dx(), bounds.Dy()
	if W < 1 || H < 1 {
		return nil, origin, fmt.Errorf("%w: the picture is %d×%d pixels", ErrEmpty, W, H)
	}
	if W > maxSide || H > maxSide {
		return nil, origin, fmt.Errorf("%w: the picture is %d×%d pixels, the limit is %d×%d", drawing.ErrTooLarge, W, H, maxSide, maxSide)
	}
	pl, err = extractInk(img)
	if err != nil {
		return nil, origin, err
	}
	return pl, bounds.Min, nil
}

// planeDigit normalises the ink of pl as one digit (steps 2–4 of
// ImageDigit). origin is the picture coordinate of the plane's pixel (0, 0),
// for the Box.
//
// It is long because it is steps 2–4 in sequence on one intermediate plane
// (mid, its grid and the box), which the speck step may crop again and the
// later steps rewrite in place; it reads as the steps of ImageDigit's doc.
func planeDigit(pl *inkPlane, origin image.Point) (Digit, error) {
	const rho = PenWidth / BoxSide
	bx := pl.box
	mid, grid := pl.intermediate(bx)

	// Specks apart from the drawing: drop them, and if the drawing's box
	// shrinks, crop again.
	if kept, dropped := dropSpecks(mid, grid.w, grid.h, grid.clear(pl)); dropped {
		nb := pl.shrink(inkBox{
			x0: max(bx.x0, grid.xs[kept.x0].first), x1: min(bx.x1, grid.xs[kept.x1-1].first+len(grid.xs[kept.x1-1].w)),
			y0: max(bx.y0, grid.ys[kept.y0].first), y1: min(bx.y1, grid.ys[kept.y1-1].first+len(grid.ys[kept.y1-1].w)),
		})
		if nb.x1 <= nb.x0 {
			return Digit{}, fmt.Errorf("%w: nothing in the picture stands out from the paper", ErrEmpty)
		}
		if nb != bx {
			bx = nb
			mid, grid = pl.intermediate(bx)
		}
	}
	restoreContrast(mid)
	iw, ih := grid.w, grid.h
	bw, bh := bx.x1-bx.x0, bx.y1-bx.y0

	// Measure the strokes again at this resolution, then bring their width
	// over the box's longer side to rho.
	ms := measureMid(mid, iw, ih)
	if ms.inside == 0 {
		return Digit{}, fmt.Errorf("%w: nothing in the picture stands out from the paper", ErrEmpty)
	}
	long := float64(max(ms.x1-ms.x0, ms.y1-ms.y0))
	wI := min(strokeWidth(ms.mass, ms.tv), long)
	dr := (rho*long - wI) / (2 * (1 - rho)) // change of the stroke radius
	inside := make([]bool, len(mid))
	for i, v := range mid {
		inside[i] = v >= binLevel
	}
	d2 := make([]float64, len(mid))
	if dr >= 0 {
		// Thicken every stroke: a pixel at distance d from the nearest
		// stroke pixel gets the pen's coverage dr + 1 − d.
		sqDist(inside, iw, ih, d2)
		for i := range mid {
			mid[i] = float32(max(0, min(1, dr+1-math.Sqrt(d2[i]))))
		}
	} else {
		thin(mid, inside, iw, ih, d2, -dr, (wI+2*dr)/2)
	}

	// Fit the ink's box into BoxSide×BoxSide, centring the shorter side.
	// Faint fringes left by the distance quantisation are cut, so that they
	// do not widen the box.
	fx0, fy0, fx1, fy1 := iw, ih, -1, -1
	for y := range ih {
		row := mid[y*iw : (y+1)*iw]
		for x, v := range row {
			if v < fitLevel {
				row[x] = 0
			} else {
				fx0, fx1 = min(fx0, x), max(fx1, x)
				fy0, fy1 = min(fy0, y), max(fy1, y)
			}
		}
	}
	if fx1 < 0 {
		return Digit{}, fmt.Errorf("%w: nothing in the picture stands out from the paper", ErrEmpty)
	}
	fw, fh := float64(fx1-fx0+1), float64(fy1-fy0+1)
	g := BoxSide / max(fw, fh)
	gx := float64(fx0) - (BoxSide-fw*g)/2/g
	gy := float64(fy0) - (BoxSide-fh*g)/2/g
	var b box20
	resample(mid, iw, axisWeights(BoxSide, gx, g, iw), axisWeights(BoxSide, gy, g, ih), b[:])
	out, ok := place(&b)
	if !ok {
		return Digit{}, fmt.Errorf("%w: nothing in the picture stands out from the paper", ErrEmpty)
	}
	return Digit{Input: out, Box: drawing.Box{
		X: float64(origin.X + bx.x0), Y: float64(origin.Y + bx.y0),
		W: float64(bw), H: float64(bh),
	}}, nil
}

// midGrid is the intermediate grid over a crop of an inkPlane: w×h
// pixels, with the resampling taps that make its columns and rows.
type midGrid struct {
	w, h   int
	xs, ys []axisTaps
}

// intermediate area-averages the crop bx of the plane to the intermediate
// resolution, where its longer side is midSide pixels, with a margin of
// midPad pixels for thickening.
func (pl *inkPlane) intermediate(bx inkBox) ([]float32, midGrid) {
	bw, bh := bx.x1-bx.x0, bx.y1-bx.y0
	f := midSide / float64(max(bw, bh)) // intermediate pixels per source pixel
	const pad = midPad
	g := midGrid{w: int(math.Ceil(float64(bw)*f)) + 2*pad, h: int(math.Ceil(float64(bh)*f)) + 2*pad}
	g.xs = axisWeights(g.w, float64(bx.x0)-pad/f, f, pl.w)
	g.ys = axisWeights(g.h, float64(bx.y0)-pad/f, f, pl.h)
	mid := make([]float32, g.w*g.h)
	resampleLUT(pl.pix, pl.w, pl.lut, g.xs, g.ys, mid)
	return mid, g
}

// clear returns a function that clears, in the plane, the source pixels
// that make intermediate pixel (x, y): a speck's, which no kept pixel
// shares, since specks are apart from the rest.
func (g midGrid) clear(pl *inkPlane) func(x, y int) {
	return func(x, y int) {
		tx, ty := g.xs[x], g.ys[y]
		for sy := ty.first; sy < ty.first+len(ty.w); sy++ {
			clear(pl.pix[sy*pl.w+tx.first : sy*pl.w+tx.first+len(tx.w)])
		}
	}
}

// strokeWidth estimates the width of strokes from their area (mass) and
// the length of their outline (tv, the total variation: both sides of each
// stroke). It solves the area and perimeter of one capsule, a stroke of
// length L and width w with round ends (area Lw + πw²/4, perimeter
// 2L + πw), which is exact for a straight stroke and for a dot and much
// less biased than 2·area/perimeter for short, thick strokes.
func strokeWidth(mass, tv float64) float64 {
	if tv <= 0 {
		return 0
	}
	return (tv - math.Sqrt(max(0, tv*tv-4*math.Pi*mass))) / math.Pi
}

// inkStats describes ink: the bounding box [x0,x1)×[y0,y1) of the pixels
// at or above binLevel, their count, and the mass and the total variation
// (the length of the ink's outline, weighted by contrast) of all the ink.
type inkStats struct {
	x0, y0, x1, y1 int
	mass, tv       float64
	inside         int
}

// measureMid measures the ink of the W×H intermediate plane (levels 0..1).
// The total variation is summed over forward differences.
func measureMid(mid []float32, W, H int) inkStats {
	st := inkStats{x0: W, y0: H, x1: -1, y1: -1}
	var mass, tv float64
	for y := range H {
		row := mid[y*W : (y+1)*W]
		var below []float32
		if y+1 < H {
			below = mid[(y+1)*W : (y+2)*W]
		}
		for x, v := range row {
			var right, down float32
			if x+1 < W {
				right = row[x+1]
			}
			if below != nil {
				down = below[x]
			}
			if v == 0 && right == 0 && down == 0 {
				continue
			}
			mass += float64(v)
			if v >= binLevel {
				st.inside++
				st.x0, st.x1 = min(st.x0, x), max(st.x1, x)
				st.y0, st.y1 = min(st.y0, y), max(st.y1, y)
			}
			dx, dy := float64(right-v), float64(down-v)
			tv += math.Sqrt(dx*dx + dy*dy)
		}
	}
	st.x1++
	st.y1++
	st.mass, st.tv = mass, tv
	return st
}

// thin narrows, in place, the strokes of the iw×ih plane mid whose pixels
// at or above binLevel are inside: by by pixels, but never below the
// half-width target nor by more than half a stroke. Each stroke is judged
// by its own half-width, that of the largest disc inside the ink that
// contains the pixel (local thickness, found from the distance transform's
// ridge): a thick blob such as a filled loop is thinned while a normal
// stroke beside it is kept whole, and junctions, whose discs are larger,
// are thinned like their strokes. d2 is scratch space.
func thin(mid []float32, inside []bool, iw, ih int, d2 []float64, by, target float64) {
	// Distance of each stroke pixel to the nearest paper pixel.
	for i, in := range inside {
		inside[i] = !in
	}
	sqDist(inside, iw, ih, d2)
	dist := make([]float32, len(mid))
	for i, out := range inside {
		if !out {
			dist[i] = float32(math.Sqrt(d2[i]))
		}
	}
	// Local thickness: every ridge pixel q (no 4-neighbour deeper) paints
	// its inscribed disc, of radius dist[q], with that radius.
	thick := make([]float32, len(mid))
	copy(thick, dist)
	for y := range ih {
		for x := range iw {
			q := y*iw + x
			r := dist[q]
			if r == 0 ||
				(x > 0 && dist[q-1] > r) || (x+1 < iw && dist[q+1] > r) ||
				(y > 0 && dist[q-iw] > r) || (y+1 < ih && dist[q+iw] > r) {
				continue
			}
			// The disc reaches half a pixel further, to the edge of the
			// pixel centres at distance r, which are inside.
			ri := int(r + 0.5)
			r2 := (r + 0.5) * (r + 0.5)
			for dy := max(-ri, -y); dy <= min(ri, ih-1-y); dy++ {
				row := thick[(y+dy)*iw : (y+dy+1)*iw]
				for dx := max(-ri, -x); dx <= min(ri, iw-1-x); dx++ {
					if float32(dx*dx+dy*dy) < r2 && row[x+dx] < r {
						row[x+dx] = r
					}
				}
			}
		}
	}
	// A stroke pixel at depth d in a stroke of half-width h keeps the
	// coverage d − e, with e = min(by, h − target, h/2).
	for i, d := range dist {
		if d == 0 {
			mid[i] = 0
			continue
		}
		h := float64(thick[i]) - 0.5
		e := max(0, min(by, h-target, h/2))
		mid[i] = float32(max(0, min(1, float64(d)-e)))
	}
}

// restoreContrast undoes the loss of contrast that area averaging causes
// to strokes thinner than an intermediate pixel (a fine pen on a large
// picture): when even the strongest ink (the 95th percentile of the
// non-zero levels) is well below full, every level is scaled up so that it
// is full, which leaves such strokes about one pixel wide.
func restoreContrast(mid []float32) {
	var hist [256]int
	n := 0
	for _, v := range mid {
		if q := int(v * 255); q > 0 {
			hist[min(q, 255)]++
			n++
		}
	}
	top := max(1, n/20)
	peak := 255
	for acc := 0; peak > 1; peak-- {
		acc += hist[peak]
		if acc >= top {
			break
		}
	}
	if peak >= 230 {
		return
	}
	g := 255 / float32(peak)
	for i, v := range mid {
		mid[i] = min(1, v*g)
	}
}

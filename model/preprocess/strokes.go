package preprocess

import (
	"fmt"
	"github.com/stratusml/stratus/drawing"
	"math"
)

// PenWidth is the diameter, in output pixels, of the round pen that every
// digit is drawn or normalised to: MNIST's typical stroke width at 28×28
// scale, so that the network sees the same thickness whatever pen, canvas
// or picture size the user had.
const PenWidth = 2.5

// dotFraction is the extent, as a fraction of the smaller canvas side, below
// which a drawing is not magnified further: a tap or a short jitter stays a
// small dot instead of blowing up into a 20-pixel blob.
const dotFraction = 0.02

// minStep is the distance, in output pixels, below which consecutive
// samples of a stroke are merged before rendering.
const minStep = 0.3

// FromStrokes validates strokes drawn on a width×height canvas against
// DefaultLimits and turns them into network inputs, one per digit, left to
// right.
//
// Strokes are grouped into digits by their horizontal overlaps and gaps:
// strokes that overlap by half the narrower one's width are one digit (a 4
// or a 7 drawn in two strokes, a 5's hat), unless both are tall enough to
// be digits and one leans on the edge of the other (digits that touch); a
// short stroke that overlaps nothing joins the nearest digit close to it;
// a tap far from every digit is dropped. Where that is unsure (strokes
// overlapping by a quarter of the narrower one, or nearly touching), the
// strokes are one Digit whose Runs offer the other readings, and the
// classifier decides (see Digit.Runs). Each digit is rendered by
// StrokesDigit from its own strokes, and its Box is the bounding box of
// its samples. A drawing that is one digit gives exactly StrokesDigit's
// result.
//
// Errors wrap ErrTooLarge or ErrInvalid for input beyond the limits, and
// ErrEmpty when there is no point at all.
func FromStrokes(strokes []drawing.Stroke, width, height int) ([]Digit, error) {
	if err := drawing.ValidateStrokes(strokes, width, height, drawing.DefaultLimits()); err != nil {
		return nil, err
	}
	return strokeDigits(strokes, width, height)
}

// StrokesDigit renders strokes, drawn on a width×height canvas, as one digit.
// The polylines are drawn directly at the target scale: the bounding box of
// the samples is scaled, keeping its aspect ratio, so that the ink (the
// polylines drawn with a round, anti-aliased pen PenWidth pixels across)
// spans exactly BoxSide pixels along its longer side; a drawing smaller than
// 2% of the canvas's smaller side is magnified as if it were that big, so a
// dot stays a dot. The box is then shifted to put the centre of mass of the
// ink at (CenterX, CenterY). The pen width of the canvas is ignored: every
// drawing gets the same MNIST-like stroke.
//
// StrokesDigit checks only what rendering needs (a positive canvas, finite
// coordinates); callers that read outside input use FromStrokes or
// ValidateStrokes first. It returns ErrEmpty when there is no point.
func StrokesDigit(strokes []drawing.Stroke, width, height int) (Digit, error) {
	if width < 1 || height < 1 {
		return Digit{}, fmt.Errorf("%w: canvas is %d×%d, it must be at least 1×1", drawing.ErrInvalid, width, height)
	}
	minX, minY := math.Inf(1), math.Inf(1)
	maxX, maxY := math.Inf(-1), math.Inf(-1)
	for i, s := range strokes {
		if err := drawing.CheckFinite(s, i); err != nil {
			return Digit{}, err
		}
		for _, p := range s {
			minX, maxX = min(minX, p.X), max(maxX, p.X)
			minY, maxY = min(minY, p.Y), max(maxY, p.Y)
		}
	}
	if minX > maxX {
		return Digit{}, fmt.Errorf("%w: the drawing has no points", ErrEmpty)
	}
	w, h := maxX-minX, maxY-minY
	// Scale so that the longer side of the sample box, plus the pen, spans
	// BoxSide. Differences of finite float64s may overflow: refuse them.
	ext := max(w, h, dotFraction*float64(min(width, height)))
	if math.IsInf(ext, 0) {
		return Digit{}, fmt.Errorf("%w: the drawing spans more than the float64 range", drawing.ErrInvalid)
	}
	const r = PenWidth / 2
	s := (BoxSide - PenWidth) / ext
	offX := r + ((BoxSide-PenWidth)-w*s)/2
	offY := r + ((BoxSide-PenWidth)-h*s)/2

	var b box20
	pts := make([]float64, 0, 64)
	for _, st := range strokes {
		if len(st) == 0 {
			continue
		}
		// Map to box coordinates, merging samples closer than minStep.
		pts = pts[:0]
		lx, ly := 0.0, 0.0
		for j, p := range st {
			x, y := (p.X-minX)*s+offX, (p.Y-minY)*s+offY
			if j > 0 && j < len(st)-1 {
				if dx, dy := x-lx, y-ly; dx*dx+dy*dy < minStep*minStep {
					continue
				}
			}
			pts = append(pts, x, y)
			lx, ly = x, y
		}
		if len(pts) == 2 {
			capsule(&b, pts[0], pts[1], pts[0], pts[1], r)
			continue
		}
		for k := 2; k < len(pts); k += 2 {
			capsule(&b, pts[k-2], pts[k-1], pts[k], pts[k+1], r)
		}
	}
	img, ok := place(&b)
	if !ok {
		return Digit{}, fmt.Errorf("%w: the drawing has no ink", ErrEmpty)
	}
	return Digit{Input: img, Box: drawing.Box{X: minX, Y: minY, W: w, H: h}}, nil
}

// capsule draws into b the segment from (ax, ay) to (bx, by) with a round
// pen of radius r: each pixel gets the larger of its value and the part of
// its area the pen covers, approximated by r + ½ − d for a pixel centre at
// distance d from the segment.
func capsule(b *box20, ax, ay, bx, by, r float64) {
	x0 := max(0, int(math.Floor(min(ax, bx)-r-0.5)))
	x1 := min(BoxSide, int(math.Ceil(max(ax, bx)+r+0.5)))
	y0 := max(0, int(math.Floor(min(ay, by)-r-0.5)))
	y1 := min(BoxSide, int(math.Ceil(max(ay, by)+r+0.5)))
	dx, dy := bx-ax, by-ay
	l2 := dx*dx + dy*dy
	inv := 0.0
	if l2 > 0 {
		inv = 1 / l2
	}
	for py := y0; py < y1; py++ {
		cy := float64(py) + 0.5 - ay
		row := b[py*BoxSide : (py+1)*BoxSide]
		for px := x0; px < x1; px++ {
			cx := float64(px) + 0.5 - ax
			t := (cx*dx + cy*dy) * inv
			t = max(0, min(1, t))
			ex, ey := cx-t*dx, cy-t*dy
			c := float32(r + 0.5 - math.Sqrt(ex*ex+ey*ey))
			if c <= 0 {
				continue
			}
			c = min(c, 1)
			if c > row[px] {
				row[px] = c
			}
		}
	}
}

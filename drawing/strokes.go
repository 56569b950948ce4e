package drawing

import (
	"fmt"
	"math"
)

// ValidateStrokes checks strokes drawn on a width×height canvas against lim:
// the canvas is at least 1×1 and at most lim.MaxSide on each side, there are
// at most lim.MaxStrokes strokes of at most lim.MaxPointsPerStroke points,
// and every coordinate and time is finite. A point may lie outside the
// canvas (a pointer dragged past its edge) but not by more than the canvas
// size. Errors wrap ErrTooLarge or ErrInvalid. Empty drawings pass: they are
// model/preprocess's ErrEmpty.
func ValidateStrokes(strokes []Stroke, width, height int, lim Limits) error {
	lim = lim.WithDefaults()
	if width < 1 || height < 1 {
		return fmt.Errorf("%w: canvas is %d×%d, it must be at least 1×1", ErrInvalid, width, height)
	}
	if width > lim.MaxSide || height > lim.MaxSide {
		return fmt.Errorf("%w: canvas is %d×%d, the limit is %d×%d", ErrTooLarge, width, height, lim.MaxSide, lim.MaxSide)
	}
	if err := checkStrokes(strokes, lim); err != nil {
		return err
	}
	w, h := float64(width), float64(height)
	for i, s := range strokes {
		for j, p := range s {
			if p.X < -w || p.X > 2*w || p.Y < -h || p.Y > 2*h {
				return fmt.Errorf("%w: point %d of stroke %d at (%g, %g) lies too far outside the %d×%d canvas (more than the canvas size)",
					ErrInvalid, j, i, p.X, p.Y, width, height)
			}
		}
	}
	return nil
}

// checkStrokes checks the counts and the finiteness of strokes, which need
// no canvas.
func checkStrokes(strokes []Stroke, lim Limits) error {
	if len(strokes) > lim.MaxStrokes {
		return fmt.Errorf("%w: %d strokes, the limit is %d", ErrTooLarge, len(strokes), lim.MaxStrokes)
	}
	for i, s := range strokes {
		if len(s) > lim.MaxPointsPerStroke {
			return fmt.Errorf("%w: stroke %d has %d points, the limit is %d per stroke", ErrTooLarge, i, len(s), lim.MaxPointsPerStroke)
		}
		if err := CheckFinite(s, i); err != nil {
			return err
		}
	}
	return nil
}

// CheckFinite reports the first point of s, stroke i of a drawing, with a
// NaN or infinite coordinate or time; the error wraps ErrInvalid.
func CheckFinite(s Stroke, i int) error {
	for j, p := range s {
		if !finite(p.X) || !finite(p.Y) || !finite(p.T) {
			return fmt.Errorf("%w: point %d of stroke %d is (x=%g, y=%g, t=%g), coordinates and times must be finite",
				ErrInvalid, j, i, p.X, p.Y, p.T)
		}
	}
	return nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// DecodeStrokesJSON decodes the "strokes" member of a CanvasEvent, an array
// of strokes each an array of {"x","y","t"} points, from outside input. It
// refuses more than lim.MaxStrokesJSONBytes bytes before reading anything,
// anything but an array of arrays of points, points without a numeric x and
// y (t is optional and defaults to 0; other members are ignored; names
// match ignoring case, as in encoding/json), numbers out of the float64
// range, and more strokes or points than lim allows, as soon as it meets
// them. Errors wrap ErrTooLarge or ErrInvalid and give the byte offset of
// malformed JSON. The canvas-dependent checks are ValidateStrokes's.
func DecodeStrokesJSON(data []byte, lim Limits) ([]Stroke, error) {
	lim = lim.WithDefaults()
	if len(data) > lim.MaxStrokesJSONBytes {
		return nil, fmt.Errorf("%w: strokes JSON is %d bytes, the limit is %d", ErrTooLarge, len(data), lim.MaxStrokesJSONBytes)
	}
	r := jsonReader{data: data}
	return r.strokes(lim)
}

// UnmarshalJSON decodes {"x":…,"y":…,"t":…} strictly, by the rules of
// DecodeStrokesJSON: x and y must be present and numeric, t is optional,
// other members are ignored; null is refused, so that a missing point does
// not become a stray point at the origin.
func (p *Point) UnmarshalJSON(data []byte) error {
	r := jsonReader{data: data}
	q, err := r.point()
	if err != nil {
		return err
	}
	if r.space(); r.i < len(data) {
		return r.errorf("data after the point")
	}
	*p = q
	return nil
}

package drawing

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func checkErr(t *testing.T, what string, err, want error, words string) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: error %v, want %v", what, err, want)
		return
	}
	if !strings.Contains(err.Error(), words) {
		t.Errorf("%s: error %q does not say %q", what, err, words)
	}
}

func TestDecodeStrokesJSON(t *testing.T) {
	strokes, err := DecodeStrokesJSON([]byte(` [[{"x":10.5,"y":20,"t":0},{"x":11,"y":21.25,"t":16}],`+
		`[],[{"y":3,"x":4}],[{"\u0078":-0.5e1,"Y":1E2,"T":2}]] `), DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	want := []Stroke{{{10.5, 20, 0}, {11, 21.25, 16}}, {}, {{4, 3, 0}}, {{-5, 100, 2}}}
	if len(strokes) != len(want) {
		t.Fatalf("got %v, want %v", strokes, want)
	}
	for i := range want {
		if len(strokes[i]) != len(want[i]) {
			t.Fatalf("got %v, want %v", strokes, want)
		}
		for j := range want[i] {
			if strokes[i][j] != want[i][j] {
				t.Fatalf("got %v, want %v", strokes, want)
			}
		}
	}
	// Point decodes alone by the same rules (inside a CanvasEvent).
	var ev struct{ Strokes []Stroke }
	if err := json.Unmarshal([]byte(`{"strokes":[[{"x":1,"y":2,"t":3}]]}`), &ev); err != nil || len(ev.Strokes) != 1 || ev.Strokes[0][0] != (Point{1, 2, 3}) {
		t.Errorf("CanvasEvent strokes: %v, %v", ev.Strokes, err)
	}
	for _, bad := range []string{`{"strokes":[[null]]}`, `{"strokes":[[{"x":1}]]}`, `{"strokes":[[{"x":"1","y":2}]]}`,
		`{"strokes":[[{"x":1,"y":2,"p":0.5}]]}`, `{"strokes":[[{"x":1,"y":2,"x":3}]]}`} {
		if err := json.Unmarshal([]byte(bad), &ev); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
	// Points encode with the names they decode from.
	b, err := json.Marshal(Point{X: 1, Y: 2, T: 3})
	if err != nil || string(b) != `{"x":1,"y":2,"t":3}` {
		t.Errorf("Point marshals to %s, %v", b, err)
	}
	if s, err := DecodeStrokesJSON([]byte(`[]`), DefaultLimits()); err != nil || len(s) != 0 {
		t.Errorf("[]: %v, %v", s, err)
	}

	point := `{"x":1,"y":2,"t":3}`
	stroke := func(n int) string { return "[" + strings.Repeat(point+",", n-1) + point + "]" }
	cases := []struct {
		name, json string
		want       error
		words      string
	}{
		{"too long", "[" + strings.Repeat(" ", 64<<10) + "]", ErrTooLarge, "limit is 65536"},
		{"201 strokes", "[" + strings.Repeat("[],", 200) + "[]]", ErrTooLarge, "limit is 200"},
		{"2001 points", "[" + stroke(2001) + "]", ErrTooLarge, "limit is 2000"},
		{"object", `{"strokes":[]}`, ErrInvalid, "array"},
		{"null", `null`, ErrInvalid, "array"},
		{"empty", ``, ErrInvalid, "array"},
		{"not JSON", `[[{"x":1,"y":2}]`, ErrInvalid, "strokes JSON"},
		{"trailing data", `[] []`, ErrInvalid, "strokes JSON"},
		{"point without y", `[[{"x":1}]]`, ErrInvalid, `"y"`},
		{"null point", `[[null]]`, ErrInvalid, "point object"},
		{"empty point", `[[{}]]`, ErrInvalid, `"x"`},
		{"null stroke", `[null]`, ErrInvalid, "stroke"},
		{"NUL after", "[]\x00", ErrInvalid, "after the strokes"},
		{"bad escape in a name", `[[{"\q":1,"x":1,"y":2}]]`, ErrInvalid, "escape"},
		{"unterminated string", `[[{"x`, ErrInvalid, "end"},
		{"nested unknown member", `[[{"x":1,"y":2,"z":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}]]`, ErrInvalid, `unknown member "z"`},
		{"leading zero", `[[{"x":01,"y":2}]]`, ErrInvalid, "strokes JSON"},
		{"bare decimal point", `[[{"x":1.,"y":2}]]`, ErrInvalid, "decimal point"},
		{"NaN", `[[{"x":NaN,"y":2}]]`, ErrInvalid, "strokes JSON"},
		{"point as array", `[[[1,2]]]`, ErrInvalid, "strokes JSON"},
		{"string coordinate", `[[{"x":"1","y":2}]]`, ErrInvalid, "strokes JSON"},
		{"number out of range", `[[{"x":1e400,"y":2}]]`, ErrInvalid, "strokes JSON"},
		{"stroke not an array", `[{"x":1,"y":2}]`, ErrInvalid, "strokes JSON"},
	}
	for _, c := range cases {
		_, err := DecodeStrokesJSON([]byte(c.json), DefaultLimits())
		checkErr(t, "DecodeStrokesJSON "+c.name, err, c.want, c.words)
	}
	// Limits are configurable; zero fields mean the defaults.
	_, err = DecodeStrokesJSON([]byte("["+stroke(3)+"]"), Limits{MaxPointsPerStroke: 2})
	checkErr(t, "DecodeStrokesJSON with 2 points per stroke", err, ErrTooLarge, "limit is 2")
}

// FuzzDecodeStrokesJSON feeds arbitrary bytes to the strokes decoder: it
// fails only with the package's input errors, and whatever it accepts,
// encoding/json reads the same way. model/preprocess's FuzzFromStrokesJSON
// goes on to preprocess what it accepts.
func FuzzDecodeStrokesJSON(f *testing.F) {
	f.Add([]byte(`[[{"x":10,"y":10,"t":0},{"x":200,"y":12,"t":40},{"x":90,"y":260,"t":120}]]`), uint16(280), uint16(280))
	f.Add([]byte(`[[{"x":140,"y":140}]]`), uint16(280), uint16(280))
	f.Fuzz(func(t *testing.T, data []byte, w, h uint16) {
		strokes, err := DecodeStrokesJSON(data, DefaultLimits())
		if err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("DecodeStrokesJSON: unexpected error %v", err)
			}
			return
		}
		// Whatever the reader accepts, encoding/json reads the same way.
		if !json.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		var ref [][]struct{ X, Y, T *float64 }
		if err := json.Unmarshal(data, &ref); err != nil {
			t.Fatalf("accepted %q, which encoding/json refuses: %v", data, err)
		}
		if len(ref) != len(strokes) {
			t.Fatalf("%q: %d strokes, encoding/json reads %d", data, len(strokes), len(ref))
		}
		for i, s := range ref {
			if len(s) != len(strokes[i]) {
				t.Fatalf("%q: stroke %d has %d points, encoding/json reads %d", data, i, len(strokes[i]), len(s))
			}
			for j, p := range s {
				want := Point{X: *p.X, Y: *p.Y}
				if p.T != nil {
					want.T = *p.T
				}
				if strokes[i][j] != want {
					t.Fatalf("%q: point %d,%d is %v, encoding/json reads %v", data, i, j, strokes[i][j], want)
				}
			}
		}
		// What it accepts, the validator checks without panicking.
		if err := ValidateStrokes(strokes, int(w), int(h), DefaultLimits()); err != nil && !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrTooLarge) {
			t.Fatalf("ValidateStrokes: unexpected error %v", err)
		}
	})
}

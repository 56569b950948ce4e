package drawing

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// TestPointMembersStrict: a point is {"x","y"} with an optional "t" and
// nothing else, each member once. Repeated names (exact, by case, or
// spelled with an escape) and other members are refused by both readers of
// points, DecodeStrokesJSON and Point.UnmarshalJSON, with an error that
// names the member.
func TestPointMembersStrict(t *testing.T) {
	for _, tc := range []struct {
		name, point string
		words       string // "" = accepted
	}{
		{"x and y", `{"x":1,"y":2}`, ""},
		{"x, y and t", `{"t":3,"y":2,"x":1}`, ""},
		{"names in capitals", `{"X":1,"Y":2,"T":3}`, ""},
		{"escaped name", `{"\u0078":1,"y":2}`, ""},
		{"x twice", `{"x":1,"y":2,"x":3}`, `"x" is given twice`},
		{"y twice", `{"y":1,"x":2,"y":2}`, `"y" is given twice`},
		{"t twice", `{"x":1,"y":2,"t":0,"t":5}`, `"t" is given twice`},
		{"x twice by case", `{"x":1,"y":2,"X":3}`, `"X" is given twice`},
		{"x twice by escape", `{"x":1,"y":2,"\u0078":3}`, `"x" is given twice`},
		{"unknown number", `{"x":1,"y":2,"pressure":0.5}`, `unknown member "pressure"`},
		{"unknown object", `{"x":1,"y":2,"tool":{"kind":"pen"}}`, `unknown member "tool"`},
		{"unknown first", `{"z":null,"x":1,"y":2}`, `unknown member "z"`},
		{"empty name", `{"":1,"x":1,"y":2}`, `unknown member ""`},
		{"long unknown name", `{"` + strings.Repeat("w", 5000) + `":1,"x":1,"y":2}`, `unknown member "wwww`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			strokes, err := DecodeStrokesJSON([]byte(`[[`+tc.point+`]]`), DefaultLimits())
			var p Point
			uerr := json.Unmarshal([]byte(tc.point), &p)
			if tc.words == "" {
				if err != nil || uerr != nil {
					t.Fatalf("refused: DecodeStrokesJSON %v, Point.UnmarshalJSON %v", err, uerr)
				}
				if strokes[0][0] != p || p.X != 1 || p.Y != 2 {
					t.Fatalf("read %v and %v", strokes[0][0], p)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.words) {
				t.Errorf("DecodeStrokesJSON: %v, want ErrInvalid saying %s", err, tc.words)
			}
			if uerr == nil || !strings.Contains(uerr.Error(), tc.words) {
				t.Errorf("Point.UnmarshalJSON: %v, want an error saying %s", uerr, tc.words)
			}
			if err != nil && len(err.Error()) > 300 {
				t.Errorf("the error echoes the whole name: %d bytes", len(err.Error()))
			}
		})
	}
}

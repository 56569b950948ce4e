package frontend

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stratusml/stratus/drawing"
	"github.com/stratusml/stratus/store"
)

// TestLabelFitsSample: a digit-mode sample takes a one-digit label; a
// number takes 1 to the digits read plus two (never over 32); anything
// else is a 400 that says why, and the stored label is left as it was.
func TestLabelFitsSample(t *testing.T) {
	r := newTestRig(t, nil)
	inputs := func(n int) [][]byte {
		out := make([][]byte, n)
		for i := range out {
			out[i] = make([]byte, store.Input28Len)
		}
		return out
	}
	read := func(digits string) map[string]store.PredictionBody {
		return map[string]store.PredictionBody{"m1": {Digits: digits, Model: "m1"}}
	}
	samples := []store.Sample{
		{ID: "label-digit", Mode: drawing.ModeDigit, Input28: inputs(1), Predictions: read("7")},
		{ID: "label-no-mode", Input28: inputs(1)},
		{ID: "label-three", Mode: drawing.ModeNumber, Input28: inputs(3), Predictions: read("123")},
		{ID: "label-model-read-more", Mode: drawing.ModeNumber, Input28: inputs(3), Predictions: read("12345")},
		{ID: "label-thirty-one", Mode: drawing.ModeNumber, Input28: inputs(31), Predictions: read(strings.Repeat("1", 31))},
		{ID: "label-unread", Mode: drawing.ModeNumber},
	}
	if err := r.st.UpsertSamples(context.Background(), samples); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, id, label string
		want            int
		words           string
	}{
		{"digit, one digit", samples[0].ID, "4", 200, ""},
		{"digit, two digits", samples[0].ID, "12", 400, "one digit"},
		{"digit, a number", samples[0].ID, "1234567", 400, "one digit"},
		{"no mode is a digit", samples[1].ID, "12", 400, "one digit"},
		{"no mode, one digit", samples[1].ID, "3", 200, ""},
		{"number, as read", samples[2].ID, "123", 200, ""},
		{"number, fewer", samples[2].ID, "1", 200, ""},
		{"number, two more", samples[2].ID, "12345", 200, ""},
		{"number, three more", samples[2].ID, "123456", 400, "1 to 5"},
		{"number, far more", samples[2].ID, strings.Repeat("9", 32), 400, "3 were read"},
		{"a model read more", samples[3].ID, "1234567", 200, ""},
		{"a model read more, too long", samples[3].ID, "12345678", 400, "1 to 7"},
		{"31 read, 32 digits", samples[4].ID, strings.Repeat("2", 32), 200, ""},
		{"nothing read", samples[5].ID, "12", 200, ""},
		{"nothing read, three", samples[5].ID, "123", 400, "1 to 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, err := r.st.GetSample(context.Background(), tc.id)
			if err != nil {
				t.Fatal(err)
			}
			code, body, _ := r.post(t, "/api/v1/samples/"+tc.id+"/label", "application/json", []byte(`{"label":"`+tc.label+`"}`))
			if code != tc.want {
				t.Fatalf("got %d %s, want %d", code, body, tc.want)
			}
			after, err := r.st.GetSample(context.Background(), tc.id)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == 200 {
				if after.Label != tc.label {
					t.Errorf("stored label %q, want %q", after.Label, tc.label)
				}
				return
			}
			var e apiError
			if json.Unmarshal(body, &e) != nil || !strings.Contains(e.Error, tc.words) {
				t.Errorf("the reason %s does not say %q", body, tc.words)
			}
			if after.Label != before.Label {
				t.Errorf("a refused label changed the stored one: %q → %q", before.Label, after.Label)
			}
		})
	}
}

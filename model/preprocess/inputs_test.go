package preprocess

import (
	"errors"
	"testing"

	"github.com/stratusml/stratus/store"
)

// TestInputs28: the inputs of digits copied for store.Sample.Input28 read
// back as images.
func TestInputs28(t *testing.T) {
	var d [2]Digit
	d[0].Input[5], d[1].Input[783] = 9, 7
	s := store.Sample{ID: "a", Input28: Inputs28(d[:])}
	if err := store.Validate(&s); err != nil {
		t.Fatal(err)
	}
	d[0].Input[5] = 1 // a copy, not a view
	imgs, err := s.Images28()
	if err != nil || len(imgs) != 2 || imgs[0][5] != 9 || imgs[1][783] != 7 {
		t.Fatalf("Images28 = %v", err)
	}
	s.Input28[1] = s.Input28[1][:10]
	if _, err := s.Images28(); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("short input: %v", err)
	}
}

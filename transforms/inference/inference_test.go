package inference

import (
	"context"
	"errors"
	"strconv"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/stratusml/stratus/model/preprocess"
	"github.com/stratusml/stratus/model/recognize"
)

func TestMain(m *testing.M) { ptest.Main(m) }

// failingHandler's model refuses any batch holding a request whose key ends
// in "bad", so the per-element retry must isolate those.
type failingHandler struct{}

func (failingHandler) ShareKey() string { return "test-failing" }
func (failingHandler) Load(context.Context) (Model, error) {
	return failingModel{}, nil
}

type failingModel struct{}

func (failingModel) ID() string { return "failing" }
func (failingModel) Infer(_ context.Context, batch [][]preprocess.Digit) ([]recognize.Result, error) {
	out := make([]recognize.Result, len(batch))
	for i, d := range batch {
		if len(d) == 2 { // the marker for a bad element
			return nil, errors.New("cannot score two digits")
		}
		out[i] = recognize.Result{Digits: "1", Model: "failing"}
	}
	return out, nil
}

func init() {
	RegisterHandler("test-failing", func(string) (ModelHandler, error) { return failingHandler{}, nil })
	register.Function1x1(failureKey)
}

func failureKey(f Failure) string { return f.Key }

func TestRunInferenceDeadLetters(t *testing.T) {
	var reqs []Request
	var wantBad []any
	for i := 0; i < 40; i++ {
		digits := []preprocess.Digit{{}}
		key := "k" + strconv.Itoa(i)
		if i%7 == 3 {
			digits = append(digits, preprocess.Digit{})
			wantBad = append(wantBad, key)
		}
		reqs = append(reqs, Request{Key: key, Digits: digits})
	}
	p, s := beam.NewPipelineWithRoot()
	ok, bad := RunInference(s, Config{Handler: "test-failing", MaxBatchSize: 8}, beam.CreateList(s, reqs))
	passert.Count(s, ok, "good", 40-len(wantBad))
	passert.Equals(s, beam.ParDo(s, failureKey, bad), wantBad...)
	if err := ptest.Run(p); err != nil {
		t.Fatal(err)
	}
}

func TestUnknownHandler(t *testing.T) {
	fn := &runInferenceFn{Handler: "nope"}
	if err := fn.Setup(context.Background()); err == nil {
		t.Fatal("Setup with an unregistered handler succeeded")
	}
}

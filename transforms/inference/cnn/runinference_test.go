package cnn

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/stratusml/stratus/model/mnist"
	"github.com/stratusml/stratus/model/preprocess"
	"github.com/stratusml/stratus/transforms/inference"
)

func TestMain(m *testing.M) { ptest.Main(m) }

func init() {
	register.Function1x1(responseLine)
}

func responseLine(r inference.Response) string {
	return r.Key + "=" + r.Result.Digits + "@" + string(r.Payload)
}

func TestRunInferenceCNN(t *testing.T) {
	test, err := mnist.Test("")
	if err != nil {
		t.Fatal(err)
	}
	const n = 150
	var reqs []inference.Request
	var want []any
	for i := 0; i < n; i++ {
		var d preprocess.Digit
		d.Input = preprocess.Image28(test.Images[i])
		key := "e" + strconv.Itoa(i)
		reqs = append(reqs, inference.Request{Key: key, Digits: []preprocess.Digit{d}, Payload: []byte("p" + key)})
		want = append(want, fmt.Sprintf("%s=%d@p%s", key, test.Labels[i], key))
	}
	p, s := beam.NewPipelineWithRoot()
	in := beam.CreateList(s, reqs)
	ok, bad := inference.RunInference(s, inference.Config{Handler: HandlerName, MaxBatchSize: 16}, in)
	// The shipped model is right on every one of the first 150 test digits,
	// and every payload must come back with its key.
	lines := beam.ParDo(s, responseLine, ok)
	passert.Count(s, lines, "responses", n)
	passert.Empty(s, bad)
	passert.Equals(s, lines, want...)
	if err := ptest.Run(p); err != nil {
		t.Fatal(err)
	}
}

package inference

import (
	"context"
	"fmt"

	"github.com/stratusml/stratus/model"
	"github.com/stratusml/stratus/model/preprocess"
	"github.com/stratusml/stratus/model/recognize"
)

// CNNHandlerName is the registered name of the Stratus CNN handler. Its
// configuration is a model file path, or "" for the model shipped in the
// binary.
const CNNHandlerName = "stratus-cnn"

// CNNHandler loads a Stratus model file and runs it with model/recognize.
type CNNHandler struct {
	// Path is a model file; "" means the shipped model.
	Path string
}

// ShareKey implements ModelHandler.
func (h CNNHandler) ShareKey() string { return CNNHandlerName + ":" + h.Path }

// Load implements ModelHandler.
func (h CNNHandler) Load(context.Context) (Model, error) {
	var m *model.Model
	var err error
	if h.Path == "" {
		m, err = model.Default()
	} else {
		m, err = model.Load(h.Path)
	}
	if err != nil {
		return nil, err
	}
	r, err := recognize.New(m)
	if err != nil {
		return nil, err
	}
	return cnnModel{r}, nil
}

type cnnModel struct{ r *recognize.Recognizer }

func (c cnnModel) ID() string { return c.r.Model().ID }

func (c cnnModel) Infer(_ context.Context, batch [][]preprocess.Digit) ([]recognize.Result, error) {
	for i, d := range batch {
		if len(d) == 0 {
			return nil, fmt.Errorf("element %d has no digits", i)
		}
	}
	return c.r.Recognize(batch), nil
}

func init() {
	RegisterHandler(CNNHandlerName, func(config string) (ModelHandler, error) { return CNNHandler{Path: config}, nil })
}

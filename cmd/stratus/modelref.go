package main

import (
	"fmt"
	"os"

	"github.com/stratusml/stratus/model"
)

// loadModel resolves --model: "" means the model shipped in the binary; a
// path to a model file loads that file; the shipped model's id names it too.
func loadModel(ref string) (*model.Model, error) {
	if ref == "" {
		return model.Default()
	}
	if _, err := os.Stat(ref); err == nil {
		return model.Load(ref)
	}
	def, err := model.Default()
	if err == nil && def.ID == ref {
		return def, nil
	}
	return nil, fmt.Errorf("model %q: no such file, and not the shipped model's id (%s)", ref, def.ID)
}

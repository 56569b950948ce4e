package model

import (
	_ "embed"
	"fmt"
)

// defaultFile is the trained model that ships with Stratus (see docs/model.md for
// how it was trained and its measured accuracy).
//
//go:embed default.stratus
var defaultFile []byte

// DefaultPath is the repository path of the shipped model file.
const DefaultPath = "model/default.stratus"

// Default decodes the model shipped inside the binary. Each call returns a
// fresh copy.
func Default() (*Model, error) {
	m, err := DecodeBytes(defaultFile)
	if err != nil {
		return nil, fmt.Errorf("shipped model: %w", err)
	}
	return m, nil
}

// DefaultSize is the size in bytes of the shipped model file.
func DefaultSize() int { return len(defaultFile) }

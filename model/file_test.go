package model

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"testing"
)

func randomModel(seed uint64) *Model {
	rng := rand.New(rand.NewPCG(seed, 1))
	m := New()
	for _, w := range m.Weights {
		for i := range w {
			w[i] = float32(rng.NormFloat64())
		}
	}
	m.Metrics.MNISTTestAccuracy = 0.99
	m.Train.Epochs = 3
	return m
}

func TestRoundTrip(t *testing.T) {
	m := randomModel(1)
	path := filepath.Join(t.TempDir(), "m.stratus")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != m.ID || got.SHA256 != m.SHA256 || got.ID == "" {
		t.Fatalf("id %q sha %q, want %q %q", got.ID, got.SHA256, m.ID, m.SHA256)
	}
	if got.Metrics != m.Metrics || got.Train.Epochs != 3 || got.Input != m.Input {
		t.Fatalf("header did not round-trip: %+v", got.Header)
	}
	for name, w := range m.Weights {
		g := got.Weights[name]
		if len(g) != len(w) {
			t.Fatalf("%s: %d values, want %d", name, len(g), len(w))
		}
		for i := range w {
			if g[i] != w[i] {
				t.Fatalf("%s[%d] = %v, want %v", name, i, g[i], w[i])
			}
		}
	}
	// The id is content-addressed: other weights, other id.
	if other := randomModel(2); other.Seal() == nil && other.ID == m.ID {
		t.Fatal("different weights share an id")
	}
}

func TestDecodeRejects(t *testing.T) {
	var buf bytes.Buffer
	if err := randomModel(1).Encode(&buf); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	flip := func(off int) []byte {
		b := bytes.Clone(good)
		b[off] ^= 0x40
		return b
	}
	tests := []struct {
		name     string
		data     []byte
		checksum bool // want ErrChecksum
	}{
		{"empty", nil, false},
		{"not a model", []byte("PNG\x89 definitely not a model file at all, not even close............."), false},
		{"truncated", good[:len(good)/2], true},
		{"flipped weight byte", flip(len(good) - 100), true},
		{"flipped header byte", flip(20), true},
		{"flipped trailer byte", flip(len(good) - 1), true},
		{"bad magic", flip(0), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeBytes(tc.data)
			if err == nil {
				t.Fatal("corrupt file accepted")
			}
			if tc.checksum != errors.Is(err, ErrChecksum) {
				t.Fatalf("err = %v, want checksum error: %v", err, tc.checksum)
			}
		})
	}
}

func TestDefault(t *testing.T) {
	m, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if m.Arch != ArchCNN2 || m.ID == "" || m.Metrics.MNISTTestAccuracy < 0.994 {
		t.Fatalf("shipped model: arch %q id %q accuracy %v (want ≥ 0.994 recorded)", m.Arch, m.ID, m.Metrics.MNISTTestAccuracy)
	}
	if DefaultSize() > 5<<20 {
		t.Fatalf("shipped model is %d bytes, want < 5 MB", DefaultSize())
	}
}

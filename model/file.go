package model

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"time"
)

// FormatVersion is the version of the model file layout written by Encode.
const FormatVersion = 1

// magic opens every model file.
var magic = [8]byte{'S', 'T', 'R', 'A', 'T', 'U', 'S', 'M'}

// ErrChecksum is returned (wrapped) when a model file's contents do not match
// its recorded sha256: the file is corrupt or was edited.
var ErrChecksum = errors.New("model file checksum mismatch")

// MaxFileSize bounds what Decode will read, to refuse garbage early.
const MaxFileSize = 64 << 20

// Model is a trained network: its description and its weights.
type Model struct {
	Header
	// Weights holds every tensor of Params(), flattened row-major.
	Weights map[string][]float32
}

// Header describes a model file. It is stored as JSON at the start of the
// file and is also the model's document in the registry.
type Header struct {
	Format    int           `json:"format"`
	ID        string        `json:"id"`
	Arch      string        `json:"arch"`
	Input     Input         `json:"input"`
	CreatedAt time.Time     `json:"created_at"`
	Train     TrainInfo     `json:"train"`
	Metrics   Metrics       `json:"metrics"`
	Tensors   []TensorEntry `json:"tensors"`
	// SHA256 is the hex sha256 of the weight bytes (little-endian float32 in
	// Tensors order). The model id is derived from it.
	SHA256 string `json:"sha256"`
}

// Input says what the network expects.
type Input struct {
	Width         int           `json:"width"`
	Height        int           `json:"height"`
	Normalization Normalization `json:"normalization"`
	// Polarity is "ink-high": 0 is paper and 255 is ink before normalisation.
	Polarity string `json:"polarity"`
}

// TrainInfo records how a model was trained.
type TrainInfo struct {
	Dataset      string        `json:"dataset"`
	Epochs       int           `json:"epochs"`
	BatchSize    int           `json:"batch_size"`
	Optimizer    string        `json:"optimizer"`
	LearnRate    float64       `json:"learn_rate"`
	Schedule     string        `json:"schedule"`
	Dropout      float64       `json:"dropout"`
	Augment      string        `json:"augment"`
	Seed         int64         `json:"seed"`
	ImagesSeen   int64         `json:"images_seen"`
	Duration     time.Duration `json:"duration_ns"`
	ExtraSamples int           `json:"extra_samples,omitempty"`
}

// Metrics records how well a model does.
type Metrics struct {
	MNISTTestAccuracy float64 `json:"mnist_test_accuracy"`
	MNISTTestLoss     float64 `json:"mnist_test_loss,omitempty"`
}

// TensorEntry locates one tensor in the weight block.
type TensorEntry struct {
	Name  string `json:"name"`
	Shape []int  `json:"shape"`
}

// New returns a model of ArchCNN2 with zeroed weights and a filled-in header.
func New() *Model {
	m := &Model{Weights: map[string][]float32{}}
	m.Format = FormatVersion
	m.Arch = ArchCNN2
	m.Input = Input{Width: Side, Height: Side, Normalization: MNISTNormalization(), Polarity: "ink-high"}
	for _, p := range Params() {
		m.Tensors = append(m.Tensors, TensorEntry{Name: p.Name, Shape: append([]int(nil), p.Shape...)})
		m.Weights[p.Name] = make([]float32, Size(p.Shape))
	}
	return m
}

// Clone returns a deep copy of m.
func (m *Model) Clone() *Model {
	c := *m
	c.Tensors = append([]TensorEntry(nil), m.Tensors...)
	c.Weights = make(map[string][]float32, len(m.Weights))
	for k, v := range m.Weights {
		c.Weights[k] = append([]float32(nil), v...)
	}
	return &c
}

// weightBytes serialises the weights in Tensors order.
func (m *Model) weightBytes() ([]byte, error) {
	var n int
	for _, t := range m.Tensors {
		n += Size(t.Shape)
	}
	buf := make([]byte, 0, 4*n)
	for _, t := range m.Tensors {
		w, ok := m.Weights[t.Name]
		if !ok || len(w) != Size(t.Shape) {
			return nil, fmt.Errorf("model: tensor %q has %d values, want %d", t.Name, len(w), Size(t.Shape))
		}
		for _, v := range w {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
		}
	}
	return buf, nil
}

// Seal computes the weights' sha256 and the model id from the current
// weights. Call it after changing weights and before Encode.
func (m *Model) Seal() error {
	wb, err := m.weightBytes()
	if err != nil {
		return err
	}
	sum := sha256.Sum256(wb)
	m.SHA256 = hex.EncodeToString(sum[:])
	m.ID = m.Arch + "-" + m.SHA256[:12]
	return nil
}

// Encode writes m in the model file format: magic, header length (uint32
// little-endian), header JSON, weights, then the sha256 of everything before
// it. It seals the model first.
func (m *Model) Encode(w io.Writer) error {
	if err := m.Seal(); err != nil {
		return err
	}
	wb, err := m.weightBytes()
	if err != nil {
		return err
	}
	hdr, err := json.Marshal(m.Header)
	if err != nil {
		return fmt.Errorf("model: encode header: %w", err)
	}
	var buf bytes.Buffer
	buf.Write(magic[:])
	_ = binary.Write(&buf, binary.LittleEndian, uint32(len(hdr)))
	buf.Write(hdr)
	buf.Write(wb)
	sum := sha256.Sum256(buf.Bytes())
	buf.Write(sum[:])
	_, err = w.Write(buf.Bytes())
	return err
}

// Decode reads a model file, verifying both checksums and every tensor's
// shape against the architecture.
func Decode(r io.Reader) (*Model, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("model: read: %w", err)
	}
	return DecodeBytes(data)
}

// DecodeBytes is Decode on an in-memory file.
func DecodeBytes(data []byte) (*Model, error) {
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("model: file larger than %d bytes", MaxFileSize)
	}
	if len(data) < len(magic)+4+sha256.Size || !bytes.Equal(data[:len(magic)], magic[:]) {
		return nil, errors.New("model: not a Stratus model file (bad magic)")
	}
	body, trailer := data[:len(data)-sha256.Size], data[len(data)-sha256.Size:]
	if sum := sha256.Sum256(body); !bytes.Equal(sum[:], trailer) {
		return nil, fmt.Errorf("model: file: %w", ErrChecksum)
	}
	hlen := int(binary.LittleEndian.Uint32(body[len(magic):]))
	rest := body[len(magic)+4:]
	if hlen > len(rest) {
		return nil, errors.New("model: header length beyond end of file")
	}
	m := &Model{Weights: map[string][]float32{}}
	if err := json.Unmarshal(rest[:hlen], &m.Header); err != nil {
		return nil, fmt.Errorf("model: header: %w", err)
	}
	if m.Format != FormatVersion {
		return nil, fmt.Errorf("model: format %d not supported (want %d)", m.Format, FormatVersion)
	}
	if m.Arch != ArchCNN2 {
		return nil, fmt.Errorf("model: architecture %q not supported (want %q)", m.Arch, ArchCNN2)
	}
	wb := rest[hlen:]
	if sum := sha256.Sum256(wb); hex.EncodeToString(sum[:]) != m.SHA256 {
		return nil, fmt.Errorf("model: weights: %w", ErrChecksum)
	}
	want := map[string][]int{}
	for _, p := range Params() {
		want[p.Name] = p.Shape
	}
	if len(m.Tensors) != len(want) {
		return nil, fmt.Errorf("model: %d tensors, want %d", len(m.Tensors), len(want))
	}
	off := 0
	for _, t := range m.Tensors {
		ws, ok := want[t.Name]
		if !ok || !equalShape(ws, t.Shape) {
			return nil, fmt.Errorf("model: tensor %q shape %v does not fit %s", t.Name, t.Shape, m.Arch)
		}
		n := Size(t.Shape)
		if off+4*n > len(wb) {
			return nil, fmt.Errorf("model: tensor %q runs past the end of the weights", t.Name)
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = math.Float32frombits(binary.LittleEndian.Uint32(wb[off+4*i:]))
		}
		m.Weights[t.Name] = v
		off += 4 * n
	}
	if off != len(wb) {
		return nil, fmt.Errorf("model: %d stray bytes after the weights", len(wb)-off)
	}
	return m, nil
}

func equalShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Load reads a model file from disk.
func Load(path string) (*Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	defer f.Close()
	m, err := Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// Save writes m to path atomically (temporary file, then rename).
func (m *Model) Save(path string) error {
	var buf bytes.Buffer
	if err := m.Encode(&buf); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("model: save %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("model: save %s: %w", path, err)
	}
	return nil
}

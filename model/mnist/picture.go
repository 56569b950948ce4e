package mnist

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
)

// Picture returns image i as a picture: dark ink on white paper, each pixel
// scale×scale (nearest neighbour), as a person's drawing would come.
func (s *Set) Picture(i, scale int) *image.Gray {
	scale = max(scale, 1)
	n := Side * scale
	img := image.NewGray(image.Rect(0, 0, n, n))
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			img.Pix[y*n+x] = 255 - s.Images[i][(y/scale)*Side+x/scale]
		}
	}
	return img
}

// PNG is Picture encoded as a PNG.
func (s *Set) PNG(i, scale int) ([]byte, error) {
	var buf bytes.Buffer
	if err := png.Encode(&buf, s.Picture(i, scale)); err != nil {
		return nil, fmt.Errorf("mnist: encode image %d: %w", i, err)
	}
	return buf.Bytes(), nil
}

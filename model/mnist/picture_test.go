package mnist

import (
	"bytes"
	"image/png"
	"testing"
)

func TestPicture(t *testing.T) {
	var s Set
	s.Images = make([][Side * Side]uint8, 1)
	s.Labels = []uint8{1}
	s.Images[0][5*Side+7] = 255 // one ink pixel at (7, 5)
	for _, scale := range []int{1, 3} {
		img := s.Picture(0, scale)
		if img.Bounds().Dx() != Side*scale || img.Bounds().Dy() != Side*scale {
			t.Fatalf("scale %d: size %v", scale, img.Bounds())
		}
		if img.GrayAt(7*scale, 5*scale).Y != 0 || img.GrayAt(7*scale+scale-1, 5*scale+scale-1).Y != 0 {
			t.Errorf("scale %d: the ink pixel is not dark", scale)
		}
		if img.GrayAt(0, 0).Y != 255 {
			t.Errorf("scale %d: paper is not white", scale)
		}
	}
	b, err := s.PNG(0, 2)
	if err != nil {
		t.Fatal(err)
	}
	back, err := png.Decode(bytes.NewReader(b))
	if err != nil || back.Bounds().Dx() != 2*Side {
		t.Fatalf("PNG round trip: %v %v", back, err)
	}
}

package mnist

import "testing"

func TestLoad(t *testing.T) {
	tests := []struct {
		name string
		load func(string) (*Set, error)
		n    int
	}{
		{"train", Train, 60000},
		{"test", Test, 10000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := tc.load("")
			if err != nil {
				t.Fatal(err)
			}
			if s.Len() != tc.n || len(s.Images) != tc.n {
				t.Fatalf("got %d images / %d labels, want %d", len(s.Images), s.Len(), tc.n)
			}
			var counts [10]int
			for _, l := range s.Labels {
				if l > 9 {
					t.Fatalf("label %d out of range", l)
				}
				counts[l]++
			}
			for d, c := range counts {
				if c < tc.n/20 {
					t.Errorf("digit %d appears %d times: labels look wrong", d, c)
				}
			}
			// Ink sits in the middle, paper at the corners (MNIST's framing).
			var corner, centre int
			for _, img := range s.Images[:100] {
				corner += int(img[0]) + int(img[27]) + int(img[27*28]) + int(img[783])
				centre += int(img[14*28+14])
			}
			if corner != 0 || centre == 0 {
				t.Errorf("corner ink %d, centre ink %d: images look wrong", corner, centre)
			}
		})
	}
}

func TestDirOverride(t *testing.T) {
	t.Setenv(EnvDir, t.TempDir())
	if _, err := Test(""); err == nil {
		t.Fatal("empty override folder: want an error")
	}
}

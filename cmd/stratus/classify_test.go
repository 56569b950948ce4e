package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stratusml/stratus/model/mnist"
)

// picture renders MNIST digit img scaled by scale at (ox, oy) on a w×h
// canvas, in one of several styles.
func picture(img *[784]uint8, w, h, ox, oy, scale int, style string) image.Image {
	out := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var ink uint8
			sx, sy := (x-ox)/scale, (y-oy)/scale
			if x >= ox && y >= oy && sx < 28 && sy < 28 {
				ink = img[sy*28+sx]
			}
			var c color.NRGBA
			switch style {
			case "dark-on-light":
				c = color.NRGBA{255 - ink, 255 - ink, 255 - ink, 255}
			case "light-on-dark":
				c = color.NRGBA{ink, ink, ink, 255}
			case "transparent":
				c = color.NRGBA{20, 20, 90, ink} // blue pen on a transparent sheet
			}
			out.SetNRGBA(x, y, c)
		}
	}
	return out
}

func writePNG(t *testing.T, path string, img image.Image) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}

func TestClassify(t *testing.T) {
	test, err := mnist.Test("")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	sub := filepath.Join(dir, "folder")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	type pic struct {
		name                string
		index               int
		w, h, ox, oy, scale int
		style               string
	}
	pics := []pic{
		{"big.png", 0, 280, 280, 0, 0, 10, "dark-on-light"},
		{"inverted.png", 1, 140, 140, 0, 0, 5, "light-on-dark"},
		{"transparent.png", 2, 112, 112, 0, 0, 4, "transparent"},
		{"corner.png", 3, 900, 700, 840, 640, 2, "dark-on-light"},
		{"tiny.png", 4, 28, 28, 0, 0, 1, "dark-on-light"},
	}
	var args []string
	for _, p := range pics {
		path := filepath.Join(dir, p.name)
		writePNG(t, path, picture(&test.Images[p.index], p.w, p.h, p.ox, p.oy, p.scale, p.style))
		args = append(args, path)
	}
	// A folder: its PNGs in sorted order; other files ignored.
	for i, idx := range []int{7, 5} {
		writePNG(t, filepath.Join(sub, "d"+strconv.Itoa(i)+".PNG"), picture(&test.Images[idx], 56, 56, 0, 0, 2, "dark-on-light"))
	}
	if err := os.WriteFile(filepath.Join(sub, "notes.txt"), []byte("not a picture"), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.png")
	if err := os.WriteFile(bad, []byte("GIF89a this is not a PNG"), 0o644); err != nil {
		t.Fatal(err)
	}
	args = append(args, bad, filepath.Join(dir, "missing.png"), sub)

	for _, mode := range []string{"digit", "number"} {
		t.Run(mode, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			env := &environment{stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }}
			code := run(context.Background(), env, append([]string{"classify", "--mode", mode}, args...))
			if code != 1 {
				t.Fatalf("exit status %d, want 1 (one bad file, one missing)", code)
			}
			for _, want := range []string{"bad.png", "missing.png"} {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("stderr does not name %s:\n%s", want, stderr.String())
				}
			}
			wantFiles := []string{"big.png", "inverted.png", "transparent.png", "corner.png", "tiny.png", "d0.PNG", "d1.PNG"}
			wantIdx := []int{0, 1, 2, 3, 4, 7, 5}
			sc := bufio.NewScanner(&stdout)
			n := 0
			for sc.Scan() {
				var line map[string]json.RawMessage
				if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
					t.Fatalf("line %d is not JSON: %v: %s", n, err, sc.Text())
				}
				for _, k := range []string{"file", "digits", "candidates", "confidence"} {
					if _, ok := line[k]; !ok {
						t.Fatalf("line %d lacks %q: %s", n, k, sc.Text())
					}
				}
				var got classifyLine
				if err := json.Unmarshal(sc.Bytes(), &got); err != nil {
					t.Fatal(err)
				}
				if n >= len(wantFiles) {
					t.Fatalf("extra line %s", sc.Text())
				}
				if filepath.Base(got.File) != wantFiles[n] {
					t.Fatalf("line %d is %s, want %s (input order)", n, got.File, wantFiles[n])
				}
				want := strconv.Itoa(int(test.Labels[wantIdx[n]]))
				if got.Digits != want {
					t.Errorf("%s: digits %q, want %q", got.File, got.Digits, want)
				}
				if len(got.Candidates) != 1 || len(got.Candidates[0].Probabilities) != 10 || got.Confidence <= 0.5 || got.Confidence > 1 {
					t.Errorf("%s: odd candidates/confidence: %s", got.File, sc.Text())
				}
				var sum float64
				for _, p := range got.Candidates[0].Probabilities {
					sum += float64(p)
				}
				if sum < 0.999 || sum > 1.001 {
					t.Errorf("%s: probabilities sum to %v", got.File, sum)
				}
				n++
			}
			if n != len(wantFiles) {
				t.Fatalf("%d lines, want %d", n, len(wantFiles))
			}
		})
	}
}

func TestClassifyUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"no paths", []string{"classify"}, 2},
		{"bad mode", []string{"classify", "--mode", "letters", "x.png"}, 2},
		{"help", []string{"classify", "--help"}, 0},
		{"unknown command", []string{"fly"}, 2},
		{"missing model", []string{"classify", "--model", "/nonexistent.stratus", "x.png"}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			env := &environment{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
			if code := run(context.Background(), env, tc.args); code != tc.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tc.code, errb.String())
			}
		})
	}
}

// numberPicture writes MNIST digits imgs left to right, each scaled by
// scale, gap pixels apart, dark on light paper.
func numberPicture(imgs []*[784]uint8, scale, gap int) image.Image {
	w := 2*gap + len(imgs)*28*scale + (len(imgs)-1)*gap
	h := 28*scale + 2*gap
	out := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range out.Pix {
		out.Pix[i] = 255
	}
	for k, img := range imgs {
		ox := gap + k*(28*scale+gap)
		for y := 0; y < 28*scale; y++ {
			for x := 0; x < 28*scale; x++ {
				if ink := img[(y/scale)*28+x/scale]; ink > 0 {
					out.SetNRGBA(ox+x, gap+y, color.NRGBA{255 - ink, 255 - ink, 255 - ink, 255})
				}
			}
		}
	}
	return out
}

func TestClassifyNumber(t *testing.T) {
	test, err := mnist.Test("")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cases := []struct {
		name       string
		idx        []int
		scale, gap int
	}{
		{"three.png", []int{0, 1, 2}, 4, 20},
		{"wide-gaps.png", []int{3, 4, 7}, 3, 60},
		{"tight.png", []int{5, 7}, 5, 0}, // the digits' 28×28 frames touch
	}
	var args []string
	for _, c := range cases {
		var imgs []*[784]uint8
		for _, i := range c.idx {
			imgs = append(imgs, &test.Images[i])
		}
		path := filepath.Join(dir, c.name)
		writePNG(t, path, numberPicture(imgs, c.scale, c.gap))
		args = append(args, path)
	}
	for _, mode := range []string{"number", "digit"} {
		t.Run(mode, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			env := &environment{stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }}
			if code := run(context.Background(), env, append([]string{"classify", "--mode", mode}, args...)); code != 0 {
				t.Fatalf("exit status %d: %s", code, stderr.String())
			}
			sc := bufio.NewScanner(&stdout)
			for _, c := range cases {
				if !sc.Scan() {
					t.Fatalf("no line for %s", c.name)
				}
				var got classifyLine
				if err := json.Unmarshal(sc.Bytes(), &got); err != nil {
					t.Fatal(err)
				}
				if filepath.Base(got.File) != c.name {
					t.Fatalf("line for %s, want %s", got.File, c.name)
				}
				if mode == "digit" {
					if len(got.Digits) != 1 || len(got.Candidates) != 1 {
						t.Errorf("%s in digit mode: %q, %d candidates, want one digit", c.name, got.Digits, len(got.Candidates))
					}
					continue
				}
				var want strings.Builder
				for _, i := range c.idx {
					want.WriteString(strconv.Itoa(int(test.Labels[i])))
				}
				if got.Digits != want.String() || len(got.Candidates) != len(c.idx) {
					t.Errorf("%s: digits %q with %d candidates, want %q", c.name, got.Digits, len(got.Candidates), want.String())
					continue
				}
				if got.Confidence <= 0.5 || got.Confidence > 1 {
					t.Errorf("%s: confidence %v", c.name, got.Confidence)
				}
				for k, cand := range got.Candidates {
					if cand.Digit != int(got.Digits[k]-'0') || len(cand.Probabilities) != 10 {
						t.Errorf("%s: candidate %d is %+v", c.name, k, cand)
					}
					// Each box lies in its digit's 28×28 frame on the picture.
					x0 := float64(c.gap + k*(28*c.scale+c.gap))
					if b := cand.Box; b.X < x0 || b.X+b.W > x0+float64(28*c.scale) || b.W <= 0 || b.H <= 0 {
						t.Errorf("%s: candidate %d box %+v outside its digit's frame at x %.0f–%.0f", c.name, k, b, x0, x0+float64(28*c.scale))
					}
				}
			}
		})
	}
}

package recognize

import (
	"bytes"
	"encoding/base64"
	"errors"
	"image"
	"image/png"
	"testing"
	"time"

	"github.com/stratusml/stratus/drawing"
	"github.com/stratusml/stratus/message"
)

const goodStrokes = `[[{"x":10,"y":10,"t":0},{"x":10,"y":200,"t":30}]]`

func event(fields string) []byte {
	return []byte(`{"v":1,"id":"01JD0000000000000000000000","session":"s1","reply_to":"fe-1","mode":"digit","width":280,"height":280` + fields + `}`)
}

// FuzzEventDigits: every event message.DecodeCanvasEvent accepts
// preprocesses without panicking (the seeds are message's
// FuzzDecodeCanvasEvent's).
func FuzzEventDigits(f *testing.F) {
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, 3, 3))); err != nil {
		f.Fatal(err)
	}
	f.Add(event(`,"strokes":` + goodStrokes))
	f.Add(event(`,"image_png":"` + base64.StdEncoding.EncodeToString(buf.Bytes()) + `"`))
	f.Add([]byte(`{"width":300,"height":300,"strokes":[[{"x":1e400,"y":1}]]}`))
	f.Add([]byte(`{"v":1,"mode":"number","width":10,"height":10,"strokes":[[]]}`))
	f.Add(event(`,"strokes":` + goodStrokes + `,"Mode":"number"`))
	f.Add(event(`,"session":"\\\"mode\"","strokes":[[{"x":1,"y":1,"X":2,"p":{}}]]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := message.DecodeCanvasEvent(data, message.DecodeOptions{})
		if err != nil {
			return
		}
		// A valid event must preprocess without panicking.
		_, _ = EventDigits(&ev, drawing.DefaultLimits())
	})
}

// TestNewPredictionEchoesRev: a Prediction names its event's id and echoes
// its rev (message.TestDecodeRev reads the rev).
func TestNewPredictionEchoesRev(t *testing.T) {
	for _, tc := range []struct {
		rev  string
		want int
	}{{"", 0}, {`,"rev":1`, 1}, {`,"rev":17`, 17}} {
		ev, err := message.DecodeCanvasEvent(event(tc.rev+`,"strokes":`+goodStrokes), message.DecodeOptions{})
		if err != nil {
			t.Fatalf("rev %s: %v", tc.rev, err)
		}
		if p := NewPrediction(&ev, Result{Digits: "7"}, time.Now(), time.Now()); p.Rev != tc.want || p.ID != ev.ID {
			t.Errorf("rev %s: the prediction names %s rev %d", tc.rev, p.ID, p.Rev)
		}
	}
}

// TestEventDigits: an event's drawing preprocesses by its mode, as strokes
// or as a PNG.
func TestEventDigits(t *testing.T) {
	ev, err := message.DecodeCanvasEvent(event(`,"strokes":`+goodStrokes), message.DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ds, err := EventDigits(&ev, drawing.DefaultLimits()); err != nil || len(ds) != 1 {
		t.Fatalf("strokes: %d digits, %v", len(ds), err)
	}
	ev = message.CanvasEvent{ImagePNG: []byte("not a png"), Mode: drawing.ModeDigit}
	if _, err := EventDigits(&ev, drawing.DefaultLimits()); !errors.Is(err, drawing.ErrInvalid) {
		t.Fatalf("bad PNG: %v, want ErrInvalid", err)
	}
}

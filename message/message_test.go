package message

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/png"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stratusml/stratus/drawing"
)

func pngBytes(t testing.TB, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

const goodStrokes = `[[{"x":10,"y":10,"t":0},{"x":10,"y":200,"t":30}]]`

func event(fields string) []byte {
	return []byte(`{"v":1,"id":"01JD0000000000000000000000","session":"s1","reply_to":"fe-1","mode":"digit","width":280,"height":280` + fields + `}`)
}

func TestDecodeCanvasEvent(t *testing.T) {
	png64 := base64.StdEncoding.EncodeToString(pngBytes(t, 50, 40))
	bomb := pngBytes(t, 1, 1)
	// Rewrite the IHDR dimensions to 100000×100000 and fix its CRC: a tiny
	// file that declares a huge picture.
	copy(bomb[16:24], []byte{0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0})
	binary.BigEndian.PutUint32(bomb[29:33], crc32.ChecksumIEEE(bomb[12:29]))
	manyStrokes := "[" + strings.Repeat(`[{"x":1,"y":1}],`, 200) + `[{"x":1,"y":1}]]`
	longStroke := "[[" + strings.Repeat(`{"x":1,"y":1},`, 2000) + `{"x":1,"y":1}]]`
	tests := []struct {
		name     string
		data     []byte
		envelope bool
		stage    string // "" = valid
		tooLarge bool
	}{
		{"strokes", event(`,"strokes":` + goodStrokes), true, "", false},
		{"png", event(`,"image_png":"` + png64 + `"`), true, "", false},
		{"number mode", []byte(`{"v":1,"mode":"number","width":100,"height":100,"strokes":` + goodStrokes + `}`), false, "", false},
		{"no envelope needed", []byte(`{"width":300,"height":300,"strokes":` + goodStrokes + `}`), false, "", false},
		{"missing id on kafka", []byte(`{"v":1,"width":300,"height":300,"strokes":` + goodStrokes + `}`), true, StageValidate, false},
		{"not json", []byte(`{"v":1,`), false, StageDecode, false},
		{"not an object", []byte(`[1,2,3]`), false, StageDecode, false},
		{"unknown field", event(`,"strokes":` + goodStrokes + `,"evil":true`), true, StageDecode, false},
		{"trailing data", append(event(`,"strokes":`+goodStrokes), []byte(` {}`)...), true, StageDecode, false},
		{"invalid utf-8", append(event(`,"strokes":`+goodStrokes), 0xff), true, StageDecode, false},
		{"version 2", []byte(`{"v":2,"width":300,"height":300,"strokes":` + goodStrokes + `}`), false, StageValidate, false},
		{"bad mode", []byte(`{"mode":"letters","width":300,"height":300,"strokes":` + goodStrokes + `}`), false, StageValidate, false},
		{"both inputs", event(`,"strokes":` + goodStrokes + `,"image_png":"` + png64 + `"`), true, StageValidate, false},
		{"no input", event(``), true, StageValidate, false},
		{"zero canvas", []byte(`{"width":0,"height":0,"strokes":` + goodStrokes + `}`), false, StageValidate, false},
		{"huge canvas", []byte(`{"width":100000,"height":100000,"strokes":` + goodStrokes + `}`), false, StageValidate, true},
		{"nan coordinate", []byte(`{"width":300,"height":300,"strokes":[[{"x":NaN,"y":1}]]}`), false, StageDecode, false},
		{"huge coordinate", []byte(`{"width":300,"height":300,"strokes":[[{"x":1e400,"y":1}]]}`), false, StageValidate, false},
		{"201 strokes", []byte(`{"width":300,"height":300,"strokes":` + manyStrokes + `}`), false, StageValidate, true},
		{"2001 points", []byte(`{"width":300,"height":300,"strokes":` + longStroke + `}`), false, StageValidate, true},
		{"png not base64", event(`,"image_png":"%%%"`), true, StageValidate, false},
		{"png not png", event(`,"image_png":"` + base64.StdEncoding.EncodeToString([]byte("GIF89a....")) + `"`), true, StageValidate, false},
		{"png bomb", event(`,"image_png":"` + base64.StdEncoding.EncodeToString(bomb) + `"`), true, StageValidate, true},
		{"long id", []byte(`{"id":"` + strings.Repeat("x", 200) + `","width":300,"height":300,"strokes":` + goodStrokes + `}`), false, StageValidate, false},
		{"oversize event", bytes.Repeat([]byte(" "), MaxEventBytes+1), false, StageDecode, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := DecodeCanvasEvent(tc.data, DecodeOptions{Envelope: tc.envelope})
			if tc.stage == "" {
				if err != nil {
					t.Fatalf("valid event refused: %v", err)
				}
				if ev.V != Version || (len(ev.Strokes) == 0) == (len(ev.ImagePNG) == 0) {
					t.Fatalf("decoded event looks wrong: %+v", ev)
				}
				return
			}
			var se *StageError
			if !errors.As(err, &se) {
				t.Fatalf("err = %v, want a *StageError at %s", err, tc.stage)
			}
			if se.Stage != tc.stage {
				t.Fatalf("stage %q, want %q (%v)", se.Stage, tc.stage, err)
			}
			if tc.tooLarge != errors.Is(err, drawing.ErrTooLarge) {
				t.Fatalf("err = %v; want ErrTooLarge: %v", err, tc.tooLarge)
			}
		})
	}
}

// TestDecodeCanvasEventStrict: a member said twice (exactly, by case or
// through an escape) is refused, at the top level and inside points, and so
// is a point member nothing reads; strings that look like members, and
// repeats inside a string value, are not repeats.
func TestDecodeCanvasEventStrict(t *testing.T) {
	strokes := `,"strokes":` + goodStrokes
	for _, tc := range []struct {
		name  string
		data  []byte
		stage string // "" = valid
		words string
	}{
		{"mode twice", event(strokes + `,"mode":"number"`), StageDecode, `"mode" is given twice`},
		{"id twice", event(strokes + `,"id":"01JD0000000000000000000001"`), StageDecode, `"id" is given twice`},
		{"reply_to twice", event(`,"reply_to":"evil"` + strokes), StageDecode, `"reply_to" is given twice`},
		{"mode twice by case", event(strokes + `,"MODE":"number"`), StageDecode, `"MODE" is given twice`},
		{"mode twice by escape", event(strokes + `,"\u006dode":"number"`), StageDecode, `"mode" is given twice`},
		{"strokes twice", event(strokes + strokes), StageDecode, `"strokes" is given twice`},
		{"point x twice", event(`,"strokes":[[{"x":1,"y":1,"x":200}]]`), StageValidate, `"x" is given twice`},
		{"point unknown member", event(`,"strokes":[[{"x":1,"y":1,"pressure":0.5}]]`), StageValidate, `unknown member "pressure"`},
		{"names inside a string", []byte(`{"session":"a\",\"mode\":\"number\",{[\\","mode":"digit","width":280,"height":280` + strokes + `}`), "", ""},
		{"backslashes ending a string", []byte(`{"session":"\\\\","mode":"digit","width":280,"height":280` + strokes + `}`), "", ""},
		{"same names in nested objects", []byte(`{"width":300,"height":300,"strokes":[[{"x":1,"y":1}],[{"x":2,"y":2}]],"sent_at":"2026-01-02T03:04:05Z"}`), "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.stage == "" {
				if _, err := DecodeCanvasEvent(tc.data, DecodeOptions{}); err != nil {
					t.Fatalf("valid event %s refused: %v", tc.data, err)
				}
				return
			}
			_, err := DecodeCanvasEvent(tc.data, DecodeOptions{Envelope: true})
			var se *StageError
			if !errors.As(err, &se) || se.Stage != tc.stage || !errors.Is(err, drawing.ErrInvalid) {
				t.Fatalf("err = %v, want an invalid event at stage %s", err, tc.stage)
			}
			if !strings.Contains(err.Error(), tc.words) {
				t.Errorf("err = %v, want it to say %s", err, tc.words)
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	ev := CanvasEvent{V: 1, ID: "e1", Session: "s", ReplyTo: "r", Mode: "digit", Width: 280, Height: 280,
		Strokes: []drawing.Stroke{{{X: 1, Y: 2, T: 3}, {X: 50, Y: 60, T: 10}}}, SentAt: time.Date(2026, 11, 25, 10, 0, 0, 123e6, time.UTC)}
	data, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeCanvasEvent(data, DecodeOptions{Envelope: true})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(ev) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, ev)
	}
}

func TestDeadLetterTruncates(t *testing.T) {
	dl := NewDeadLetter("x", StageDecode, errors.New("boom"), bytes.Repeat([]byte("a"), 10000), time.Now())
	if len(dl.Payload) != DeadLetterPayload || dl.Error != "boom" || dl.V != 1 {
		t.Fatalf("dead letter %+v", dl)
	}
}

func FuzzDecodeCanvasEvent(f *testing.F) {
	f.Add(event(`,"strokes":` + goodStrokes))
	f.Add(event(`,"image_png":"` + base64.StdEncoding.EncodeToString(pngBytes(f, 3, 3)) + `"`))
	f.Add([]byte(`{"width":300,"height":300,"strokes":[[{"x":1e400,"y":1}]]}`))
	f.Add([]byte(`{"v":1,"mode":"number","width":10,"height":10,"strokes":[[]]}`))
	f.Add(event(`,"strokes":` + goodStrokes + `,"Mode":"number"`))
	f.Add(event(`,"session":"\\\"mode\"","strokes":[[{"x":1,"y":1,"X":2,"p":{}}]]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		// Valid events must preprocess without panicking: see
		// recognize.FuzzEventDigits.
		if _, err := DecodeCanvasEvent(data, DecodeOptions{}); err != nil {
			var se *StageError
			if !errors.As(err, &se) {
				t.Fatalf("error without a stage: %v", err)
			}
		}
	})
}

func TestReadEnvelope(t *testing.T) {
	long := strings.Repeat("a", MaxIDLen+1)
	for _, tc := range []struct {
		name, raw string
		want      Envelope
	}{
		{"whole", `{"id":"e1","session":"s","reply_to":"r","strokes":"junk"}`, Envelope{ID: "e1", Session: "s", ReplyTo: "r"}},
		{"truncated", `{"id":"e1","reply_to":"r"`, Envelope{}},
		{"wrong type", `{"id":7,"reply_to":"r"}`, Envelope{}},
		{"too long", `{"id":"` + long + `","reply_to":"r"}`, Envelope{ReplyTo: "r"}},
		{"not an object", `[1,2]`, Envelope{}},
		{"rev", `{"id":"e1","rev":4,"session":"s","reply_to":"r"}`, Envelope{ID: "e1", Rev: 4, Session: "s", ReplyTo: "r"}},
		{"rev of the wrong type", `{"id":"e1","rev":"4","reply_to":"r"}`, Envelope{ID: "e1", ReplyTo: "r"}},
		{"rev out of range", `{"id":"e1","rev":-2,"reply_to":"r"}`, Envelope{ID: "e1", ReplyTo: "r"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ReadEnvelope([]byte(tc.raw)); got != tc.want {
				t.Errorf("ReadEnvelope(%s) = %+v, want %+v", tc.raw, got, tc.want)
			}
		})
	}
}

func TestErrorReply(t *testing.T) {
	at := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	p := NewErrorReply(Envelope{ID: "e1", Rev: 3, Session: "s"}, StagePreprocess, errors.New("empty drawing"), at)
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var back Prediction
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Error != "empty drawing" || back.Stage != StagePreprocess || back.ID != "e1" || back.Rev != 3 || back.Session != "s" || back.Digits != "" || back.V != Version {
		t.Errorf("error reply round trip: %s", b)
	}
	ok, _ := json.Marshal(Prediction{ID: "e2", Digits: "7"})
	if strings.Contains(string(ok), `"error"`) || strings.Contains(string(ok), `"stage"`) {
		t.Errorf("a prediction carries error fields: %s", ok)
	}
}

func FuzzReadEnvelope(f *testing.F) {
	f.Add([]byte(`{"id":"e1","session":"s","reply_to":"r"}`))
	f.Add([]byte(`{"id":"e1","reply_to":`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		e := ReadEnvelope(raw)
		for _, s := range []string{e.ID, e.Session, e.ReplyTo} {
			if len(s) > MaxIDLen || !utf8.ValidString(s) {
				t.Fatalf("envelope field %q escapes the limits", s)
			}
		}
	})
}

// FuzzRepeatedMember checks the byte scanner behind the repeated-member
// check against encoding/json's tokens on every valid JSON object.
func FuzzRepeatedMember(f *testing.F) {
	f.Add([]byte(`{"a":1,"A":2}`))
	f.Add([]byte(`{"a":"\"b\":{","b":[{"a":1}],"c":"\\"}`))
	f.Add([]byte(`{"\u0061":1,"a":{}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var obj map[string]json.RawMessage
		if json.Unmarshal(data, &obj) != nil || obj == nil {
			return
		}
		want := ""
		dec := json.NewDecoder(bytes.NewReader(data))
		_, _ = dec.Token() // {
		var seen []string
		for want == "" && dec.More() {
			tok, err := dec.Token()
			if err != nil {
				t.Fatal(err)
			}
			name := tok.(string)
			for _, s := range seen {
				if strings.EqualFold(s, name) {
					want = name
				}
			}
			seen = append(seen, name)
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				t.Fatal(err)
			}
		}
		if got := repeatedMember(data); got != want {
			t.Fatalf("repeatedMember(%s) = %q, want %q", data, got, want)
		}
	})
}

// TestDecodeRev: an event's rev is read and refused outside 0..MaxRev
// (recognize.TestNewPredictionEchoesRev: its Prediction echoes it).
func TestDecodeRev(t *testing.T) {
	for _, tc := range []struct {
		rev     string
		want    int
		refused bool
	}{
		{"", 0, false},
		{`,"rev":1`, 1, false},
		{`,"rev":17`, 17, false},
		{`,"rev":-1`, 0, true},
		{`,"rev":2147483648`, 0, true},
		{`,"rev":"2"`, 0, true},
		{`,"rev":1.5`, 0, true},
	} {
		ev, err := DecodeCanvasEvent(event(tc.rev+`,"strokes":`+goodStrokes), DecodeOptions{})
		if tc.refused {
			if err == nil {
				t.Errorf("rev %s: accepted", tc.rev)
			}
			continue
		}
		if err != nil || ev.Rev != tc.want {
			t.Errorf("rev %s: %d, %v; want %d", tc.rev, ev.Rev, err, tc.want)
		}
	}
}

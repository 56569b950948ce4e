package frontend

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"hash/crc32"
	"image"
	"image/png"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/stratusml/stratus/drawing"
	"github.com/stratusml/stratus/store"
)

// hostile is a corpus of requests made to hurt: each must be answered
// with a clear 4xx and must not reach the pipeline.
func hostile(t *testing.T) []struct {
	name string
	body []byte
	want int
} {
	deep := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
	manyStrokes := `{"v":1,"mode":"digit","width":280,"height":280,"strokes":[` + strings.TrimSuffix(strings.Repeat(`[{"x":1,"y":1,"t":0}],`, 10000), ",") + `]}`
	longStroke := `{"v":1,"mode":"digit","width":280,"height":280,"strokes":[[` + strings.TrimSuffix(strings.Repeat(`{"x":1,"y":1,"t":0},`, 2001), ",") + `]]}`
	// A PNG that claims 100000×100000 pixels: its header alone must refuse it.
	var bomb bytes.Buffer
	_ = png.Encode(&bomb, image.NewGray(image.Rect(0, 0, 1, 1)))
	b := bomb.Bytes()
	hdr := b[16:24] // IHDR width, height
	copy(hdr, []byte{0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0})
	fixCRC(b[12:29])
	pngEvent := func(data []byte) string {
		return `{"v":1,"mode":"digit","image_png":"` + base64.StdEncoding.EncodeToString(data) + `"}`
	}
	return []struct {
		name string
		body []byte
		want int
	}{
		{"huge body", bytes.Repeat([]byte(" "), maxPredictBody+10), http.StatusRequestEntityTooLarge},
		{"deep nesting", []byte(`{"v":1,"mode":"digit","width":280,"height":280,"strokes":` + deep + `}`), http.StatusBadRequest},
		{"deep nesting elsewhere", []byte(`{"v":1,"x":` + deep + `}`), http.StatusBadRequest},
		{"NaN", []byte(strings.Replace(seven, `"x":60`, `"x":NaN`, 1)), http.StatusBadRequest},
		{"Inf", []byte(strings.Replace(seven, `"x":60`, `"x":1e999`, 1)), http.StatusBadRequest},
		{"zero canvas", []byte(strings.Replace(strings.Replace(seven, `"width":280`, `"width":0`, 1), `"height":280`, `"height":0`, 1)), http.StatusBadRequest},
		{"100000-pixel canvas", []byte(strings.Replace(seven, `"width":280`, `"width":100000`, 1)), http.StatusBadRequest},
		{"negative canvas", []byte(strings.Replace(seven, `"width":280`, `"width":-5`, 1)), http.StatusBadRequest},
		{"point far outside", []byte(strings.Replace(seven, `"x":60`, `"x":1e12`, 1)), http.StatusBadRequest},
		{"10000 strokes", []byte(manyStrokes), http.StatusBadRequest},
		{"2001 points", []byte(longStroke), http.StatusBadRequest},
		{"non-PNG as PNG", []byte(pngEvent([]byte("GIF89a not a png at all"))), http.StatusBadRequest},
		{"PNG bomb header", []byte(pngEvent(b)), http.StatusBadRequest},
		{"PNG over 2 MiB", []byte(pngEvent(bytes.Repeat([]byte{0x89}, 2<<20+10))), http.StatusBadRequest},
		{"bad base64", []byte(`{"v":1,"mode":"digit","image_png":"!!!"}`), http.StatusBadRequest},
		{"invalid UTF-8", []byte("{\"v\":1,\"mode\":\"digit\",\"session\":\"\xff\xfe\",\"width\":280,\"height\":280,\"strokes\":[[{\"x\":1,\"y\":1}]]}"), http.StatusBadRequest},
		{"wrong version", []byte(strings.Replace(seven, `"v":1`, `"v":99`, 1)), http.StatusBadRequest},
		{"long session", []byte(strings.Replace(seven, `"v":1`, `"v":1,"session":"`+strings.Repeat("s", 500)+`"`, 1)), http.StatusBadRequest},
		{"trailing garbage", []byte(seven + `{"v":1}`), http.StatusBadRequest},
		{"empty", nil, http.StatusBadRequest},
		{"null", []byte("null"), http.StatusBadRequest},
		{"array", []byte("[]"), http.StatusBadRequest},
		{"string coordinates", []byte(strings.Replace(seven, `"x":60`, `"x":"60"`, 1)), http.StatusBadRequest},
		{"member twice", []byte(strings.Replace(seven, `"v":1`, `"v":1,"mode":"number"`, 1)), http.StatusBadRequest},
		{"member twice by case", []byte(strings.Replace(seven, `"v":1`, `"v":1,"Width":4096`, 1)), http.StatusBadRequest},
		{"point member twice", []byte(strings.Replace(seven, `"x":60`, `"x":60,"x":61`, 1)), http.StatusBadRequest},
		{"unknown point member", []byte(strings.Replace(seven, `"x":60`, `"x":60,"pressure":{"a":[1,2]}`, 1)), http.StatusBadRequest},
	}
}

// fixCRC rewrites the CRC of a PNG chunk (type + data, then 4 CRC bytes).
func fixCRC(chunk []byte) {
	n := len(chunk) - 4
	c := crc32.ChecksumIEEE(chunk[:n])
	chunk[n], chunk[n+1], chunk[n+2], chunk[n+3] = byte(c>>24), byte(c>>16), byte(c>>8), byte(c)
}

// TestHostileRequests: every request of the corpus gets a 4xx with a
// reason, over HTTP and over the WebSocket, none reaches the pipeline, and a
// well-behaved client working at the same time sees no error.
func TestHostileRequests(t *testing.T) {
	r := newTestRig(t, nil)
	corpus := hostile(t)

	// A well-behaved user keeps drawing meanwhile.
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var good, bad int
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			res, err := http.Post(r.ts.URL+"/api/v1/predict", "application/json", strings.NewReader(strings.Replace(seven, `"v":1`, `"v":1,"session":"nice"`, 1)))
			if err != nil {
				bad++
				continue
			}
			var p struct{ Digits string }
			_ = json.NewDecoder(res.Body).Decode(&p)
			res.Body.Close()
			if res.StatusCode == 200 && p.Digits == "7" {
				good++
			} else {
				bad++
			}
		}
	}()

	for _, tc := range corpus {
		t.Run("http/"+tc.name, func(t *testing.T) {
			code, body, _ := r.post(t, "/api/v1/predict", "application/json", tc.body)
			var e apiError
			if code != tc.want || json.Unmarshal(body, &e) != nil || e.Error == "" {
				t.Fatalf("got %d %.200s, want %d with a reason", code, body, tc.want)
			}
		})
	}
	w, _, err := dialWS(t, r, "")
	if err != nil {
		t.Fatal(err)
	}
	w.c.SetReadLimit(1 << 20)
	for _, tc := range corpus {
		if tc.want == http.StatusRequestEntityTooLarge {
			continue // over the WebSocket's read limit the connection closes (tested below)
		}
		t.Run("ws/"+tc.name, func(t *testing.T) {
			if err := w.c.Write(context.Background(), websocket.MessageText, tc.body); err != nil {
				t.Fatal(err)
			}
			m := w.next()
			if m["type"] != "error" || m["status"] != float64(tc.want) || m["error"] == "" {
				t.Fatalf("got %v, want an error %d", m, tc.want)
			}
		})
	}
	// A message over the limit ends that connection, not the server.
	w2, _, err := dialWS(t, r, "")
	if err != nil {
		t.Fatal(err)
	}
	_ = w2.c.Write(context.Background(), websocket.MessageText, bytes.Repeat([]byte(" "), maxPredictBody+10))
	rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
	_, _, err = w2.c.Read(rctx)
	rcancel()
	if websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
		t.Errorf("an oversized WebSocket message: %v, want close 1009", err)
	}

	time.Sleep(200 * time.Millisecond)
	cancel()
	wg.Wait()
	if bad != 0 || good == 0 {
		t.Errorf("the well-behaved client got %d answers and %d errors during the attack", good, bad)
	}
	r.lp.mu.Lock()
	for _, ev := range r.lp.sent {
		if ev.Session != "nice" {
			t.Errorf("a hostile request reached the pipeline: %+v", ev.Session)
		}
	}
	r.lp.mu.Unlock()
}

// FuzzDecodeEvent fuzzes the frontend's reading of a client's event (the
// POST body and every WebSocket message): it must never panic, and what it
// accepts must be within the limits and re-encode.
func FuzzDecodeEvent(f *testing.F) {
	f.Add([]byte(seven))
	f.Add([]byte(`{"v":1,"mode":"number","width":280,"height":280,"strokes":[[{"x":10,"y":10},{"x":20,"y":200}],[{"x":100,"y":10},{"x":120,"y":200}]]}`))
	f.Add([]byte(`{"v":1,"id":"mine","mode":"digit","width":280,"height":280,"strokes":[[{"x":1,"y":1}]]}`))
	f.Add([]byte(`{"v":1,"mode":"digit","image_png":"iVBORw0KGgo="}`))
	f.Add([]byte(`{"v":1,"strokes":[[[[[]]]]]}`))
	f.Add([]byte(strings.Replace(seven, `"v":1`, `"v":1,"MODE":"number"`, 1)))
	f.Add([]byte(strings.Replace(seven, `"x":60`, `"x":60,"X":1,"p":0.5`, 1)))
	f.Fuzz(func(t *testing.T, body []byte) {
		owned := func(id string) bool { return id == "mine" }
		ev, perr := decodeEvent(body, owned)
		if perr != nil {
			if perr.status < 400 || perr.status > 499 || perr.body.Error == "" {
				t.Fatalf("refusal without a 4xx and a reason: %+v", perr)
			}
			return
		}
		if ev.ReplyTo != "" || (ev.ID != "" && ev.ID != "mine") {
			t.Fatalf("accepted an envelope the server owns: %+v", ev)
		}
		if len(ev.Strokes) > 200 || ev.Width > 4096 || ev.Height > 4096 {
			t.Fatalf("accepted an event beyond the limits: %d strokes, %d×%d", len(ev.Strokes), ev.Width, ev.Height)
		}
		if _, err := json.Marshal(ev); err != nil {
			t.Fatalf("accepted an event that does not encode: %v", err)
		}
	})
}

// FuzzLabelBody fuzzes the label endpoint's body.
func FuzzLabelBody(f *testing.F) {
	for _, s := range []string{`{"label":"7"}`, `{"label":"123456"}`, `{"label":""}`, `{"label":7}`, `{"label":"7","x":1}`, `{}`, `[`, "\xff"} {
		f.Add([]byte(s))
	}
	r := newFuzzRig(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		res, err := http.Post(r.ts.URL+"/api/v1/samples/01JFUZZ0000000000000000000/label", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		switch res.StatusCode {
		case http.StatusOK, http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("label body %q: status %d", body, res.StatusCode)
		}
	})
}

// newFuzzRig is newTestRig for a fuzz target, with one sample to label.
func newFuzzRig(f *testing.F) *testRig {
	f.Helper()
	r := newTestRig(f, nil)
	if err := r.st.UpsertSamples(context.Background(), []store.Sample{{ID: "01JFUZZ0000000000000000000", Mode: drawing.ModeDigit}}); err != nil {
		f.Fatal(err)
	}
	return r
}

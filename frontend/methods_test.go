package frontend

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// do sends method path with an empty JSON body and returns the status,
// the Allow header and the error answer.
func do(t *testing.T, r *testRig, method, path string) (int, string, apiError) {
	t.Helper()
	req, err := http.NewRequest(method, r.ts.URL+path, strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var e apiError
	if method != http.MethodHead {
		if err := json.Unmarshal(b, &e); err != nil {
			t.Fatalf("%s %s: %d with a body that is not a JSON error: %q", method, path, res.StatusCode, b)
		}
	}
	return res.StatusCode, res.Header.Get("Allow"), e
}

// TestWrongMethod: a route asked with a method it does not take answers
// 405 with Allow listing the ones it does and a JSON reason; a path no
// route has stays a 404, without Allow.
func TestWrongMethod(t *testing.T) {
	r := newTestRig(t, nil)
	for _, tc := range []struct {
		method, path string
		want         int
		allow        string
	}{
		{"DELETE", "/api/v1/predict", 405, "POST"},
		{"GET", "/api/v1/predict", 405, "POST"},
		{"PUT", "/api/v1/predict", 405, "POST"},
		{"POST", "/api/v1/stats", 405, "GET, HEAD"},
		{"DELETE", "/api/v1/samples", 405, "GET, HEAD"},
		{"GET", "/api/v1/samples/01JD0000000000000000000000/label", 405, "POST"},
		{"PATCH", "/api/v1/samples/X/label", 405, "POST"},
		{"POST", "/api/v1/ws", 405, "GET, HEAD"},
		{"POST", "/healthz", 405, "GET, HEAD"},
		{"POST", "/readyz", 405, "GET, HEAD"},
		{"POST", "/metrics", 405, "GET, HEAD"},
		{"POST", "/", 405, "GET, HEAD"},
		{"POST", "/static/app.js", 405, "GET, HEAD"},
		{"OPTIONS", "/api/v1/predict", 405, "POST"},
		{"HEAD", "/api/v1/predict", 405, "POST"},
		{"GET", "/api/v1/nothing", 404, ""},
		{"DELETE", "/nope", 404, ""},
		{"GET", "/api/v1/samples/X/other", 404, ""},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			code, allow, e := do(t, r, tc.method, tc.path)
			if code != tc.want || allow != tc.allow {
				t.Fatalf("got %d Allow %q, want %d Allow %q", code, allow, tc.want, tc.allow)
			}
			if tc.method != http.MethodHead && e.Error == "" {
				t.Errorf("no reason given")
			}
			if tc.want == 405 && tc.method != http.MethodHead && !strings.Contains(e.Error, tc.method) {
				t.Errorf("the reason %q does not name the method", e.Error)
			}
		})
	}
}

// TestBadStaticPath: an asset path that is not valid UTF-8 once unescaped,
// or holds a control character, is the client's mistake (400 with a
// reason), never a 500; a well-formed path to nothing stays a 404.
func TestBadStaticPath(t *testing.T) {
	r := newTestRig(t, nil)
	for _, tc := range []struct {
		path string
		want int
	}{
		{"/static/%ff", 400},
		{"/static/%c0%ae", 400},
		{"/static/app.js%ff", 400},
		{"/static/%ed%a0%80", 400}, // a UTF-16 surrogate
		{"/static/%00", 400},
		{"/static/app.js%00", 400},
		{"/static/x%0a", 400},
		{"/static/%7f", 400},
		{"/static/app.js", 200},
		{"/static/%61pp.js", 200},
		{"/static/nope.js", 404},
		{"/static/%e2%9c%93.js", 404},
	} {
		t.Run(tc.path, func(t *testing.T) {
			res, err := http.Get(r.ts.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tc.want {
				t.Fatalf("got %d %q, want %d", res.StatusCode, b, tc.want)
			}
			if tc.want == 400 {
				var e apiError
				if json.Unmarshal(b, &e) != nil || !strings.Contains(e.Error, "bad path") {
					t.Errorf("a 400 without a reason: %q", b)
				}
			}
		})
	}
}

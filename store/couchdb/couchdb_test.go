package couchdb

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	kivik "github.com/go-kivik/kivik/v4"

	"github.com/stratusml/stratus/store"
)

func kivikStatus(err error) int { return kivik.HTTPStatus(err) }

func TestRetryable(t *testing.T) {
	for _, tc := range []struct {
		err     error
		attempt int
		want    bool
	}{
		{nil, 1, false},
		{&statusError{status: 500}, 1, true},
		{&statusError{status: 502}, 3, true},
		{&statusError{status: 503}, 1, true},
		{&statusError{status: 429}, 1, true},
		{&statusError{status: 408}, 1, true},
		{&statusError{status: 401}, 1, true},
		{&statusError{status: 401}, 2, false},
		{&statusError{status: 400}, 1, false},
		{&statusError{status: 404}, 1, false},
		{&statusError{status: 409}, 1, false},
		{permanent{&statusError{status: 503}}, 1, false},
		{fmt.Errorf("x: %w", context.Canceled), 1, false},
	} {
		if got := Retryable(tc.err, tc.attempt); got != tc.want {
			t.Errorf("Retryable(%v, %d) = %v, want %v", tc.err, tc.attempt, got, tc.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	r := Retry{Attempts: 10, Initial: 10 * time.Millisecond, Max: 100 * time.Millisecond}
	for attempt, base := range map[int]time.Duration{1: 10, 2: 20, 3: 40, 4: 80, 5: 100, 9: 100} {
		base *= time.Millisecond
		for range 50 {
			d := Backoff(r, attempt)
			if d < base/2 || d > base+base/2 {
				t.Fatalf("Backoff(%d) = %v, want within ±50%% of %v", attempt, d, base)
			}
		}
	}
}

func TestOpenRedactsURL(t *testing.T) {
	_, err := Open(context.Background(), Config{URL: "http://u:pa ss@host:5984/%zz"})
	if err == nil || strings.Contains(err.Error(), "pa ss") || !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("Open of a bad URL: %v", err)
	}
	_, err = Open(context.Background(), Config{URL: "http://127.0.0.1:1", Prefix: "Bad"})
	if !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("Open with a bad prefix: %v", err)
	}
	s, err := Open(context.Background(), Config{URL: "http://u:topsecret@127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(s.String(), "topsecret") {
		t.Errorf("String() = %s", s)
	}
	e := s.wrap("op", errors.New("failed at http://u:topsecret@127.0.0.1:1/x"))
	if strings.Contains(e.Error(), "topsecret") {
		t.Errorf("wrap kept the password: %v", e)
	}
}

// TestRetriesServerErrors checks the backoff loop against a server that
// fails twice with 503 before answering.
func TestRetriesServerErrors(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if calls.Add(1) <= 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"error":"unavailable","reason":"try again"}`)
			return
		}
		fmt.Fprint(w, `{"db_name":"samples","doc_count":5,"doc_del_count":0,"update_seq":"1"}`)
	}))
	defer srv.Close()
	s, err := Open(context.Background(), Config{URL: srv.URL, Retry: Retry{Attempts: 3, Initial: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	err = s.retry(context.Background(), "stats", func(ctx context.Context) error {
		st, err := s.samples.Stats(ctx)
		if err == nil {
			total = st.DocCount
		}
		return err
	})
	if err != nil || total != 5 || calls.Load() != 3 {
		t.Fatalf("after %d calls: %d, %v", calls.Load(), total, err)
	}
	calls.Store(-10) // now it fails more often than the attempts allow
	err = s.retry(context.Background(), "stats", func(ctx context.Context) error {
		_, err := s.samples.Stats(ctx)
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "after 3 attempts") {
		t.Fatalf("giving up: %v", err)
	}
}

// TestAuthFailureNotRetried: a wrong password (401 on every try) is
// retried once (for an expired session), not Retry.Attempts times.
func TestAuthFailureNotRetried(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error":"unauthorized","reason":"Name or password is incorrect."}`)
	}))
	defer srv.Close()
	s, err := Open(context.Background(), Config{URL: strings.Replace(srv.URL, "://", "://admin:wrong-pw@", 1), Retry: Retry{Attempts: 6, Initial: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.GetSample(context.Background(), "x")
	if err == nil || kivikStatus(err) != http.StatusUnauthorized || strings.Contains(err.Error(), "wrong-pw") {
		t.Fatalf("GetSample with a wrong password: %v", err)
	}
	if n := calls.Load(); n > 4 {
		t.Errorf("%d requests for a wrong password, want at most 2 attempts", n)
	}
}

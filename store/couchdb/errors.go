package couchdb

// This file: errors and retries: which failures a caller may retry, with what back-off, and how errors are worded without credentials.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	kivik "github.com/go-kivik/kivik/v4"

	"github.com/stratusml/stratus/store"
)

// statusError is an error of this package with an HTTP status for
// kivik.HTTPStatus.
type statusError struct {
	status int
	msg    string
}

func (e *statusError) Error() string   { return e.msg }
func (e *statusError) HTTPStatus() int { return e.status }

// permanent marks an error that no retry can fix.
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// redactedError hides the password in the message of an error while
// keeping it for errors.Is / errors.As.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// wrap names the operation and maps statuses to the store's errors.
func (s *Store) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var p permanent
	if errors.As(err, &p) {
		err = p.err
	}
	switch kivik.HTTPStatus(err) {
	case http.StatusNotFound:
		err = fmt.Errorf("couchdb: %s: %w: %w", op, store.ErrNotFound, err)
	case http.StatusConflict:
		err = fmt.Errorf("couchdb: %s: %w: %w", op, store.ErrConflict, err)
	case http.StatusBadRequest:
		err = fmt.Errorf("couchdb: %s: %w: %w", op, store.ErrInvalid, err)
	default:
		err = fmt.Errorf("couchdb: %s: %w", op, err)
	}
	if s.secret != "" && strings.Contains(err.Error(), s.secret) {
		return &redactedError{msg: strings.ReplaceAll(err.Error(), s.secret, "xxxxx"), err: err}
	}
	return err
}

// Retryable reports whether a request that failed with err may succeed
// when sent again: server errors (5xx), 408, 429, connection errors
// (which kivik reports as 502), and a first 401 (an expired session cookie
// is dropped by kivik and renewed on the next request).
func Retryable(err error, attempt int) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var p permanent
	if errors.As(err, &p) {
		return false
	}
	switch st := kivik.HTTPStatus(err); {
	case st >= 500:
		return true
	case st == http.StatusRequestTimeout, st == http.StatusTooManyRequests:
		return true
	case st == http.StatusUnauthorized:
		return attempt == 1
	}
	return false
}

// Backoff is the wait before retry attempt+1 (attempt ≥ 1): exponential
// from r.Initial, capped at r.Max, with ±50% jitter.
func Backoff(r Retry, attempt int) time.Duration {
	d := r.Initial
	for i := 1; i < attempt && d < r.Max; i++ {
		d *= 2
	}
	d = min(d, r.Max)
	return d/2 + time.Duration(rand.Int64N(int64(d)+1))
}

// retry runs f until it succeeds, fails for good, or the attempts or ctx
// run out; each attempt has its own RequestTimeout.
func (s *Store) retry(ctx context.Context, op string, f func(ctx context.Context) error) error {
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
		err := f(actx)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return s.wrap(op, fmt.Errorf("%w (last error: %w)", ctx.Err(), err))
		}
		if attempt >= s.cfg.Retry.Attempts || !Retryable(err, attempt) {
			if attempt > 1 {
				err = fmt.Errorf("after %d attempts: %w", attempt, err)
			}
			return s.wrap(op, err)
		}
		if err := sleep(ctx, Backoff(s.cfg.Retry, attempt)); err != nil {
			return s.wrap(op, err)
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Package couchdb is the CouchDB backend of store: Apache CouchDB 3 (or a
// server speaking its protocol) through kivik's couchdb driver.
//
// Importing it registers the URL schemes http and https with store.Open:
//
//	st, err := store.Open(ctx, os.Getenv("STRATUS_COUCHDB"), store.Options{})
//
// Credentials go in the URL (http://user:pass@host:5984); kivik then uses
// cookie authentication. They never appear in an error of this package.
//
// Layout: databases PREFIXsamples and PREFIXmodels; Mango indexes in the
// design documents _design/stratus-created_at, _design/stratus-created_at_id
// (created_at, then _id: see list.go) and _design/stratus-label.
// Writes go through _bulk_docs in batches (Config.BatchSize); every request
// is retried with exponential backoff on 5xx, 408, 429 and connection
// errors (Config.Retry), and write conflicts are resolved by re-reading,
// merging (store.Merge) and writing again.
package couchdb

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	kivik "github.com/go-kivik/kivik/v4"
	"github.com/go-kivik/kivik/v4/couchdb"

	"github.com/stratusml/stratus/store"
)

func init() {
	open := func(ctx context.Context, rawURL string, opt store.Options) (store.Store, error) {
		return Open(ctx, Config{URL: rawURL, Prefix: opt.Prefix})
	}
	store.Register("http", open)
	store.Register("https", open)
}

// Names of the Mango index design documents and indexes.
const (
	// IndexCreatedAt orders samples by created_at (ties by _id, in byte
	// order): ListSamples reads its pages through it.
	IndexCreatedAt = "created_at"
	// IndexCreatedAtID orders samples by created_at, then _id (in the
	// server's collation): ListSamples reads a group of ties through it.
	IndexCreatedAtID = "created_at_id"
	IndexLabel       = "label"
	ddocPrefix       = "stratus-"
)

// mangoIndex is a Mango index EnsureSchema creates, in the design document
// ddocPrefix+name.
type mangoIndex struct {
	name   string
	fields []string
}

var (
	byCreatedAt   = mangoIndex{IndexCreatedAt, []string{"created_at"}}
	byCreatedAtID = mangoIndex{IndexCreatedAtID, []string{"created_at", "_id"}}
	indexes       = []mangoIndex{byCreatedAt, byCreatedAtID, {IndexLabel, []string{"label"}}}
)

// Retry bounds the retries of one request.
type Retry struct {
	// Attempts in all, the first included (default 6).
	Attempts int
	// Initial is the first wait (default 50 ms); each next wait doubles, up
	// to Max (default 2 s), with jitter.
	Initial, Max time.Duration
}

// Config configures a Store.
type Config struct {
	// URL of the server, credentials included:
	// http://user:pass@host:5984 (a path prefix is kept).
	URL string
	// Prefix goes in front of the database names (store.Options.Prefix).
	Prefix string
	// BatchSize is the number of documents per _bulk_docs request
	// (default 100).
	BatchSize int
	// Concurrency is how many batches one UpsertSamples call writes at
	// once (default 2).
	Concurrency int
	// PageSize is the number of documents per page of ScanSamples
	// (default 200).
	PageSize int
	// Retry bounds the retries of each request.
	Retry Retry
	// ConflictRounds bounds the read-merge-write rounds of one document
	// before it fails with store.ErrConflict (default 10).
	ConflictRounds int
	// RequestTimeout bounds one attempt of one request (default 60 s).
	RequestTimeout time.Duration
	// HTTPClient, when set, is copied for the connection (its Transport is
	// used); the default keeps up to 32 idle connections to the server.
	HTTPClient *http.Client
}

// withDefaults returns c with its unset fields filled in.
func (c Config) withDefaults() Config {
	if c.BatchSize <= 0 {
		c.BatchSize = 100
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 2
	}
	if c.PageSize <= 0 {
		c.PageSize = 200
	}
	if c.Retry.Attempts <= 0 {
		c.Retry.Attempts = 6
	}
	if c.Retry.Initial <= 0 {
		c.Retry.Initial = 50 * time.Millisecond
	}
	if c.Retry.Max <= 0 {
		c.Retry.Max = 2 * time.Second
	}
	if c.ConflictRounds <= 0 {
		c.ConflictRounds = 10
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 60 * time.Second
	}
	return c
}

// Store is the CouchDB backend of store.Store.
type Store struct {
	cfg      Config
	client   *kivik.Client
	samples  *kivik.DB
	secret   string // the URL's password, kept out of errors
	redacted string // the URL without it
	// readFirst: recent batches met mostly existing documents, so read
	// before writing (see upsertBatch).
	readFirst atomic.Bool
}

var _ store.Store = (*Store)(nil)

// Open connects to the server at cfg.URL; it makes no request (see
// EnsureSchema and Ping).
func Open(_ context.Context, cfg Config) (*Store, error) {
	cfg = cfg.withDefaults()
	if err := store.ValidatePrefix(cfg.Prefix); err != nil {
		return nil, err
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// The parse error quotes the URL, password and all: leave it out.
		return nil, fmt.Errorf("couchdb: %w: URL %s: want http(s)://[user:pass@]host:port", store.ErrInvalid, store.RedactURL(cfg.URL))
	}
	s := &Store{cfg: cfg, redacted: store.RedactURL(cfg.URL)}
	if u.User != nil {
		s.secret, _ = u.User.Password()
	}
	tr, err := defaultTransport()
	if err != nil {
		return nil, err
	}
	hc := &http.Client{Transport: tr}
	if cfg.HTTPClient != nil {
		c := *cfg.HTTPClient
		hc = &c
	}
	client, err := kivik.New("couch", cfg.URL, couchdb.OptionNoRequestCompression(), couchdb.OptionHTTPClient(hc),
		couchdb.OptionUserAgent("stratus"))
	if err != nil {
		return nil, s.wrap("connect to "+s.redacted, err)
	}
	s.client = client
	s.samples = client.DB(cfg.Prefix + store.SamplesDB)
	return s, nil
}

// EnvCA names the environment variable with a PEM file of CAs to trust for
// an https:// CouchDB besides the system's (a self-signed or private CA).
// It is read where the store is opened, so pipeline workers honour it too.
const EnvCA = "STRATUS_COUCHDB_CA"

func defaultTransport() (http.RoundTripper, error) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 64
	t.MaxIdleConnsPerHost = 32
	if ca := os.Getenv(EnvCA); ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, fmt.Errorf("couchdb: $%s: %w", EnvCA, err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("couchdb: $%s: %s holds no PEM certificate", EnvCA, ca)
		}
		t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return t, nil
}

// String names the server without credentials.
func (s *Store) String() string { return "couchdb " + s.redacted + " prefix " + s.cfg.Prefix }

// Client is the kivik client (for the models database and other uses).
func (s *Store) Client() *kivik.Client { return s.client }

// SamplesDB names the samples database.
func (s *Store) SamplesDB() string { return s.cfg.Prefix + store.SamplesDB }

// ModelsDB names the models database.
func (s *Store) ModelsDB() string { return s.cfg.Prefix + store.ModelsDB }

// Close implements store.Store.
func (s *Store) Close() error { return s.client.Close() }

// Ping reports whether the server answers (GET /_up), with retries.
func (s *Store) Ping(ctx context.Context) error {
	return s.retry(ctx, "ping "+s.redacted, func(ctx context.Context) error {
		ok, err := s.client.Ping(ctx)
		if err == nil && !ok {
			err = &statusError{status: http.StatusServiceUnavailable, msg: "server is not up"}
		}
		return err
	})
}

// ---- errors and retries ------------------------------------------------

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

// ---- schema -------------------------------------------------------------

// EnsureSchema implements store.Store.
func (s *Store) EnsureSchema(ctx context.Context) error {
	for _, name := range []string{s.SamplesDB(), s.ModelsDB()} {
		err := s.retry(ctx, "create database "+name, func(ctx context.Context) error {
			err := s.client.CreateDB(ctx, name)
			if kivik.HTTPStatus(err) == http.StatusPreconditionFailed { // exists
				return nil
			}
			return err
		})
		if err != nil {
			return err
		}
	}
	for _, idx := range indexes {
		index := map[string]any{"fields": idx.fields}
		err := s.retry(ctx, "create index "+idx.name, func(ctx context.Context) error {
			return s.samples.CreateIndex(ctx, ddocPrefix+idx.name, idx.name, index)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// ---- reads ----------------------------------------------------------------

// stored is a document as read: its rev, its raw fields and its sample.
type stored struct {
	rev    string
	raw    map[string]json.RawMessage
	sample store.Sample
}

func decodeStored(doc json.RawMessage) (*stored, error) {
	st := &stored{}
	if err := json.Unmarshal(doc, &st.raw); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(st.raw["_rev"], &st.rev); err != nil {
		return nil, fmt.Errorf("document without _rev: %w", err)
	}
	smp, err := store.UnmarshalDocument(doc)
	if err != nil {
		return nil, err
	}
	st.sample = smp
	return st, nil
}

// fetch reads the documents of ids that exist (deleted ones do not), and
// says which stored documents it could not read as samples.
func (s *Store) fetch(ctx context.Context, ids []string) (map[string]*stored, map[string]error, error) {
	var docs map[string]json.RawMessage
	err := s.retry(ctx, "read "+s.SamplesDB(), func(ctx context.Context) error {
		docs = make(map[string]json.RawMessage, len(ids))
		rs := s.samples.AllDocs(ctx, kivik.Params(map[string]any{"keys": ids, "include_docs": true}))
		defer rs.Close()
		for rs.Next() {
			var v struct {
				Rev     string `json:"rev"`
				Deleted bool   `json:"deleted"`
			}
			if err := rs.ScanValue(&v); err != nil {
				return err
			}
			if v.Rev == "" || v.Deleted { // not_found rows have no value
				continue
			}
			id, err := rs.ID()
			if err != nil {
				return err
			}
			var doc json.RawMessage
			if err := rs.ScanDoc(&doc); err != nil {
				return err
			}
			if len(doc) > 0 && string(doc) != "null" {
				docs[id] = doc
			}
		}
		return rs.Err()
	})
	if err != nil {
		return nil, nil, err
	}
	out := make(map[string]*stored, len(docs))
	var bad map[string]error
	for id, doc := range docs {
		st, err := decodeStored(doc)
		if err != nil {
			if bad == nil {
				bad = map[string]error{}
			}
			bad[id] = s.wrap("read stored "+id, fmt.Errorf("%w: %w", store.ErrInvalid, err))
			continue
		}
		out[id] = st
	}
	return out, bad, nil
}

// GetSample implements store.Store.
func (s *Store) GetSample(ctx context.Context, id string) (store.Sample, error) {
	st, err := s.get(ctx, id)
	if err != nil {
		return store.Sample{}, err
	}
	return st.sample, nil
}

func (s *Store) get(ctx context.Context, id string) (*stored, error) {
	if err := store.ValidateID(id); err != nil {
		return nil, err
	}
	var doc json.RawMessage
	err := s.retry(ctx, "get sample "+id, func(ctx context.Context) error {
		return s.samples.Get(ctx, id).ScanDoc(&doc)
	})
	if err != nil {
		return nil, err
	}
	st, err := decodeStored(doc)
	if err != nil {
		return nil, s.wrap("get sample "+id, permanent{err})
	}
	return st, nil
}

// ScanSamples implements store.Store with _all_docs pages of
// Config.PageSize documents. Each page asks for one row more than it
// returns and the next page starts at that row's id, so a document deleted
// between pages cannot make the scan skip its successor (as skip=1 would).
func (s *Store) ScanSamples(ctx context.Context, start, end string, fn func(store.Sample) error) error {
	next := start
	for {
		docs, more, err := s.page(ctx, next, end)
		if err != nil {
			return err
		}
		for _, doc := range docs {
			smp, err := store.UnmarshalDocument(doc)
			if err != nil {
				return s.wrap("scan", err)
			}
			if err := fn(smp); err != nil {
				if errors.Is(err, store.ErrStopScan) {
					return nil
				}
				return err
			}
		}
		if more == "" {
			return nil
		}
		next = more
	}
}

// page reads up to PageSize documents with ids in [start, end) (design
// documents left out) and the id where the next page starts ("" at the
// end).
func (s *Store) page(ctx context.Context, start, end string) (docs []json.RawMessage, more string, err error) {
	params := map[string]any{"include_docs": true, "limit": s.cfg.PageSize + 1}
	if start != "" {
		params["startkey"] = start
	}
	if end != "" {
		params["endkey"] = end
		params["inclusive_end"] = false
	}
	err = s.retry(ctx, "scan "+s.SamplesDB(), func(ctx context.Context) error {
		docs, more = docs[:0], ""
		rs := s.samples.AllDocs(ctx, kivik.Params(params))
		defer rs.Close()
		n := 0
		for rs.Next() {
			id, err := rs.ID()
			if err != nil {
				return err
			}
			if n++; n > s.cfg.PageSize {
				more = id
				break
			}
			if strings.HasPrefix(id, "_") {
				continue
			}
			var doc json.RawMessage
			if err := rs.ScanDoc(&doc); err != nil {
				return err
			}
			docs = append(docs, doc)
		}
		return rs.Err()
	})
	return docs, more, err
}

// IDRange implements store.Store with two one-row _all_docs reads.
func (s *Store) IDRange(ctx context.Context, start, end string) (string, string, error) {
	first, err := s.edgeID(ctx, start, end, false)
	if err != nil {
		return "", "", err
	}
	last, err := s.edgeID(ctx, start, end, true)
	if err != nil {
		return "", "", err
	}
	return first, last, nil
}

// edgeID returns the first (or last) sample id in [start, end).
func (s *Store) edgeID(ctx context.Context, start, end string, last bool) (string, error) {
	const n = 8
	params := map[string]any{"limit": n}
	if last {
		params["descending"] = true
		if end != "" {
			params["startkey"] = end // inclusive: end itself is skipped below
		}
		if start != "" {
			params["endkey"] = start
		}
	} else {
		if start != "" {
			params["startkey"] = start
		}
		if end != "" {
			params["endkey"], params["inclusive_end"] = end, false
		}
	}
	after := "" // the row a next page starts with, already seen
	for {
		var ids []string
		err := s.retry(ctx, "id range of "+s.SamplesDB(), func(ctx context.Context) error {
			ids = ids[:0]
			rs := s.samples.AllDocs(ctx, kivik.Params(params))
			defer rs.Close()
			for rs.Next() {
				id, err := rs.ID()
				if err != nil {
					return err
				}
				ids = append(ids, id)
			}
			return rs.Err()
		})
		if err != nil {
			return "", err
		}
		for _, id := range ids {
			if (after != "" && id == after) || strings.HasPrefix(id, "_") || (last && end != "" && id >= end) {
				continue
			}
			return id, nil
		}
		if len(ids) < n {
			return "", s.wrap(fmt.Sprintf("id range [%q, %q)", start, end), &statusError{status: http.StatusNotFound, msg: "no sample in range"})
		}
		after = ids[len(ids)-1]
		params["startkey"] = after
	}
}

// Count implements store.Store: the database's doc_count less its design
// documents.
func (s *Store) Count(ctx context.Context) (int, error) {
	var total int64
	err := s.retry(ctx, "count "+s.SamplesDB(), func(ctx context.Context) error {
		st, err := s.samples.Stats(ctx)
		if err != nil {
			return err
		}
		total = st.DocCount
		return nil
	})
	if err != nil {
		return 0, err
	}
	var design int64
	err = s.retry(ctx, "count design documents", func(ctx context.Context) error {
		design = 0
		rs := s.samples.AllDocs(ctx, kivik.Params(map[string]any{
			"startkey": "_design/", "endkey": "_design0", "inclusive_end": false,
		}))
		defer rs.Close()
		for rs.Next() {
			design++
		}
		return rs.Err()
	})
	if err != nil {
		return 0, err
	}
	return int(total - design), nil
}

// ---- writes ---------------------------------------------------------------

// SetLabel implements store.Store: read, set, write with the read rev;
// a conflict re-reads.
func (s *Store) SetLabel(ctx context.Context, id, label string, at time.Time) error {
	if err := store.ValidateLabel(label); err != nil {
		return err
	}
	for round := 1; ; round++ {
		st, err := s.get(ctx, id)
		if err != nil {
			return err
		}
		smp := st.sample
		smp.Label, smp.LabelledAt = label, at
		store.Normalize(&smp, time.Now())
		body, err := encode(st, &smp)
		if err != nil {
			return s.wrap("label "+id, err)
		}
		err = s.retry(ctx, "label "+id, func(ctx context.Context) error {
			_, err := s.samples.Put(ctx, id, json.RawMessage(body))
			return err
		})
		if err == nil {
			return nil
		}
		if !errors.Is(err, store.ErrConflict) || round >= s.cfg.ConflictRounds {
			return err
		}
		if err := sleep(ctx, conflictWait(round)); err != nil {
			return s.wrap("label "+id, err)
		}
	}
}

// conflictWait spreads competing writers apart before a new round.
func conflictWait(round int) time.Duration {
	d := time.Duration(min(1<<min(round, 8), 200)) * time.Millisecond
	return time.Duration(rand.Int64N(int64(d) + 1))
}

// encode writes smp over the stored document st (nil: a new one): the
// document's own fields from smp, any other field of st as it was, and
// st's _rev.
func encode(st *stored, smp *store.Sample) ([]byte, error) {
	body, err := store.MarshalDocument(smp)
	if err != nil || st == nil {
		return body, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return nil, err
	}
	out := maps.Clone(st.raw)
	for _, k := range store.DocumentFields {
		delete(out, k)
	}
	maps.Copy(out, fields)
	rev, _ := json.Marshal(st.rev)
	out["_rev"] = rev
	return json.Marshal(out)
}

// UpsertSamples implements store.Store: samples are checked (store.Validate),
// those with the same id merged in order, and written in batches of
// Config.BatchSize, Config.Concurrency batches at a time.
func (s *Store) UpsertSamples(ctx context.Context, samples []store.Sample) error {
	var failed []store.ItemError
	var unique []store.Sample
	index := map[string]int{}
	for i := range samples {
		smp := samples[i]
		if err := store.Validate(&smp); err != nil {
			failed = append(failed, store.ItemError{ID: smp.ID, Err: err})
			continue
		}
		if j, dup := index[smp.ID]; dup {
			unique[j] = store.Merge(unique[j], smp)
			continue
		}
		index[smp.ID] = len(unique)
		unique = append(unique, smp)
	}
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		sem  = make(chan struct{}, s.cfg.Concurrency)
		errs = failed
	)
	for lo := 0; lo < len(unique); lo += s.cfg.BatchSize {
		batch := unique[lo:min(lo+s.cfg.BatchSize, len(unique))]
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if f := s.upsertBatch(ctx, batch); len(f) > 0 {
				mu.Lock()
				errs = append(errs, f...)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		return &store.UpsertError{Items: errs}
	}
	return nil
}

// upsertBatch writes one batch of samples with unique ids and returns those
// it could not write.
//
// Each round reads the stored documents of the pending samples, merges,
// and writes the changed ones with their revs; the ones that lost a race
// (409) go to the next round. When most recent writes were of new
// documents, the first round skips the read and writes the samples as new
// documents: a write that meets an existing document conflicts, and the
// next round reads and merges it. That saves a request per batch in the
// common case (the streaming pipeline writes new samples); when most
// writes meet existing documents (re-scoring, replays), the Store switches
// back to reading first.
func (s *Store) upsertBatch(ctx context.Context, batch []store.Sample) []store.ItemError {
	var failed []store.ItemError
	failAll := func(pending []store.Sample, err error) []store.ItemError {
		for _, p := range pending {
			failed = append(failed, store.ItemError{ID: p.ID, Err: err})
		}
		return failed
	}
	pending := batch
	for round := 1; ; round++ {
		optimistic := round == 1 && !s.readFirst.Load()
		existing := map[string]*stored{}
		var unreadable map[string]error
		if !optimistic {
			ids := make([]string, len(pending))
			for i := range pending {
				ids[i] = pending[i].ID
			}
			var err error
			if existing, unreadable, err = s.fetch(ctx, ids); err != nil {
				return failAll(pending, err)
			}
			if round == 1 {
				s.readFirst.Store(2*(len(existing)+len(unreadable)) >= len(pending))
			}
		}
		now := time.Now()
		docs := make([]any, 0, len(pending))
		byID := make(map[string]store.Sample, len(pending))
		for _, p := range pending {
			if err := unreadable[p.ID]; err != nil {
				failed = append(failed, store.ItemError{ID: p.ID, Err: err})
				continue
			}
			st := existing[p.ID]
			var old store.Sample
			if st != nil {
				old = st.sample
			}
			m := store.Merge(old, p)
			store.Normalize(&m, now)
			if st != nil && sameDocument(&old, &m) {
				continue // a replay: nothing new, no new revision
			}
			body, err := encode(st, &m)
			if err != nil {
				failed = append(failed, store.ItemError{ID: p.ID, Err: s.wrap("encode "+p.ID, err)})
				continue
			}
			docs = append(docs, json.RawMessage(body))
			byID[p.ID] = p
		}
		if len(docs) == 0 {
			return failed
		}
		var results []kivik.BulkResult
		err := s.retry(ctx, "bulk write to "+s.SamplesDB(), func(ctx context.Context) error {
			var err error
			results, err = s.samples.BulkDocs(ctx, docs)
			return err
		})
		if err != nil {
			// Some may have been written before the error: the caller's
			// retry merges them as replays.
			rest := make([]store.Sample, 0, len(byID))
			for _, p := range byID {
				rest = append(rest, p)
			}
			return failAll(rest, err)
		}
		var conflicts []store.Sample
		for _, r := range results {
			p, ok := byID[r.ID]
			if !ok {
				continue
			}
			delete(byID, r.ID)
			switch {
			case r.Error == nil:
			case kivik.HTTPStatus(r.Error) == http.StatusConflict:
				conflicts = append(conflicts, p)
			default:
				failed = append(failed, store.ItemError{ID: r.ID, Err: s.wrap("write "+r.ID, r.Error)})
			}
		}
		for id := range byID { // no result for it: should not happen
			failed = append(failed, store.ItemError{ID: id, Err: s.wrap("write "+id, errors.New("no result from _bulk_docs"))})
		}
		if optimistic && 2*len(conflicts) > len(docs) {
			s.readFirst.Store(true)
		}
		if len(conflicts) == 0 {
			return failed
		}
		if round >= s.cfg.ConflictRounds {
			return failAll(conflicts, s.wrap("write", fmt.Errorf("%w: still conflicting after %d rounds", store.ErrConflict, round)))
		}
		if !optimistic { // lost a race with another writer: step aside a little
			if err := sleep(ctx, conflictWait(round)); err != nil {
				return failAll(conflicts, s.wrap("write", err))
			}
		}
		pending = conflicts
	}
}

// sameDocument reports whether writing m over old would change nothing.
func sameDocument(old, m *store.Sample) bool {
	a, err1 := store.MarshalDocument(old)
	b, err2 := store.MarshalDocument(m)
	return err1 == nil && err2 == nil && bytes.Equal(a, b)
}

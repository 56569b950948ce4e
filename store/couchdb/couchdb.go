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
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/url"
	"os"
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

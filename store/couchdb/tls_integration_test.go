//go:build integration

package couchdb_test

import (
	"context"
	"encoding/pem"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stratusml/stratus/internal/testenv"
	"github.com/stratusml/stratus/store"
	"github.com/stratusml/stratus/store/couchdb"
)

// TestTLS: an https:// CouchDB with a private CA (here a TLS proxy in front
// of the CouchDB-protocol server) works when $STRATUS_COUCHDB_CA names the
// CA, and is refused without it.
func TestTLS(t *testing.T) {
	backend, err := url.Parse(testenv.CouchDB(t))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewTLSServer(httputil.NewSingleHostReverseProxy(backend))
	defer ts.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	p := prefix()

	t.Setenv(couchdb.EnvCA, "")
	st, err := store.Open(ctx, ts.URL, store.Options{Prefix: p})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.EnsureSchema(ctx); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("an unknown CA was trusted: %v", err)
	}
	st.Close()

	t.Setenv(couchdb.EnvCA, ca)
	st, err = store.Open(ctx, ts.URL, store.Options{Prefix: p})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.EnsureSchema(ctx); err != nil {
		t.Fatalf("over TLS with the CA: %v", err)
	}
	if n, err := st.Count(ctx); err != nil || n != 0 {
		t.Fatalf("count over TLS: %d %v", n, err)
	}
}

package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/stratusml/stratus/model"
	"github.com/stratusml/stratus/store"
	_ "github.com/stratusml/stratus/store/couchdb"    // http(s):// stores
	_ "github.com/stratusml/stratus/store/localstore" // mem:// stores
)

// loadModel resolves --model: "" means the model shipped in the binary; a
// path to a model file loads that file; the shipped model's id names it
// too; any other id is looked up in the model registry of the store at
// storeURL (with database prefix prefix), when one is given.
func loadModel(ctx context.Context, ref, storeURL, prefix string) (*model.Model, error) {
	if ref == "" {
		return model.Default()
	}
	if _, err := os.Stat(ref); err == nil {
		return model.Load(ref)
	}
	def, err := model.Default()
	if err == nil && def.ID == ref {
		return def, nil
	}
	if storeURL == "" {
		return nil, fmt.Errorf("model %q: no such file, not the shipped model's id (%s), and no store to look it up in (--couchdb or STRATUS_COUCHDB)", ref, def.ID)
	}
	st, err := openStore(ctx, storeURL, prefix)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	m, err := store.LoadModel(ctx, st, ref)
	if err != nil {
		return nil, fmt.Errorf("model %q: no such file, and from the registry: %w", ref, err)
	}
	return m, nil
}

// openStore opens the store at url and makes sure its databases exist.
func openStore(ctx context.Context, url, prefix string) (store.Store, error) {
	st, err := store.Open(ctx, url, store.Options{Prefix: prefix})
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := st.EnsureSchema(sctx); err != nil {
		st.Close()
		return nil, fmt.Errorf("store %s: %w", store.RedactURL(url), err)
	}
	return st, nil
}

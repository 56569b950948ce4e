package couchdb

// This file: the databases and Mango indexes a Store needs (EnsureSchema).

import (
	"context"
	"net/http"

	kivik "github.com/go-kivik/kivik/v4"
)

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

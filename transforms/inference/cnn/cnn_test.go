package cnn

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stratusml/stratus/model"
	"github.com/stratusml/stratus/model/mnist"
	"github.com/stratusml/stratus/model/preprocess"
	"github.com/stratusml/stratus/model/recognize"
	"github.com/stratusml/stratus/store"
	"github.com/stratusml/stratus/store/localstore"
	"github.com/stratusml/stratus/store/storetest"
)

var memN atomic.Int64

// registry returns an empty in-memory registry and its URL.
func registry(t *testing.T) (store.Store, string) {
	t.Helper()
	name := fmt.Sprintf("inference%d", memN.Add(1))
	t.Cleanup(func() { localstore.Drop(name, "") })
	st := localstore.Open(name, "")
	if err := st.EnsureSchema(context.Background()); err != nil {
		t.Fatal(err)
	}
	return st, "mem://" + name
}

func someDigits(t *testing.T, n int) [][]preprocess.Digit {
	t.Helper()
	test, err := mnist.Test("")
	if err != nil {
		t.Fatal(err)
	}
	out := make([][]preprocess.Digit, n)
	for i := range out {
		out[i] = []preprocess.Digit{{Input: preprocess.Image28(test.Images[i])}}
	}
	return out
}

func TestParseCNNConfig(t *testing.T) {
	for in, want := range map[string]Config{
		"":             {},
		"/m/x.stratus": {Model: "/m/x.stratus"},
		Config{Model: "cnn2-v1-abc", StoreURL: "http://h:5984", StorePrefix: "p_", PollMillis: 250}.String(): {Model: "cnn2-v1-abc", StoreURL: "http://h:5984", StorePrefix: "p_", PollMillis: 250},
	} {
		got, err := ParseConfig(in)
		if err != nil || got != want {
			t.Errorf("ParseConfig(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	if _, err := ParseConfig("{bad"); err == nil {
		t.Error("bad JSON: want an error")
	}
}

// TestCNNHandlerFollowsActiveModel: the handler serves the shipped model
// while the registry is empty, then each newly activated model, swapping
// between batches while batches run concurrently.
func TestCNNHandlerFollowsActiveModel(t *testing.T) {
	ctx := context.Background()
	st, url := registry(t)
	def, err := model.Default()
	if err != nil {
		t.Fatal(err)
	}
	h := Handler{Config: Config{StoreURL: url, PollMillis: 20}}
	m, err := h.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if m.ID() != def.ID {
		t.Fatalf("empty registry: serving %s, want the shipped %s", m.ID(), def.ID)
	}
	batch := someDigits(t, 8)
	var ids []string
	for _, f := range storetest.ModelFiles(t, 3)[1:] {
		info, err := st.PutModel(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, info.ID)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	var bad atomic.Value
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				res, err := m.Infer(ctx, batch)
				if err != nil {
					bad.Store(err.Error())
					return
				}
				for _, r := range res[1:] {
					if r.Model != res[0].Model {
						bad.Store("one batch, two models: " + r.Model + " " + res[0].Model)
					}
				}
			}
		}()
	}
	for _, id := range ids {
		if err := st.ActivateModel(ctx, id, time.Time{}); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			res, err := m.Infer(ctx, batch[:1])
			if err != nil {
				t.Fatal(err)
			}
			if res[0].Model == id && m.ID() == id {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after activating %s, still serving %s", id, res[0].Model)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	stop.Store(true)
	wg.Wait()
	if v := bad.Load(); v != nil {
		t.Fatal(v)
	}
}

// TestCNNHandlerIdleSwap: after an idle spell longer than a few polls, the
// first batch already gets the newly activated model.
func TestCNNHandlerIdleSwap(t *testing.T) {
	ctx := context.Background()
	st, url := registry(t)
	m, err := Handler{Config: Config{StoreURL: url, PollMillis: 10}}.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.PutModel(ctx, storetest.ModelFiles(t, 2)[1])
	if err != nil {
		t.Fatal(err)
	}
	if err := st.ActivateModel(ctx, info.ID, time.Time{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	// Batches that arrive together after the idle spell all get it (none
	// slips through while another runs the check).
	digits := someDigits(t, 1)
	var wg sync.WaitGroup
	got := make([]string, 4)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := m.Infer(ctx, digits)
			if err == nil {
				got[i] = res[0].Model
			}
		}()
	}
	wg.Wait()
	for i, g := range got {
		if g != info.ID {
			t.Fatalf("batch %d after an idle spell: model %q, want %s", i, g, info.ID)
		}
	}
}

// TestCNNHandlerModelByID: a model id loads that model from the registry
// and pins it; the shipped model's id needs no registry.
func TestCNNHandlerModelByID(t *testing.T) {
	ctx := context.Background()
	st, url := registry(t)
	fs := storetest.ModelFiles(t, 3)
	a, _ := st.PutModel(ctx, fs[1])
	b, _ := st.PutModel(ctx, fs[2])
	if err := st.ActivateModel(ctx, b.ID, time.Time{}); err != nil {
		t.Fatal(err)
	}
	m, err := Handler{Config: Config{Model: a.ID, StoreURL: url, PollMillis: 1}}.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	res, err := m.Infer(ctx, someDigits(t, 2))
	if err != nil || res[0].Model != a.ID {
		t.Fatalf("pinned model %s answered as %v (%v)", a.ID, res, err)
	}
	def, _ := model.Default()
	if m, err := (Handler{Config: Config{Model: def.ID}}).Load(ctx); err != nil || m.ID() != def.ID {
		t.Fatalf("shipped model by id: %v", err)
	}
	if _, err := (Handler{Config: Config{Model: "cnn2-v1-000000000000", StoreURL: url}}).Load(ctx); err == nil {
		t.Fatal("unknown model id: want an error")
	}
}

// downStore is a registry that is down: every call waits, then fails.
type downStore struct {
	store.Store
	wait time.Duration
}

func (d downStore) ActiveModel(ctx context.Context) (store.ModelInfo, error) {
	select {
	case <-time.After(d.wait):
	case <-ctx.Done():
	}
	return store.ModelInfo{}, errors.New("store down")
}

// TestCNNHandlerStoreDown: while the registry cannot be read, batches are
// answered by the current model without waiting for it (at most one wait of
// syncCheckTimeout when the outage begins).
func TestCNNHandlerStoreDown(t *testing.T) {
	ctx := context.Background()
	def, err := model.Default()
	if err != nil {
		t.Fatal(err)
	}
	rec, err := recognize.New(def)
	if err != nil {
		t.Fatal(err)
	}
	a := &activeModel{st: downStore{wait: 10 * time.Second}, poll: 10 * time.Millisecond, fallback: rec,
		loaded: map[string]*recognize.Recognizer{def.ID: rec}, checking: make(chan struct{}, 1)}
	a.cur.Store(rec)
	digits := someDigits(t, 1)
	start := time.Now()
	for i := 0; i < 50; i++ {
		res, err := a.Infer(ctx, digits)
		if err != nil || res[0].Model != def.ID {
			t.Fatalf("batch %d: %v %v", i, res, err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	if took := time.Since(start); took > syncCheckTimeout+2*time.Second {
		t.Fatalf("50 batches took %v with the store down: they waited for it", took)
	}
}

//go:build integration

package stream

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stratusml/stratus/model/mnist"
	"github.com/stratusml/stratus/store"
	"github.com/stratusml/stratus/store/localstore"
)

// storeDown makes every gated store fail as an unreachable one would.
var storeDown atomic.Bool

func init() {
	store.Register("gated", func(ctx context.Context, raw string, opt store.Options) (store.Store, error) {
		u, err := url.Parse(raw)
		if err != nil {
			return nil, err
		}
		return &gatedStore{Store: localstore.Open(u.Host, opt.Prefix)}, nil
	})
}

// gatedStore is a localstore that fails while storeDown is set.
type gatedStore struct{ *localstore.Store }

var errDown = errors.New("gated: connection refused")

func (g *gatedStore) down(samples []store.Sample) error {
	if !storeDown.Load() {
		return nil
	}
	time.Sleep(50 * time.Millisecond)
	items := make([]store.ItemError, len(samples))
	for i := range samples {
		items[i] = store.ItemError{ID: samples[i].ID, Err: errDown}
	}
	return &store.UpsertError{Items: items}
}

func (g *gatedStore) UpsertSamples(ctx context.Context, s []store.Sample) error {
	if err := g.down(s); err != nil {
		return err
	}
	return g.Store.UpsertSamples(ctx, s)
}

func (g *gatedStore) Count(ctx context.Context) (int, error) {
	if storeDown.Load() {
		time.Sleep(50 * time.Millisecond)
		return 0, errDown
	}
	return g.Store.Count(ctx)
}

func (g *gatedStore) ActiveModel(ctx context.Context) (store.ModelInfo, error) {
	if storeDown.Load() {
		time.Sleep(50 * time.Millisecond)
		return store.ModelInfo{}, errDown
	}
	return g.Store.ActiveModel(ctx)
}

// TestStoreOutageIntegration: while the store is down, events are still
// answered; once it is back, every sample is stored, once.
func TestStoreOutageIntegration(t *testing.T) {
	r := newRig(t, "outage")
	name := "outage" + strconv.FormatInt(time.Now().UnixNano(), 36)
	r.cfg.StoreURL = "gated://" + name
	r.cfg.StorePrefix = ""
	st := localstore.Open(name, "")
	if err := st.EnsureSchema(context.Background()); err != nil {
		t.Fatal(err)
	}
	set, err := mnist.Test("")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	replies := r.collect(ctx, r.cfg.PredictionsTopic)
	job := r.start(ctx)
	defer job.Close()
	defer job.Stop(context.Background())

	send := func(from, to int) {
		for i := from; i < to; i++ {
			_, ev := digitEvent(t, set, i, "outage")
			r.produce(ctx, "s"+strconv.Itoa(i%4), ev)
		}
	}
	send(0, 20)
	waitFor(t, 2*time.Minute, "20 answers before the outage", func() (bool, string) {
		got, _ := answers(t, replies)
		return len(got) >= 20, fmt.Sprint(len(got))
	})
	storeDown.Store(true)
	defer storeDown.Store(false)
	send(20, 120)
	waitFor(t, time.Minute, "100 answers during the outage", func() (bool, string) {
		got, _ := answers(t, replies)
		return len(got) >= 120, fmt.Sprint(len(got))
	})
	if n, _ := st.Count(ctx); n > 20+4 { // a bundle or so may have landed before the gate closed
		t.Errorf("%d samples stored while the store was down", n)
	}
	storeDown.Store(false)
	waitFor(t, time.Minute, "every sample once the store is back", func() (bool, string) {
		n, err := st.Count(ctx)
		return n == 120, fmt.Sprint(n, err)
	})
}

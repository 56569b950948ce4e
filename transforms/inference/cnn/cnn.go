// Package cnn is the Stratus CNN model handler of transforms/inference,
// registered there under HandlerName: it serves a model file, a model
// registered in the store, or follows the registry's active model (polling
// it, swapping atomically between batches), and runs it with
// model/recognize. Importing this package registers the handler; the
// pipelines that name it import it, so every worker binary has it.
package cnn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stratusml/stratus/model"
	"github.com/stratusml/stratus/model/preprocess"
	"github.com/stratusml/stratus/model/recognize"
	"github.com/stratusml/stratus/store"
	_ "github.com/stratusml/stratus/store/couchdb" // http(s):// registries
	"github.com/stratusml/stratus/transforms/inference"
)

// HandlerName is the registered name of the Stratus CNN handler. Its
// configuration string is a Config (Config.String), or, as before,
// a bare model file path ("" for the model shipped in the binary).
const HandlerName = "stratus-cnn"

// DefaultPollInterval is how often a handler that serves the registry's
// active model checks which model is active.
const DefaultPollInterval = 5 * time.Second

// Config says which model the CNN handler serves.
type Config struct {
	// Model is a model file path, a model id (registered in the store, or
	// the shipped model's), or "" for the store's active model, which the
	// handler follows: it checks the registry every Poll and swaps to a
	// newly activated model between two batches, without a restart. With no
	// active model (an empty registry) or no store, "" serves the model
	// shipped in the binary.
	Model string `json:"model,omitempty"`
	// StoreURL is the store holding the model registry (store.Open);
	// StorePrefix prefixes its databases. Empty: no registry.
	StoreURL    string `json:"store_url,omitempty"`
	StorePrefix string `json:"store_prefix,omitempty"`
	// PollMillis is the check interval of the active model in milliseconds
	// (0: DefaultPollInterval; negative: never check again after loading).
	PollMillis int64 `json:"poll_ms,omitempty"`
}

// String encodes c as a handler configuration (HandlerConfig).
func (c Config) String() string {
	b, _ := json.Marshal(c) // plain strings and a number always encode
	return string(b)
}

// ParseConfig reads a handler configuration: Config's JSON, or a bare
// model file path (the older form).
func ParseConfig(s string) (Config, error) {
	var c Config
	if strings.HasPrefix(strings.TrimSpace(s), "{") {
		if err := json.Unmarshal([]byte(s), &c); err != nil {
			return Config{}, fmt.Errorf("inference: CNN handler config: %w", err)
		}
		return c, nil
	}
	c.Model = s
	return c, nil
}

func (c Config) poll() time.Duration {
	switch {
	case c.PollMillis < 0:
		return 0
	case c.PollMillis == 0:
		return DefaultPollInterval
	}
	return time.Duration(c.PollMillis) * time.Millisecond
}

// Handler loads a Stratus model (a file, a registered model, or the
// registry's active model) and runs it with model/recognize.
type Handler struct {
	Config Config
}

// ShareKey implements inference.ModelHandler.
func (h Handler) ShareKey() string { return HandlerName + ":" + h.Config.String() }

// Load implements inference.ModelHandler.
func (h Handler) Load(ctx context.Context) (inference.Model, error) {
	c := h.Config
	if c.Model != "" {
		m, err := resolveModel(ctx, c)
		if err != nil {
			return nil, err
		}
		r, err := recognize.New(m)
		if err != nil {
			return nil, err
		}
		return cnnModel{r}, nil
	}
	def, err := model.Default()
	if err != nil {
		return nil, err
	}
	fallback, err := recognize.New(def)
	if err != nil {
		return nil, err
	}
	if c.StoreURL == "" {
		return cnnModel{fallback}, nil
	}
	st, err := store.Open(ctx, c.StoreURL, store.Options{Prefix: c.StorePrefix})
	if err != nil {
		return nil, fmt.Errorf("inference: model registry: %w", err)
	}
	am := &activeModel{st: st, poll: c.poll(), fallback: fallback, loaded: map[string]*recognize.Recognizer{def.ID: fallback}, checking: make(chan struct{}, 1)}
	am.cur.Store(fallback)
	cctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	am.refresh(cctx) // an unreachable registry is logged; the shipped model serves meanwhile
	return am, nil
}

// resolveModel finds a model named by c.Model: a file, the shipped model's
// id, or a registered model.
func resolveModel(ctx context.Context, c Config) (*model.Model, error) {
	if _, err := os.Stat(c.Model); err == nil {
		return model.Load(c.Model)
	}
	def, err := model.Default()
	if err == nil && def.ID == c.Model {
		return def, nil
	}
	if c.StoreURL == "" {
		return nil, fmt.Errorf("inference: model %q: no such file, not the shipped model (%s), and no model registry configured", c.Model, def.ID)
	}
	st, err := store.Open(ctx, c.StoreURL, store.Options{Prefix: c.StorePrefix})
	if err != nil {
		return nil, fmt.Errorf("inference: model registry: %w", err)
	}
	defer st.Close()
	m, err := store.LoadModel(ctx, st, c.Model)
	if err != nil {
		return nil, fmt.Errorf("inference: model %q: no such file, and from the registry: %w", c.Model, err)
	}
	return m, nil
}

type cnnModel struct{ r *recognize.Recognizer }

func (c cnnModel) ID() string { return c.r.Model().ID }

func (c cnnModel) Infer(_ context.Context, batch [][]preprocess.Digit) ([]recognize.Result, error) {
	return infer(c.r, batch)
}

func infer(r *recognize.Recognizer, batch [][]preprocess.Digit) ([]recognize.Result, error) {
	for i, d := range batch {
		if len(d) == 0 {
			return nil, fmt.Errorf("element %d has no digits", i)
		}
	}
	return r.Recognize(batch), nil
}

// activeModel serves the registry's active model. Infer checks, at most
// every poll, whether another model became active, loads it (once per
// process and model id) and swaps it in atomically: a batch runs wholly on
// one model, and every Result names it. The check runs in the background,
// unless the last one is older than staleAfter polls (an idle pipeline):
// then the batch waits for it (at most syncCheckTimeout, the wait for a
// check in flight included), so that the first drawing after an activation
// gets the new model. While the registry cannot be read (the store is
// down) no batch waits: the current model goes on serving and checks run in
// the background until one succeeds.
type activeModel struct {
	st       store.Store
	poll     time.Duration
	fallback *recognize.Recognizer

	cur      atomic.Pointer[recognize.Recognizer]
	lastUnix atomic.Int64  // when the last check ended (UnixNano)
	failing  atomic.Bool   // the last check could not read the registry
	checking chan struct{} // holds a token while a check runs (one at a time)

	mu     sync.Mutex
	loaded map[string]*recognize.Recognizer // by model id
}

const (
	staleAfter       = 3
	syncCheckTimeout = 2 * time.Second
	checkTimeout     = 30 * time.Second
)

func (a *activeModel) ID() string { return a.cur.Load().Model().ID }

func (a *activeModel) Infer(ctx context.Context, batch [][]preprocess.Digit) ([]recognize.Result, error) {
	a.maybeRefresh(ctx)
	return infer(a.cur.Load(), batch)
}

func (a *activeModel) maybeRefresh(ctx context.Context) {
	if a.poll <= 0 {
		return
	}
	since := time.Since(time.Unix(0, a.lastUnix.Load()))
	if since < a.poll {
		return
	}
	if since >= staleAfter*a.poll && !a.failing.Load() {
		// Every batch that finds the last check stale waits for a fresh
		// one (a check another batch runs now counts, once it ends), but
		// never longer than syncCheckTimeout in all.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), syncCheckTimeout)
		defer cancel()
		select {
		case a.checking <- struct{}{}:
		case <-cctx.Done():
			return
		}
		defer func() { <-a.checking }()
		if time.Since(time.Unix(0, a.lastUnix.Load())) >= staleAfter*a.poll {
			a.check(cctx)
		}
		return
	}
	select {
	case a.checking <- struct{}{}:
	default:
		return // a check runs
	}
	go func() {
		defer func() { <-a.checking }()
		cctx, cancel := context.WithTimeout(context.Background(), checkTimeout)
		defer cancel()
		a.check(cctx)
	}()
}

// refresh runs one check now (waiting for one in flight).
func (a *activeModel) refresh(ctx context.Context) {
	select {
	case a.checking <- struct{}{}:
	case <-ctx.Done():
		return
	}
	defer func() { <-a.checking }()
	a.check(ctx)
}

// check asks the registry for the active model and swaps to it; the caller
// holds a.checking. Errors keep the current model.
func (a *activeModel) check(ctx context.Context) {
	defer func() { a.lastUnix.Store(time.Now().UnixNano()) }()
	cur := a.cur.Load()
	want := a.fallback
	info, err := a.st.ActiveModel(ctx)
	a.failing.Store(err != nil && !errors.Is(err, store.ErrNotFound))
	switch {
	case errors.Is(err, store.ErrNotFound):
		// An empty registry (or none active): the shipped model.
	case err != nil:
		slog.Warn("inference: cannot read the active model; keeping the current one", "model", cur.Model().ID, "err", err)
		return
	case info.ID == cur.Model().ID:
		return
	default:
		r, err := a.load(ctx, info.ID)
		if err != nil {
			slog.Warn("inference: cannot load the newly active model; keeping the current one", "model", cur.Model().ID, "active", info.ID, "err", err)
			return
		}
		want = r
	}
	if want != cur {
		a.cur.Store(want)
		slog.Info("inference: now serving model", "model", want.Model().ID, "was", cur.Model().ID)
	}
}

func (a *activeModel) load(ctx context.Context, id string) (*recognize.Recognizer, error) {
	a.mu.Lock()
	r, ok := a.loaded[id]
	a.mu.Unlock()
	if ok {
		return r, nil
	}
	m, err := store.LoadModel(ctx, a.st, id)
	if err != nil {
		return nil, err
	}
	if r, err = recognize.New(m); err != nil {
		return nil, err
	}
	a.mu.Lock()
	a.loaded[id] = r
	a.mu.Unlock()
	return r, nil
}

func init() {
	inference.RegisterHandler(HandlerName, func(config string) (inference.ModelHandler, error) {
		c, err := ParseConfig(config)
		if err != nil {
			return nil, err
		}
		return Handler{Config: c}, nil
	})
}

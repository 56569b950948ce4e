package store

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// Options are what every backend understands besides its URL.
type Options struct {
	// Prefix goes in front of the database names (SamplesDB, ModelsDB), so
	// that several deployments or tests share one server: "test1_" gives
	// test1_samples. Lower-case letters, digits and _ only, starting with a
	// letter.
	Prefix string
}

var prefixRE = regexp.MustCompile(`^([a-z][a-z0-9_]*)?$`)

// ValidatePrefix checks Options.Prefix.
func ValidatePrefix(prefix string) error {
	if !prefixRE.MatchString(prefix) {
		return fmt.Errorf("%w: database prefix %q: lower-case letters, digits and _, starting with a letter", ErrInvalid, prefix)
	}
	return nil
}

// Opener opens a backend for a URL whose scheme it registered.
type Opener func(ctx context.Context, rawURL string, opt Options) (Store, error)

var (
	registryMu sync.RWMutex
	registry   = map[string]Opener{}
)

// Register makes a backend available to Open under a URL scheme (lower
// case). It panics when the scheme is taken, as database/sql does.
func Register(scheme string, open Opener) {
	registryMu.Lock()
	defer registryMu.Unlock()
	scheme = strings.ToLower(scheme)
	if _, dup := registry[scheme]; dup {
		panic("store: Register called twice for scheme " + scheme)
	}
	registry[scheme] = open
}

// Schemes lists the registered URL schemes.
func Schemes() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	out := make([]string, 0, len(registry))
	for s := range registry {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// Open opens the store at rawURL with the backend registered for its
// scheme (import the backend's package for its side effect).
func Open(ctx context.Context, rawURL string, opt Options) (Store, error) {
	if err := ValidatePrefix(opt.Prefix); err != nil {
		return nil, err
	}
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme == "" {
		return nil, fmt.Errorf("%w: store URL %q: want scheme://…", ErrInvalid, RedactURL(rawURL))
	}
	registryMu.RLock()
	open, ok := registry[strings.ToLower(u.Scheme)]
	registryMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w: store URL %s: no backend for scheme %q (registered: %s; import the backend package)",
			ErrInvalid, RedactURL(rawURL), u.Scheme, strings.Join(Schemes(), ", "))
	}
	return open(ctx, rawURL, opt)
}

package authenticators

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddy-restauth/caddy-restauth/store"
)

// secretLoadTimeout bounds one attempt to read (or create) a secret in the
// store. The stores fail faster when they are unreachable (Redis: about a
// second).
const secretLoadTimeout = 10 * time.Second

// storeSecret is a secret generated once and kept in the store (the
// generated JWT key, the token and the session hashing keys) together
// with what is derived from it (a keyring, an HMAC).
//
// It is loaded on first need, not when the config loads, so that Caddy
// starts and reloads while the store is down (Basic auth needs no store).
// A failed load is not remembered: the next request that needs the secret
// tries again, so service comes back with the store, without a reload.
// Concurrent callers share one attempt. Once loaded, the value is read with
// a single atomic load: no lock and no I/O on the hot path.
type storeSecret[T any] struct {
	name     string
	store    store.Secrets
	generate func() ([]byte, error)
	derive   func(secret []byte) (*T, error)

	loaded  atomic.Pointer[T]
	mu      sync.Mutex     // guards loading
	loading *secretLoad[T] // the attempt under way, if any
}

// secretLoad is one attempt to load a storeSecret.
type secretLoad[T any] struct {
	done chan struct{} // closed when val or err is set
	val  *T
	err  error
}

// newStoreSecret prepares loading the secret called name from st,
// generating it there when it is missing, and deriving the value from it.
func newStoreSecret[T any](st store.Secrets, name string, generate func() ([]byte, error), derive func([]byte) (*T, error)) *storeSecret[T] {
	return &storeSecret[T]{name: name, store: st, generate: generate, derive: derive}
}

// presetSecret is a storeSecret whose value is known already (from the
// config), so it never touches the store.
func presetSecret[T any](v *T) *storeSecret[T] {
	s := new(storeSecret[T])
	s.loaded.Store(v)
	return s
}

// get returns the value, loading the secret from the store first when that
// has not succeeded yet. Its error wraps the store's error (for example
// store.ErrUnavailable), so that the request is answered 503.
func (s *storeSecret[T]) get(ctx context.Context) (*T, error) {
	if v := s.loaded.Load(); v != nil {
		return v, nil
	}
	s.mu.Lock()
	if v := s.loaded.Load(); v != nil {
		s.mu.Unlock()
		return v, nil
	}
	l := s.loading
	if l == nil {
		l = &secretLoad[T]{done: make(chan struct{})}
		s.loading = l
		// Detached from the request: one caller going away must not fail
		// the attempt the others wait for.
		go s.load(l)
	}
	s.mu.Unlock()
	select {
	case <-l.done:
		return l.val, l.err
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for secret %s from the store: %w", s.name, ctx.Err())
	}
}

// load makes one attempt and publishes its outcome: a value for good, an
// error only to the callers that waited for this attempt.
func (s *storeSecret[T]) load(l *secretLoad[T]) {
	ctx, cancel := context.WithTimeout(context.Background(), secretLoadTimeout)
	defer cancel()
	raw, err := s.store.Secret(ctx, s.name, s.generate)
	if err == nil {
		l.val, err = s.derive(raw)
	}
	if err != nil {
		l.err = fmt.Errorf("loading secret %s from the store: %w", s.name, err)
	} else {
		s.loaded.Store(l.val)
	}
	s.mu.Lock()
	s.loading = nil
	s.mu.Unlock()
	close(l.done)
}

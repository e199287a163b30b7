package store

import (
	"sync"

	"github.com/caddyserver/caddy/v2"
)

// pooled is what the package's usage pools hold: a backend shared by every
// module instance that names the same location, and the function that
// releases it once the last of them is gone.
type pooled[T any] struct {
	backend T
	destroy func() error
}

// Destruct implements caddy.Destructor; the pool calls it when the last
// reference is released.
func (p *pooled[T]) Destruct() error { return p.destroy() }

// acquire returns the backend pooled under key, building it with open when
// no module instance holds it yet, and a reference that must be released
// exactly once (Cleanup or Close, whichever comes first).
func acquire[T any](pool *caddy.UsagePool, key string, open func() (T, func() error, error)) (T, *poolRef, error) {
	v, _, err := pool.LoadOrNew(key, func() (caddy.Destructor, error) {
		b, destroy, err := open()
		if err != nil {
			return nil, err
		}
		return &pooled[T]{backend: b, destroy: destroy}, nil
	})
	if err != nil {
		// A failed constructor leaves nothing in the pool to release.
		var zero T
		return zero, nil, err
	}
	return v.(*pooled[T]).backend, &poolRef{pool: pool, key: key}, nil
}

// poolRef is one module instance's claim on a pooled backend.
type poolRef struct {
	pool *caddy.UsagePool
	key  string
	once sync.Once
	err  error
}

// release gives the claim back, once; later calls return the first result.
// A nil poolRef (a module whose Provision failed early) releases nothing.
func (r *poolRef) release() error {
	if r == nil {
		return nil
	}
	r.once.Do(func() {
		_, r.err = r.pool.Delete(r.key)
	})
	return r.err
}

// Cleanup releases the module's claim on its pooled backend; the last
// claim's release closes the backend.
func (r *poolRef) Cleanup() error { return r.release() }

// Close implements Store. It is the same as Cleanup and, like it, may be
// called more than once.
func (r *poolRef) Close() error { return r.release() }

// Package cache holds the bounded in-memory caches of the request path.
package cache

import "sync"

// Bounded is a concurrency-safe map with a maximum size, kept in two
// generations: new entries go into the current one, and when it holds half
// the maximum it becomes the previous one and the old previous one is
// dropped whole. So making room costs no per-entry deletion (a cache that
// sees a new key on every request, such as never-seen JWTs, pays one map
// insert), and an entry used since the last switch is moved into the
// current generation instead of being dropped. The zero value is not
// usable; use New.
type Bounded[K comparable, V any] struct {
	mu       sync.RWMutex
	half     int
	current  map[K]V
	previous map[K]V
}

// New makes a cache holding at most size entries.
func New[K comparable, V any](size int) *Bounded[K, V] {
	half := max(size/2, 1)
	return &Bounded[K, V]{half: half, current: make(map[K]V), previous: make(map[K]V)}
}

// Get returns the value under k.
func (c *Bounded[K, V]) Get(k K) (V, bool) {
	c.mu.RLock()
	v, ok := c.current[k]
	if ok {
		c.mu.RUnlock()
		return v, true
	}
	v, ok = c.previous[k]
	c.mu.RUnlock()
	if ok {
		c.promote(k)
	}
	return v, ok
}

// promote moves k, if it is still in the previous generation, into the
// current one: it is in use, so it is kept past the next switch. (Never
// from a stale read: an entry deleted meanwhile stays deleted.)
func (c *Bounded[K, V]) promote(k K) {
	c.mu.Lock()
	if v, ok := c.previous[k]; ok {
		delete(c.previous, k)
		c.insert(k, v)
	}
	c.mu.Unlock()
}

// Put stores v under k, switching generations first when the current one
// is full.
func (c *Bounded[K, V]) Put(k K, v V) {
	c.mu.Lock()
	delete(c.previous, k)
	c.insert(k, v)
	c.mu.Unlock()
}

// insert puts k in the current generation; c.mu is held.
func (c *Bounded[K, V]) insert(k K, v V) {
	if _, ok := c.current[k]; !ok && len(c.current) >= c.half {
		c.previous, c.current = c.current, make(map[K]V, c.half)
	}
	c.current[k] = v
}

// Delete removes k.
func (c *Bounded[K, V]) Delete(k K) {
	c.mu.Lock()
	delete(c.current, k)
	delete(c.previous, k)
	c.mu.Unlock()
}

// Len is the number of entries.
func (c *Bounded[K, V]) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.current) + len(c.previous)
}

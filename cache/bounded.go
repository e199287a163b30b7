// Package cache holds the bounded in-memory caches of the request path.
package cache

import "sync"

// Bounded is a concurrency-safe map with a maximum size. When full, about a
// tenth of the entries are dropped (Go's map iteration order is random, so
// the victims are too). The zero value is not usable; use New.
type Bounded[K comparable, V any] struct {
	mu      sync.RWMutex
	max     int
	entries map[K]V
}

// New makes a cache holding at most max entries.
func New[K comparable, V any](max int) *Bounded[K, V] {
	return &Bounded[K, V]{max: max, entries: make(map[K]V)}
}

// Get returns the value under k.
func (c *Bounded[K, V]) Get(k K) (V, bool) {
	c.mu.RLock()
	v, ok := c.entries[k]
	c.mu.RUnlock()
	return v, ok
}

// Put stores v under k, making room first when the cache is full.
func (c *Bounded[K, V]) Put(k K, v V) {
	c.mu.Lock()
	if len(c.entries) >= c.max {
		drop := max(c.max/10, 1)
		for key := range c.entries {
			delete(c.entries, key)
			if drop--; drop == 0 {
				break
			}
		}
	}
	c.entries[k] = v
	c.mu.Unlock()
}

// Delete removes k.
func (c *Bounded[K, V]) Delete(k K) {
	c.mu.Lock()
	delete(c.entries, k)
	c.mu.Unlock()
}

// Len is the number of entries.
func (c *Bounded[K, V]) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}

package cache

import (
	"encoding/binary"
	"hash/maphash"
	"strings"
	"sync/atomic"
	"unsafe"
)

// BySecret is a Bounded cache keyed by secret values: API token keys,
// session ids, JWTs. A map keyed by the secret itself would compare the
// presented value with stored ones by early-exit equality; here the map
// is keyed by a 64-bit hash under a seed of this process, and a hit is
// confirmed by comparing the whole secret in constant time. The zero value
// is not usable; use NewBySecret.
//
// The cache holds copies of the secrets it is given in memory until they
// are evicted, the way Caddy's basic_auth cache does: put only values that
// proved to be valid credentials, so an attacker's guesses never take
// room from them. A copy, because a secret is usually cut from a request
// header: keeping the slice would keep the whole header (up to Caddy's
// 16 KiB, or more) for every entry.
type BySecret[V any] struct {
	seed    maphash.Seed
	entries *Bounded[uint64, secretEntry[V]]
	// sightings, when not nil, are the hashes of secrets put once
	// recently (NewBySecretOnSecondSight), one per slot.
	sightings []atomic.Uint64
}

type secretEntry[V any] struct {
	secret string
	value  V
}

// NewBySecret makes a cache holding at most size secrets.
func NewBySecret[V any](size int) *BySecret[V] {
	return &BySecret[V]{seed: maphash.MakeSeed(), entries: New[uint64, secretEntry[V]](size)}
}

// NewBySecretOnSecondSight makes a cache holding at most size secrets that
// stores a secret only when it is put a second time while the mark of its
// first put is still in a table of recent first puts (4096 slots, one hash
// each, overwritten by later ones): a value used once, such as a JWT sent
// by a client that mints a new one per request, then costs no copy and no
// insert, and never evicts a value in use. A secret already stored is
// replaced at once.
func NewBySecretOnSecondSight[V any](size int) *BySecret[V] {
	c := NewBySecret[V](size)
	c.sightings = make([]atomic.Uint64, sightingSlots)
	return c
}

// sightingSlots is the size of the table of first puts: 32 KiB.
const sightingSlots = 4096

// Get returns the value stored under secret.
func (c *BySecret[V]) Get(secret string) (V, bool) {
	e, ok := c.entries.Get(maphash.String(c.seed, secret))
	if !ok || !EqualSecrets(e.secret, secret) {
		var zero V
		return zero, false
	}
	return e.value, true
}

// Put stores v under secret, replacing what another secret of the same
// hash stored (the next Get of that one misses).
func (c *BySecret[V]) Put(secret string, v V) {
	h := maphash.String(c.seed, secret)
	if c.sightings != nil && !c.seenBefore(h) {
		return
	}
	c.entries.Put(h, secretEntry[V]{secret: strings.Clone(secret), value: v})
}

// seenBefore reports whether the secret of hash h was put before (its mark
// is in the table, or it is stored), and marks it otherwise. A mark is a
// hash, not the secret: a collision stores a secret a put early, which
// costs memory, never a wrong answer (Get compares the whole secret).
func (c *BySecret[V]) seenBefore(h uint64) bool {
	slot := &c.sightings[h&(sightingSlots-1)]
	if slot.Load() == h {
		return true
	}
	if _, ok := c.entries.Get(h); ok {
		return true
	}
	slot.Store(h)
	return false
}

// Delete removes what is stored under secret.
func (c *BySecret[V]) Delete(secret string) {
	k := maphash.String(c.seed, secret)
	if e, ok := c.entries.Get(k); ok && EqualSecrets(e.secret, secret) {
		c.entries.Delete(k)
	}
}

// Len is the number of entries.
func (c *BySecret[V]) Len() int { return c.entries.Len() }

// EqualSecrets compares a and b in time that depends only on their
// lengths, eight bytes at a time, without copying them (crypto/subtle
// compares one byte at a time: a JWT takes four times as long).
func EqualSecrets(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	x := unsafe.Slice(unsafe.StringData(a), len(a))
	y := unsafe.Slice(unsafe.StringData(b), len(b))
	var v uint64
	i := 0
	for ; i+8 <= len(x); i += 8 {
		v |= binary.LittleEndian.Uint64(x[i:]) ^ binary.LittleEndian.Uint64(y[i:])
	}
	for ; i < len(x); i++ {
		v |= uint64(x[i] ^ y[i])
	}
	return v == 0
}

package store

import (
	"hash/maphash"
	"sync"
)

// presence is an in-memory set of the keys of one bolt bucket, kept as
// 64-bit keyed hashes: a key that is absent from it is certainly absent
// from the bucket, so the request path answers "not revoked" or "no failed
// logins" without a read transaction. A key that is present (or shares its
// hash with one that is) is read from the bucket as before.
//
// Exactness relies on bolt's single writer: only this process opens the
// file, and every write to a filtered bucket goes through boltWrites, which
// adds a key before the transaction that creates it commits and removes it
// only after the transaction that deletes it has committed. In between the
// set holds a key the bucket may not: that costs a read, never a wrong
// answer. Each hash is counted, so two keys sharing a hash stay present
// until both are deleted.
type presence struct {
	seed   maphash.Seed
	mu     sync.RWMutex
	counts map[uint64]uint32
}

func newPresence() *presence {
	return &presence{seed: maphash.MakeSeed(), counts: make(map[uint64]uint32)}
}

// mayContain reports whether key may be in the bucket.
func (p *presence) mayContain(key string) bool {
	return p.mayContainHash(maphash.String(p.seed, key))
}

// mayContainBytes is mayContain for a key held as bytes.
func (p *presence) mayContainBytes(key []byte) bool {
	return p.mayContainHash(maphash.Bytes(p.seed, key))
}

// mayContainAny reports whether any of keys (the empty ones left out) may
// be in the bucket, under one read lock: the three failure counters of a
// password check.
func (p *presence) mayContainAny(keys [3]string) bool {
	var hashes [3]uint64
	for i, k := range keys {
		if k != "" {
			hashes[i] = maphash.String(p.seed, k)
		}
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	for i, h := range hashes {
		if keys[i] == "" {
			continue
		}
		if _, ok := p.counts[h]; ok {
			return true
		}
	}
	return false
}

func (p *presence) mayContainHash(h uint64) bool {
	p.mu.RLock()
	_, ok := p.counts[h]
	p.mu.RUnlock()
	return ok
}

// add records a key the bucket now holds (or is about to).
func (p *presence) add(key []byte) {
	h := maphash.Bytes(p.seed, key)
	p.mu.Lock()
	p.counts[h]++
	p.mu.Unlock()
}

// remove forgets, once, a key (by its hash) that was deleted from the
// bucket.
func (p *presence) remove(h uint64) {
	p.mu.Lock()
	if n := p.counts[h]; n <= 1 {
		delete(p.counts, h)
	} else {
		p.counts[h] = n - 1
	}
	p.mu.Unlock()
}

// hash is the set's hash of key, for a removal recorded before the commit.
func (p *presence) hash(key []byte) uint64 { return maphash.Bytes(p.seed, key) }

// len is the number of distinct hashes (for tests and sizing).
func (p *presence) len() int {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return len(p.counts)
}

package store

import (
	"bytes"
	"fmt"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// boltMemory is what the bolt store keeps in memory so that a request with
// a known credential opens no transaction: which revocations, failure
// counters, sessions and API token key hashes exist (presence sets, so an
// absent key costs no read: a bogus token or session id is refused without
// one), and the sessions read recently (decoded). It is filled when the
// file is opened and kept exact by boltWrites; see presence for why that
// holds.
type boltMemory struct {
	revoked   *presence
	failures  *presence
	sessions  *presence
	keyHashes *presence // of API tokens
	records   *sessionCache
}

func newBoltMemory() *boltMemory {
	return &boltMemory{
		revoked:   newPresence(),
		failures:  newPresence(),
		sessions:  newPresence(),
		keyHashes: newPresence(),
		records:   newSessionCache(maxCachedSessions),
	}
}

// maxCachedSessions bounds the decoded sessions kept in memory; past it,
// about a tenth are dropped at random and read from the file again when
// used.
const maxCachedSessions = 100_000

// presenceOf is the presence set of bucket (nil: not tracked).
func (m *boltMemory) presenceOf(bucket []byte) *presence {
	switch {
	case bytes.Equal(bucket, bucketRevoked):
		return m.revoked
	case bytes.Equal(bucket, bucketFailures):
		return m.failures
	case bytes.Equal(bucket, bucketSessions):
		return m.sessions
	case bytes.Equal(bucket, bucketTokenHashes):
		return m.keyHashes
	}
	return nil
}

// load fills the presence sets from the file (when it is opened).
func (m *boltMemory) load(tx *bolt.Tx) error {
	for _, name := range [][]byte{bucketRevoked, bucketFailures, bucketSessions, bucketTokenHashes} {
		set := m.presenceOf(name)
		if err := tx.Bucket(name).ForEach(func(k, _ []byte) error {
			set.add(k)
			return nil
		}); err != nil {
			return fmt.Errorf("indexing bucket %s: %w", name, err)
		}
	}
	return nil
}

// boltWrites is the one way a write transaction changes a bucket that
// boltMemory tracks: a new key is added to the presence set at once
// (before the commit), a deleted key is removed, and a session dropped from
// the cache, only when the transaction has committed (done).
type boltWrites struct {
	m        *boltMemory
	removed  []removal
	sessions [][]byte
	// allSessions: many sessions changed; drop every cached one.
	allSessions bool
}

type removal struct {
	set  *presence
	hash uint64
}

// put writes key in bucket.
func (w *boltWrites) put(tx *bolt.Tx, bucket, key, value []byte) error {
	bk := tx.Bucket(bucket)
	if set := w.m.presenceOf(bucket); set != nil && bk.Get(key) == nil {
		set.add(key)
	}
	w.touched(bucket, key)
	return bk.Put(key, value)
}

// delete removes key from bucket (nothing when it is not there).
func (w *boltWrites) delete(tx *bolt.Tx, bucket, key []byte) error {
	bk := tx.Bucket(bucket)
	if bk.Get(key) == nil {
		return nil
	}
	if set := w.m.presenceOf(bucket); set != nil {
		w.removed = append(w.removed, removal{set, set.hash(key)})
	}
	w.touched(bucket, key)
	return bk.Delete(key)
}

// touched notes a changed session so that its cached copy is dropped.
func (w *boltWrites) touched(bucket, key []byte) {
	if !bytes.Equal(bucket, bucketSessions) || w.allSessions {
		return
	}
	if len(w.sessions) >= 64 {
		w.allSessions, w.sessions = true, nil
		return
	}
	w.sessions = append(w.sessions, bytes.Clone(key))
}

// done applies the transaction's outcome to memory. Cached sessions it
// touched are dropped whether or not it committed (a needless drop costs a
// read); presence removals only when it committed.
func (w *boltWrites) done(committed bool) {
	if w.allSessions {
		w.m.records.clear()
	} else {
		w.m.records.drop(w.sessions)
	}
	if !committed {
		return
	}
	for _, r := range w.removed {
		r.set.remove(r.hash)
	}
}

// sessionCache holds decoded sessions by id hash. A session read from the
// file is cached only if no change to any session was recorded since the
// read began (gen), so a read that raced a write never caches the old
// record after the write dropped it.
type sessionCache struct {
	mu      sync.RWMutex
	gen     uint64
	max     int
	entries map[string]*Session
}

func newSessionCache(max int) *sessionCache {
	return &sessionCache{max: max, entries: make(map[string]*Session)}
}

// get returns the cached session under idHash, or nil. It is the cache's
// own (read-only, as Store.Session's are): a cached session is never
// modified, only replaced.
func (c *sessionCache) get(idHash []byte) *Session {
	c.mu.RLock()
	s := c.entries[string(idHash)]
	c.mu.RUnlock()
	return s
}

// generation is the value to pass to putUnchanged for a read that begins
// now.
func (c *sessionCache) generation() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.gen
}

// putUnchanged caches s, just decoded (its hashes its own), unless a change
// was recorded since gen, and returns it, read-only from now on.
func (c *sessionCache) putUnchanged(gen uint64, s Session) *Session {
	cached := &s
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return cached
	}
	if len(c.entries) >= c.max {
		drop := max(c.max/10, 1)
		for k := range c.entries {
			delete(c.entries, k)
			if drop--; drop == 0 {
				break
			}
		}
	}
	c.entries[string(s.IDHash)] = cached
	return cached
}

// drop forgets the sessions under idHashes.
func (c *sessionCache) drop(idHashes [][]byte) {
	if len(idHashes) == 0 {
		return
	}
	c.mu.Lock()
	c.gen++
	for _, k := range idHashes {
		delete(c.entries, string(k))
	}
	c.mu.Unlock()
}

// clear forgets every session.
func (c *sessionCache) clear() {
	c.mu.Lock()
	c.gen++
	clear(c.entries)
	c.mu.Unlock()
}

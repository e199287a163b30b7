package authenticators

import (
	"crypto/sha256"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddy-restauth/caddy-restauth/identity"
)

// tokenCacheTTL is how long a token record read from the store is trusted
// without reading it again. A revocation through DELETE @tokens in this
// process takes effect at once (see revocationEpoch); one made by another
// Caddy instance sharing the store takes effect within this time, which is
// kept under a second. Re-reading is cheap: a local file read with bolt, a
// local cache hit with redis (whose cache is invalidated through pub/sub).
const tokenCacheTTL = 800 * time.Millisecond

// touchInterval is the least time between two recorded uses of one token
// (NetBox: last_used is updated when it is older than 60 seconds).
const touchInterval = 60 * time.Second

// revocationEpoch counts token revocations in this process. A cached token
// record is only valid while the epoch it was read in is current, so a
// revocation through any rest_auth handler drops every cached record.
// Revocations are rare; re-reading a few records after one is cheap.
var revocationEpoch atomic.Uint64

// ForgetCachedTokens makes every token authenticator in the process read
// its tokens from the store again, so that a change of the users (a user
// disabled, a role taken away) applies to API tokens at once.
func ForgetCachedTokens() { revocationEpoch.Add(1) }

// tokenEntry is a token record prepared for the request path.
type tokenEntry struct {
	tokenID string
	// id is the identity the token grants; nil when its owner no longer
	// exists or is disabled.
	id *identity.Identity
	// expires is zero when the token never expires.
	expires time.Time
	// allowed are the networks the token may be used from (any when empty).
	allowed []netip.Prefix
	// fetched is when the record was read from the store.
	fetched time.Time
	epoch   uint64
	usage   *tokenUsage
}

// expired reports whether the token has expired at now.
func (e *tokenEntry) expired(now time.Time) bool {
	return !e.expires.IsZero() && !now.Before(e.expires)
}

// allows reports whether a client at addr may use the token.
func (e *tokenEntry) allows(addr netip.Addr) bool {
	if len(e.allowed) == 0 {
		return true
	}
	addr = addr.Unmap()
	for _, p := range e.allowed {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// tokenUsage is the last use of a token recorded for the store, in Unix
// nanoseconds. It outlives the cache entry that carries it, so that
// re-reading a record does not record a use twice within touchInterval.
type tokenUsage struct {
	last atomic.Int64
}

// tokenCache maps key hashes to prepared token records.
type tokenCache struct {
	mu      sync.RWMutex
	entries map[[sha256.Size]byte]*tokenEntry
}

// get returns the live entry for sum, and the entry even when stale (for
// its usage record).
func (c *tokenCache) get(sum [sha256.Size]byte, now time.Time) (live, stale *tokenEntry) {
	c.mu.RLock()
	e := c.entries[sum]
	c.mu.RUnlock()
	if e == nil {
		return nil, nil
	}
	if e.epoch != revocationEpoch.Load() || now.Sub(e.fetched) >= tokenCacheTTL {
		return nil, e
	}
	return e, e
}

func (c *tokenCache) put(sum [sha256.Size]byte, e *tokenEntry) {
	c.mu.Lock()
	if c.entries == nil {
		c.entries = make(map[[sha256.Size]byte]*tokenEntry)
	}
	c.entries[sum] = e
	c.mu.Unlock()
}

// sweep drops entries that are too old to be used again.
func (c *tokenCache) sweep(now time.Time) {
	c.mu.Lock()
	for k, e := range c.entries {
		if now.Sub(e.fetched) >= tokenCacheTTL {
			delete(c.entries, k)
		}
	}
	c.mu.Unlock()
}

// usageLog collects last-used times until the next flush to the store.
type usageLog struct {
	mu      sync.Mutex
	pending map[string]time.Time
	// unwritten holds every recorded time until the store has it, for
	// listings in between (pending only holds the next batch).
	unwritten map[string]time.Time
}

// record notes a use of the token at now, unless one was recorded less
// than touchInterval ago.
func (l *usageLog) record(e *tokenEntry, now time.Time) {
	last := e.usage.last.Load()
	if now.UnixNano()-last < int64(touchInterval) || !e.usage.last.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	l.mu.Lock()
	if l.pending == nil {
		l.pending = make(map[string]time.Time)
	}
	if l.unwritten == nil {
		l.unwritten = make(map[string]time.Time)
	}
	l.pending[e.tokenID] = now.UTC()
	l.unwritten[e.tokenID] = now.UTC()
	l.mu.Unlock()
}

// lastUsed is the recorded use of a token that the store may not have yet.
func (l *usageLog) lastUsed(id string) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, ok := l.unwritten[id]
	return t, ok
}

// written forgets the times of a batch the store now has, unless a newer
// use was recorded meanwhile.
func (l *usageLog) written(batch map[string]time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for id, t := range batch {
		if l.unwritten[id].Equal(t) {
			delete(l.unwritten, id)
		}
	}
}

// take returns the pending times and starts a new batch.
func (l *usageLog) take() map[string]time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.pending
	l.pending = nil
	return p
}

// putBack returns a batch that could not be written, keeping newer times
// recorded meanwhile.
func (l *usageLog) putBack(batch map[string]time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pending == nil {
		l.pending = batch
		return
	}
	for id, t := range batch {
		if cur, ok := l.pending[id]; !ok || cur.Before(t) {
			l.pending[id] = t
		}
	}
}

package store

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/caddy-restauth/caddy-restauth/internal/monotonic"
)

// The hot path (IsRevoked, TokenByKeyHash, Session, and Failures, which a
// password check reads three times) is answered from a local cache kept
// per connection. Every write that could change a cached
// answer publishes the record's key on redisInvalidateChannel; every
// process subscribed to it drops that key. While the subscription is not
// confirmed (at start, or after losing the connection) nothing is cached
// and nothing is served from the cache, so a lost invalidation can never
// let a revoked credential through.
const (
	redisInvalidateChannel = "restauth:invalidate"
	// redisCacheMax bounds the cache; it is emptied when full.
	redisCacheMax = 100_000
	// redisCacheMaxAge bounds how long an entry is trusted even if no
	// invalidation arrives (e.g. a key changed outside this plugin).
	redisCacheMaxAge = 30 * time.Second
	// redisSubscriptionSilence is how long the subscription may stay
	// silent (the subscriber pings every redisSubscriptionPing) before it
	// is considered lost.
	redisSubscriptionPing    = 500 * time.Millisecond
	redisSubscriptionSilence = 1500 * time.Millisecond
)

type redisCacheEntry struct {
	// revokedUntil is the end of a revocation; zero when not revoked.
	revokedUntil time.Time
	token        *Token
	session      *Session
	counter      *Counter
	// stored is when the entry was cached, on the monotonic clock (half
	// the cost of time.Now, read for every lookup).
	stored monotonic.Instant
}

// redisCache is the local cache of one redisConn.
type redisCache struct {
	mu      sync.Mutex
	entries map[string]redisCacheEntry
	// gen changes on every invalidation, whenever entries are cleared and
	// whenever live changes; a value read from Redis is only cached when
	// gen did not change since the read began. Changed under mu; read
	// without it.
	gen atomic.Uint64
	// live is true while the invalidation subscription is confirmed and
	// heard from within redisSubscriptionSilence.
	live      bool
	lastHeard time.Time
	// ps is the current subscription, closed by closeCache to interrupt a
	// blocked receive.
	ps *redis.PubSub
}

// closeCache stops the subscriber and waits for it.
func (c *redisConn) closeCache() {
	c.stopCache()
	c.cache.mu.Lock()
	if c.cache.ps != nil {
		_ = c.cache.ps.Close()
	}
	c.cache.mu.Unlock()
	<-c.cacheDone
}

// startCache subscribes to invalidations in the background; destroy stops
// the subscriber.
func (c *redisConn) startCache() {
	c.cache.entries = make(map[string]redisCacheEntry)
	ctx, cancel := context.WithCancel(context.Background())
	c.stopCache = cancel
	c.cacheDone = make(chan struct{})
	go c.subscribe(ctx)
}

// subscribe keeps the invalidation subscription alive, reconnecting after
// failures, until ctx ends.
func (c *redisConn) subscribe(ctx context.Context) {
	defer close(c.cacheDone)
	for ctx.Err() == nil {
		ps := c.client.Subscribe(ctx, redisInvalidateChannel)
		c.cache.mu.Lock()
		c.cache.ps = ps
		c.cache.mu.Unlock()
		c.listen(ctx, ps)
		_ = ps.Close()
		c.setLive(false)
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// listen reads invalidations from ps until it fails or goes silent.
func (c *redisConn) listen(ctx context.Context, ps *redis.PubSub) {
	for ctx.Err() == nil {
		msg, err := ps.ReceiveTimeout(ctx, redisSubscriptionPing)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				// The connection broke (e.g. Redis stopped): stop serving
				// from the cache at once, before reconnecting.
				c.logger.Debug("redis invalidation subscription lost", zap.Error(err))
				return
			}
			if c.silentTooLong() {
				c.logger.Debug("redis invalidation subscription lost", zap.Error(err))
				return
			}
			// Quiet channel: ping, so that the pong proves the connection.
			if err := ps.Ping(ctx); err != nil {
				return
			}
			continue
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				c.setLive(true)
			}
		case *redis.Message:
			c.heard()
			c.drop(m.Payload)
		case *redis.Pong:
			c.heard()
		}
	}
}

func (c *redisConn) setLive(live bool) {
	c.cache.mu.Lock()
	defer c.cache.mu.Unlock()
	// Whatever was cached may have missed invalidations: start empty.
	clear(c.cache.entries)
	c.cache.gen.Add(1)
	c.cache.live = live
	c.cache.lastHeard = time.Now()
}

func (c *redisConn) heard() {
	c.cache.mu.Lock()
	c.cache.lastHeard = time.Now()
	c.cache.mu.Unlock()
}

func (c *redisConn) silentTooLong() bool {
	c.cache.mu.Lock()
	defer c.cache.mu.Unlock()
	if c.cache.live && time.Since(c.cache.lastHeard) > redisSubscriptionSilence {
		clear(c.cache.entries)
		c.cache.gen.Add(1)
		c.cache.live = false
		return true
	}
	return !c.cache.live && time.Since(c.cache.lastHeard) > redisSubscriptionSilence
}

// flush empties the cache, e.g. after a failed command, which may mean that
// invalidations are being missed too.
func (c *redisConn) flush() {
	c.cache.mu.Lock()
	clear(c.cache.entries)
	c.cache.gen.Add(1)
	c.cache.mu.Unlock()
}

// drop removes key from the local cache.
func (c *redisConn) drop(key string) {
	c.cache.mu.Lock()
	delete(c.cache.entries, key)
	c.cache.gen.Add(1)
	c.cache.mu.Unlock()
}

// invalidate drops key here and publishes it so that every subscriber
// drops it too. It tries as often as tries says before giving up.
func (c *redisConn) invalidate(ctx context.Context, key string, tries int) error {
	c.drop(key)
	var err error
	for range tries {
		if err = c.client.Publish(ctx, redisInvalidateChannel, key).Err(); err == nil {
			return nil
		}
	}
	return err
}

// generation is read before a value is fetched from Redis and passed to
// the matching cache call.
func (c *redisConn) generation() uint64 { return c.cache.gen.Load() }

func (c *redisConn) lookup(key string) (redisCacheEntry, bool) {
	c.cache.mu.Lock()
	defer c.cache.mu.Unlock()
	if !c.cache.live {
		return redisCacheEntry{}, false
	}
	e, ok := c.cache.entries[key]
	if !ok {
		return e, false
	}
	if e.tooOld() {
		delete(c.cache.entries, key)
		return e, false
	}
	return e, true
}

// lookupBytes is lookup for a key held as bytes (built on the caller's
// stack for a read on every request: no key string). A stale entry is
// left for lookup or the next put to drop.
func (c *redisConn) lookupBytes(key []byte) (redisCacheEntry, bool) {
	c.cache.mu.Lock()
	e, ok := c.cache.entries[string(key)]
	live := c.cache.live
	c.cache.mu.Unlock()
	if !ok || !live || e.tooOld() {
		return redisCacheEntry{}, false
	}
	return e, true
}

// tooOld reports whether e is past redisCacheMaxAge.
func (e redisCacheEntry) tooOld() bool { return e.tooOldAt(monotonic.Now()) }

// tooOldAt reports whether e is past redisCacheMaxAge at now.
func (e redisCacheEntry) tooOldAt(now monotonic.Instant) bool {
	return time.Duration(now-e.stored) > redisCacheMaxAge
}

func (c *redisConn) put(key string, gen uint64, e redisCacheEntry) {
	c.cache.mu.Lock()
	defer c.cache.mu.Unlock()
	if !c.cache.live || gen != c.cache.gen.Load() {
		return
	}
	if len(c.cache.entries) >= redisCacheMax {
		clear(c.cache.entries)
		c.cache.gen.Add(1)
	}
	e.stored = monotonic.Now()
	c.cache.entries[key] = e
}

// cachedRevoked returns the cached end of the revocation of key (zero when
// the key is cached as not revoked).
func (c *redisConn) cachedRevoked(key string) (until time.Time, ok bool) {
	e, ok := c.lookup(key)
	return e.revokedUntil, ok
}

func (c *redisConn) cacheRevoked(key string, gen uint64, until time.Time) {
	c.put(key, gen, redisCacheEntry{revokedUntil: until})
}

func (c *redisConn) cachedToken(key string) (Token, bool) {
	e, ok := c.lookup(key)
	if !ok || e.token == nil || e.token.Expired(time.Now()) {
		return Token{}, false
	}
	return cloneToken(*e.token), true
}

func (c *redisConn) cacheToken(key string, gen uint64, t Token) {
	t = cloneToken(t)
	c.put(key, gen, redisCacheEntry{token: &t})
}

// cachedSession returns the cached session of key, or nil. It is
// read-only, as Store.Session's are.
func (c *redisConn) cachedSession(key []byte) *Session {
	e, ok := c.lookupBytes(key)
	if !ok || e.session == nil || sessionExpired(*e.session, time.Now()) {
		return nil
	}
	return e.session
}

// cacheSession caches s, just decoded: it is read-only from now on.
func (c *redisConn) cacheSession(key string, gen uint64, s *Session) {
	c.put(key, gen, redisCacheEntry{session: s})
}

// cachedCounter returns the cached failure counter of key (zero: none).
func (c *redisConn) cachedCounter(key []byte) (Counter, bool) {
	now := monotonic.Now()
	c.cache.mu.Lock()
	e, ok := c.counterEntry(key, now)
	c.cache.mu.Unlock()
	if !ok {
		return Counter{}, false
	}
	return *e.counter, true
}

// cachedCounters looks up the failure counters of keys (nil ones are
// skipped) under one lock and one clock reading: a password check's three.
// ok is false when one of them is not cached; a counter not on record is
// a zero Counter. gen is the cache's generation they were read in, and
// oldest when the oldest of them was cached.
func (c *redisConn) cachedCounters(keys [3][]byte) (counters [3]Counter, gen uint64, oldest monotonic.Instant, ok bool) {
	now := monotonic.Now()
	oldest = now
	c.cache.mu.Lock()
	defer c.cache.mu.Unlock()
	for i, key := range keys {
		if key == nil {
			continue
		}
		e, found := c.counterEntry(key, now)
		if !found {
			return counters, 0, 0, false
		}
		counters[i] = *e.counter
		oldest = min(oldest, e.stored)
	}
	return counters, c.cache.gen.Load(), oldest, true
}

// counterEntry is the entry of the failure counter under key, when the
// cache is live and holds one young enough at now. The caller holds
// c.cache.mu. A stale entry is left for lookup or the next put to drop.
func (c *redisConn) counterEntry(key []byte, now monotonic.Instant) (redisCacheEntry, bool) {
	if !c.cache.live {
		return redisCacheEntry{}, false
	}
	e, ok := c.cache.entries[string(key)]
	if !ok || e.counter == nil || e.tooOldAt(now) {
		return redisCacheEntry{}, false
	}
	return e, true
}

func (c *redisConn) cacheCounter(key string, gen uint64, n Counter) {
	c.put(key, gen, redisCacheEntry{counter: &n})
}

package store

import (
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddy-restauth/caddy-restauth/internal/monotonic"
	"github.com/caddy-restauth/caddy-restauth/internal/poll"
	"github.com/caddy-restauth/caddy-restauth/internal/redistest"
)

// newTestRedis opens a backend on srv with a logger the test observes.
func newTestRedis(t *testing.T, addr string) (*redisBackend, *observer.ObservedLogs) {
	t.Helper()
	return newTestBackend(t, &Redis{Address: addr})
}

// newTestBackend opens a backend as r configures it, with a logger the
// test observes.
func newTestBackend(t *testing.T, r *Redis) (*redisBackend, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zap.DebugLevel)
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	target, err := r.target()
	if err != nil {
		t.Fatal(err)
	}
	conn := newRedisConn(target, zap.New(core))
	t.Cleanup(func() { _ = conn.destroy() })
	return newRedisBackend(conn, "t:", r.WaitReplicas, r.waitTimeout()), logs
}

// pollUntil calls cond until it is true, failing after timeout.
func pollUntil(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	poll.Until(t, what, timeout, poll.True(cond))
}

// cacheLive reports whether c's invalidation subscription is confirmed,
// that is whether its cache answers.
func cacheLive(c *redisConn) bool {
	c.cache.mu.Lock()
	defer c.cache.mu.Unlock()
	return c.cache.live
}

// cacheNotRevoked reads jti through b, which is not revoked, until b's
// cache holds that answer (its subscription must be up first).
func cacheNotRevoked(t *testing.T, b *redisBackend, jti string) {
	t.Helper()
	pollUntil(t, "the not-revoked answer for "+jti+" to be cached", 5*time.Second, func() bool {
		if got, err := b.IsRevoked(t.Context(), jti); err != nil || got {
			t.Fatalf("IsRevoked(%s) = %v, %v; want false", jti, got, err)
		}
		_, ok := b.conn.cachedRevoked(b.key("r", jti))
		return ok
	})
}

func TestRedisOutageLoggedOnce(t *testing.T) {
	srv := redistest.Start(t)
	b, logs := newTestRedis(t, srv.Addr())
	ctx := t.Context()
	if _, err := b.IsRevoked(ctx, "jti"); err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	for range 20 {
		if _, err := b.Failures(ctx, "alice"); err == nil {
			t.Fatal("Failures with redis down: no error")
		}
	}
	srv.Restart()
	pollUntil(t, "the store to recover", 5*time.Second, func() bool {
		_, err := b.Failures(ctx, "alice")
		return err == nil
	})
	for range 5 {
		if _, err := b.Failures(ctx, "alice"); err != nil {
			t.Fatal(err)
		}
	}
	if n := logs.FilterMessageSnippet("redis unreachable").FilterLevelExact(zap.ErrorLevel).Len(); n != 1 {
		t.Errorf("outage logged %d times at ERROR, want once", n)
	}
	if n := logs.FilterMessageSnippet("reachable again").FilterLevelExact(zap.InfoLevel).Len(); n != 1 {
		t.Errorf("recovery logged %d times at INFO, want once", n)
	}
}

// TestRedisSubscriptionLossBypassesCache: when the invalidation
// subscription is cut, a revocation that no invalidation announces is
// still seen, because the cache is dropped and bypassed until the
// subscription is back.
func TestRedisSubscriptionLossBypassesCache(t *testing.T) {
	srv := redistest.Start(t)
	b, _ := newTestRedis(t, srv.Addr())
	ctx := t.Context()
	cacheNotRevoked(t, b, "jti")
	admin := srv.Client()
	if err := admin.Do(ctx, "CLIENT", "KILL", "TYPE", "pubsub").Err(); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, "b to notice the lost subscription", time.Second, func() bool { return !cacheLive(b.conn) })
	if _, ok := b.conn.cachedRevoked(b.key("r", "jti")); ok {
		t.Fatal("cache still answers while the subscription is down")
	}
	// Written straight into redis: no invalidation is published at all.
	if err := admin.Set(ctx, "t:r:jti", time.Now().Add(time.Hour).UnixMilli(), time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	if got, err := b.IsRevoked(ctx, "jti"); err != nil || !got {
		t.Errorf("IsRevoked after the subscription was cut = %v, %v; want true", got, err)
	}
	pollUntil(t, "b to resubscribe", 5*time.Second, func() bool { return cacheLive(b.conn) })
}

// TestRedisNoFailuresReadsCachedCounts: the in-memory answer that a
// password check's counters do not exist looks at the counts the cache
// holds, not only at whether it holds them: a live counter cached (a user
// with failed logins, read once) keeps the answer false; once it expired,
// the cached copy no longer counts.
func TestRedisNoFailuresReadsCachedCounts(t *testing.T) {
	srv := redistest.Start(t)
	b, _ := newTestRedis(t, srv.Addr())
	ctx := t.Context()
	keys := [3]string{"nf:ua", "nf:u", "nf:a"}
	now := time.Now()
	b.now = func() time.Time { return now }
	if err := b.SetFailures(ctx, "nf:u", Counter{Count: 3, Expires: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, "the three counters to be cached", 5*time.Second, func() bool {
		for _, k := range keys {
			if _, err := b.Failures(ctx, k); err != nil {
				t.Fatal(err)
			}
			if _, ok := b.conn.cachedCounter([]byte(b.key("f", k))); !ok {
				return false
			}
		}
		return true
	})
	if b.NoFailures(keys) {
		t.Error("NoFailures = true with a live counter of 3 cached")
	}
	now = now.Add(2 * time.Hour)
	if !b.NoFailures(keys) {
		t.Error("NoFailures = false with only an expired counter cached")
	}
}

// TestRedisNoFailuresMemo: once the cache held a check's three counters as
// absent, a memo answers for the same key strings until anything changes
// the cache (an invalidation, here of a key unrelated to them) or its
// entries grow too old to trust; keys with the same text at another
// address are looked up, not taken from the memo; a counter expired
// rather than absent is never memoised.
func TestRedisNoFailuresMemo(t *testing.T) {
	srv := redistest.Start(t)
	b, _ := newTestRedis(t, srv.Addr())
	ctx := t.Context()
	keys := [3]string{"memo:ua", "memo:u", "memo:a"}
	memo := func() *redisFailureMemo { return b.failureMemos.slots[redisFailureMemoSlot(keys)].Load() }
	pollUntil(t, "the three counters cached as absent", 5*time.Second, func() bool {
		if _, err := CheckFailures(ctx, b, keys); err != nil {
			t.Fatal(err)
		}
		return b.NoFailures(keys)
	})
	m := memo()
	if m == nil || !sameStrings(m.keys, keys) || !b.failureMemos.holds(keys, b.conn.cache.gen.Load()) {
		t.Fatalf("no memo after NoFailures answered true: %+v", m)
	}

	copies := [3]string{strings.Clone(keys[0]), strings.Clone(keys[1]), strings.Clone(keys[2])}
	if sameStrings(copies, keys) || b.failureMemos.holds(copies, b.conn.cache.gen.Load()) {
		t.Error("a memo answers for keys of the same text at other addresses")
	}
	if !b.NoFailures(copies) {
		t.Error("NoFailures of equal keys at other addresses = false, want true (looked up)")
	}

	if _, err := b.AddFailure(ctx, "memo:other", time.Hour); err != nil { // invalidates memo:other
		t.Fatal(err)
	}
	if b.failureMemos.holds(keys, b.conn.cache.gen.Load()) {
		t.Error("the memo holds after an invalidation")
	}
	if !b.NoFailures(keys) {
		t.Fatal("NoFailures = false after an unrelated invalidation, want true (looked up again)")
	}
	stale := *memo()
	stale.oldest -= monotonic.Instant(redisCacheMaxAge + time.Millisecond)
	b.failureMemos.slots[redisFailureMemoSlot(keys)].Store(&stale)
	if b.failureMemos.holds(keys, b.conn.cache.gen.Load()) {
		t.Error("a memo of entries older than redisCacheMaxAge holds")
	}

	// A counter expired rather than absent: answered, not memoised.
	now := time.Now()
	b.now = func() time.Time { return now }
	if err := b.SetFailures(ctx, keys[1], Counter{Count: 3, Expires: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Hour)
	pollUntil(t, "the expired counter cached", 5*time.Second, func() bool {
		if _, err := CheckFailures(ctx, b, keys); err != nil {
			t.Fatal(err)
		}
		return b.NoFailures(keys)
	})
	if b.failureMemos.holds(keys, b.conn.cache.gen.Load()) {
		t.Error("a check with an expired counter was memoised")
	}
}

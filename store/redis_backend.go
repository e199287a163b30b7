package store

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// Key layout, each under the configured prefix (the token keys are in
// redis_tokens.go):
//
//	r:<jti>        string: end of the revocation (Unix ms); PEXPIREAT there
//	s:<hex hash>   string: session (session_codec.go); PEXPIREAT at its deadline
//	f:<key>        hash: n = count, e = expiry (20-digit Unix ns); PEXPIREAT
//	sec:<name>     string: generated secret, no expiry
//
// Each of these is read and written alone (a script touches one
// key), so in a Redis Cluster they spread over every hash slot.

// redisConn is one pooled client, shared by every Redis module that
// connects the same way. It tracks whether Redis is reachable so that an
// outage is logged once, not once per request.
type redisConn struct {
	client   redis.UniversalClient
	mode     string
	location string
	logger   *zap.Logger

	// secretMu makes concurrent Secret calls in this process generate once.
	secretMu sync.Mutex

	stateMu sync.Mutex
	down    bool

	cache     redisCache
	stopCache context.CancelFunc
	cacheDone chan struct{}
}

func newRedisConn(t *redisTarget, logger *zap.Logger) *redisConn {
	c := &redisConn{client: t.newClient(), mode: t.mode, location: t.location, logger: logger}
	c.startCache()
	return c
}

func (c *redisConn) destroy() error {
	c.closeCache()
	if err := c.client.Close(); err != nil {
		return fmt.Errorf("closing redis client: %w", err)
	}
	return nil
}

// unavailableReplies are the error replies by which Redis says it cannot
// serve now rather than that the request is wrong: a server still loading
// its data, a master demoted to a replica by a failover (READONLY), a
// master without enough replicas (min-replicas-to-write), a cluster
// reconfiguring or missing a node. They count as an outage (503), like a
// connection failure.
var unavailableReplies = []string{"LOADING", "READONLY", "MASTERDOWN", "NOREPLICAS", "CLUSTERDOWN", "TRYAGAIN", "MOVED", "ASK"}

// connectionFailed reports whether err means Redis could not serve the
// call, as opposed to a reply such as "no such key" or a script's error.
func connectionFailed(err error) bool {
	if err == nil || errors.Is(err, redis.Nil) || errors.Is(err, context.Canceled) {
		// A cancelled call: the client went away; says nothing about Redis.
		return false
	}
	var reply redis.Error
	if !errors.As(err, &reply) {
		return true
	}
	code, _, _ := strings.Cut(reply.Error(), " ")
	return slices.Contains(unavailableReplies, code)
}

// observe records the outcome of a call to Redis: the first failure (see
// connectionFailed) after a success is logged at ERROR, the first success
// after a failure at INFO. It reports whether err is such a failure.
func (c *redisConn) observe(err error) (failed bool) {
	failed = connectionFailed(err)
	if failed {
		c.flush()
	}
	c.stateMu.Lock()
	defer c.stateMu.Unlock()
	switch {
	case failed && !c.down:
		c.down = true
		c.logger.Error("redis unreachable: requests that need the token store fail until it is back",
			zap.String("mode", c.mode), zap.String("address", c.location), zap.Error(err))
	case err == nil && c.down:
		c.down = false
		c.logger.Info("redis reachable again", zap.String("mode", c.mode), zap.String("address", c.location))
	}
	return failed
}

// redisBackend is the Store over one connection and one key prefix.
type redisBackend struct {
	conn   *redisConn
	prefix string
	// now tells the time that decides expiries on this side (Redis drops
	// expired keys by its own clock); time.Now unless a test moves it.
	now func() time.Time
	// waitReplicas and waitTimeout make revocations wait for replicas
	// (redis_wait.go).
	waitReplicas int
	waitTimeout  time.Duration
	// tokenLayout moves tokens stored by older versions once
	// (redis_token_migration.go).
	tokenLayout tokenLayout
	// failureMemos answer NoFailures for keys seen absent before.
	failureMemos redisFailureMemos
}

func newRedisBackend(conn *redisConn, prefix string, waitReplicas int, waitTimeout time.Duration) *redisBackend {
	b := &redisBackend{conn: conn, prefix: prefix, now: time.Now, waitReplicas: waitReplicas, waitTimeout: waitTimeout}
	// Older versions could not write tokens to a cluster: nothing to move.
	b.tokenLayout.current.Store(conn.mode == redisModeCluster)
	return b
}

func (b *redisBackend) key(kind, id string) string { return b.prefix + kind + ":" + id }

// do records the outcome of a call for outage logging and wraps a failure
// with what names the operation.
func (b *redisBackend) do(what string, err error) error {
	var notReplicated *notReplicatedError
	switch {
	case errors.As(err, &notReplicated):
		// Redis is up; the write is in place on the master, but not known
		// to be safe from a failover.
		b.conn.logger.Warn("write not acknowledged by enough redis replicas in time: the operation fails (a revocation, logout or renewal answers 503)",
			zap.String("operation", what), zap.Int("acknowledged", notReplicated.acknowledged),
			zap.Int("wait_replicas", notReplicated.want), zap.Duration("wait_timeout", b.waitTimeout))
		return fmt.Errorf("redis store: %s: %w: %w", what, ErrUnavailable, err)
	case b.conn.observe(err):
		return fmt.Errorf("redis store: %s: %w: %w", what, ErrUnavailable, err)
	case err == nil || errors.Is(err, redis.Nil):
		return err
	}
	return fmt.Errorf("redis store: %s: %w", what, err)
}

// invalidate drops key from every instance's cache (see redis_cache.go).
// A write whose invalidation could not be published reports an error, so
// that the caller (a logout, a token deletion) fails and is retried rather
// than leaving other instances with a stale answer.
func (b *redisBackend) invalidate(ctx context.Context, key string) error {
	return b.do("publishing the change to other instances", b.conn.invalidate(ctx, key, 2))
}

// pxat is t as Unix milliseconds, rounded up so that Redis never drops a
// record before the time the caller gave.
func pxat(t time.Time) int64 {
	ms := t.UnixMilli()
	if t.After(time.UnixMilli(ms)) {
		ms++
	}
	return ms
}

// nanos formats t as 20-digit Unix nanoseconds, so that Lua scripts can
// compare times as strings.
func nanos(t time.Time) string {
	n := t.UnixNano()
	if n < 0 {
		n = 0
	}
	return fmt.Sprintf("%020d", n)
}

func parseNanos(s string) (time.Time, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("bad time %q: %w", s, err)
	}
	return time.Unix(0, n).UTC(), nil
}

// scriptRevoke revokes KEYS[1] until ARGV[1] (Unix ms) unless it is
// revoked already, in which case it only extends a shorter revocation. A
// record that ended by ARGV[2] (now, Unix ms) counts as none, as it does
// for IsRevoked: Redis may drop an expired key a moment late. It returns 1
// when this call revoked, 0 when the token was revoked already: one atomic
// step, so of concurrent revocations of one token exactly one reports
// revoked.
var scriptRevoke = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur and tonumber(cur) <= tonumber(ARGV[2]) then cur = false end
if cur and tonumber(cur) >= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[1])
if cur then return 0 end
return 1
`)

// Revoke implements Store.
func (b *redisBackend) Revoke(ctx context.Context, jti string, until time.Time) (bool, error) {
	if err := checkKey("jti", jti); err != nil {
		return false, err
	}
	now := b.now()
	if !until.After(now) {
		return false, nil
	}
	key := b.key("r", jti)
	var n int
	err := b.writeRevocation(ctx, "revoking a token", key, key, func(c redis.Cmdable) error {
		var err error
		n, err = scriptRevoke.Run(ctx, c, []string{key}, pxat(until), pxat(now)).Int()
		return err
	})
	if err != nil {
		return false, err
	}
	return n == 1, nil
}

// IsRevoked implements Store.
func (b *redisBackend) IsRevoked(ctx context.Context, jti string) (bool, error) {
	if jti == "" {
		return false, nil
	}
	key := b.key("r", jti)
	now := b.now()
	if until, ok := b.conn.cachedRevoked(key); ok {
		return now.Before(until), nil
	}
	gen := b.conn.generation()
	v, err := b.conn.client.Get(ctx, key).Int64()
	if errors.Is(err, redis.Nil) {
		b.conn.observe(nil)
		b.conn.cacheRevoked(key, gen, time.Time{})
		return false, nil
	}
	if err := b.do("checking revocation", err); err != nil {
		return false, err
	}
	until := time.UnixMilli(v)
	b.conn.cacheRevoked(key, gen, until)
	return now.Before(until), nil
}

// NotRevoked implements RevocationFree: the client-side cache holds jti's
// revocation record as absent or ended. The key is built on the stack.
func (b *redisBackend) NotRevoked(jti string) bool {
	if jti == "" {
		return true
	}
	var buf [128]byte
	e, ok := b.conn.lookupBytes(b.appendKey(buf[:0], "r", jti))
	return ok && !b.now().Before(e.revokedUntil)
}

// sessionPXAT is when Redis drops s: the millisecond before its deadline,
// so that once the session has expired here, an UpdateSession (SET XX)
// cannot find the key and bring it back.
func sessionPXAT(s Session) int64 {
	return s.Deadline().UnixMilli() - 1
}

func (b *redisBackend) sessionKey(idHash []byte) string {
	return b.key("s", hex.EncodeToString(idHash))
}

// CreateSession implements Store.
func (b *redisBackend) CreateSession(ctx context.Context, s Session) error {
	if err := checkSession(s); err != nil {
		return err
	}
	if sessionExpired(s, b.now()) {
		return nil // stored and gone at once
	}
	key := b.sessionKey(s.IDHash)
	err := b.conn.client.Do(ctx, "SET", key, encodeSession(s), "PXAT", sessionPXAT(s), "NX").Err()
	if errors.Is(err, redis.Nil) {
		b.conn.observe(nil)
		return ErrExists
	}
	if err := b.do("creating session", err); err != nil {
		return err
	}
	return b.invalidate(ctx, key)
}

// Session implements Store.
func (b *redisBackend) Session(ctx context.Context, idHash []byte) (*Session, error) {
	if len(idHash) == 0 {
		return nil, ErrNotFound
	}
	// The key on the stack for the cache lookup: a string only on a miss.
	var buf [192]byte
	cacheKey := hex.AppendEncode(append(append(buf[:0], b.prefix...), "s:"...), idHash)
	if s := b.conn.cachedSession(cacheKey); s != nil {
		return s, nil
	}
	key := string(cacheKey)
	gen := b.conn.generation()
	v, err := b.conn.client.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		b.conn.observe(nil)
		return nil, ErrNotFound
	}
	if err := b.do("reading session", err); err != nil {
		return nil, err
	}
	s, err := decodeSession(idHash, v)
	if err != nil {
		return nil, fmt.Errorf("redis store: reading session: %w", err)
	}
	if sessionExpired(s, b.now()) {
		return nil, ErrNotFound
	}
	b.conn.cacheSession(key, gen, &s) // read-only from now on
	return &s, nil
}

// UpdateSession implements Store.
func (b *redisBackend) UpdateSession(ctx context.Context, s Session) error {
	if err := checkSession(s); err != nil {
		return err
	}
	key := b.sessionKey(s.IDHash)
	if sessionExpired(s, b.now()) {
		// Updated to a deadline already past: the session is gone.
		if _, err := b.deleteSessionKey(ctx, key); err != nil {
			return err
		}
		return ErrNotFound
	}
	err := b.conn.client.Do(ctx, "SET", key, encodeSession(s), "PXAT", sessionPXAT(s), "XX").Err()
	if errors.Is(err, redis.Nil) {
		b.conn.observe(nil)
		return ErrNotFound
	}
	if err := b.do("updating session", err); err != nil {
		return err
	}
	return b.invalidate(ctx, key)
}

// DeleteSession implements Store.
func (b *redisBackend) DeleteSession(ctx context.Context, idHash []byte) error {
	if len(idHash) == 0 {
		return nil
	}
	_, err := b.deleteSessionKey(ctx, b.sessionKey(idHash))
	return err
}

// deleteSessionKey ends the session stored under key, everywhere, and
// reports whether there was one.
func (b *redisBackend) deleteSessionKey(ctx context.Context, key string) (bool, error) {
	var n int64
	err := b.writeRevocation(ctx, "deleting session", key, key, func(c redis.Cmdable) error {
		var err error
		n, err = c.Del(ctx, key).Result()
		return err
	})
	return n > 0, err
}

var scriptAddFailure = redis.NewScript(`
local e = redis.call('HGET', KEYS[1], 'e')
if e and e > ARGV[3] then
	return {redis.call('HINCRBY', KEYS[1], 'n', 1), e}
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'n', 1, 'e', ARGV[1])
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
return {1, ARGV[1]}
`)

// counterFrom decodes the count and expiry fields of a counter hash.
func counterFrom(n, e any) (Counter, error) {
	var c Counter
	switch v := n.(type) {
	case int64:
		c.Count = int(v)
	case string:
		i, err := strconv.Atoi(v)
		if err != nil {
			return Counter{}, fmt.Errorf("bad count %q", v)
		}
		c.Count = i
	default:
		return Counter{}, nil
	}
	es, _ := e.(string)
	at, err := parseNanos(es)
	if err != nil {
		return Counter{}, err
	}
	c.Expires = at
	return c, nil
}

// AddFailure implements Store.
func (b *redisBackend) AddFailure(ctx context.Context, key string, window time.Duration) (Counter, error) {
	if err := checkKey("failure key", key); err != nil {
		return Counter{}, err
	}
	if err := checkWindow(window); err != nil {
		return Counter{}, err
	}
	now := b.now()
	exp := now.Add(window)
	k := b.key("f", key)
	res, err := scriptAddFailure.Run(ctx, b.conn.client, []string{k}, nanos(exp), pxat(exp), nanos(now)).Slice()
	if err := b.do("counting a failed login", err); err != nil {
		b.conn.drop(k)
		return Counter{}, err
	}
	c, err := counterFrom(res[0], res[1])
	if err != nil {
		return Counter{}, fmt.Errorf("redis store: counting a failed login: %w", err)
	}
	// Every instance reads the counter from its cache: drop it everywhere.
	if err := b.invalidate(ctx, k); err != nil {
		return Counter{}, err
	}
	return c, nil
}

// Failures implements Store.
func (b *redisBackend) Failures(ctx context.Context, key string) (Counter, error) {
	if key == "" {
		return Counter{}, nil
	}
	var buf [128]byte
	c, ok := b.cachedCounter(&buf, key)
	if !ok {
		k := b.key("f", key)
		gen := b.conn.generation()
		vals, err := b.conn.client.HMGet(ctx, k, "n", "e").Result()
		if err := b.do("reading failed logins", err); err != nil {
			return Counter{}, err
		}
		if c, err = counterFrom(vals[0], vals[1]); err != nil {
			return Counter{}, fmt.Errorf("redis store: reading failed logins: %w", err)
		}
		b.conn.cacheCounter(k, gen, c)
	}
	if c.Count == 0 || counterExpired(c, b.now()) {
		return Counter{}, nil
	}
	return c, nil
}

// cachedCounter is the failure counter under key in the client-side
// cache. The key is built in buf, on the caller's stack (a password check
// reads three counters): a string is made only on a miss.
func (b *redisBackend) cachedCounter(buf *[128]byte, key string) (Counter, bool) {
	return b.conn.cachedCounter(b.appendCounterKey(buf[:0], key))
}

// appendCounterKey appends the cache (and Redis) key of the failure
// counter under key to dst.
func (b *redisBackend) appendCounterKey(dst []byte, key string) []byte {
	return b.appendKey(dst, "f", key)
}

// appendKey appends b.key(kind, id) to dst: a key to look up in the
// client-side cache without making a string of it.
func (b *redisBackend) appendKey(dst []byte, kind, id string) []byte {
	return append(append(append(append(dst, b.prefix...), kind...), ':'), id...)
}

// NoFailures implements FailureFree: the client-side cache holds every
// key's counter, and none is live. A memo answers for keys seen absent
// before in the cache's current generation (redisFailureMemos); otherwise
// the three keys are built side by side in one buffer on the stack and
// looked up together.
func (b *redisBackend) NoFailures(keys [3]string) bool {
	if b.failureMemos.holds(keys, b.conn.cache.gen.Load()) {
		return true
	}
	var buf [384]byte
	var cacheKeys [3][]byte
	at := buf[:0]
	for i, key := range keys {
		if key == "" {
			continue
		}
		start := len(at)
		at = b.appendCounterKey(at, key)
		cacheKeys[i] = at[start:len(at):len(at)]
	}
	counters, gen, oldest, ok := b.conn.cachedCounters(cacheKeys)
	if !ok {
		return false
	}
	var now time.Time
	for _, c := range counters {
		if c.Count == 0 {
			continue
		}
		if now.IsZero() {
			now = b.now()
		}
		if !counterExpired(c, now) {
			return false
		}
	}
	if now.IsZero() { // all absent, not merely expired (which depends on the time)
		b.failureMemos.remember(keys, gen, oldest)
	}
	return true
}

// scriptSetFailures replaces the counter KEYS[1] with count ARGV[1],
// expiry ARGV[2] (20-digit Unix ns) and PEXPIREAT ARGV[3], or deletes it
// when the count is 0. A script rather than MULTI: a write Redis refuses
// (READONLY, NOREPLICAS) comes back as itself, not as EXECABORT.
var scriptSetFailures = redis.NewScript(`
redis.call('DEL', KEYS[1])
if ARGV[1] ~= '0' then
	redis.call('HSET', KEYS[1], 'n', ARGV[1], 'e', ARGV[2])
	redis.call('PEXPIREAT', KEYS[1], ARGV[3])
end
return 0
`)

// SetFailures implements Store.
func (b *redisBackend) SetFailures(ctx context.Context, key string, c Counter) error {
	if err := checkKey("failure key", key); err != nil {
		return err
	}
	k := b.key("f", key)
	if c.Count <= 0 || counterExpired(c, b.now()) {
		c = Counter{}
	}
	// A lockout, or an operator's "log this user out everywhere" (the
	// JWT authenticator keeps it as a counter), must survive a failover
	// like a revocation.
	return b.writeRevocation(ctx, "setting failed logins", k, k, func(conn redis.Cmdable) error {
		return scriptSetFailures.Run(ctx, conn, []string{k}, c.Count, nanos(c.Expires), pxat(c.Expires)).Err()
	})
}

// ResetFailures implements Store.
func (b *redisBackend) ResetFailures(ctx context.Context, key string) error {
	if key == "" {
		return nil
	}
	k := b.key("f", key)
	if err := b.do("resetting failed logins", b.conn.client.Del(ctx, k).Err()); err != nil {
		b.conn.drop(k)
		return err
	}
	return b.invalidate(ctx, k)
}

// Secret implements Store.
func (b *redisBackend) Secret(ctx context.Context, name string, generate func() ([]byte, error)) ([]byte, error) {
	if err := checkKey("secret name", name); err != nil {
		return nil, err
	}
	key := b.key("sec", name)
	get := func() ([]byte, error) {
		v, err := b.conn.client.Get(ctx, key).Bytes()
		if errors.Is(err, redis.Nil) {
			b.conn.observe(nil)
			return nil, nil
		}
		if err := b.do("reading secret "+name, err); err != nil {
			return nil, err
		}
		return v, nil
	}
	if v, err := get(); err != nil || v != nil {
		return v, err
	}
	b.conn.secretMu.Lock()
	defer b.conn.secretMu.Unlock()
	if v, err := get(); err != nil || v != nil {
		return v, err
	}
	s, err := generateSecret(name, generate)
	if err != nil {
		return nil, err
	}
	// Another process may have stored one meanwhile: NX keeps the first,
	// and everyone reads that one back.
	err = b.conn.client.SetNX(ctx, key, s, 0).Err()
	if err := b.do("storing secret "+name, err); err != nil {
		return nil, err
	}
	v, err := get()
	if err == nil && v == nil {
		err = fmt.Errorf("redis store: secret %s vanished after it was stored", name)
	}
	return v, err
}

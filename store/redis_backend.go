package store

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// Key layout, each under the configured prefix:
//
//	t:<id>         hash: j = token JSON (without last_used), lu = last use
//	               (20-digit Unix ns), h = hex key hash, o = owner; PEXPIREAT
//	               at the token's expiry
//	th:<hex hash>  string: token id; same expiry as the token
//	to:<owner>     sorted set of token ids by creation (Unix ms)
//	ta             sorted set of every token id by creation
//	r:<jti>        string: end of the revocation (Unix ms); PEXPIREAT there
//	s:<hex hash>   string: session (session_codec.go); PEXPIREAT at its deadline
//	f:<key>        hash: n = count, e = expiry (20-digit Unix ns); PEXPIREAT
//	sec:<name>     string: generated secret, no expiry
//
// Index entries of tokens that expired are skipped on read and removed then.

// redisConn is one pooled client, shared by every Redis module that
// connects the same way. It tracks whether Redis is reachable so that an
// outage is logged once, not once per request.
type redisConn struct {
	client *redis.Client
	logger *zap.Logger

	// secretMu makes concurrent Secret calls in this process generate once.
	secretMu sync.Mutex

	stateMu sync.Mutex
	down    bool

	cache     redisCache
	stopCache context.CancelFunc
	cacheDone chan struct{}
}

func newRedisConn(opts *redis.Options, logger *zap.Logger) *redisConn {
	c := &redisConn{client: redis.NewClient(opts), logger: logger}
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

// observe records the outcome of a call to Redis: the first connection
// failure after a success is logged at ERROR, the first success after a
// failure at INFO. Replies such as "no such key" or a script's error are not
// failures of the connection. It reports whether err is such a failure.
func (c *redisConn) observe(err error) (failed bool) {
	var replyErr redis.Error
	failed = err != nil && !errors.Is(err, redis.Nil) && !errors.As(err, &replyErr) &&
		!errors.Is(err, context.Canceled) // the client went away; says nothing about Redis
	if failed {
		c.flush()
	}
	c.stateMu.Lock()
	defer c.stateMu.Unlock()
	switch {
	case failed && !c.down:
		c.down = true
		c.logger.Error("redis unreachable: requests that need the token store fail until it is back",
			zap.String("address", c.client.Options().Addr), zap.Error(err))
	case err == nil && c.down:
		c.down = false
		c.logger.Info("redis reachable again", zap.String("address", c.client.Options().Addr))
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
}

func (b *redisBackend) key(kind, id string) string { return b.prefix + kind + ":" + id }

// do records the outcome of a call for outage logging and wraps a failure
// with what names the operation.
func (b *redisBackend) do(what string, err error) error {
	if b.conn.observe(err) {
		return fmt.Errorf("redis store: %s: %w: %w", what, ErrUnavailable, err)
	}
	if err == nil || errors.Is(err, redis.Nil) {
		return err
	}
	return fmt.Errorf("redis store: %s: %w", what, err)
}

// invalidate drops key from every instance's cache (see redis_cache.go).
// A write whose invalidation could not be published reports an error, so
// that the caller (a logout, a token deletion) fails and is retried rather
// than leaving other instances with a stale answer.
func (b *redisBackend) invalidate(ctx context.Context, key string) error {
	return b.do("publishing the change to other instances", b.conn.invalidate(ctx, key))
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

var scriptCreateToken = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 1 end
local other = redis.call('GET', KEYS[2])
if other and redis.call('EXISTS', ARGV[5] .. other) == 1 then return 2 end
redis.call('HSET', KEYS[1], 'j', ARGV[1], 'h', ARGV[6], 'o', ARGV[7])
if ARGV[8] ~= '' then redis.call('HSET', KEYS[1], 'lu', ARGV[8]) end
redis.call('SET', KEYS[2], ARGV[2])
if ARGV[4] ~= '0' then
	redis.call('PEXPIREAT', KEYS[1], ARGV[4])
	redis.call('PEXPIREAT', KEYS[2], ARGV[4])
end
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[2])
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[2])
return 0
`)

// CreateToken implements Store.
func (b *redisBackend) CreateToken(ctx context.Context, t Token) error {
	if err := checkToken(t); err != nil {
		return err
	}
	stored := cloneToken(t)
	stored.LastUsed = nil
	j, err := json.Marshal(stored)
	if err != nil {
		return fmt.Errorf("redis store: encoding token %s: %w", t.ID, err)
	}
	hash := hex.EncodeToString(t.KeyHash)
	var exp int64
	if t.Expires != nil {
		exp = pxat(*t.Expires)
	}
	lu := ""
	if t.LastUsed != nil {
		lu = nanos(*t.LastUsed)
	}
	res, err := scriptCreateToken.Run(ctx, b.conn.client,
		[]string{b.key("t", t.ID), b.key("th", hash), b.key("to", t.Owner), b.prefix + "ta"},
		j, t.ID, t.Created.UnixMilli(), exp, b.prefix+"t:", hash, t.Owner, lu).Int()
	if err := b.do("creating token "+t.ID, err); err != nil {
		return err
	}
	if res != 0 {
		return ErrExists
	}
	return b.invalidate(ctx, b.key("th", hash))
}

// decodeTokenFields builds a token from the j and lu fields of its hash;
// ErrNotFound when the hash is missing or the token expired.
func decodeTokenFields(id string, j, lu any, now time.Time) (Token, error) {
	js, ok := j.(string)
	if !ok {
		return Token{}, ErrNotFound
	}
	var t Token
	if err := json.Unmarshal([]byte(js), &t); err != nil {
		return Token{}, fmt.Errorf("redis store: decoding token %s: %w", id, err)
	}
	if s, ok := lu.(string); ok && s != "" {
		at, err := parseNanos(s)
		if err != nil {
			return Token{}, fmt.Errorf("redis store: token %s last use: %w", id, err)
		}
		t.LastUsed = &at
	}
	if t.Expired(now) {
		return Token{}, ErrNotFound
	}
	return t, nil
}

// Token implements Store.
func (b *redisBackend) Token(ctx context.Context, id string) (Token, error) {
	if id == "" {
		return Token{}, ErrNotFound
	}
	vals, err := b.conn.client.HMGet(ctx, b.key("t", id), "j", "lu").Result()
	if err := b.do("reading token "+id, err); err != nil {
		return Token{}, err
	}
	return decodeTokenFields(id, vals[0], vals[1], b.now())
}

var scriptTokenByHash = redis.NewScript(`
local id = redis.call('GET', KEYS[1])
if not id then return false end
local v = redis.call('HMGET', ARGV[1] .. id, 'j', 'lu')
return {id, v[1], v[2]}
`)

// TokenByKeyHash implements Store.
func (b *redisBackend) TokenByKeyHash(ctx context.Context, keyHash []byte) (Token, error) {
	if len(keyHash) == 0 {
		return Token{}, ErrNotFound
	}
	key := b.key("th", hex.EncodeToString(keyHash))
	if t, ok := b.conn.cachedToken(key); ok {
		return t, nil
	}
	gen := b.conn.generation()
	res, err := scriptTokenByHash.Run(ctx, b.conn.client, []string{key}, b.prefix+"t:").Slice()
	if errors.Is(err, redis.Nil) {
		b.conn.observe(nil)
		return Token{}, ErrNotFound
	}
	if err := b.do("reading token by key hash", err); err != nil {
		return Token{}, err
	}
	id, _ := res[0].(string)
	t, err := decodeTokenFields(id, res[1], res[2], b.now())
	if err != nil {
		return Token{}, err
	}
	if !slices.Equal(t.KeyHash, keyHash) {
		return Token{}, ErrNotFound
	}
	b.conn.cacheToken(key, gen, t)
	return cloneToken(t), nil
}

// Tokens implements Store.
func (b *redisBackend) Tokens(ctx context.Context, owner string) ([]Token, error) {
	index := b.prefix + "ta"
	if owner != "" {
		index = b.key("to", owner)
	}
	ids, err := b.conn.client.ZRange(ctx, index, 0, -1).Result()
	if err := b.do("listing tokens", err); err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, nil
	}
	cmds := make([]*redis.SliceCmd, len(ids))
	_, err = b.conn.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HMGet(ctx, b.key("t", id), "j", "lu")
		}
		return nil
	})
	if err := b.do("listing tokens", err); err != nil {
		return nil, err
	}
	now := b.now()
	var list []Token
	var stale []any
	for i, cmd := range cmds {
		vals := cmd.Val()
		t, err := decodeTokenFields(ids[i], vals[0], vals[1], now)
		switch {
		case errors.Is(err, ErrNotFound):
			stale = append(stale, ids[i])
			continue
		case err != nil:
			return nil, err
		case owner != "" && t.Owner != owner:
			// The id was reused by another owner after this one's token
			// expired.
			stale = append(stale, ids[i])
			continue
		}
		list = append(list, t)
	}
	if len(stale) > 0 {
		// Best effort: a failure leaves entries the next listing skips.
		_ = b.conn.client.ZRem(ctx, index, stale...).Err()
	}
	slices.SortFunc(list, compareTokens)
	return list, nil
}

var scriptDeleteToken = redis.NewScript(`
local v = redis.call('HMGET', KEYS[1], 'h', 'o')
if not v[1] then return false end
redis.call('DEL', KEYS[1])
local hk = ARGV[1] .. v[1]
if redis.call('GET', hk) == ARGV[4] then redis.call('DEL', hk) end
redis.call('ZREM', ARGV[2] .. v[2], ARGV[4])
redis.call('ZREM', ARGV[3], ARGV[4])
return hk
`)

// DeleteToken implements Store.
func (b *redisBackend) DeleteToken(ctx context.Context, id string) error {
	if id == "" {
		return ErrNotFound
	}
	hk, err := scriptDeleteToken.Run(ctx, b.conn.client, []string{b.key("t", id)},
		b.prefix+"th:", b.prefix+"to:", b.prefix+"ta", id).Text()
	if errors.Is(err, redis.Nil) {
		b.conn.observe(nil)
		return ErrNotFound
	}
	if err := b.do("deleting token "+id, err); err != nil {
		return err
	}
	return b.invalidate(ctx, hk)
}

var scriptTouchTokens = redis.NewScript(`
for i, k in ipairs(KEYS) do
	if redis.call('EXISTS', k) == 1 then
		local cur = redis.call('HGET', k, 'lu')
		if not cur or ARGV[i] > cur then redis.call('HSET', k, 'lu', ARGV[i]) end
	end
end
return 0
`)

// TouchTokens implements Store.
func (b *redisBackend) TouchTokens(ctx context.Context, lastUsed map[string]time.Time) error {
	if len(lastUsed) == 0 {
		return nil
	}
	keys := make([]string, 0, len(lastUsed))
	args := make([]any, 0, len(lastUsed))
	for id, at := range lastUsed {
		if id == "" {
			continue
		}
		keys = append(keys, b.key("t", id))
		args = append(args, nanos(at))
	}
	err := scriptTouchTokens.Run(ctx, b.conn.client, keys, args...).Err()
	return b.do("recording token use", err)
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
	n, err := scriptRevoke.Run(ctx, b.conn.client, []string{key}, pxat(until), pxat(now)).Int()
	if err := b.do("revoking a token", err); err != nil {
		return false, err
	}
	if err := b.invalidate(ctx, key); err != nil {
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
func (b *redisBackend) Session(ctx context.Context, idHash []byte) (Session, error) {
	if len(idHash) == 0 {
		return Session{}, ErrNotFound
	}
	key := b.sessionKey(idHash)
	if s, ok := b.conn.cachedSession(key); ok {
		return s, nil
	}
	gen := b.conn.generation()
	v, err := b.conn.client.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		b.conn.observe(nil)
		return Session{}, ErrNotFound
	}
	if err := b.do("reading session", err); err != nil {
		return Session{}, err
	}
	s, err := decodeSession(idHash, v)
	if err != nil {
		return Session{}, fmt.Errorf("redis store: reading session: %w", err)
	}
	if sessionExpired(s, b.now()) {
		return Session{}, ErrNotFound
	}
	b.conn.cacheSession(key, gen, s)
	return cloneSession(s), nil
}

// UpdateSession implements Store.
func (b *redisBackend) UpdateSession(ctx context.Context, s Session) error {
	if err := checkSession(s); err != nil {
		return err
	}
	key := b.sessionKey(s.IDHash)
	var err error
	if sessionExpired(s, b.now()) {
		// Updated to a deadline already past: the session is gone.
		err = b.conn.client.Del(ctx, key).Err()
		if err == nil {
			if err := b.invalidate(ctx, key); err != nil {
				return err
			}
			err = redis.Nil
		}
	} else {
		err = b.conn.client.Do(ctx, "SET", key, encodeSession(s), "PXAT", sessionPXAT(s), "XX").Err()
	}
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
	key := b.sessionKey(idHash)
	err := b.conn.client.Del(ctx, key).Err()
	if err := b.do("deleting session", err); err != nil {
		return err
	}
	return b.invalidate(ctx, key)
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
	res, err := scriptAddFailure.Run(ctx, b.conn.client, []string{b.key("f", key)},
		nanos(exp), pxat(exp), nanos(now)).Slice()
	if err := b.do("counting a failed login", err); err != nil {
		return Counter{}, err
	}
	c, err := counterFrom(res[0], res[1])
	if err != nil {
		return Counter{}, fmt.Errorf("redis store: counting a failed login: %w", err)
	}
	return c, nil
}

// Failures implements Store.
func (b *redisBackend) Failures(ctx context.Context, key string) (Counter, error) {
	if key == "" {
		return Counter{}, nil
	}
	vals, err := b.conn.client.HMGet(ctx, b.key("f", key), "n", "e").Result()
	if err := b.do("reading failed logins", err); err != nil {
		return Counter{}, err
	}
	c, err := counterFrom(vals[0], vals[1])
	if err != nil {
		return Counter{}, fmt.Errorf("redis store: reading failed logins: %w", err)
	}
	if c.Count == 0 || counterExpired(c, b.now()) {
		return Counter{}, nil
	}
	return c, nil
}

// SetFailures implements Store.
func (b *redisBackend) SetFailures(ctx context.Context, key string, c Counter) error {
	if err := checkKey("failure key", key); err != nil {
		return err
	}
	k := b.key("f", key)
	_, err := b.conn.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, k)
		if c.Count > 0 && !counterExpired(c, b.now()) {
			p.HSet(ctx, k, "n", c.Count, "e", nanos(c.Expires))
			p.PExpireAt(ctx, k, time.UnixMilli(pxat(c.Expires)))
		}
		return nil
	})
	return b.do("setting failed logins", err)
}

// ResetFailures implements Store.
func (b *redisBackend) ResetFailures(ctx context.Context, key string) error {
	if key == "" {
		return nil
	}
	return b.do("resetting failed logins", b.conn.client.Del(ctx, b.key("f", key)).Err())
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

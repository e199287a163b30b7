package store

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"
)

// Token key layout, each under the configured prefix:
//
//	{t}:t:<id>         hash: j = token JSON (without last_used), lu = last
//	                   use (20-digit Unix ns), h = hex key hash, o = owner;
//	                   PEXPIREAT at the token's expiry
//	{t}:th:<hex hash>  string: token id; same expiry as the token
//	{t}:to:<owner>     sorted set of token ids by creation (Unix ms)
//	{t}:ta             sorted set of every token id by creation
//
// The hash tag {t} puts every token key in one hash slot of a Redis
// Cluster, so that creating a token can check in one script that neither
// its id nor its key hash is taken, whoever owns the other token, and
// deleting one removes it from every index at once. Tokens are few and
// rarely written, and requests read them from the local cache: one slot
// holds them without becoming a hot spot. Sessions, revocations and
// counters, written per request, spread over the cluster.
//
// A key hash index entry exists exactly as long as its token: both are
// written, expired and deleted together. Index entries of tokens that
// expired are skipped on read and removed then.

// tokenKey names a token key of the kind t, th or to.
func (b *redisBackend) tokenKey(kind, id string) string { return b.prefix + "{t}:" + kind + ":" + id }

// allTokensKey names the index of every token.
func (b *redisBackend) allTokensKey() string { return b.prefix + "{t}:ta" }

var scriptCreateToken = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 1 end
if redis.call('EXISTS', KEYS[2]) == 1 then return 2 end
redis.call('HSET', KEYS[1], 'j', ARGV[1], 'h', ARGV[5], 'o', ARGV[6])
if ARGV[7] ~= '' then redis.call('HSET', KEYS[1], 'lu', ARGV[7]) end
redis.call('SET', KEYS[2], ARGV[2])
if ARGV[4] ~= '0' then
	redis.call('PEXPIREAT', KEYS[1], ARGV[4])
	redis.call('PEXPIREAT', KEYS[2], ARGV[4])
end
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[2])
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[2])
return 0
`)

// createTokenArgs returns the keys and arguments of scriptCreateToken for t.
func (b *redisBackend) createTokenArgs(t Token) (keys []string, args []any, err error) {
	stored := cloneToken(t)
	stored.LastUsed = nil
	j, err := json.Marshal(stored)
	if err != nil {
		return nil, nil, fmt.Errorf("redis store: encoding token %s: %w", t.ID, err)
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
	keys = []string{b.tokenKey("t", t.ID), b.tokenKey("th", hash), b.tokenKey("to", t.Owner), b.allTokensKey()}
	args = []any{j, t.ID, t.Created.UnixMilli(), exp, hash, t.Owner, lu}
	return keys, args, nil
}

// CreateToken implements Store.
func (b *redisBackend) CreateToken(ctx context.Context, t Token) error {
	if err := checkToken(t); err != nil {
		return err
	}
	if err := b.ensureTokenLayout(ctx); err != nil {
		return err
	}
	keys, args, err := b.createTokenArgs(t)
	if err != nil {
		return err
	}
	res, err := scriptCreateToken.Run(ctx, b.conn.client, keys, args...).Int()
	if err := b.do("creating token "+t.ID, err); err != nil {
		return err
	}
	if res != 0 {
		return ErrExists
	}
	return b.invalidate(ctx, keys[1])
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
	if err := b.ensureTokenLayout(ctx); err != nil {
		return Token{}, err
	}
	vals, err := b.conn.client.HMGet(ctx, b.tokenKey("t", id), "j", "lu").Result()
	if err := b.do("reading token "+id, err); err != nil {
		return Token{}, err
	}
	return decodeTokenFields(id, vals[0], vals[1], b.now())
}

// TokenByKeyHash implements Store. The key hash index names the token's
// id, which names the record: two reads, as a script may only touch the
// keys it is given. A record read after its id was reused by another
// token has another key hash, and does not count.
func (b *redisBackend) TokenByKeyHash(ctx context.Context, keyHash []byte) (Token, error) {
	if len(keyHash) == 0 {
		return Token{}, ErrNotFound
	}
	if err := b.ensureTokenLayout(ctx); err != nil {
		return Token{}, err
	}
	key := b.tokenKey("th", hex.EncodeToString(keyHash))
	if t, ok := b.conn.cachedToken(key); ok {
		return t, nil
	}
	gen := b.conn.generation()
	id, err := b.conn.client.Get(ctx, key).Result()
	if errors.Is(err, redis.Nil) {
		b.conn.observe(nil)
		return Token{}, ErrNotFound
	}
	if err := b.do("reading token by key hash", err); err != nil {
		return Token{}, err
	}
	vals, err := b.conn.client.HMGet(ctx, b.tokenKey("t", id), "j", "lu").Result()
	if err := b.do("reading token by key hash", err); err != nil {
		return Token{}, err
	}
	t, err := decodeTokenFields(id, vals[0], vals[1], b.now())
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
	if err := b.ensureTokenLayout(ctx); err != nil {
		return nil, err
	}
	index := b.allTokensKey()
	if owner != "" {
		index = b.tokenKey("to", owner)
	}
	now := b.now()
	var list []Token
	err := b.scanIndex(ctx, index, func(ids []string) ([]any, error) {
		cmds := make([]*redis.SliceCmd, len(ids))
		_, err := b.conn.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, id := range ids {
				cmds[i] = p.HMGet(ctx, b.tokenKey("t", id), "j", "lu")
			}
			return nil
		})
		if err := b.do("listing tokens", err); err != nil {
			return nil, err
		}
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
		return stale, nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(list, compareTokens)
	return list, nil
}

// scriptDeleteToken deletes the token KEYS[1] and its index entries
// (KEYS[2..4]) if its key hash and owner are still ARGV[2] and ARGV[3],
// as read before: it returns 1 when it deleted, 0 when the token is gone,
// 2 when another token took the id meanwhile (read again and retry).
var scriptDeleteToken = redis.NewScript(`
local v = redis.call('HMGET', KEYS[1], 'h', 'o')
if not v[1] then return 0 end
if v[1] ~= ARGV[2] or v[2] ~= ARGV[3] then return 2 end
redis.call('DEL', KEYS[1])
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
return 1
`)

// DeleteToken implements Store.
func (b *redisBackend) DeleteToken(ctx context.Context, id string) error {
	if id == "" {
		return ErrNotFound
	}
	if err := b.ensureTokenLayout(ctx); err != nil {
		return err
	}
	record := b.tokenKey("t", id)
	for range 3 {
		vals, err := b.conn.client.HMGet(ctx, record, "h", "o").Result()
		if err := b.do("deleting token "+id, err); err != nil {
			return err
		}
		hash, _ := vals[0].(string)
		owner, _ := vals[1].(string)
		if hash == "" {
			return ErrNotFound
		}
		hashKey := b.tokenKey("th", hash)
		var res int
		err = b.writeRevocation(ctx, "deleting token "+id, record, hashKey, func(c redis.Cmdable) error {
			var err error
			res, err = scriptDeleteToken.Run(ctx, c,
				[]string{record, hashKey, b.tokenKey("to", owner), b.allTokensKey()}, id, hash, owner).Int()
			if err == nil && res != 1 {
				return redis.Nil // nothing deleted: nothing to wait for or invalidate
			}
			return err
		})
		switch {
		case errors.Is(err, redis.Nil) && res == 2:
			continue
		case errors.Is(err, redis.Nil):
			return ErrNotFound
		}
		return err
	}
	return fmt.Errorf("redis store: deleting token %s: its id kept being reused while deleting", id)
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
	if err := b.ensureTokenLayout(ctx); err != nil {
		return err
	}
	keys := make([]string, 0, len(lastUsed))
	args := make([]any, 0, len(lastUsed))
	for id, at := range lastUsed {
		if id == "" {
			continue
		}
		keys = append(keys, b.tokenKey("t", id))
		args = append(args, nanos(at))
	}
	if len(keys) == 0 {
		return nil
	}
	err := scriptTouchTokens.Run(ctx, b.conn.client, keys, args...).Err()
	return b.do("recording token use", err)
}

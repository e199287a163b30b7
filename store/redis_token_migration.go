package store

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// Versions before the Sentinel and Cluster support kept tokens under
// t:<id>, th:<hex hash>, to:<owner> and ta (no hash tag; see
// redis_tokens.go for the layout now). The first token operation of a
// backend moves every such token to the current layout, one atomic script
// per token, tells instances of the older version to drop the moved tokens
// from their caches, and deletes the old owner indexes; the other records
// (revocations, sessions, counters, secrets) kept their keys. Tokens an
// instance of an older version creates meanwhile are moved by the next
// start or reload of an upgraded instance. A Cluster never held tokens of
// the old layout (its scripts touched keys in several hash slots, which a
// cluster refuses), so it skips the check.

// tokenLayout is whether a backend's tokens are known to be in the current
// layout.
type tokenLayout struct {
	current atomic.Bool
	mu      sync.Mutex
}

// scriptMigrateToken moves token ARGV[1] (key hash ARGV[2], owner ARGV[3],
// created ARGV[4] Unix ms) from the old keys KEYS[1..4] (t, th, to, ta) to
// the new ones KEYS[5..8], unless it changed or went since it was read.
// The record keeps its TTL; the key hash index gets the same. It returns
// 1 when it moved the token.
var scriptMigrateToken = redis.NewScript(`
local v = redis.call('HMGET', KEYS[1], 'h', 'o')
if not v[1] then
	redis.call('ZREM', KEYS[4], ARGV[1])
	return 0
end
if v[1] ~= ARGV[2] or v[2] ~= ARGV[3] then return 0 end
local moved = 0
if redis.call('EXISTS', KEYS[5]) == 0 and redis.call('EXISTS', KEYS[6]) == 0 then
	redis.call('RENAME', KEYS[1], KEYS[5])
	redis.call('SET', KEYS[6], ARGV[1])
	local ttl = redis.call('PTTL', KEYS[5])
	if ttl > 0 then redis.call('PEXPIRE', KEYS[6], ttl) end
	redis.call('ZADD', KEYS[7], ARGV[4], ARGV[1])
	redis.call('ZADD', KEYS[8], ARGV[4], ARGV[1])
	moved = 1
else
	redis.call('DEL', KEYS[1])
end
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
return moved
`)

// ensureTokenLayout moves the tokens of the old layout, once per backend:
// a failure (Redis down) fails this operation, and the next one tries
// again.
func (b *redisBackend) ensureTokenLayout(ctx context.Context) error {
	if b.tokenLayout.current.Load() {
		return nil
	}
	b.tokenLayout.mu.Lock()
	defer b.tokenLayout.mu.Unlock()
	if b.tokenLayout.current.Load() {
		return nil
	}
	if err := b.migrateTokens(ctx); err != nil {
		return err
	}
	b.tokenLayout.current.Store(true)
	return nil
}

// migrateTokens moves every token listed in the old index of all tokens.
func (b *redisBackend) migrateTokens(ctx context.Context) error {
	const what = "moving tokens of an older version"
	oldAll := b.prefix + "ta"
	old, err := b.conn.client.ZRangeWithScores(ctx, oldAll, 0, -1).Result()
	if err := b.do(what, err); err != nil {
		return err
	}
	if len(old) == 0 {
		return nil
	}
	moved := 0
	for _, z := range old {
		id, _ := z.Member.(string)
		vals, err := b.conn.client.HMGet(ctx, b.key("t", id), "h", "o").Result()
		if err := b.do(what, err); err != nil {
			return err
		}
		hash, _ := vals[0].(string)
		owner, _ := vals[1].(string)
		keys := []string{
			b.key("t", id), b.key("th", hash), b.key("to", owner), oldAll,
			b.tokenKey("t", id), b.tokenKey("th", hash), b.tokenKey("to", owner), b.allTokensKey(),
		}
		n, err := scriptMigrateToken.Run(ctx, b.conn.client, keys, id, hash, owner, int64(z.Score)).Int()
		if err := b.do(what, err); err != nil {
			return err
		}
		moved += n
		if hash != "" {
			// Instances of the older version cache the token under its old
			// key hash index: they must read again (and no longer find it)
			// rather than keep it after it is deleted in the new layout.
			if err := b.invalidate(ctx, b.key("th", hash)); err != nil {
				return err
			}
		}
	}
	// What is left in the old owner indexes are tokens that expired.
	stale, err := b.conn.scan(ctx, escapeGlob(b.key("to", ""))+"*")
	if err := b.do(what, err); err != nil {
		return err
	}
	for _, key := range stale {
		if err := b.do(what, b.conn.client.Del(ctx, key).Err()); err != nil {
			return err
		}
	}
	b.conn.logger.Info("moved the API tokens of an older version to the current redis key layout",
		zap.String("key_prefix", b.prefix), zap.Int("tokens", moved))
	return nil
}

package store

import (
	"context"
	"fmt"
	"sync/atomic"
)

// Sizes is implemented by stores that tell how many API tokens and
// sessions they hold without reading every record: what the
// caddy_rest_auth_tokens and caddy_rest_auth_sessions gauges show. The
// counts may include records that have expired and are not yet removed
// (at most a sweep interval, or Redis's own expiry, behind).
type Sizes interface {
	Sizes(ctx context.Context) (tokens, sessions int, err error)
}

// Sizes implements Sizes from what the file's index keeps in memory (the
// token key hashes and session ids it holds): no transaction.
func (b *boltBackend) Sizes(ctx context.Context) (tokens, sessions int, err error) {
	if _, err := b.ready(ctx); err != nil {
		return 0, 0, err
	}
	return b.mem.keyHashes.len(), b.mem.sessions.len(), nil
}

// Sizes implements Sizes.
func (m *memoryBackend) Sizes(context.Context) (tokens, sessions int, err error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.tokens), len(m.sessions), nil
}

// Sizes implements Sizes: the tokens are the size of the index of every
// token; the sessions are counted by a SCAN over their keys (no record is
// read), so it takes a while with many, and is never on a request's path.
func (b *redisBackend) Sizes(ctx context.Context) (tokens, sessions int, err error) {
	if err := b.ensureTokenLayout(ctx); err != nil {
		return 0, 0, err
	}
	n, err := b.conn.client.ZCard(ctx, b.allTokensKey()).Result()
	if err := b.do("counting tokens", err); err != nil {
		return 0, 0, err
	}
	var count atomic.Int64
	err = b.conn.scanEach(ctx, escapeGlob(b.key("s", ""))+"*", func(string) { count.Add(1) })
	if err != nil {
		return 0, 0, fmt.Errorf("redis store: counting sessions: %w", err)
	}
	return int(n), int(count.Load()), nil
}

// Interface guards
var (
	_ Sizes = (*boltBackend)(nil)
	_ Sizes = (*memoryBackend)(nil)
	_ Sizes = (*redisBackend)(nil)
)

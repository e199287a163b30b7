package store

import (
	"context"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// scan returns every key that matches the SCAN pattern match, from every
// master of a cluster (a SCAN reaches one node only). It is for operators
// and one-time work, never for requests.
func (c *redisConn) scan(ctx context.Context, match string) ([]string, error) {
	var mu sync.Mutex
	var keys []string
	err := c.scanEach(ctx, match, func(key string) {
		mu.Lock()
		keys = append(keys, key)
		mu.Unlock()
	})
	return keys, err
}

// scanEach calls visit with every key that matches match, as scan finds
// them (from the masters of a cluster at once: visit must be safe for
// concurrent use).
func (c *redisConn) scanEach(ctx context.Context, match string, visit func(key string)) error {
	cluster, ok := c.client.(*redis.ClusterClient)
	if !ok {
		return scanNode(ctx, c.client, match, visit)
	}
	return cluster.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		return scanNode(ctx, node, match, visit)
	})
}

// scanNode is scanEach on one server.
func scanNode(ctx context.Context, node redis.Cmdable, match string, visit func(key string)) error {
	iter := node.Scan(ctx, 0, match, 1000).Iterator()
	for iter.Next(ctx) {
		visit(iter.Val())
	}
	return iter.Err()
}

// escapeGlob escapes the characters SCAN MATCH treats as a pattern.
func escapeGlob(s string) string {
	return strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`, `]`, `\]`).Replace(s)
}

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
	cluster, ok := c.client.(*redis.ClusterClient)
	if !ok {
		return scanNode(ctx, c.client, match)
	}
	var mu sync.Mutex
	var keys []string
	err := cluster.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		found, err := scanNode(ctx, node, match)
		mu.Lock()
		keys = append(keys, found...)
		mu.Unlock()
		return err
	})
	return keys, err
}

// scanNode is scan on one server.
func scanNode(ctx context.Context, node redis.Cmdable, match string) ([]string, error) {
	var keys []string
	iter := node.Scan(ctx, 0, match, 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	return keys, iter.Err()
}

// escapeGlob escapes the characters SCAN MATCH treats as a pattern.
func escapeGlob(s string) string {
	return strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`, `]`, `\]`).Replace(s)
}

package store

import (
	"context"
)

// redisIndexBatch is how many ids of a token index one call reads (ZSCAN
// COUNT) or removes (ZREM). The indexes keep the ids of expired tokens until
// a listing finds them gone, so after many tokens expire an index can be
// large; reading or cleaning it in one command would stall Redis for every
// other client meanwhile.
const redisIndexBatch = 1000

// scanIndex calls visit with the ids in the sorted set index, a batch at a
// time and each id once, and removes from the index the ids visit reports
// stale, batch by batch. Ids added or removed during the scan may or may
// not be visited.
func (b *redisBackend) scanIndex(ctx context.Context, index string, visit func(ids []string) (stale []any, err error)) error {
	seen := make(map[string]struct{})
	var cursor uint64
	for {
		// ZSCAN answers member, score, member, score, …
		page, next, err := b.conn.client.ZScan(ctx, index, cursor, "", redisIndexBatch).Result()
		if err := b.do("listing tokens", err); err != nil {
			return err
		}
		ids := make([]string, 0, len(page)/2)
		for i := 0; i < len(page); i += 2 {
			if _, dup := seen[page[i]]; !dup { // ZSCAN may return an id twice
				seen[page[i]] = struct{}{}
				ids = append(ids, page[i])
			}
		}
		if len(ids) > 0 {
			stale, err := visit(ids)
			if err != nil {
				return err
			}
			if len(stale) > 0 {
				// Best effort: a failure leaves entries the next listing skips.
				_ = b.conn.client.ZRem(ctx, index, stale...).Err()
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

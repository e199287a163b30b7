package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis replicates asynchronously: a master acknowledges a write before
// any replica has it, and a failover to a replica that had not received it
// loses it. For a revocation that would bring a logged-out JWT, a deleted
// token or an ended session back to life. With wait_replicas, a revocation
// is written on one connection to the master that holds its key and
// followed there by `WAIT <n> <timeout>`, which returns once n replicas
// have received every write of that connection; fewer in time fails the
// revocation with ErrUnavailable (503), so a revocation answered with
// success is on n replicas. The same holds for SetFailures: a lockout, and
// the JWT authenticator's "log this user out everywhere".

// notReplicatedError is a write that fewer replicas than wait_replicas
// acknowledged within wait_timeout. The write is in place on the master.
type notReplicatedError struct {
	acknowledged, want int
}

func (e *notReplicatedError) Error() string {
	return fmt.Sprintf("%d of %d replicas acknowledged the write in time", e.acknowledged, e.want)
}

// writeRevocation runs write, a change that revokes what the store answers
// for the key invalidate (slotKey is a key write touches: it picks the
// master in a cluster), makes it wait for replicas as configured, and then
// drops invalidate from every instance's cache. It does so even when the
// write failed: a write whose reply was lost (a timeout), or that too few
// replicas acknowledged, may be in place on the master, and a client that
// retries is then told the credential is gone while other instances would
// still answer from their caches. write returns redis.Nil when it changed
// nothing; then nothing is invalidated.
func (b *redisBackend) writeRevocation(ctx context.Context, what, slotKey, invalidate string, write func(redis.Cmdable) error) error {
	err := b.do(what, b.replicated(ctx, slotKey, write))
	switch {
	case err == nil:
		return b.invalidate(ctx, invalidate)
	case errors.Is(err, redis.Nil):
		return err
	}
	// One quick attempt: Redis may well be down, and the request should
	// get its 503 without waiting for more timeouts.
	quick, cancel := context.WithTimeout(ctx, failedWriteInvalidateTimeout)
	defer cancel()
	_ = b.conn.invalidate(quick, invalidate, 1)
	return err
}

// failedWriteInvalidateTimeout bounds the invalidation after a failed
// revocation.
const failedWriteInvalidateTimeout = 250 * time.Millisecond

// replicated runs write and, with wait_replicas, waits for the replicas
// on the same connection (WAIT counts the writes of its own connection).
func (b *redisBackend) replicated(ctx context.Context, slotKey string, write func(redis.Cmdable) error) error {
	if b.waitReplicas == 0 {
		return write(b.conn.client)
	}
	master, err := b.conn.master(ctx, slotKey)
	if err != nil {
		return err
	}
	conn := master.Conn()
	defer conn.Close()
	if err := write(conn); err != nil {
		return err
	}
	n, err := conn.Wait(ctx, b.waitReplicas, b.waitTimeout).Result()
	if err != nil {
		return err
	}
	if int(n) < b.waitReplicas {
		return &notReplicatedError{acknowledged: int(n), want: b.waitReplicas}
	}
	return nil
}

// master returns the client of the master that holds key: the node of a
// cluster, or the one client of the other modes.
func (c *redisConn) master(ctx context.Context, key string) (*redis.Client, error) {
	switch client := c.client.(type) {
	case *redis.ClusterClient:
		return client.MasterForKey(ctx, key)
	case *redis.Client:
		return client, nil
	}
	return nil, fmt.Errorf("redis store: no master for %T", c.client)
}

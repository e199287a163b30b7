package store

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/caddy-restauth/caddy-restauth/internal/redistest"
)

// revocations are the store writes that take a credential away, each with
// what sets it up and the key whose absence (or, for a JWT, presence) on
// a replica shows the revocation reached it.
var revocations = []struct {
	name string
	// revoke sets up a credential named by id and revokes it.
	revoke func(ctx context.Context, b *redisBackend, id string) error
	// onReplica reports whether the replica has the revocation.
	onReplica func(ctx context.Context, b *redisBackend, replica *redis.Client, id string) (bool, error)
}{
	{
		name: "JWT logout",
		revoke: func(ctx context.Context, b *redisBackend, id string) error {
			_, err := b.Revoke(ctx, id, time.Now().Add(time.Hour))
			return err
		},
		onReplica: func(ctx context.Context, b *redisBackend, replica *redis.Client, id string) (bool, error) {
			n, err := replica.Exists(ctx, b.key("r", id)).Result()
			return n == 1, err
		},
	},
	{
		name: "token deletion",
		revoke: func(ctx context.Context, b *redisBackend, id string) error {
			if err := b.CreateToken(ctx, Token{ID: id, KeyHash: []byte(id), Owner: "alice", Created: time.Now()}); err != nil {
				return err
			}
			return b.DeleteToken(ctx, id)
		},
		onReplica: func(ctx context.Context, b *redisBackend, replica *redis.Client, id string) (bool, error) {
			n, err := replica.Exists(ctx, b.tokenKey("t", id), b.tokenKey("th", hex.EncodeToString([]byte(id)))).Result()
			return n == 0, err
		},
	},
	{
		name: "user logout",
		revoke: func(ctx context.Context, b *redisBackend, id string) error {
			return b.SetFailures(ctx, id, Counter{Count: 1, Expires: time.Now().Add(time.Hour)})
		},
		onReplica: func(ctx context.Context, b *redisBackend, replica *redis.Client, id string) (bool, error) {
			n, err := replica.Exists(ctx, b.key("f", id)).Result()
			return n == 1, err
		},
	},
	{
		name: "session end",
		revoke: func(ctx context.Context, b *redisBackend, id string) error {
			now := time.Now()
			s := Session{IDHash: []byte(id), User: "alice", Created: now, IdleExpires: now.Add(time.Hour), Expires: now.Add(time.Hour)}
			if err := b.CreateSession(ctx, s); err != nil {
				return err
			}
			return b.DeleteSession(ctx, s.IDHash)
		},
		onReplica: func(ctx context.Context, b *redisBackend, replica *redis.Client, id string) (bool, error) {
			n, err := replica.Exists(ctx, b.sessionKey([]byte(id))).Result()
			return n == 0, err
		},
	},
}

// TestRedisWaitReplicas: with wait_replicas, a revocation that succeeded
// is on the replica at that moment (no waiting afterwards), and one the
// replica cannot acknowledge fails with ErrUnavailable, so that the
// client is told it may not have happened.
func TestRedisWaitReplicas(t *testing.T) {
	master := redistest.Start(t)
	replica := master.StartReplica()
	// A generous timeout while the replica is up (a busy machine must not
	// fail the test), a short one once it is gone.
	patient, _ := newTestBackend(t, &Redis{Address: master.Addr(), WaitReplicas: 1, WaitTimeout: caddy.Duration(5 * time.Second)})
	b, logs := newTestBackend(t, &Redis{Address: master.Addr(), WaitReplicas: 1, WaitTimeout: caddy.Duration(200 * time.Millisecond)})
	ctx := t.Context()
	rc := replica.Client()
	for _, r := range revocations {
		id := "acked-" + strings.ReplaceAll(r.name, " ", "-")
		if err := r.revoke(ctx, patient, id); err != nil {
			t.Fatalf("%s with the replica up: %v", r.name, err)
		}
		if ok, err := r.onReplica(ctx, patient, rc, id); err != nil || !ok {
			t.Errorf("%s acknowledged, but not on the replica: %v, %v", r.name, ok, err)
		}
	}

	// Another instance, which has cached the JWT as not revoked.
	other, _ := newTestBackend(t, &Redis{Address: master.Addr()})
	cacheNotRevoked(t, other, "unacked-JWT-logout")

	replica.Kill()
	for _, r := range revocations {
		start := time.Now()
		err := r.revoke(ctx, b, "unacked-"+strings.ReplaceAll(r.name, " ", "-"))
		if !errors.Is(err, ErrUnavailable) {
			t.Errorf("%s without a replica = %v, want ErrUnavailable (503)", r.name, err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s without a replica took %v; the wait timeout is 200ms", r.name, d)
		}
	}
	// The revocation is in place on the master all the same, and the
	// other instance's cache was told.
	for name, s := range map[string]*redisBackend{"this instance": b, "the other instance": other} {
		pollUntil(t, name+" to see the unacknowledged revocation", time.Second, func() bool {
			got, err := s.IsRevoked(ctx, "unacked-JWT-logout")
			return err == nil && got
		})
	}
	if n := logs.FilterMessageSnippet("write not acknowledged by enough redis replicas").FilterLevelExact(zap.WarnLevel).Len(); n != len(revocations) {
		t.Errorf("%d warnings about unacknowledged revocations, want %d", n, len(revocations))
	}
	if n := logs.FilterMessageSnippet("redis unreachable").Len(); n != 0 {
		t.Errorf("a missing replica was logged as redis unreachable %d times", n)
	}
}

// TestRedisFailedRevocationInvalidates: a revocation whose reply was lost
// (a timeout after Redis ran it) fails with ErrUnavailable, and still
// tells the other instances, which would otherwise keep answering from
// their caches while the client's retry learns the credential is gone.
func TestRedisFailedRevocationInvalidates(t *testing.T) {
	srv := redistest.Start(t)
	ctx := t.Context()
	b, _ := newTestBackend(t, &Redis{Address: srv.Addr()})
	other, _ := newTestBackend(t, &Redis{Address: srv.Addr()})
	now := time.Now()
	sess := Session{IDHash: []byte("sid"), User: "alice", Created: now, IdleExpires: now.Add(time.Hour), Expires: now.Add(time.Hour)}
	if err := b.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	key := b.sessionKey(sess.IDHash)
	pollUntil(t, "the other instance's cached session", 5*time.Second, func() bool {
		_, _ = other.Session(ctx, sess.IDHash)
		ok := other.conn.cachedSession([]byte(key)) != nil
		return ok
	})
	lost := &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
	err := b.writeRevocation(ctx, "deleting session", key, key, func(c redis.Cmdable) error {
		if err := c.Del(ctx, key).Err(); err != nil {
			return err
		}
		return lost // Redis deleted it; its reply did not arrive
	})
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("revocation with a lost reply = %v, want ErrUnavailable", err)
	}
	pollUntil(t, "the other instance to drop the session", time.Second, func() bool {
		_, err := other.Session(ctx, sess.IDHash)
		return errors.Is(err, ErrNotFound)
	})
}

// TestRedisSentinelFailover: the master dies; while the sentinels fail
// over, every store call either fails with ErrUnavailable or answers
// right (never from a cache that may have missed an invalidation); then
// the store works again without being reopened, a revocation acknowledged
// before the failover is still there, and the invalidation subscription
// is back, on the new master.
func TestRedisSentinelFailover(t *testing.T) {
	s := redistest.StartSentinel(t)
	b, logs := newTestBackend(t, &Redis{
		Sentinel:     &RedisSentinel{Master: redistest.SentinelMaster, Addresses: s.Addrs()},
		WaitReplicas: 1,
		WaitTimeout:  caddy.Duration(2 * time.Second),
	})
	ctx := t.Context()
	if ok, err := b.Revoke(ctx, "before", time.Now().Add(time.Hour)); err != nil || !ok {
		t.Fatalf("Revoke before the failover = %v, %v", ok, err)
	}
	cacheNotRevoked(t, b, "cached")

	old := s.Master()
	old.Kill()
	pollUntil(t, "the store to notice the lost master", 2*time.Second, func() bool { return !cacheLive(b.conn) })
	if _, ok := b.conn.cachedRevoked(b.key("r", "cached")); ok {
		t.Fatal("the cache still answers with the master gone")
	}
	unavailable := 0
	pollUntil(t, "the store to work again after the failover", 30*time.Second, func() bool {
		got, err := b.IsRevoked(ctx, "before")
		switch {
		case errors.Is(err, ErrUnavailable):
			unavailable++
			return false
		case err != nil:
			t.Fatalf("IsRevoked during the failover: %v, want ErrUnavailable or an answer", err)
		case !got:
			t.Fatal("a revocation acknowledged before the failover is gone after it")
		}
		return true
	})
	if unavailable == 0 {
		t.Error("no call failed while the master was down")
	}
	newMaster := s.WaitFailover(old, 30*time.Second)
	t.Logf("failed over from %s to %s; %d calls answered unavailable", old.Addr(), newMaster.Addr(), unavailable)

	// Writes, with a replica acknowledging them, work on the new master
	// once the sentinels have the other replica follow it (their timers,
	// not ours: as long as the failover's own deadline on a loaded machine).
	pollUntil(t, "a revocation acknowledged by a replica of the new master", 30*time.Second, func() bool {
		_, err := b.Revoke(ctx, "after", time.Now().Add(time.Hour))
		if err != nil && !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Revoke after the failover: %v", err)
		}
		return err == nil
	})
	if got, err := b.IsRevoked(ctx, "after"); err != nil || !got {
		t.Fatalf("IsRevoked after the failover = %v, %v", got, err)
	}
	pollUntil(t, "the subscription to come back", 5*time.Second, func() bool { return cacheLive(b.conn) })
	nm := newMaster.Client()
	if n, err := nm.PubSubNumSub(ctx, redisInvalidateChannel).Result(); err != nil || n[redisInvalidateChannel] < 1 {
		t.Errorf("subscribers of %s on the new master = %v, %v; want the store's", redisInvalidateChannel, n, err)
	}
	// An invalidation published on the new master reaches the cache.
	cacheNotRevoked(t, b, "cached")
	if err := nm.Publish(ctx, redisInvalidateChannel, b.key("r", "cached")).Err(); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, "the invalidation from the new master", time.Second, func() bool {
		_, ok := b.conn.cachedRevoked(b.key("r", "cached"))
		return !ok
	})
	if n := logs.FilterMessageSnippet("reachable again").Len(); n != 1 {
		t.Errorf("recovery logged %d times, want once", n)
	}
}

// TestRedisClusterInvalidationFromEveryNode: in a cluster, an invalidation
// published on any node, whichever holds the subscription, reaches the
// cache (classic pub/sub is broadcast over the cluster bus).
func TestRedisClusterInvalidationFromEveryNode(t *testing.T) {
	c := redistest.StartCluster(t)
	b, _ := newTestBackend(t, &Redis{Cluster: c.Addrs()})
	ctx := t.Context()
	for _, node := range c.Nodes {
		key := b.key("r", "jti-"+node.Addr())
		cacheNotRevoked(t, b, "jti-"+node.Addr())
		if err := node.Client().Publish(ctx, redisInvalidateChannel, key).Err(); err != nil {
			t.Fatal(err)
		}
		pollUntil(t, "the invalidation published on "+node.Addr(), time.Second, func() bool {
			_, ok := b.conn.cachedRevoked(key)
			return !ok
		})
	}
}

// TestRedisClusterWaitsOnTheRightMaster: with wait_replicas in a cluster,
// each revocation runs and WAITs on the master of its own key's slot
// (these masters have no replica, so WAIT 1 cannot succeed): every
// revocation is in place and fails as unacknowledged, never with a
// redirection to another node.
func TestRedisClusterWaitsOnTheRightMaster(t *testing.T) {
	c := redistest.StartCluster(t)
	ctx := t.Context()
	b, logs := newTestBackend(t, &Redis{Cluster: c.Addrs(), WaitReplicas: 1, WaitTimeout: caddy.Duration(50 * time.Millisecond)})
	slots := map[int64]bool{}
	for i := range 6 {
		jti := fmt.Sprintf("jti-%d", i)
		slot, err := c.Client().ClusterKeySlot(ctx, b.key("r", jti)).Result()
		if err != nil {
			t.Fatal(err)
		}
		slots[slot/5462] = true // which third of the slots: which node, as redis-cli splits them
		if _, err := b.Revoke(ctx, jti, time.Now().Add(time.Hour)); !errors.Is(err, ErrUnavailable) {
			t.Errorf("Revoke(%s) without replicas = %v, want ErrUnavailable", jti, err)
		}
		if got, err := b.IsRevoked(ctx, jti); err != nil || !got {
			t.Errorf("IsRevoked(%s) = %v, %v; want true", jti, got, err)
		}
	}
	if len(slots) < 2 {
		t.Fatalf("the revocations all hashed to one node: %v", slots)
	}
	if n := logs.FilterMessageSnippet("write not acknowledged by enough redis replicas").Len(); n != 6 {
		t.Errorf("%d revocations logged as unacknowledged, want 6", n)
	}
	if n := logs.FilterMessageSnippet("redis unreachable").Len(); n != 0 {
		t.Errorf("redis logged unreachable %d times: a revocation went to the wrong node?", n)
	}
}

// TestRedisUnavailableReplies: the replies by which Redis says it cannot
// serve now are an outage (503), not an error of the request (500).
func TestRedisUnavailableReplies(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client()
	ctx := t.Context()
	replyErr := func(script string) error {
		return c.Eval(ctx, script, []string{"k"}).Err()
	}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"no such key", redis.Nil, false},
		{"a script's own error", replyErr(`return redis.error_reply('ERR bad input')`), false},
		{"a wrong type", replyErr(`redis.call('SET', KEYS[1], 'x'); return redis.call('HGET', KEYS[1], 'f')`), false},
		{"a demoted master", replyErr(`return redis.error_reply('READONLY You cannot write against a read only replica.')`), true},
		{"too few replicas", replyErr(`return redis.error_reply('NOREPLICAS Not enough good replicas to write.')`), true},
		{"a cluster without a node", replyErr(`return redis.error_reply('CLUSTERDOWN The cluster is down')`), true},
		{"a server loading", replyErr(`return redis.error_reply('LOADING Redis is loading the dataset in memory')`), true},
		{"a closed connection", errors.New("EOF"), true},
		{"a cancelled request", context.Canceled, false},
	} {
		if tc.err == nil {
			t.Fatalf("%s: no error to classify", tc.name)
		}
		if got := connectionFailed(tc.err); got != tc.want {
			t.Errorf("%s (%v): connectionFailed = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}

// TestRedisRefusedWritesFailClosed: a revocation that Redis refuses, from
// a master demoted to a replica (a store still connected to it after a
// failover) or from a master that min-replicas-to-write stops, fails with
// ErrUnavailable (503) and leaves nothing that looks revoked.
func TestRedisRefusedWritesFailClosed(t *testing.T) {
	master := redistest.Start(t)
	replica := master.StartReplica()
	lonely := redistest.Start(t)
	ctx := t.Context()
	if err := lonely.Client().ConfigSet(ctx, "min-replicas-to-write", "1").Err(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		srv  *redistest.Server
	}{
		{"a replica", replica},
		{"a master without replicas and min-replicas-to-write 1", lonely},
	} {
		b, _ := newTestBackend(t, &Redis{Address: tc.srv.Addr()})
		for _, r := range revocations {
			if err := r.revoke(ctx, b, "refused"); !errors.Is(err, ErrUnavailable) {
				t.Errorf("%s on %s = %v, want ErrUnavailable (503)", r.name, tc.name, err)
			}
		}
		if got, err := b.IsRevoked(ctx, "refused"); err != nil || got {
			t.Errorf("IsRevoked after a refused revocation on %s = %v, %v; want false", tc.name, got, err)
		}
	}
}

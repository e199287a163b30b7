package restauth

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/caddy-restauth/caddy-restauth/authenticators"
	"github.com/caddy-restauth/caddy-restauth/identity"
	"github.com/caddy-restauth/caddy-restauth/internal/redistest"
	"github.com/caddy-restauth/caddy-restauth/store"
)

// redisStoreRaw is the JSON of a redis store on srv.
func redisStoreRaw(srv *redistest.Server) json.RawMessage {
	return json.RawMessage(`{"backend":"redis","address":"` + srv.Addr() + `"}`)
}

// warmRedisCache gives the redis store's invalidation subscription time to
// come up, so that the measured loop sees the steady state.
func warmRedisCache(b *testing.B, fn func()) {
	b.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		fn()
		time.Sleep(10 * time.Millisecond)
	}
}

// BenchmarkTokenValidRedis is BenchmarkTokenValid with the redis store:
// the token record comes from the authenticator's cache, re-read every
// 800 ms from the redis store's local cache.
func BenchmarkTokenValidRedis(b *testing.B) {
	srv := redistest.Start(b)
	h := &Handler{
		Users:    []identity.User{{Name: "alice", PasswordHash: aliceHash, Roles: []string{"editor", "member"}}},
		StoreRaw: redisStoreRaw(srv),
		AuthenticatorsRaw: []json.RawMessage{
			json.RawMessage(`{"method":"token","flush_interval":"1h"}`),
		},
	}
	provisionHandler(b, h)
	key, err := h.chain[0].(*authenticators.Token).NewTokenKey(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	err = h.store.CreateToken(context.Background(), store.Token{
		ID: key.ID, KeyHash: key.Hash, Display: key.Display, Owner: "alice",
		Roles: []string{"editor", "member"}, Created: time.Now().UTC(), WriteEnabled: true,
	})
	if err != nil {
		b.Fatal(err)
	}
	warmRedisCache(b, func() { _, _ = h.store.TokenByKeyHash(context.Background(), key.Hash) })
	serveLoop(b, h, "Authorization", []string{"Token " + key.Key})
}

// BenchmarkJWTValidRedis is BenchmarkJWTValid with the redis store: the
// revocation check is answered by the store's local cache.
func BenchmarkJWTValidRedis(b *testing.B) {
	srv := redistest.Start(b)
	h := &Handler{
		Users:             []identity.User{{Name: "alice", PasswordHash: aliceHash, Roles: []string{"editor", "member"}}},
		AuthenticatorsRaw: []json.RawMessage{json.RawMessage(`{"method":"jwt","keys":[{"algorithm":"hs256","secret":"0123456789abcdef0123456789abcdef-bench"}]}`)},
		StoreRaw:          redisStoreRaw(srv),
	}
	provisionHandler(b, h)
	acct, _ := h.users.Lookup("alice")
	token, _, err := h.endpoints.JWT().Issue(context.Background(), acct)
	if err != nil {
		b.Fatal(err)
	}
	warmRedisCache(b, func() {})
	serveLoop(b, h, "Authorization", []string{"Bearer " + token})
}

// BenchmarkSessionValidRedis is BenchmarkSessionValid with the redis
// store: the session comes from the store's local cache.
func BenchmarkSessionValidRedis(b *testing.B) {
	srv := redistest.Start(b)
	h := &Handler{
		Users:             []identity.User{{Name: "alice", PasswordHash: aliceHash, Roles: []string{"editor", "member"}}},
		AuthenticatorsRaw: []json.RawMessage{json.RawMessage(`{"method":"session"}`)},
		StoreRaw:          redisStoreRaw(srv),
	}
	provisionHandler(b, h)
	sid := benchSession(b, h)
	warmRedisCache(b, func() {})
	serveLoop(b, h, "Cookie", []string{"sessionid=" + sid})
}

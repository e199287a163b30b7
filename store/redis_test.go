package store_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-restauth/caddy-restauth/internal/redistest"
	"github.com/caddy-restauth/caddy-restauth/store"
	"github.com/caddy-restauth/caddy-restauth/store/storetest"
)

func TestRedisConformance(t *testing.T) {
	srv := redistest.Start(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		// A prefix of its own gives every subtest an empty store.
		return provision(t, &store.Redis{Address: srv.Addr(), KeyPrefix: "test:" + t.Name() + ":"})
	})
	storetest.RunReopen(t, func(t *testing.T) store.Store {
		return provision(t, &store.Redis{Address: srv.Addr(), KeyPrefix: "reopen:"})
	})
}

func TestRedisSharedAcrossModules(t *testing.T) {
	srv := redistest.Start(t)
	ctx := t.Context()
	a := provision(t, &store.Redis{Address: srv.Addr()})
	// Another spelling of the address: a client of its own, as in another
	// Caddy process, so only pub/sub can tell it about a change.
	b := provision(t, &store.Redis{URL: "redis://localhost:" + strconv.Itoa(srv.Port) + "/0"})
	other := provision(t, &store.Redis{Address: srv.Addr(), KeyPrefix: "other:"})
	for _, s := range []*store.Redis{a, b, other} {
		t.Cleanup(func() { _ = s.Cleanup() })
	}
	if got, err := b.IsRevoked(ctx, "jti"); err != nil || got {
		t.Fatalf("IsRevoked before revoking = %v, %v", got, err)
	}
	if _, err := a.Revoke(ctx, "jti", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	// b may have cached "not revoked": the invalidation must reach it.
	deadline := time.Now().Add(time.Second)
	for {
		got, err := b.IsRevoked(ctx, "jti")
		if err != nil {
			t.Fatal(err)
		}
		if got {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("revocation through one module not seen through another within 1s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got, err := other.IsRevoked(ctx, "jti"); err != nil || got {
		t.Errorf("IsRevoked under another key prefix = %v, %v; want false", got, err)
	}
}

// TestRedisHotPathCached checks that repeated hot-path reads do not each
// reach Redis once the invalidation subscription is up.
func TestRedisHotPathCached(t *testing.T) {
	srv := redistest.Start(t)
	s := provision(t, &store.Redis{Address: srv.Addr()})
	t.Cleanup(func() { _ = s.Cleanup() })
	ctx := t.Context()
	now := time.Now()
	sess := store.Session{IDHash: []byte("sid"), User: "alice", CSRFHash: []byte("c"),
		Created: now, IdleExpires: now.Add(time.Hour), Expires: now.Add(time.Hour)}
	tok := store.Token{ID: "t1", KeyHash: []byte("kh"), Owner: "alice", Created: now}
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	inspect := srv.Client()
	processed := func() int64 {
		info, err := inspect.Info(ctx, "stats").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(info, "\r\n") {
			if v, ok := strings.CutPrefix(line, "total_commands_processed:"); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				return n
			}
		}
		t.Fatal("no total_commands_processed in INFO")
		return 0
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		before := processed()
		for range 100 {
			if _, err := s.IsRevoked(ctx, "jti"); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Session(ctx, sess.IDHash); err != nil {
				t.Fatal(err)
			}
			if _, err := s.TokenByKeyHash(ctx, tok.KeyHash); err != nil {
				t.Fatal(err)
			}
		}
		// The INFO calls and a pub/sub ping may count; 300 reads must not.
		if d := processed() - before; d < 10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("hot-path reads still reach redis after 5s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Writes still take effect at once here.
	if err := s.DeleteSession(ctx, sess.IDHash); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteToken(ctx, tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Revoke(ctx, "jti", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Session(ctx, sess.IDHash); err == nil {
		t.Error("deleted session still served")
	}
	if _, err := s.TokenByKeyHash(ctx, tok.KeyHash); err == nil {
		t.Error("deleted token still served")
	}
	if got, _ := s.IsRevoked(ctx, "jti"); !got {
		t.Error("revocation not seen")
	}
}

func TestRedisUnreachableFailsFast(t *testing.T) {
	srv := redistest.Start(t)
	s := provision(t, &store.Redis{Address: srv.Addr()})
	t.Cleanup(func() { _ = s.Cleanup() })
	ctx := t.Context()
	if _, err := s.IsRevoked(ctx, "warm"); err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	start := time.Now()
	for _, call := range []func() error{
		func() error { _, err := s.IsRevoked(ctx, "jti"); return err },
		func() error { _, err := s.Session(ctx, []byte("h")); return err },
		func() error { _, err := s.TokenByKeyHash(ctx, []byte("h")); return err },
		func() error { _, err := s.AddFailure(ctx, "alice", time.Minute); return err },
	} {
		if err := call(); err == nil {
			t.Error("store call with redis down: no error")
		} else if !strings.Contains(err.Error(), "redis store") {
			t.Errorf("error %q does not say it comes from the redis store", err)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("four calls with redis down took %v", d)
	}
	srv.Restart()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := s.IsRevoked(ctx, "jti")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("store did not recover after redis came back: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRedisCaddyfile(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		fail     bool
	}{
		{in: `redis`, want: `{}`},
		{in: `redis 10.0.0.1:6380`, want: `{"address":"10.0.0.1:6380"}`},
		{in: "redis {\n address h:1\n username u\n password {env.P}\n db 2\n tls\n key_prefix x:\n}",
			want: `{"address":"h:1","username":"u","password":"{env.P}","db":2,"tls":true,"key_prefix":"x:"}`},
		{in: "redis {\n url redis://h:1/3\n}", want: `{"url":"redis://h:1/3"}`},
		{in: "redis {\n db -1\n}", fail: true},
		{in: "redis {\n db x\n}", fail: true},
		{in: "redis {\n tls yes\n}", fail: true},
		{in: "redis {\n bogus 1\n}", fail: true},
		{in: "redis a b", fail: true},
		{in: "redis a {\n address b\n}", fail: true},
	} {
		var r store.Redis
		err := r.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.in))
		if tc.fail {
			if err == nil {
				t.Errorf("%q: no error", tc.in)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		got, _ := json.Marshal(&r)
		if string(got) != tc.want {
			t.Errorf("%q = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestRedisValidate(t *testing.T) {
	if err := (&store.Redis{URL: "redis://h:1", Address: "h:2"}).Validate(); err == nil {
		t.Error("url and address: no error")
	}
	r := &store.Redis{URL: "redis://user:hunter2@[bad"}
	err := r.Provision(newCaddyContext(t))
	if err == nil {
		t.Fatal("Provision with a bad url: no error")
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error repeats the password: %v", err)
	}
}

// newCaddyContext returns a Caddy context cancelled when the test ends.
func newCaddyContext(t *testing.T) caddy.Context {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	return ctx
}

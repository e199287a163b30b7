package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/redis/go-redis/v9"

	"github.com/caddy-restauth/caddy-restauth/internal/poll"
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

// TestRedisClusterConformance runs the suite on a three-master Redis
// Cluster: every script must keep to one hash slot (the cluster
// refuses anything else) and the keys of a listing spread over the nodes.
func TestRedisClusterConformance(t *testing.T) {
	c := redistest.StartCluster(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		return provision(t, &store.Redis{Cluster: c.Addrs(), KeyPrefix: "test:" + t.Name() + ":"})
	})
	storetest.RunReopen(t, func(t *testing.T) store.Store {
		return provision(t, &store.Redis{Cluster: c.Addrs()[:1], KeyPrefix: "reopen:"})
	})
}

// TestRedisSentinelConformance runs the suite on the master that Redis
// Sentinel names, with every revocation waiting for the replica.
func TestRedisSentinelConformance(t *testing.T) {
	s := redistest.StartSentinel(t)
	sentinel := &store.RedisSentinel{Master: redistest.SentinelMaster, Addresses: s.Addrs()}
	storetest.Run(t, func(t *testing.T) store.Store {
		// A generous wait: a busy machine must not fail the suite.
		return provision(t, &store.Redis{Sentinel: sentinel, KeyPrefix: "test:" + t.Name() + ":",
			WaitReplicas: 1, WaitTimeout: caddy.Duration(5 * time.Second)})
	})
	storetest.RunReopen(t, func(t *testing.T) store.Store {
		return provision(t, &store.Redis{Sentinel: sentinel, KeyPrefix: "reopen:"})
	})
}

// TestRedisSharedAcrossModules: in every mode, a revocation, a token
// deletion and a session end through one module are seen within a second
// through another that has its own client (as another Caddy process
// does) and may have cached the credential as valid; a module with
// another key prefix sees none of it.
func TestRedisSharedAcrossModules(t *testing.T) {
	srv := redistest.Start(t)
	cluster := redistest.StartCluster(t)
	sentinel := redistest.StartSentinel(t)
	const channel = "restauth:invalidate"
	channelNode, err := cluster.Client().MasterForKey(t.Context(), channel)
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []struct {
		name string
		// a and b reach the same data with clients of their own.
		a, b store.Redis
		// subscriptions is the server their subscriptions are on.
		subscriptions *redis.Client
	}{
		// Another spelling of the address makes another client.
		{"one server", store.Redis{Address: srv.Addr()}, store.Redis{URL: "redis://localhost:" + strconv.Itoa(srv.Port) + "/0"}, srv.Client()},
		{"cluster", store.Redis{Cluster: cluster.Addrs()}, store.Redis{Cluster: cluster.Addrs()[2:]}, channelNode},
		{"sentinel",
			store.Redis{Sentinel: &store.RedisSentinel{Master: redistest.SentinelMaster, Addresses: sentinel.Addrs()}},
			store.Redis{Sentinel: &store.RedisSentinel{Master: redistest.SentinelMaster, Addresses: sentinel.Addrs()[1:]}},
			sentinel.Master().Client()},
	} {
		t.Run(mode.name, func(t *testing.T) {
			ctx := t.Context()
			other := mode.a
			other.KeyPrefix = "other:"
			a, b, o := provision(t, &mode.a), provision(t, &mode.b), provision(t, &other)
			for _, s := range []*store.Redis{a, b, o} {
				t.Cleanup(func() { _ = s.Cleanup() })
			}
			// Until both clients are subscribed, nothing is cached and the
			// test would prove nothing.
			poll.Until(t, "a's and b's subscriptions to "+channel, 5*time.Second, func() (bool, string) {
				n, err := mode.subscriptions.PubSubNumSub(ctx, channel).Result()
				return err == nil && n[channel] >= 2, fmt.Sprint(n, err)
			})
			now := time.Now()
			tok := store.Token{ID: "t1", KeyHash: []byte("kh"), Owner: "alice", Created: now}
			sess := store.Session{IDHash: []byte("sid"), User: "alice", Created: now, IdleExpires: now.Add(time.Hour), Expires: now.Add(time.Hour)}
			if err := a.CreateToken(ctx, tok); err != nil {
				t.Fatal(err)
			}
			if err := a.CreateSession(ctx, sess); err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				name string
				// valid asks b whether the credential still works.
				valid  func() (bool, error)
				revoke func() error
			}{
				{"JWT revocation",
					func() (bool, error) { got, err := b.IsRevoked(ctx, "jti"); return !got, err },
					func() error { _, err := a.Revoke(ctx, "jti", time.Now().Add(time.Hour)); return err }},
				// ... and from the cache alone when it knows the id is not
				// revoked.
				{"JWT revocation, for the in-memory answer",
					func() (bool, error) {
						if store.NotRevoked(b, "jti-mem") {
							return true, nil
						}
						got, err := b.IsRevoked(ctx, "jti-mem")
						return !got, err
					},
					func() error { _, err := a.Revoke(ctx, "jti-mem", time.Now().Add(time.Hour)); return err }},
				{"token deletion",
					func() (bool, error) { return found(b.TokenByKeyHash(ctx, tok.KeyHash)) },
					func() error { return a.DeleteToken(ctx, tok.ID) }},
				{"session end",
					func() (bool, error) { return found(b.Session(ctx, sess.IDHash)) },
					func() error { return a.DeleteSession(ctx, sess.IDHash) }},
				// A password check reads the counters from the cache: a
				// failure counted or a lockout started through a is seen
				// through b.
				{"failed login counted",
					func() (bool, error) { c, err := b.Failures(ctx, "fail:x"); return c.Count == 0, err },
					func() error { _, err := a.AddFailure(ctx, "fail:x", time.Hour); return err }},
				// ... and from the cache alone when it knows there is none.
				{"failed login counted, for the in-memory answer",
					func() (bool, error) {
						if store.NoFailures(b, [3]string{"fail:z"}) {
							return true, nil
						}
						c, err := b.Failures(ctx, "fail:z")
						return c.Count == 0, err
					},
					func() error { _, err := a.AddFailure(ctx, "fail:z", time.Hour); return err }},
				{"lockout",
					func() (bool, error) { c, err := b.Failures(ctx, "fail:y"); return c.Count < 5, err },
					func() error {
						return a.SetFailures(ctx, "fail:y", store.Counter{Count: 5, Expires: time.Now().Add(time.Hour)})
					}},
			} {
				// Twice: the second answer may come from b's cache.
				for range 2 {
					if ok, err := c.valid(); err != nil || !ok {
						t.Fatalf("%s: valid through b before = %v, %v", c.name, ok, err)
					}
				}
				if err := c.revoke(); err != nil {
					t.Fatalf("%s through a: %v", c.name, err)
				}
				poll.Until(t, c.name+" through a, seen through b", time.Second, func() (bool, string) {
					ok, err := c.valid()
					if err != nil {
						t.Fatal(err)
					}
					return !ok, "still valid through b"
				})
			}
			if got, err := o.IsRevoked(ctx, "jti"); err != nil || got {
				t.Errorf("IsRevoked under another key prefix = %v, %v; want false", got, err)
			}
		})
	}
}

// found turns a lookup's result into whether the record was found.
func found[T any](_ T, err error) (bool, error) {
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
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
			if _, err := s.Failures(ctx, "fail:x"); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Session(ctx, sess.IDHash); err != nil {
				t.Fatal(err)
			}
			if _, err := s.TokenByKeyHash(ctx, tok.KeyHash); err != nil {
				t.Fatal(err)
			}
		}
		// The INFO calls and a pub/sub ping may count; 400 reads must not.
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
	if _, err := s.AddFailure(ctx, "fail:x", time.Hour); err != nil {
		t.Fatal(err)
	}
	if c, err := s.Failures(ctx, "fail:x"); err != nil || c.Count != 1 {
		t.Errorf("failure counted, then read from the cache: %+v, %v", c, err)
	}
	if err := s.ResetFailures(ctx, "fail:x"); err != nil {
		t.Fatal(err)
	}
	if c, err := s.Failures(ctx, "fail:x"); err != nil || c.Count != 0 {
		t.Errorf("counter reset, then read from the cache: %+v, %v", c, err)
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
		// fail is part of the error; at, when set, the line it names.
		fail string
		at   int
	}{
		{in: `redis`, want: `{}`},
		{in: `redis 10.0.0.1:6380`, want: `{"address":"10.0.0.1:6380"}`},
		{in: "redis {\n address h:1\n username u\n password {env.P}\n db 2\n tls\n key_prefix x:\n}",
			want: `{"address":"h:1","username":"u","password":"{env.P}","db":2,"tls":true,"key_prefix":"x:"}`},
		{in: "redis {\n url redis://h:1/3\n}", want: `{"url":"redis://h:1/3"}`},
		{in: "redis {\n sentinel mymaster s1:26379 s2:26379\n sentinel_password {env.S}\n password {env.P}\n wait_replicas 1\n}",
			want: `{"sentinel":{"master":"mymaster","addresses":["s1:26379","s2:26379"],"password":"{env.S}"},"password":"{env.P}","wait_replicas":1}`},
		{in: "redis {\n sentinel_username su\n sentinel m s1:26379\n tls\n key_prefix x:\n}",
			want: `{"sentinel":{"master":"m","addresses":["s1:26379"],"username":"su"},"tls":true,"key_prefix":"x:"}`},
		{in: "redis {\n cluster n1:7000 n2:7000 n3:7000\n username u\n password {env.P}\n tls\n wait_replicas 1 2s\n}",
			want: `{"cluster":["n1:7000","n2:7000","n3:7000"],"username":"u","password":"{env.P}","tls":true,"wait_replicas":1,"wait_timeout":2000000000}`},
		{in: "redis {\n db -1\n}", fail: "Testfile:2"},
		{in: "redis {\n db x\n}", fail: "Testfile:2"},
		{in: "redis {\n tls yes\n}", fail: "Testfile:2"},
		{in: "redis {\n bogus 1\n}", fail: "Testfile:2"},
		{in: "redis a b", fail: "Testfile:1"},
		{in: "redis a {\n address b\n}", fail: "Testfile:2"},
		{in: "redis h:1 {\n key_prefix x:\n sentinel m s:1\n}", fail: "address and sentinel are mutually exclusive", at: 3},
		{in: "redis {\n cluster n:1\n url redis://h:1\n}", fail: "url and cluster are mutually exclusive", at: 3},
		{in: "redis {\n sentinel m s:1\n cluster n:1\n}", fail: "sentinel and cluster are mutually exclusive", at: 3},
		{in: "redis {\n sentinel m\n}", fail: "want `sentinel <master name> <host:port>...`, at Testfile:2"},
		{in: "redis {\n cluster\n}", fail: "want `cluster <host:port>...`"},
		{in: "redis {\n cluster n:1\n cluster n:2\n}", fail: "cluster already specified, at Testfile:3"},
		{in: "redis {\n sentinel_password p\n}", fail: "sentinel needs the master's name"},
		{in: "redis {\n cluster n:1\n db 1\n}", fail: "db must be 0 with cluster"},
		{in: "redis {\n cluster n:1\n key_prefix {app}:\n}", fail: "must not contain { or } with cluster"},
		{in: "redis {\n wait_replicas 0\n}", fail: "at least 1, got \"0\", at Testfile:2"},
		{in: "redis {\n wait_replicas 1 soon\n}", fail: "timeout \"soon\" is not a positive duration"},
		{in: "redis {\n wait_replicas\n}", fail: "want `wait_replicas <number of replicas> [<timeout>]`"},
	} {
		var r store.Redis
		err := r.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.in))
		if tc.fail != "" {
			if err == nil || !strings.Contains(err.Error(), tc.fail) {
				t.Errorf("%q: error %v, want one containing %q", tc.in, err, tc.fail)
			} else if at := fmt.Sprintf("at Testfile:%d", tc.at); tc.at != 0 && !strings.HasSuffix(err.Error(), at) {
				t.Errorf("%q: error %v, want it %s", tc.in, err, at)
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

// TestRedisValidate checks the JSON config, which skips the Caddyfile's
// checks.
func TestRedisValidate(t *testing.T) {
	sentinel := &store.RedisSentinel{Master: "m", Addresses: []string{"s:1"}}
	for _, tc := range []struct {
		name string
		r    store.Redis
		want string // "" for valid
	}{
		{"one server", store.Redis{Address: "h:1", WaitReplicas: 1}, ""},
		{"sentinel", store.Redis{Sentinel: sentinel, Password: "p", DB: 2, TLS: true}, ""},
		{"cluster", store.Redis{Cluster: []string{"n:1"}, WaitReplicas: 2, WaitTimeout: caddy.Duration(time.Second)}, ""},
		{"url and address", store.Redis{URL: "redis://h:1", Address: "h:2"}, "address and url are mutually exclusive"},
		{"url and password", store.Redis{URL: "redis://h:1", Password: "p"}, "url and username/password/db are mutually exclusive"},
		{"address and cluster", store.Redis{Address: "h:1", Cluster: []string{"n:1"}}, "address and cluster are mutually exclusive"},
		{"sentinel and cluster", store.Redis{Sentinel: sentinel, Cluster: []string{"n:1"}}, "sentinel and cluster are mutually exclusive"},
		{"sentinel without master", store.Redis{Sentinel: &store.RedisSentinel{Addresses: []string{"s:1"}}}, "sentinel needs the master's name"},
		{"sentinel without addresses", store.Redis{Sentinel: &store.RedisSentinel{Master: "m"}}, "at least one sentinel"},
		{"cluster with db", store.Redis{Cluster: []string{"n:1"}, DB: 3}, "db must be 0 with cluster"},
		{"cluster with a tag in the prefix", store.Redis{Cluster: []string{"n:1"}, KeyPrefix: "a{b}:"}, "must not contain { or }"},
		{"negative wait", store.Redis{WaitReplicas: -1}, "wait_replicas must not be negative"},
		{"timeout without wait", store.Redis{WaitTimeout: caddy.Duration(time.Second)}, "wait_timeout without wait_replicas"},
	} {
		err := tc.r.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
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

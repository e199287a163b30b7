package store

import (
	"strings"
	"testing"
)

// TestRedisPoolIdentity: stores share a connection pool exactly when they
// reach the same servers the same way, whatever the order of the
// addresses; the identity never holds a password.
func TestRedisPoolIdentity(t *testing.T) {
	sentinel := func(master string, addrs ...string) *RedisSentinel {
		return &RedisSentinel{Master: master, Addresses: addrs}
	}
	base := map[string]Redis{
		"server":   {Address: "h:1", Password: "hunter2"},
		"sentinel": {Sentinel: sentinel("m", "s1:1", "s2:1"), Password: "hunter2"},
		"cluster":  {Cluster: []string{"n1:1", "n2:1"}, Password: "hunter2"},
	}
	for _, tc := range []struct {
		name  string
		a, b  Redis
		share bool
	}{
		{"the same server", base["server"], Redis{Address: "h:1", Password: "hunter2", KeyPrefix: "other:", WaitReplicas: 1}, true},
		{"the same server as a url", base["server"], Redis{URL: "redis://:hunter2@h:1/0"}, true},
		{"another server", base["server"], Redis{Address: "h:2", Password: "hunter2"}, false},
		{"another password", base["server"], Redis{Address: "h:1", Password: "other"}, false},
		{"another database", base["server"], Redis{Address: "h:1", Password: "hunter2", DB: 1}, false},
		{"tls", base["server"], Redis{Address: "h:1", Password: "hunter2", TLS: true}, false},
		{"sentinels in another order", base["sentinel"], Redis{Sentinel: sentinel("m", "s2:1", "s1:1"), Password: "hunter2"}, true},
		{"another master name", base["sentinel"], Redis{Sentinel: sentinel("n", "s1:1", "s2:1"), Password: "hunter2"}, false},
		{"another sentinel password", base["sentinel"], Redis{Sentinel: &RedisSentinel{Master: "m", Addresses: []string{"s1:1", "s2:1"}, Password: "x"}, Password: "hunter2"}, false},
		{"cluster nodes in another order", base["cluster"], Redis{Cluster: []string{"n2:1", "n1:1"}, Password: "hunter2"}, true},
		{"a cluster and a server at one address", Redis{Cluster: []string{"h:1"}}, Redis{Address: "h:1"}, false},
		{"sentinels and a cluster at the same addresses", Redis{Sentinel: sentinel("m", "h:1")}, Redis{Cluster: []string{"h:1"}}, false},
	} {
		ta, err := tc.a.target()
		if err != nil {
			t.Fatal(err)
		}
		tb, err := tc.b.target()
		if err != nil {
			t.Fatal(err)
		}
		if got := ta.identity() == tb.identity(); got != tc.share {
			t.Errorf("%s: share a pool = %v, want %v (%s vs %s)", tc.name, got, tc.share, ta.identity(), tb.identity())
		}
		for _, id := range []string{ta.identity(), tb.identity()} {
			if strings.Contains(id, "hunter2") {
				t.Errorf("%s: identity %q holds the password", tc.name, id)
			}
		}
	}
}

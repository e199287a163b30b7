package integration

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/caddy-restauth/caddy-restauth/internal/redistest"
)

// redisSite is a site on the process's port whose store is redis with
// storeOptions (the lines of the `store redis` block: which servers),
// with every authenticator on and generated keys (kept in redis, so
// shared by every process).
func redisSite(t *testing.T, up *upstream, storeOptions ...string) string {
	return processSite(t, up, "order basic jwt token session\n\t\tjwt\n\t\ttoken\n\t\tstore redis {\n\t\t\t"+
		strings.Join(storeOptions, "\n\t\t\t")+"\n\t\t}")
}

// TestRedisTwoProcesses: two Caddy processes sharing one redis agree on
// tokens, JWT logouts, sessions and failed-login counts.
func TestRedisTwoProcesses(t *testing.T) {
	t.Parallel() // a Caddy process of its own: runs beside the other process tests
	srv := redistest.Start(t)
	assertProcessesAgree(t, "address "+srv.Addr())
}

// TestRedisClusterTwoProcesses: the same on a three-master Redis Cluster,
// where the records, and the nodes they are on, differ by key.
func TestRedisClusterTwoProcesses(t *testing.T) {
	t.Parallel() // Caddy processes of their own: runs beside the other process tests
	c := redistest.StartCluster(t)
	assertProcessesAgree(t, "cluster "+strings.Join(c.Addrs(), " "))
}

// assertProcessesAgree starts two Caddy processes with the store
// storeOptions and checks that every revocation, logout and failed login
// on one takes effect on the other within a second.
func assertProcessesAgree(t *testing.T, storeOptions string) {
	up := newUpstream(t)
	a := newCaddyProcess(t, redisSite(t, up, storeOptions))
	a.Start()
	b := newCaddyProcess(t, redisSite(t, up, storeOptions))
	b.Start()

	t.Run("token made on A works on B", func(t *testing.T) {
		tok := provisionInProcess(t, a)
		useToken(t, b, tok.Key, 200)
		status, body := tokenProcessCall(t, a, "DELETE", "/@tokens/"+tok.ID, "Token "+tok.Key, "")
		if status != http.StatusNoContent {
			t.Fatalf("DELETE on A: %d %s", status, body)
		}
		useToken(t, a, tok.Key, 401)
		eventually(t, time.Second, func() (bool, string) {
			status, _ := tokenProcessCall(t, b, "GET", "/api/items", "Token "+tok.Key, "")
			return status == http.StatusUnauthorized, fmt.Sprintf("token deleted on A still %d on B", status)
		})
	})

	t.Run("JWT logged out on A is 401 on B within 1s", func(t *testing.T) {
		resp, body := a.Do(t, "POST", "/@login", map[string]string{"Content-Type": "application/json"},
			`{"login":"alice","password":"`+alicePassword+`"}`)
		if resp.StatusCode != 200 {
			t.Fatalf("@login on A: %d %s", resp.StatusCode, body)
		}
		token := strings.Split(strings.Split(body, `"token":"`)[1], `"`)[0]
		if resp, body := b.Do(t, "GET", "/items", bearer(token), ""); resp.StatusCode != 200 {
			t.Fatalf("JWT from A on B: %d %s", resp.StatusCode, body)
		}
		if resp, body := a.Do(t, "POST", "/@logout", bearer(token), ""); resp.StatusCode != http.StatusNoContent {
			t.Fatalf("@logout on A: %d %s", resp.StatusCode, body)
		}
		eventually(t, time.Second, func() (bool, string) {
			resp, _ := b.Do(t, "GET", "/items", bearer(token), "")
			return resp.StatusCode == http.StatusUnauthorized, fmt.Sprintf("JWT logged out on A still %d on B", resp.StatusCode)
		})
	})

	t.Run("session made on A works on B", func(t *testing.T) {
		form := url.Values{"username": {"alice"}, "password": {alicePassword}}.Encode()
		resp, body := a.Do(t, "POST", "/@session", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, form)
		if resp.StatusCode != 200 {
			t.Fatalf("@session on A: %d %s", resp.StatusCode, body)
		}
		sid := cookieNamed(resp, "sessionid")
		if sid == nil {
			t.Fatalf("no sessionid cookie from A: %v", resp.Cookies())
		}
		cookie := map[string]string{"Cookie": "sessionid=" + sid.Value}
		if resp, body := b.Do(t, "GET", "/items", cookie, ""); resp.StatusCode != 200 {
			t.Fatalf("session from A on B: %d %s", resp.StatusCode, body)
		}
		csrf := cookieNamed(resp, "csrftoken")
		if csrf == nil {
			t.Fatalf("no csrftoken cookie from A: %v", resp.Cookies())
		}
		logout := map[string]string{"Cookie": "sessionid=" + sid.Value + "; csrftoken=" + csrf.Value, "X-CSRFToken": csrf.Value}
		if resp, body := b.Do(t, "DELETE", "/@session", logout, ""); resp.StatusCode/100 != 2 {
			t.Fatalf("DELETE @session on B: %d %s", resp.StatusCode, body)
		}
		eventually(t, time.Second, func() (bool, string) {
			resp, _ := a.Do(t, "GET", "/items", cookie, "")
			return resp.StatusCode == http.StatusUnauthorized, fmt.Sprintf("session ended on B still %d on A", resp.StatusCode)
		})
	})

	t.Run("6th failed login split across A and B is 429", func(t *testing.T) {
		for i, p := range []*caddyProcess{a, b, a, b, a} {
			if resp, body := p.Do(t, "GET", "/items", withBasic("bob", "wrong"), ""); resp.StatusCode != 401 {
				t.Fatalf("failure %d: %d %s", i+1, resp.StatusCode, body)
			}
		}
		resp, body := b.Do(t, "GET", "/items", withBasic("bob", "wrong"), "")
		if resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("6th failure on B: %d %s, want 429", resp.StatusCode, body)
		}
	})

	// B answers a cached password's lockout check from its client-side
	// cache ("no counters"); failures counted on A must reach it.
	t.Run("a password cached on B is refused once A locked its user out", func(t *testing.T) {
		right := withBasic("alice", alicePassword)
		for range 2 { // verified, then cached with its counters
			if resp, body := b.Do(t, "GET", "/items", right, ""); resp.StatusCode != 200 {
				t.Fatalf("alice on B: %d %s", resp.StatusCode, body)
			}
		}
		for i := range 5 {
			if resp, body := a.Do(t, "GET", "/items", withBasic("alice", "wrong"), ""); resp.StatusCode != 401 {
				t.Fatalf("failure %d on A: %d %s", i+1, resp.StatusCode, body)
			}
		}
		eventually(t, time.Second, func() (bool, string) {
			resp, _ := b.Do(t, "GET", "/items", right, "")
			return resp.StatusCode == http.StatusTooManyRequests, fmt.Sprintf("alice's cached password on B after A locked her out: %d, want 429", resp.StatusCode)
		})
	})
}

package integration

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"

	"github.com/caddy-restauth/caddy-restauth/internal/redistest"
)

// redisSiteConfig is siteConfig with the test's memory store replaced by
// a redis store on srv.
func redisSiteConfig(t *testing.T, srv *redistest.Server, restAuthOptions, upstreamAddr string) string {
	t.Helper()
	memory := "store memory {\n\t\t\tname " + storeName(t) + "\n\t\t}"
	config := siteConfig(t, restAuthOptions, upstreamAddr)
	if !strings.Contains(config, memory) {
		t.Fatal("siteConfig no longer has the memory store block this test replaces")
	}
	return strings.ReplaceAll(config, memory,
		"store redis {\n\t\t\taddress "+srv.Addr()+"\n\t\t\tkey_prefix "+storeName(t)+":\n\t\t}")
}

// waitStatus polls url until it answers want, failing after timeout.
func waitStatus(t *testing.T, tester *caddytest.Tester, url string, headers map[string]string, want int, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, func() (bool, string) {
		resp, body := call(t, tester, "GET", url, headers, "")
		return resp.StatusCode == want, fmt.Sprintf("GET %s: %d %s, want %d", url, resp.StatusCode, body, want)
	})
}

// TestRedisOutage: with Redis down, a JWT (whose revocation must be
// checked) gets 503 quickly, Basic auth keeps working without throttling,
// and service comes back by itself when Redis does.
func TestRedisOutage(t *testing.T) {
	srv := redistest.Start(t)
	up := newUpstream(t)
	tester := startCaddy(t, redisSiteConfig(t, srv,
		"basic\n\t\tjwt {\n\t\t\tkey hs256 "+hsSecret+"\n\t\t}", up.addr()))

	token := login(t, tester, httpBase, "alice", alicePassword)
	if resp, body := call(t, tester, "GET", httpBase+"/items", bearer(token), ""); resp.StatusCode != 200 {
		t.Fatalf("JWT with redis up: %d %s", resp.StatusCode, body)
	}

	srv.Kill()
	start := time.Now()
	// The local cache is dropped once the pub/sub connection is seen
	// closed, which takes a moment after the kill.
	waitStatus(t, tester, httpBase+"/items", bearer(token), http.StatusServiceUnavailable, time.Second)
	resp, body := call(t, tester, "GET", httpBase+"/items", bearer(token), "")
	assertProblem(t, resp, body, http.StatusServiceUnavailable, "")
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("503 took %v", d)
	}
	if strings.Contains(body, token) {
		t.Error("the 503 body repeats the token")
	}
	if resp, body := call(t, tester, "GET", httpBase+"/items", withBasic("alice", alicePassword), ""); resp.StatusCode != 200 {
		t.Errorf("Basic with redis down: %d %s", resp.StatusCode, body)
	}
	if resp, body := call(t, tester, "GET", httpBase+"/items", withBasic("bob", "wrong"), ""); resp.StatusCode != 401 {
		t.Errorf("Basic with a wrong password and redis down: %d %s, want 401", resp.StatusCode, body)
	}
	if d := time.Since(start); d > 6*time.Second {
		t.Errorf("requests with redis down took %v", d)
	}

	srv.Restart()
	waitStatus(t, tester, httpBase+"/items", bearer(token), 200, 10*time.Second)

	// Revocation works again after the outage.
	if resp, body := call(t, tester, "POST", httpBase+"/@logout", bearer(token), ""); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("@logout: %d %s", resp.StatusCode, body)
	}
	resp, body = call(t, tester, "GET", httpBase+"/items", bearer(token), "")
	assertInvalidToken(t, resp, body)
}

package integration

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/caddy-restauth/caddy-restauth/internal/testusers"
)

func TestAnonymousPolicy(t *testing.T) {
	preflight := map[string]string{"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
	cases := []struct {
		anonymous string
		method    string
		headers   map[string]string
		status    int
	}{
		{"none", "GET", nil, 401},
		{"none", "HEAD", nil, 401},
		{"none", "POST", nil, 401},
		{"none", "OPTIONS", nil, 401},
		{"none", "OPTIONS", preflight, 200},
		{"read", "GET", nil, 200},
		{"read", "HEAD", nil, 200},
		{"read", "OPTIONS", nil, 200},
		{"read", "POST", nil, 401},
		{"read", "PUT", nil, 401},
		{"read", "PATCH", nil, 401},
		{"read", "DELETE", nil, 401},
		{"write", "GET", nil, 200},
		{"write", "POST", nil, 200},
		{"write", "DELETE", nil, 200},
		// A present-but-invalid credential never falls back to anonymous.
		{"write", "GET", withBasic("alice", "wrong"), 401},
		{"read", "GET", withBasic("nobody", "x"), 401},
	}
	for _, anon := range []string{"none", "read", "write"} {
		t.Run(anon, func(t *testing.T) {
			up := newUpstream(t)
			tester := startCaddy(t, siteConfig(t, "anonymous "+anon, up.addr()))
			for _, c := range cases {
				if c.anonymous != anon {
					continue
				}
				t.Run(fmt.Sprintf("%s %v", c.method, c.headers != nil), func(t *testing.T) {
					resp, body := call(t, tester, c.method, httpBase+"/data", c.headers, "")
					if c.status == 200 {
						if resp.StatusCode != 200 {
							t.Fatalf("status %d (%s), want 200", resp.StatusCode, body)
						}
						if u := up.received(t).Get("X-Remote-User"); u != "" {
							t.Errorf("anonymous request reached upstream with X-Remote-User %q", u)
						}
						return
					}
					if c.method == "HEAD" {
						if resp.StatusCode != c.status {
							t.Fatalf("status %d, want %d", resp.StatusCode, c.status)
						}
						return
					}
					assertProblem(t, resp, body, c.status, "")
				})
			}
		})
	}
}

func TestRequireHTTPS(t *testing.T) {
	up := newUpstream(t)
	tester := startCaddy(t, siteConfig(t, "require_https\n\t\tanonymous read", up.addr()))
	// Plain HTTP is refused, with or without credentials, endpoints too.
	for _, path := range []string{"/data", "/@me"} {
		for _, h := range []map[string]string{nil, withBasic("alice", alicePassword)} {
			resp, body := call(t, tester, "GET", httpBase+path, h, "")
			assertProblem(t, resp, body, http.StatusForbidden, "HTTPS is required")
			if loc := resp.Header.Get("Location"); loc != "" {
				t.Errorf("got a redirect to %q; require_https must refuse, not redirect", loc)
			}
		}
	}
	// An untrusted client cannot claim HTTPS with X-Forwarded-Proto.
	resp, body := call(t, tester, "GET", httpBase+"/data", map[string]string{"X-Forwarded-Proto": "https"}, "")
	assertProblem(t, resp, body, http.StatusForbidden, "HTTPS is required")

	// Over TLS the request goes through.
	resp, body = call(t, tester, "GET", httpsBase+"/data", withBasic("alice", alicePassword), "")
	if resp.StatusCode != 200 || up.received(t).Get("X-Remote-User") != "alice" {
		t.Fatalf("over HTTPS: status %d body %q", resp.StatusCode, body)
	}
}

func TestRequireHTTPSBehindTrustedProxy(t *testing.T) {
	up := newUpstream(t)
	config := siteConfig(t, "require_https", up.addr())
	config = globalOptionsWith("trusted_proxies static 127.0.0.1/32") + config[len(globalOptions):]
	tester := startCaddy(t, config)
	resp, body := call(t, tester, "GET", httpBase+"/data",
		map[string]string{"Authorization": testusers.BasicHeader("alice", alicePassword), "X-Forwarded-Proto": "https"}, "")
	if resp.StatusCode != 200 {
		t.Fatalf("trusted proxy with X-Forwarded-Proto https: status %d (%s)", resp.StatusCode, body)
	}
	resp, body = call(t, tester, "GET", httpBase+"/data", withBasic("alice", alicePassword), "")
	assertProblem(t, resp, body, http.StatusForbidden, "HTTPS is required")
}

func TestRolePolicy(t *testing.T) {
	up := newUpstream(t)
	tester := startCaddy(t, siteConfig(t, "allow_roles editor viewer\n\t\twrite_roles editor", up.addr()))
	cases := []struct {
		user, password, method string
		status                 int
		detail                 string
	}{
		{"alice", alicePassword, "GET", 200, ""},
		{"alice", alicePassword, "POST", 200, ""},
		{"alice", alicePassword, "DELETE", 200, ""},
		{"bob", bobPassword, "GET", 200, ""},
		{"bob", bobPassword, "POST", 403, "role that may modify"},
		{"bob", bobPassword, "DELETE", 403, "role that may modify"},
		{"dave", davePassword, "GET", 200, ""}, // editor among admin, editor
	}
	for _, c := range cases {
		t.Run(c.user+" "+c.method, func(t *testing.T) {
			resp, body := call(t, tester, c.method, httpBase+"/x", withBasic(c.user, c.password), "")
			if c.status == 200 {
				if resp.StatusCode != 200 {
					t.Fatalf("status %d (%s)", resp.StatusCode, body)
				}
				return
			}
			assertProblem(t, resp, body, c.status, c.detail)
		})
	}

	t.Run("allow_roles refuses other roles", func(t *testing.T) {
		up := newUpstream(t)
		tester := startCaddy(t, siteConfig(t, "allow_roles admin", up.addr()))
		resp, body := call(t, tester, "GET", httpBase+"/x", withBasic("bob", bobPassword), "")
		assertProblem(t, resp, body, http.StatusForbidden, "role that may use this API")
		resp, _ = call(t, tester, "GET", httpBase+"/x", withBasic("dave", davePassword), "")
		if resp.StatusCode != 200 {
			t.Fatalf("admin: status %d", resp.StatusCode)
		}
	})
}

// TestAnonymousReadNeverAcceptsBadCredentials: under `anonymous read` a
// malformed or foreign Authorization header is a 401, not anonymous access.
func TestAnonymousReadNeverAcceptsBadCredentials(t *testing.T) {
	up := newUpstream(t)
	tester := startCaddy(t, siteConfig(t, "anonymous read", up.addr()))
	for _, v := range []string{"Basic", "Basic ", "Bearer x", "Bearer", "Digest username=alice", "garbage"} {
		resp, body := call(t, tester, "GET", httpBase+"/x", map[string]string{"Authorization": v}, "")
		assertProblem(t, resp, body, http.StatusUnauthorized, "")
	}
	if up.count() != 0 {
		t.Error("a request with a bad credential reached the upstream")
	}
}

// TestSeveralBlocks: per-path blocks share one authentication; each applies
// its own policy.
func TestSeveralBlocks(t *testing.T) {
	up := newUpstream(t)
	config := globalOptions + `
(auth) {
	users_file ` + testdataPath(t, "users.json") + `
	store memory {
		name ` + storeName(t) + `
	}
}
` + httpBase + ` {
	@admin path /admin/*
	rest_auth @admin {
		import auth
		allow_roles admin
	}
	rest_auth {
		import auth
		anonymous read
	}
	reverse_proxy ` + up.addr() + `
}
`
	tester := startCaddy(t, config)
	cases := []struct {
		path    string
		headers map[string]string
		status  int
		user    string
	}{
		{"/admin/x", withBasic("dave", davePassword), 200, "dave"},
		{"/admin/x", withBasic("alice", alicePassword), 403, ""},
		{"/admin/x", nil, 401, ""},
		{"/public", nil, 200, ""},
		{"/public", withBasic("alice", alicePassword), 200, "alice"},
		{"/public", withBasic("alice", "wrong"), 401, ""},
	}
	for _, c := range cases {
		resp, body := call(t, tester, "GET", httpBase+c.path, c.headers, "")
		if resp.StatusCode != c.status {
			t.Fatalf("%s %v: status %d (%s), want %d", c.path, c.headers != nil, resp.StatusCode, body, c.status)
		}
		if c.status == 200 && up.received(t).Get("X-Remote-User") != c.user {
			t.Errorf("%s: upstream user %q, want %q", c.path, up.received(t).Get("X-Remote-User"), c.user)
		}
	}
}

// TestPreflightToEndpointPassesOn: a CORS preflight never hits an endpoint
// (which would answer 405); it goes to the next handler like any preflight.
func TestPreflightToEndpointPassesOn(t *testing.T) {
	up := newUpstream(t)
	tester := startCaddy(t, siteConfig(t, "", up.addr()))
	resp, body := call(t, tester, "OPTIONS", httpBase+"/@me",
		map[string]string{"Origin": "https://app.example", "Access-Control-Request-Method": "GET"}, "")
	if resp.StatusCode != 200 || up.count() != 1 {
		t.Fatalf("preflight to @me: status %d (%s), upstream hits %d", resp.StatusCode, body, up.count())
	}
}

// TestChallengesNameEnabledSchemes: a no-credential 401 announces the
// header schemes of the chain (DESIGN: Bearer with jwt or token, Token with
// token, Basic only with `basic { challenge }`).
func TestChallengesNameEnabledSchemes(t *testing.T) {
	cases := []struct{ order, want string }{
		{"basic", ""},
		{"jwt", `Bearer realm="restauth"`},
		{"token", `Bearer realm="restauth", Token`},
		{"jwt token", `Bearer realm="restauth", Token`},
		{"basic jwt token session", `Bearer realm="restauth", Token`},
		{"session", ""},
	}
	for _, c := range cases {
		t.Run(c.order, func(t *testing.T) {
			up := newUpstream(t)
			tester := startCaddy(t, siteConfig(t, "order "+c.order, up.addr()))
			resp, body := call(t, tester, "GET", httpBase+"/x", nil, "")
			assertProblem(t, resp, body, http.StatusUnauthorized, "Authentication credentials were not provided.")
			if got := resp.Header.Get("WWW-Authenticate"); got != c.want {
				t.Errorf("WWW-Authenticate = %q, want %q", got, c.want)
			}
		})
	}
}

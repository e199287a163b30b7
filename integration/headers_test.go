package integration

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddy-restauth/caddy-restauth/internal/testusers"
)

// TestSpoofedIdentityHeadersAreRemoved: a client-sent identity header never
// reaches the upstream, in any spelling a backend reads as the same name.
// Caddy itself drops names with `_` or `.` unless the server allows them
// (expected_underscore_headers, expected_dot_headers); with those options
// rest_auth must remove them.
func TestSpoofedIdentityHeadersAreRemoved(t *testing.T) {
	cases := []struct {
		name, serverOptions string
		spoofs              []string
	}{
		{"hyphens", "", []string{"X-Remote-User", "x-remote-user", "X-REMOTE-ROLES"}},
		{"underscores and dots allowed by the server",
			"expected_underscore_headers X_Remote_User x_remote_roles\n\t\texpected_dot_headers X.Remote.User x.remote.roles X_Remote.User",
			[]string{"X_Remote_User", "x_remote_roles", "X.Remote.User", "x.remote.roles", "X_Remote.User"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			up := newUpstream(t)
			config := siteConfig(t, "anonymous read", up.addr())
			config = globalOptionsWith(c.serverOptions) + config[len(globalOptions):]
			tester := startCaddy(t, config)
			for _, auth := range []map[string]string{nil, withBasic("bob", bobPassword)} {
				h := spoofHeaders(c.spoofs...)
				for k, v := range auth {
					h.Set(k, v)
				}
				resp, body := callHeaders(t, tester, "GET", httpBase+"/", h, "")
				if resp.StatusCode != 200 {
					t.Fatalf("status %d (%s)", resp.StatusCode, body)
				}
				got := up.received(t)
				assertNoSpoofReached(t, got, "X-Remote-User", "X-Remote-Roles")
				if auth != nil && (got.Get("X-Remote-User") != "bob" || got.Get("X-Remote-Roles") != "viewer") {
					t.Errorf("upstream got %q/%q, want bob/viewer", got.Get("X-Remote-User"), got.Get("X-Remote-Roles"))
				}
			}
		})
	}
}

// spoofValue is what an attacker puts in identity headers.
const spoofValue = "admin"

// spoofHeaders sends spoofValue under each name, spelled exactly as given.
func spoofHeaders(names ...string) http.Header {
	h := http.Header{}
	for _, n := range names {
		h[n] = []string{spoofValue}
	}
	return h
}

// backendSpelling folds a header name as CGI, WSGI and PHP backends do.
// The test's own rule, independent of the code under test.
var backendSpelling = strings.NewReplacer("_", "-", ".", "-")

// assertNoSpoofReached fails if the upstream received spoofValue under any
// spelling of the given header names.
func assertNoSpoofReached(t *testing.T, got http.Header, names ...string) {
	t.Helper()
	for name, values := range got {
		for _, identityHeader := range names {
			if strings.EqualFold(backendSpelling.Replace(name), identityHeader) && slices.Contains(values, spoofValue) {
				t.Errorf("upstream received spoofed %s: %q", name, values)
			}
		}
	}
}

// TestEveryBlockStripsItsHeaderNames: blocks with different identity
// header names. The spoofed names of the catch-all block (X-User,
// X-Roles) must not reach the upstream on an anonymous request to /pub,
// whether the catch-all block runs after the /pub block (same route) or
// does not run at all (separate handle blocks).
func TestEveryBlockStripsItsHeaderNames(t *testing.T) {
	snippet := func(t *testing.T) string {
		return `
(auth) {
	users_file ` + testdataPath(t, "users.json") + `
	store memory {
		name ` + storeName(t) + `
	}
}
`
	}
	cases := []struct {
		name, site string
		// status of an anonymous GET /pub/x and the user the upstream
		// gets for bob's Basic credentials there.
		anonymous         int
		bobUser, bobXUser string
	}{
		{"same route, both anonymous read", `
	@pub path /pub/*
	rest_auth @pub {
		import auth
		anonymous read
	}
	rest_auth {
		import auth
		user_header X-User
		roles_header X-Roles
		anonymous read
	}
	reverse_proxy {upstream}`, 200, "bob", "bob"},
		// The configuration: the catch-all block runs after the
		// /pub block and applies its own policy (anonymous none).
		{"same route, catch-all needs a login", `
	@pub path /pub/*
	rest_auth @pub {
		import auth
		anonymous read
	}
	rest_auth {
		import auth
		user_header X-User
		roles_header X-Roles
	}
	reverse_proxy {upstream}`, 401, "bob", "bob"},
		// Only the /pub block runs for /pub/x: it never learns the
		// catch-all's names from the request, yet removes them.
		{"separate handle blocks", `
	handle /pub/* {
		rest_auth {
			import auth
			anonymous read
		}
		reverse_proxy {upstream}
	}
	handle {
		rest_auth {
			import auth
			user_header X-User
			roles_header X-Roles
		}
		reverse_proxy {upstream}
	}`, 200, "bob", ""},
	}
	spellings := map[string][]string{
		"hyphens":              {"X-User", "x-roles", "X-Remote-User", "X-REMOTE-ROLES"},
		"underscores and dots": {"X_User", "x_roles", "X.User", "X.Roles", "X_Remote_User", "X.Remote.Roles"},
	}
	allowAll := "expected_underscore_headers X_User x_roles X_Remote_User\n\t\texpected_dot_headers X.User X.Roles X.Remote.Roles"
	for _, c := range cases {
		for spelling, spoofs := range spellings {
			t.Run(c.name+"/"+spelling, func(t *testing.T) {
				up := newUpstream(t)
				options := ""
				if spelling != "hyphens" {
					options = allowAll
				}
				config := globalOptionsWith(options) + snippet(t) + httpBase + " {" +
					strings.ReplaceAll(c.site, "{upstream}", up.addr()) + "\n}\n"
				tester := startCaddy(t, config)

				resp, body := callHeaders(t, tester, "GET", httpBase+"/pub/x", spoofHeaders(spoofs...), "")
				if resp.StatusCode != c.anonymous {
					t.Fatalf("anonymous /pub/x: status %d (%s), want %d", resp.StatusCode, body, c.anonymous)
				}
				if c.anonymous == 200 {
					assertNoSpoofReached(t, up.received(t), "X-User", "X-Roles", "X-Remote-User", "X-Remote-Roles")
				}

				h := spoofHeaders(spoofs...)
				h.Set("Authorization", testusers.BasicHeader("bob", bobPassword))
				resp, body = callHeaders(t, tester, "GET", httpBase+"/pub/x", h, "")
				if resp.StatusCode != 200 {
					t.Fatalf("bob /pub/x: status %d (%s)", resp.StatusCode, body)
				}
				got := up.received(t)
				assertNoSpoofReached(t, got, "X-User", "X-Roles", "X-Remote-User", "X-Remote-Roles")
				if got.Get("X-Remote-User") != c.bobUser || got.Get("X-User") != c.bobXUser {
					t.Errorf("bob: upstream X-Remote-User %q X-User %q, want %q %q",
						got.Get("X-Remote-User"), got.Get("X-User"), c.bobUser, c.bobXUser)
				}
			})
		}
	}
}

func TestCustomIdentityHeaderNames(t *testing.T) {
	up := newUpstream(t)
	tester := startCaddy(t, siteConfig(t, "user_header X-Auth-User\n\t\troles_header X-Auth-Groups", up.addr()))
	resp, _ := call(t, tester, "GET", httpBase+"/", map[string]string{
		"Authorization": testusers.BasicHeader("alice", alicePassword),
		"X_Auth_User":   "root",
	}, "")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	got := up.received(t)
	if got.Get("X-Auth-User") != "alice" || got.Get("X-Auth-Groups") != "editor,member" {
		t.Errorf("upstream got user %q groups %q", got.Get("X-Auth-User"), got.Get("X-Auth-Groups"))
	}
	if v := got.Values("X_Auth_User"); len(v) > 0 {
		t.Errorf("spoofed X_Auth_User reached upstream: %q", v)
	}
	if got.Get("X-Remote-User") != "" {
		t.Error("default header sent although renamed")
	}
}

func TestAccessLogHasUserIDAndPlaceholders(t *testing.T) {
	up := newUpstream(t)
	logFile := filepath.Join(t.TempDir(), "access.log")
	config := globalOptions + httpBase + ` {
	log {
		output file ` + logFile + `
		format json
	}
	rest_auth {
		users_file ` + testdataPath(t, "users.json") + `
		store memory
	}
	request_header X-Seen "{http.auth.user.id}|{http.auth.user.roles}|{http.auth.user.method}"
	reverse_proxy ` + up.addr() + `
}
`
	tester := startCaddy(t, config)
	resp, _ := call(t, tester, "GET", httpBase+"/logged", withBasic("alice", alicePassword), "")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if got := up.received(t).Get("X-Seen"); got != "alice|editor,member|basic" {
		t.Errorf("placeholders = %q, want alice|editor,member|basic", got)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		data, _ := os.ReadFile(logFile)
		for _, line := range strings.Split(string(data), "\n") {
			var entry struct {
				UserID  string `json:"user_id"`
				Request struct {
					URI     string              `json:"uri"`
					Headers map[string][]string `json:"headers"`
				} `json:"request"`
			}
			if json.Unmarshal([]byte(line), &entry) == nil && entry.Request.URI == "/logged" {
				if entry.UserID != "alice" {
					t.Fatalf("access log user_id = %q, want alice", entry.UserID)
				}
				if strings.Contains(string(data), alicePassword) {
					t.Fatal("the access log contains the password")
				}
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no access log entry for /logged in %q", data)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPlaceholdersNameTheAuthenticatedIdentity: through a real Caddy, the
// placeholders an upstream receives name who authenticated: a `vars` that
// sets http.auth.user.id from a client header earlier in the route does
// not stand in for the user, and a JWT's token_id is its own jti; with two
// rest_auth blocks in one route too.
func TestPlaceholdersNameTheAuthenticatedIdentity(t *testing.T) {
	up := newUpstream(t)
	config := globalOptions + httpBase + ` {
	route {
		vars http.auth.user.id {http.request.header.X-Claimed-User}
		rest_auth {
			users_file ` + testdataPath(t, "users.json") + `
			store memory
			jwt {
				key hs256 ` + hsSecret + `
			}
		}
		rest_auth {
			users_file ` + testdataPath(t, "users.json") + `
			store memory
		}
		request_header X-Seen "{http.auth.user.id}|{http.auth.user.roles}|{http.auth.user.method}|{http.auth.user.token_id}"
		reverse_proxy ` + up.addr() + `
	}
}
`
	tester := startCaddy(t, config)
	token := login(t, tester, httpBase, "alice", alicePassword)
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		ID string `json:"jti"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil || claims.ID == "" {
		t.Fatalf("the token's jti: %v", err)
	}
	tests := []struct {
		name    string
		headers map[string]string
		want    string
	}{
		{"basic", withBasic("alice", alicePassword), "alice|editor,member|basic|"},
		{"jwt", bearer(token), "alice|editor,member|jwt|" + claims.ID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.headers["X-Claimed-User"] = "mallory"
			resp, body := call(t, tester, "GET", httpBase+"/placeholders", tt.headers, "")
			if resp.StatusCode != 200 {
				t.Fatalf("status %d body %s", resp.StatusCode, body)
			}
			if got := up.received(t).Get("X-Seen"); got != tt.want {
				t.Errorf("upstream placeholders = %q, want %q", got, tt.want)
			}
		})
	}
}

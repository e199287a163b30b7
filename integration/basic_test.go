package integration

import (
	"net/http"
	"testing"

	"github.com/caddy-restauth/caddy-restauth/internal/testusers"
)

func TestBasicAuthThroughCaddy(t *testing.T) {
	up := newUpstream(t)
	tester := startCaddy(t, siteConfig(t, "", up.addr()))

	tests := []struct {
		name      string
		headers   map[string]string
		status    int
		detail    string
		wantUser  string
		wantRoles string
	}{
		{name: "right password", headers: withBasic("alice", alicePassword), status: 200, wantUser: "alice", wantRoles: "editor,member"},
		{name: "right password again (cached)", headers: withBasic("alice", alicePassword), status: 200, wantUser: "alice", wantRoles: "editor,member"},
		{name: "argon2id user", headers: withBasic("dave", davePassword), status: 200, wantUser: "dave", wantRoles: "admin,editor"},
		{name: "lower-case scheme", headers: map[string]string{"Authorization": "basic " + testusers.BasicHeader("bob", bobPassword)[6:]}, status: 200, wantUser: "bob", wantRoles: "viewer"},
		{name: "no credentials", status: 401, detail: "Authentication credentials were not provided."},
		{name: "wrong password", headers: withBasic("alice", "nope"), status: 401, detail: "Invalid username or password."},
		{name: "unknown user", headers: withBasic("mallory", alicePassword), status: 401, detail: "Invalid username or password."},
		{name: "disabled user with right password", headers: withBasic("carol", carolPassword), status: 401, detail: "Invalid username or password."},
		{name: "malformed base64", headers: map[string]string{"Authorization": "Basic !!!"}, status: 401, detail: "Malformed Basic credentials."},
		{name: "no colon", headers: map[string]string{"Authorization": "Basic YWxpY2U="}, status: 401, detail: "Malformed Basic credentials."},
		{name: "unknown scheme is invalid, not anonymous", headers: map[string]string{"Authorization": "Negotiate abc"}, status: 401, detail: "malformed or uses a scheme"},
		{name: "Basic without credentials", headers: map[string]string{"Authorization": "Basic"}, status: 401, detail: "malformed or uses a scheme"},
		{name: "Basic with a tab", headers: map[string]string{"Authorization": "Basic\t" + testusers.BasicHeader("bob", bobPassword)[6:]}, status: 401, detail: "malformed or uses a scheme"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := up.count()
			resp, body := call(t, tester, "GET", httpBase+"/doc", tt.headers, "")
			if tt.status != 200 {
				assertProblem(t, resp, body, tt.status, tt.detail)
				if got := resp.Header.Get("WWW-Authenticate"); got != `Bearer realm="restauth", Token` {
					t.Errorf("WWW-Authenticate = %q, want only the Bearer and Token challenges (no Basic without `basic { challenge }`)", got)
				}
				if up.count() != before {
					t.Error("a refused request reached the upstream")
				}
				return
			}
			if resp.StatusCode != 200 || body != "upstream ok" {
				t.Fatalf("status %d body %q, want 200 from upstream", resp.StatusCode, body)
			}
			got := up.received(t)
			if got.Get("X-Remote-User") != tt.wantUser || got.Get("X-Remote-Roles") != tt.wantRoles {
				t.Errorf("upstream got user %q roles %q, want %q %q", got.Get("X-Remote-User"), got.Get("X-Remote-Roles"), tt.wantUser, tt.wantRoles)
			}
			if got.Get("Authorization") != "" {
				t.Error("upstream received the Authorization header")
			}
		})
	}
}

func TestBasicChallenge(t *testing.T) {
	up := newUpstream(t)
	tester := startCaddy(t, siteConfig(t, `basic {
			challenge
			realm "Example API"
		}`, up.addr()))
	basic := `Basic realm="Example API", charset="UTF-8"`
	for _, c := range []struct {
		headers map[string]string
		want    string
	}{
		{nil, basic + `, Bearer realm="restauth", Token`},                         // every enabled scheme
		{withBasic("alice", "wrong"), basic + `, Bearer realm="restauth", Token`}, // still every scheme
	} {
		resp, body := call(t, tester, "GET", httpBase+"/", c.headers, "")
		assertProblem(t, resp, body, http.StatusUnauthorized, "")
		if got := resp.Header.Get("WWW-Authenticate"); got != c.want {
			t.Errorf("WWW-Authenticate = %q, want %q", got, c.want)
		}
	}
}

func TestKeepCredentials(t *testing.T) {
	up := newUpstream(t)
	tester := startCaddy(t, siteConfig(t, "keep_credentials", up.addr()))
	resp, _ := call(t, tester, "GET", httpBase+"/", withBasic("alice", alicePassword), "")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if up.received(t).Get("Authorization") == "" {
		t.Error("keep_credentials: upstream did not receive Authorization")
	}
}

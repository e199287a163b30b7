package integration

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"
)

// tokenObject is a token as @tokens returns it.
type tokenObject struct {
	ID           string   `json:"id"`
	User         string   `json:"user"`
	Display      string   `json:"display"`
	Created      string   `json:"created"`
	Expires      *string  `json:"expires"`
	LastUsed     *string  `json:"last_used"`
	WriteEnabled bool     `json:"write_enabled"`
	AllowedIPs   []string `json:"allowed_ips"`
	Roles        []string `json:"roles"`
	Description  string   `json:"description"`
	Key          string   `json:"key"`
}

// tokenListBody is the body of GET @tokens.
type tokenListBody struct {
	Count   int               `json:"count"`
	Results []json.RawMessage `json:"results"`
}

// jsonHeaders adds Content-Type: application/json to headers.
func jsonHeaders(headers map[string]string) map[string]string {
	h := map[string]string{"Content-Type": "application/json"}
	for k, v := range headers {
		h[k] = v
	}
	return h
}

func withToken(key string) map[string]string {
	return map[string]string{"Authorization": "Token " + key}
}

// createToken posts body to @tokens and expects a 201 with a key.
func createToken(t *testing.T, tester *caddytest.Tester, headers map[string]string, body string) tokenObject {
	t.Helper()
	resp, raw := call(t, tester, "POST", httpBase+"/@tokens", jsonHeaders(headers), body)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST @tokens %s: status %d (%s)", body, resp.StatusCode, raw)
	}
	var tok tokenObject
	if err := json.Unmarshal([]byte(raw), &tok); err != nil {
		t.Fatalf("token body %s: %v", raw, err)
	}
	if !strings.HasPrefix(tok.Key, "rat_") || len(tok.Key) != 60 || tok.ID == "" || !strings.Contains(tok.Key, tok.ID) {
		t.Fatalf("token key/id not as documented: %s", raw)
	}
	return tok
}

// listTokens gets @tokens and checks that no key or hash is shown.
func listTokens(t *testing.T, tester *caddytest.Tester, headers map[string]string, query string) []tokenObject {
	t.Helper()
	resp, raw := call(t, tester, "GET", httpBase+"/@tokens"+query, headers, "")
	if resp.StatusCode != 200 {
		t.Fatalf("GET @tokens%s: status %d (%s)", query, resp.StatusCode, raw)
	}
	return decodeTokenList(t, raw)
}

func decodeTokenList(t *testing.T, raw string) []tokenObject {
	t.Helper()
	if strings.Contains(raw, `"key"`) || strings.Contains(raw, "key_hash") {
		t.Fatalf("token list shows a key: %s", raw)
	}
	var list tokenListBody
	if err := json.Unmarshal([]byte(raw), &list); err != nil || list.Results == nil {
		t.Fatalf("token list %s: %v", raw, err)
	}
	if list.Count != len(list.Results) {
		t.Fatalf("count %d but %d results", list.Count, len(list.Results))
	}
	out := make([]tokenObject, len(list.Results))
	for i, r := range list.Results {
		if err := json.Unmarshal(r, &out[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func tokenIDs(toks []tokenObject) []string {
	var ids []string
	for _, tok := range toks {
		ids = append(ids, tok.ID)
	}
	return ids
}

// assertUpstream checks a request reached the upstream with this identity.
func assertUpstream(t *testing.T, up *upstream, resp *http.Response, body, user, roles string) {
	t.Helper()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d, want 200 (%s)", resp.StatusCode, body)
	}
	h := up.received(t)
	if h.Get("X-Remote-User") != user || h.Get("X-Remote-Roles") != roles {
		t.Fatalf("upstream got user %q roles %q, want %q %q", h.Get("X-Remote-User"), h.Get("X-Remote-Roles"), user, roles)
	}
	if h.Get("Authorization") != "" {
		t.Fatal("Authorization reached the upstream")
	}
}

// TestTokenProvisioning covers NetBox provisioning with a username and
// password, the token object, and using the key with both schemes.
func TestTokenProvisioning(t *testing.T) {
	up := newUpstream(t)
	tester := startCaddy(t, siteConfig(t, "", up.addr()))

	resp, raw := call(t, tester, "POST", httpBase+"/@tokens", jsonHeaders(nil),
		`{"username": "alice", "password": "`+alicePassword+`"}`)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("status %d (%s)", resp.StatusCode, raw)
	}
	var fields map[string]any
	if err := json.Unmarshal([]byte(raw), &fields); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"id", "user", "display", "created", "expires", "last_used", "write_enabled", "allowed_ips", "roles", "description", "key"} {
		if _, ok := fields[f]; !ok {
			t.Errorf("token object lacks %q: %s", f, raw)
		}
	}
	var tok tokenObject
	_ = json.Unmarshal([]byte(raw), &tok)
	if tok.User != "alice" || tok.Expires != nil || tok.LastUsed != nil || !tok.WriteEnabled ||
		!slices.Equal(tok.Roles, []string{"editor", "member"}) || len(tok.AllowedIPs) != 0 {
		t.Fatalf("token = %+v", tok)
	}
	if !strings.HasPrefix(tok.Display, "rat_") || strings.Contains(tok.Display, tok.Key[len(tok.Key)-20:]) {
		t.Fatalf("display %q must be the prefix and last characters only", tok.Display)
	}
	if created, err := time.Parse(time.RFC3339, tok.Created); err != nil || created.Location() != time.UTC ||
		time.Since(created) > time.Minute {
		t.Fatalf("created %q is not a recent RFC 3339 UTC time", tok.Created)
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Error("the 201 with the key must not be cached")
	}

	for _, scheme := range []string{"Token", "Bearer", "token"} {
		resp, body := call(t, tester, "GET", httpBase+"/items", map[string]string{"Authorization": scheme + " " + tok.Key}, "")
		assertUpstream(t, up, resp, body, "alice", "editor,member")
	}
	if listed := listTokens(t, tester, withBasic("alice", alicePassword), ""); listed[0].LastUsed == nil {
		t.Fatal("last_used is not shown after a use")
	} else if used, err := time.Parse(time.RFC3339, *listed[0].LastUsed); err != nil || time.Since(used) > time.Minute {
		t.Fatalf("last_used = %s, want a recent RFC 3339 time", *listed[0].LastUsed)
	}
	resp, body := call(t, tester, "GET", httpBase+"/@me", withToken(tok.Key), "")
	if resp.StatusCode != 200 || !strings.Contains(body, `"method":"token"`) || !strings.Contains(body, `"token_id":"`+tok.ID+`"`) {
		t.Fatalf("@me with a token: %d %s", resp.StatusCode, body)
	}

	t.Run("dotCMS body", func(t *testing.T) {
		tok := createToken(t, tester, nil, `{"user": "alice", "password": "`+alicePassword+`", "expirationDays": 10}`)
		exp, err := time.Parse(time.RFC3339, *tok.Expires)
		if err != nil || exp.Sub(time.Now().AddDate(0, 0, 10)).Abs() > time.Minute {
			t.Fatalf("expires = %v, want in 10 days", tok.Expires)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		resp, body := call(t, tester, "POST", httpBase+"/@tokens", jsonHeaders(nil), `{"username": "alice", "password": "nope"}`)
		assertProblem(t, resp, body, http.StatusUnauthorized, "Invalid username or password.")
	})
	t.Run("disabled user", func(t *testing.T) {
		resp, body := call(t, tester, "POST", httpBase+"/@tokens", jsonHeaders(nil), `{"username": "carol", "password": "`+carolPassword+`"}`)
		assertProblem(t, resp, body, http.StatusUnauthorized, "Invalid username or password.")
	})
}

// TestTokenEnforcement covers every rule applied to a request carrying a
// token: validity, expiry, revocation, read-only, roles and the policy.
func TestTokenEnforcement(t *testing.T) {
	up := newUpstream(t)
	tester := startCaddy(t, siteConfig(t, "write_roles editor", up.addr()))
	alice := withBasic("alice", alicePassword)
	full := createToken(t, tester, alice, `{}`)
	readOnly := createToken(t, tester, alice, `{"write_enabled": false}`)
	member := createToken(t, tester, alice, `{"roles": ["member"]}`)
	wellFormedUnknown := "rat_AAAAAAAAAAAA." + strings.Repeat("B", 43)
	bearerChallenge := `Bearer realm="restauth", error="invalid_token"`

	cases := []struct {
		name, method, auth string
		status             int
		detail, challenge  string
		roles              string
	}{
		{"valid token", "POST", "Token " + full.Key, 200, "", "", "editor,member"},
		{"read-only token reads", "GET", "Token " + readOnly.Key, 200, "", "", "editor,member"},
		{"read-only token writes", "POST", "Token " + readOnly.Key, 403, "This credential is read-only.", "", ""},
		{"read-only token deletes", "DELETE", "Token " + readOnly.Key, 403, "This credential is read-only.", "", ""},
		{"token roles go upstream", "GET", "Token " + member.Key, 200, "", "", "member"},
		{"token roles go to write_roles", "POST", "Token " + member.Key, 403, "role that may modify", "", ""},
		{"malformed key", "GET", "Token not-a-key", 401, "Invalid or expired token.", "Token", ""},
		{"empty key", "GET", "Token ", 401, "Invalid or expired token.", "Token", ""},
		{"unknown key", "GET", "Token " + wellFormedUnknown, 401, "Invalid or expired token.", "Token", ""},
		{"tampered key", "GET", "Token " + full.Key[:59] + "x", 401, "Invalid or expired token.", "Token", ""},
		{"unknown prefixed bearer", "GET", "Bearer " + wellFormedUnknown, 401, "Invalid or expired token.", bearerChallenge, ""},
		{"malformed prefixed bearer", "GET", "Bearer rat_x", 401, "Invalid or expired token.", bearerChallenge, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := call(t, tester, c.method, httpBase+"/items", map[string]string{"Authorization": c.auth}, "")
			if c.status == 200 {
				assertUpstream(t, up, resp, body, "alice", c.roles)
				return
			}
			assertProblem(t, resp, body, c.status, c.detail)
			if c.challenge != "" && !strings.Contains(resp.Header.Get("WWW-Authenticate"), c.challenge) {
				t.Fatalf("WWW-Authenticate = %q, want %q", resp.Header.Get("WWW-Authenticate"), c.challenge)
			}
		})
	}

	t.Run("a Bearer value without the prefix is not a token", func(t *testing.T) {
		// Whatever else answers it (no authenticator, or jwt), the token
		// authenticator must not claim it.
		resp, body := call(t, tester, "GET", httpBase+"/items", map[string]string{"Authorization": "Bearer abc.def"}, "")
		assertProblem(t, resp, body, http.StatusUnauthorized, "")
		if strings.Contains(body, "Invalid or expired token.") {
			t.Fatalf("the token authenticator claimed a foreign Bearer value: %s", body)
		}
	})

	t.Run("revoked token is refused at once", func(t *testing.T) {
		tok := createToken(t, tester, alice, `{}`)
		resp, body := call(t, tester, "GET", httpBase+"/items", withToken(tok.Key), "")
		assertUpstream(t, up, resp, body, "alice", "editor,member") // now cached
		resp, body = call(t, tester, "DELETE", httpBase+"/@tokens/"+tok.ID, alice, "")
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("DELETE: %d %s", resp.StatusCode, body)
		}
		resp, body = call(t, tester, "GET", httpBase+"/items", withToken(tok.Key), "")
		assertProblem(t, resp, body, http.StatusUnauthorized, "Invalid or expired token.")
	})
	// An expired token is refused: authenticators.TestTokenExpiryClock moves
	// the clock past the expiry instead of waiting for it here.
}

// TestTokenPolicyInteraction checks that the token's roles go to
// allow_roles, and that a bad token never falls back to anonymous.
func TestTokenPolicyInteraction(t *testing.T) {
	up := newUpstream(t)
	tester := startCaddy(t, siteConfig(t, "anonymous read\n\t\tallow_roles editor", up.addr()))
	alice := withBasic("alice", alicePassword)
	member := createToken(t, tester, alice, `{"roles": ["member"]}`)
	editor := createToken(t, tester, alice, `{"roles": ["editor"]}`)

	resp, body := call(t, tester, "GET", httpBase+"/items", withToken(member.Key), "")
	assertProblem(t, resp, body, http.StatusForbidden, "You do not have a role that may use this API.")
	resp, body = call(t, tester, "GET", httpBase+"/items", withToken(editor.Key), "")
	assertUpstream(t, up, resp, body, "alice", "editor")

	for _, auth := range []string{"Token rat_garbage", "Bearer rat_garbage", "Token " + member.Key[:59] + "x"} {
		before := up.count()
		resp, body = call(t, tester, "GET", httpBase+"/items", map[string]string{"Authorization": auth}, "")
		assertProblem(t, resp, body, http.StatusUnauthorized, "Invalid or expired token.")
		if up.count() != before {
			t.Fatalf("%s: an invalid token reached the upstream as anonymous", auth)
		}
	}
	resp, body = call(t, tester, "GET", httpBase+"/items", nil, "")
	if resp.StatusCode != 200 || up.received(t).Get("X-Remote-User") != "" {
		t.Fatalf("anonymous read: %d %s", resp.StatusCode, body)
	}
}

// TestTokenOwnerChanges reloads the config with the token's owner losing a
// role, disabled, and removed; the store survives the reloads.
func TestTokenOwnerChanges(t *testing.T) {
	up := newUpstream(t)
	usersFile := filepath.Join(t.TempDir(), "users.json")
	writeUsers := func(erin string) {
		t.Helper()
		users := `[{"name": "alice", "password_hash": "` + aliceHash + `", "roles": ["editor"]}` + erin + `]`
		if err := os.WriteFile(usersFile, []byte(users), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// A different realm each time: Caddy ignores a reload of an unchanged
	// config, and the users file is read at load.
	config := func(realm string) string {
		return siteConfig(t, "users_file "+usersFile+"\n\t\trealm "+realm, up.addr())
	}
	writeUsers(`, {"name": "erin", "password_hash": "` + aliceHash + `", "roles": ["editor", "member"]}`)
	tester := startCaddy(t, config("r1"))
	tok := createToken(t, tester, nil, `{"username": "erin", "password": "`+alicePassword+`"}`)
	resp, body := call(t, tester, "GET", httpBase+"/items", withToken(tok.Key), "")
	assertUpstream(t, up, resp, body, "erin", "editor,member")

	writeUsers(`, {"name": "erin", "password_hash": "` + aliceHash + `", "roles": ["member"]}`)
	tester = startCaddy(t, config("r2"))
	resp, body = call(t, tester, "GET", httpBase+"/items", withToken(tok.Key), "")
	assertUpstream(t, up, resp, body, "erin", "member")

	writeUsers(`, {"name": "erin", "password_hash": "` + aliceHash + `", "roles": ["member"], "disabled": true}`)
	tester = startCaddy(t, config("r3"))
	resp, body = call(t, tester, "GET", httpBase+"/items", withToken(tok.Key), "")
	assertProblem(t, resp, body, http.StatusUnauthorized, "no longer exists or is disabled")

	writeUsers("")
	tester = startCaddy(t, config("r4"))
	resp, body = call(t, tester, "GET", httpBase+"/items", withToken(tok.Key), "")
	assertProblem(t, resp, body, http.StatusUnauthorized, "no longer exists or is disabled")
}

// globalWithClientIPHeader trusts the loopback proxy's X-Forwarded-For, so
// tests on loopback can act as clients at any address.
var globalWithClientIPHeader = globalOptionsWith("trusted_proxies static 127.0.0.1/32\n\t\tclient_ip_headers X-Forwarded-For")

// TestTokenAllowedIPs checks allowed_ips against the client address as
// Caddy resolves it behind a trusted proxy.
func TestTokenAllowedIPs(t *testing.T) {
	up := newUpstream(t)
	config := siteConfig(t, "", up.addr())
	tester := startCaddy(t, globalWithClientIPHeader+config[len(globalOptions):])
	alice := withBasic("alice", alicePassword)
	tok := createToken(t, tester, alice, `{"allowed_ips": ["203.0.113.0/24", "2001:db8::/32", "198.51.100.7"]}`)
	if !slices.Equal(tok.AllowedIPs, []string{"203.0.113.0/24", "2001:db8::/32", "198.51.100.7/32"}) {
		t.Fatalf("allowed_ips = %v", tok.AllowedIPs)
	}
	cases := []struct {
		client string
		status int
	}{
		{"203.0.113.9", 200},
		{"2001:db8::1", 200},
		{"198.51.100.7", 200},
		{"198.51.100.8", 403},
		{"192.0.2.1", 403},
		{"2001:db9::1", 403},
		{"", 403}, // the loopback proxy itself
	}
	for _, c := range cases {
		t.Run("client "+c.client, func(t *testing.T) {
			h := withToken(tok.Key)
			if c.client != "" {
				h["X-Forwarded-For"] = c.client
			}
			resp, body := call(t, tester, "GET", httpBase+"/items", h, "")
			if c.status == 200 {
				assertUpstream(t, up, resp, body, "alice", "editor,member")
				return
			}
			assertProblem(t, resp, body, c.status, "This token may not be used from your address.")
		})
	}
}

// TestTokenBadConfigFailsAtLoad checks that mistakes in the token block
// fail `caddy adapt` with their line and an actionable message.
func TestTokenBadConfigFailsAtLoad(t *testing.T) {
	assertConfigErrors(t, []configCase{
		{"default_ttl over max_ttl", "token {\n\t\t\tmax_ttl 7d\n\t\t\tdefault_ttl 30d\n\t\t}",
			"token: default_ttl 720h0m0s is longer than max_ttl 168h0m0s; lower default_ttl or raise max_ttl"},
		{"negative max_ttl", "token {\n\t\t\tmax_ttl -1d\n\t\t}", "token: max_ttl -24h0m0s must be positive"},
		{"not a duration", "token {\n\t\t\tmax_ttl soon\n\t\t}", `token: max_ttl: "soon" is not a duration (e.g. 30m, 2h, 90d)`},
		{"unknown option", "token {\n\t\t\tpopup\n\t\t}", `token: unknown option "popup"`},
		{"admin_roles without roles", "token {\n\t\t\tadmin_roles\n\t\t}", "token: admin_roles: name at least one role"},
		{"token and tokens", "token\n\t\ttokens", "token: configured twice"},
		{"flush_interval too short", "token {\n\t\t\tflush_interval 1ns\n\t\t}", "token: flush_interval 1ns is too short; use at least 10ms"},
		{"argument", "token yes", "wrong argument count"},
	})
}

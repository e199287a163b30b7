package integration

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestTokensEndpointCreate covers every rule of POST @tokens.
func TestTokensEndpointCreate(t *testing.T) {
	up := newUpstream(t)
	tester := startCaddy(t, siteConfig(t, "", up.addr()))
	alice := withBasic("alice", alicePassword)
	dave := withBasic("dave", davePassword) // admin
	aliceToken := createToken(t, tester, alice, `{}`)
	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)

	refused := []struct {
		name    string
		headers map[string]string
		body    string
		status  int
		detail  string
	}{
		{"anonymous", nil, `{}`, 401, "Authentication credentials were not provided."},
		{"anonymous without body", nil, ``, 401, "Authentication credentials were not provided."},
		{"wrong password in body", nil, `{"username": "alice", "password": "x"}`, 401, "Invalid username or password."},
		{"unknown user in body", nil, `{"username": "mallory", "password": "x"}`, 401, "Invalid username or password."},
		{"password and Authorization", alice, `{"username": "alice", "password": "` + alicePassword + `"}`, 400, "not both"},
		{"provision for someone else", nil, `{"username": "alice", "password": "` + alicePassword + `", "user": "bob"}`, 400, "leave out user"},
		{"non-admin for another user", alice, `{"user": "bob"}`, 403, "Only members of the token admin roles (admin) may create tokens for other users."},
		{"admin for unknown user", dave, `{"user": "mallory"}`, 400, `User "mallory" does not exist or is disabled.`},
		{"admin for disabled user", dave, `{"user": "carol"}`, 400, `User "carol" does not exist or is disabled.`},
		{"role the caller lacks", alice, `{"roles": ["admin"]}`, 403, `User "alice" does not have the role "admin"`},
		{"role the owner lacks", dave, `{"user": "bob", "roles": ["editor"]}`, 403, `User "bob" does not have the role "editor"`},
		{"expiry in the past", alice, `{"expires": "` + past + `"}`, 400, "The expiry is in the past."},
		{"expires not RFC 3339", alice, `{"expires": "tomorrow"}`, 400, "expires must be an RFC 3339 time"},
		{"expiration_days zero", alice, `{"expiration_days": 0}`, 400, "expiration_days must be a whole number"},
		{"expiration_days negative", alice, `{"expirationDays": -3}`, 400, "expiration_days must be a whole number"},
		{"expires and expiration_days", alice, `{"expires": "2099-01-01T00:00:00Z", "expiration_days": 3}`, 400, "not both"},
		{"expiration_days not a number", alice, `{"expiration_days": "ten"}`, 400, "expiration_days has the wrong type"},
		{"invalid allowed_ips", alice, `{"allowed_ips": ["10.0.0.0/33"]}`, 400, "allowed_ips:"},
		{"allowed_ips not an address", alice, `{"allowed_ips": ["example.com"]}`, 400, "allowed_ips:"},
		{"long description", alice, `{"description": "` + strings.Repeat("d", 201) + `"}`, 400, "description is longer than 200 characters."},
		{"malformed JSON", alice, `{"description": `, 400, "The request body must be a JSON object: malformed JSON."},
		{"not an object", alice, `[1, 2]`, 400, "The request body must be a JSON object"},
		{"unknown field", alice, `{"expiration_day": 3}`, 400, "The request body must be a JSON object"},
		{"two JSON values", alice, `{} {}`, 400, "The request body must be a JSON object: malformed JSON."},
		{"body over 64 KiB", alice, `{"description": "` + strings.Repeat("x", 65<<10) + `"}`, 413, "larger than 64 KiB"},
		{"API token creating a token", withToken(aliceToken.Key), `{}`, 403, "An API token cannot create API tokens"},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			resp, body := call(t, tester, "POST", httpBase+"/@tokens", jsonHeaders(c.headers), c.body)
			assertProblem(t, resp, body, c.status, c.detail)
			if c.status == 401 && resp.Header.Get("WWW-Authenticate") == "" {
				t.Error("a 401 must carry a challenge")
			}
		})
	}
	t.Run("form body", func(t *testing.T) {
		h := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
		resp, body := call(t, tester, "POST", httpBase+"/@tokens", h, "username=alice&password="+alicePassword)
		assertProblem(t, resp, body, http.StatusBadRequest, "malformed JSON")
	})
	t.Run("nothing was stored by refused requests", func(t *testing.T) {
		if got := listTokens(t, tester, dave, ""); len(got) != 1 || got[0].ID != aliceToken.ID {
			t.Fatalf("tokens = %v, want only %s", tokenIDs(got), aliceToken.ID)
		}
	})

	t.Run("self with every field", func(t *testing.T) {
		tok := createToken(t, tester, alice, `{"description": "CI deploy", "expiration_days": 30,
			"write_enabled": false, "allowed_ips": ["192.0.2.0/24", "2001:db8::1"], "roles": ["member"]}`)
		exp, err := time.Parse(time.RFC3339, *tok.Expires)
		if tok.User != "alice" || tok.Description != "CI deploy" || tok.WriteEnabled || err != nil ||
			exp.Sub(time.Now().AddDate(0, 0, 30)).Abs() > time.Minute ||
			!slices.Equal(tok.AllowedIPs, []string{"192.0.2.0/24", "2001:db8::1/128"}) || !slices.Equal(tok.Roles, []string{"member"}) {
			t.Fatalf("token = %+v", tok)
		}
	})
	t.Run("self with expires", func(t *testing.T) {
		tok := createToken(t, tester, alice, `{"expires": "2099-12-31T23:00:00+01:00"}`)
		if *tok.Expires != "2099-12-31T22:00:00Z" {
			t.Fatalf("expires = %s, want it in UTC", *tok.Expires)
		}
	})
	t.Run("admin for another user", func(t *testing.T) {
		tok := createToken(t, tester, dave, `{"user": "bob"}`)
		if tok.User != "bob" || !slices.Equal(tok.Roles, []string{"viewer"}) {
			t.Fatalf("token = %+v", tok)
		}
		resp, body := call(t, tester, "GET", httpBase+"/items", withToken(tok.Key), "")
		assertUpstream(t, up, resp, body, "bob", "viewer")
	})
	t.Run("empty roles", func(t *testing.T) {
		tok := createToken(t, tester, alice, `{"roles": []}`)
		resp, body := call(t, tester, "GET", httpBase+"/items", withToken(tok.Key), "")
		assertUpstream(t, up, resp, body, "alice", "")
	})
	for _, ct := range []string{"", "application/x-www-form-urlencoded", "text/plain", "application/json; charset=utf-8"} {
		t.Run("JSON with Content-Type "+ct, func(t *testing.T) {
			h := map[string]string{"Authorization": alice["Authorization"]}
			if ct != "" {
				h["Content-Type"] = ct
			}
			resp, body := call(t, tester, "POST", httpBase+"/@tokens", h, `{"description": "curl"}`)
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("status %d (%s)", resp.StatusCode, body)
			}
		})
	}
}

// TestTokensEndpointListAndRevoke covers GET and DELETE @tokens.
func TestTokensEndpointListAndRevoke(t *testing.T) {
	up := newUpstream(t)
	tester := startCaddy(t, siteConfig(t, "", up.addr()))
	alice := withBasic("alice", alicePassword)
	bob := withBasic("bob", bobPassword)
	dave := withBasic("dave", davePassword)
	a1 := createToken(t, tester, alice, `{"description": "one"}`)
	a2 := createToken(t, tester, alice, `{"description": "two", "write_enabled": false}`)
	b1 := createToken(t, tester, bob, `{}`)

	lists := []struct {
		name, query string
		headers     map[string]string
		want        []string
	}{
		{"own tokens", "", alice, []string{a1.ID, a2.ID}},
		{"own tokens with a token", "", withToken(a1.Key), []string{a1.ID, a2.ID}},
		{"own tokens by ?user=self", "?user=alice", alice, []string{a1.ID, a2.ID}},
		{"other user's own", "", bob, []string{b1.ID}},
		{"admin sees all", "", dave, []string{a1.ID, a2.ID, b1.ID}},
		{"admin filters by user", "?user=bob", dave, []string{b1.ID}},
		{"admin, user without tokens", "?user=dave", dave, nil},
	}
	for _, c := range lists {
		t.Run("GET "+c.name, func(t *testing.T) {
			got := tokenIDs(listTokens(t, tester, c.headers, c.query))
			slices.Sort(got)
			want := slices.Clone(c.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("tokens = %v, want %v", got, want)
			}
		})
	}
	t.Run("GET shows the token object without key", func(t *testing.T) {
		got := listTokens(t, tester, alice, "")
		if got[0].Display != a1.Display || got[0].Description != "one" || got[0].Created != a1.Created || got[0].Key != "" {
			t.Fatalf("listed %+v, created %+v", got[0], a1)
		}
	})

	refused := []struct {
		name, method, path string
		headers            map[string]string
		status             int
		detail             string
	}{
		{"GET anonymous", "GET", "/@tokens", nil, 401, "Authentication credentials were not provided."},
		{"GET other user's list", "GET", "/@tokens?user=bob", alice, 403, "Only members of the token admin roles may list other users' tokens."},
		{"GET other user's token", "GET", "/@tokens/" + b1.ID, alice, 403, "belongs to another user"},
		{"DELETE anonymous", "DELETE", "/@tokens/" + a1.ID, nil, 401, "Authentication credentials were not provided."},
		{"DELETE other user's token", "DELETE", "/@tokens/" + a1.ID, bob, 403, "belongs to another user"},
		{"DELETE missing token", "DELETE", "/@tokens/nosuchtoken0", alice, 404, "No such token."},
		{"DELETE with a read-only token", "DELETE", "/@tokens/" + a1.ID, withToken(a2.Key), 403, "This credential is read-only."},
		{"DELETE without id", "DELETE", "/@tokens", alice, 405, "is not allowed here"},
		{"PUT", "PUT", "/@tokens/" + a1.ID, alice, 405, "is not allowed here"},
		{"invalid token", "GET", "/@tokens", withToken("rat_nope"), 401, "Invalid or expired token."},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			resp, body := call(t, tester, c.method, httpBase+c.path, c.headers, "")
			assertProblem(t, resp, body, c.status, c.detail)
		})
	}

	// revoke deletes tok with headers, then checks it is refused and gone
	// (asking as again).
	revoke := func(t *testing.T, headers, again map[string]string, tok tokenObject) {
		t.Helper()
		resp, body := call(t, tester, "DELETE", httpBase+"/@tokens/"+tok.ID, headers, "")
		if resp.StatusCode != http.StatusNoContent || body != "" {
			t.Fatalf("DELETE %s: %d %q", tok.ID, resp.StatusCode, body)
		}
		resp, body = call(t, tester, "GET", httpBase+"/items", withToken(tok.Key), "")
		assertProblem(t, resp, body, http.StatusUnauthorized, "Invalid or expired token.")
		resp, body = call(t, tester, "DELETE", httpBase+"/@tokens/"+tok.ID, again, "")
		assertProblem(t, resp, body, http.StatusNotFound, "No such token.")
	}
	t.Run("owner revokes", func(t *testing.T) { revoke(t, alice, alice, a1) })
	t.Run("admin revokes another user's token", func(t *testing.T) { revoke(t, dave, bob, b1) })
	t.Run("a token revokes itself", func(t *testing.T) {
		tok := createToken(t, tester, alice, `{}`)
		revoke(t, withToken(tok.Key), alice, tok)
	})
	if got := tokenIDs(listTokens(t, tester, dave, "")); !slices.Equal(got, []string{a2.ID}) {
		t.Fatalf("after revocations: %v, want [%s]", got, a2.ID)
	}
}

// TestTokenConfig covers the token block: admin_roles (and the `tokens`
// alias), default_ttl and max_ttl, and a chain without tokens.
func TestTokenConfig(t *testing.T) {
	up := newUpstream(t)
	alice := withBasic("alice", alicePassword)

	t.Run("admin_roles through the tokens alias", func(t *testing.T) {
		tester := startCaddy(t, siteConfig(t, "tokens {\n\t\t\tadmin_roles editor\n\t\t}", up.addr()))
		if tok := createToken(t, tester, alice, `{"user": "bob"}`); tok.User != "bob" {
			t.Fatalf("token = %+v", tok)
		}
		resp, body := call(t, tester, "POST", httpBase+"/@tokens", jsonHeaders(withBasic("dave", davePassword)), `{"user": "bob"}`)
		if resp.StatusCode != http.StatusCreated { // dave is an editor too
			t.Fatalf("dave: %d %s", resp.StatusCode, body)
		}
		resp, body = call(t, tester, "POST", httpBase+"/@tokens", jsonHeaders(withBasic("bob", bobPassword)), `{"user": "alice"}`)
		assertProblem(t, resp, body, http.StatusForbidden, "Only members of the token admin roles (editor)")
	})

	t.Run("default_ttl and max_ttl", func(t *testing.T) {
		tester := startCaddy(t, siteConfig(t, "token {\n\t\t\tmax_ttl 30d\n\t\t\tdefault_ttl 7d\n\t\t}", up.addr()))
		tok := createToken(t, tester, alice, `{}`)
		if exp, err := time.Parse(time.RFC3339, *tok.Expires); err != nil || exp.Sub(time.Now().AddDate(0, 0, 7)).Abs() > time.Minute {
			t.Fatalf("expires = %v, want in 7 days (default_ttl)", tok.Expires)
		}
		createToken(t, tester, alice, `{"expiration_days": 30}`)
		resp, body := call(t, tester, "POST", httpBase+"/@tokens", jsonHeaders(alice), `{"expiration_days": 31}`)
		assertProblem(t, resp, body, http.StatusBadRequest, "beyond the longest token lifetime allowed here (max_ttl)")
		resp, body = call(t, tester, "POST", httpBase+"/@tokens", jsonHeaders(alice), `{"expires": "2099-01-01T00:00:00Z"}`)
		assertProblem(t, resp, body, http.StatusBadRequest, "max_ttl")
	})

	t.Run("max_ttl alone bounds the default", func(t *testing.T) {
		tester := startCaddy(t, siteConfig(t, "token {\n\t\t\tmax_ttl 2d\n\t\t}", up.addr()))
		tok := createToken(t, tester, alice, `{}`)
		if tok.Expires == nil {
			t.Fatal("a token under max_ttl must not live forever")
		}
	})

	t.Run("chain without token", func(t *testing.T) {
		tester := startCaddy(t, siteConfig(t, "order basic", up.addr()))
		resp, body := call(t, tester, "POST", httpBase+"/@tokens", jsonHeaders(alice), `{}`)
		assertProblem(t, resp, body, http.StatusNotFound, "API tokens are not enabled")
		if strings.Contains(resp.Header.Get("WWW-Authenticate"), "Token") {
			t.Error("Token announced without the token authenticator")
		}
	})
}

package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddy-restauth/caddy-restauth/internal/testusers"
	"github.com/caddy-restauth/caddy-restauth/problem"
	"github.com/caddy-restauth/caddy-restauth/store"
)

// request is a request to the endpoints; header holds name, value pairs.
func request(method, target, body string, header ...string) *http.Request {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Add(header[i], header[i+1])
	}
	return r
}

// basic is the Authorization header of user with the test password.
func basic(user string) []string {
	return []string{"Authorization", testusers.BasicHeader(user, password)}
}

// decode reads w's JSON body into v, checking the content type.
func decode(t *testing.T, w *httptest.ResponseRecorder, v any) {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q, want application/json (body %s)", ct, w.Body)
	}
	if err := json.Unmarshal(w.Body.Bytes(), v); err != nil {
		t.Fatalf("body %s: %v", w.Body, err)
	}
}

// assertProblem checks an RFC 9457 answer: status, content type, detail.
func assertProblem(t *testing.T, w *httptest.ResponseRecorder, status int, detail string) {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status = %d, want %d (body %s)", w.Code, status, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json", ct)
	}
	var p problem.Details
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatalf("problem %s: %v", w.Body, err)
	}
	if p.Status != status || !strings.Contains(p.Detail, detail) {
		t.Fatalf("problem = %+v, want status %d and a detail containing %q", p, status, detail)
	}
}

// login posts user's credentials to @login and returns the JWT.
func (e *testEndpoints) login(t *testing.T, user string) string {
	t.Helper()
	w := e.serve(t, request("POST", "/@login", `{"login":"`+user+`","password":"`+password+`"}`))
	if w.Code != http.StatusOK {
		t.Fatalf("@login: %d %s", w.Code, w.Body)
	}
	var resp tokenResponse
	decode(t, w, &resp)
	if resp.Token == "" || resp.Expires.IsZero() {
		t.Fatalf("@login answered %s", w.Body)
	}
	return resp.Token
}

// createToken creates an API token as caller (basic) with body and
// returns what @tokens showed.
func (e *testEndpoints) createToken(t *testing.T, caller, body string) TokenView {
	t.Helper()
	w := e.serve(t, request("POST", "/@tokens", body, basic(caller)...))
	if w.Code != http.StatusCreated {
		t.Fatalf("POST @tokens as %s: %d %s", caller, w.Code, w.Body)
	}
	var view TokenView
	decode(t, w, &view)
	return view
}

func TestLogin(t *testing.T) {
	e := newTestEndpoints(t)
	for _, c := range []struct {
		name, method, body string
		status             int
		detail             string
		form               bool // sent as a form, as curl -d does
	}{
		{"right password", "POST", `{"login":"alice","password":"` + password + `"}`, 200, "", false},
		{"username as NetBox names it", "POST", `{"username":"alice","password":"` + password + `"}`, 200, "", false},
		{"wrong password", "POST", `{"login":"alice","password":"wrong"}`, 401, "", false},
		{"disabled user", "POST", `{"login":"carol","password":"` + password + `"}`, 401, "", false},
		{"no password", "POST", `{"login":"alice"}`, 400, `Send "username"`, false},
		{"JSON sent as a form", "POST", `{"login":"alice","password":"` + password + `"}`, 400, "Content-Type: application/json", true},
		{"form", "POST", "login=alice&password=" + password, 200, "", true},
		{"GET", "GET", "", 405, "Method GET is not allowed", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := request(c.method, "/@login", c.body)
			if c.form {
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			w := e.serve(t, r)
			if c.status != 200 {
				assertProblem(t, w, c.status, c.detail)
				if c.status == 405 && w.Header().Get("Allow") != "POST" {
					t.Fatalf("Allow = %q, want POST", w.Header().Get("Allow"))
				}
				return
			}
			var resp tokenResponse
			decode(t, w, &resp)
			if w.Header().Get("Cache-Control") != "no-store" {
				t.Fatalf("Cache-Control = %q, want no-store", w.Header().Get("Cache-Control"))
			}
			// The token is a credential of the jwt authenticator for alice.
			me := e.serve(t, request("GET", "/@me", "", "Authorization", "Bearer "+resp.Token))
			var who meResponse
			decode(t, me, &who)
			if who.User != "alice" || who.Method != "jwt" || strings.Join(who.Roles, ",") != "editor,member" {
				t.Fatalf("@me with the token = %+v", who)
			}
		})
	}
}

func TestLoginRenewRevokesTheOldToken(t *testing.T) {
	e := newTestEndpoints(t)
	old := e.login(t, "alice")

	w := e.serve(t, request("POST", "/@login-renew", "", "Authorization", "Bearer "+old))
	if w.Code != http.StatusOK {
		t.Fatalf("@login-renew: %d %s", w.Code, w.Body)
	}
	var renewed tokenResponse
	decode(t, w, &renewed)
	if renewed.Token == "" || renewed.Token == old {
		t.Fatalf("@login-renew answered %s", w.Body)
	}
	assertProblem(t, e.serve(t, request("GET", "/@me", "", "Authorization", "Bearer "+old)), 401, "")
	if w := e.serve(t, request("GET", "/@me", "", "Authorization", "Bearer "+renewed.Token)); w.Code != 200 {
		t.Fatalf("@me with the renewed token: %d %s", w.Code, w.Body)
	}

	assertProblem(t, e.serve(t, request("POST", "/@login-renew", "", basic("alice")...)), 400, "Authorization: Bearer")
	assertProblem(t, e.serve(t, request("POST", "/@login-renew", "")), 401, problem.NoCredentials)
}

func TestLogout(t *testing.T) {
	e := newTestEndpoints(t)

	t.Run("jwt is revoked", func(t *testing.T) {
		token := e.login(t, "alice")
		w := e.serve(t, request("POST", "/@logout", "", "Authorization", "Bearer "+token))
		if w.Code != http.StatusNoContent {
			t.Fatalf("@logout: %d %s", w.Code, w.Body)
		}
		assertProblem(t, e.serve(t, request("GET", "/@me", "", "Authorization", "Bearer "+token)), 401, "")
	})
	t.Run("session is ended", func(t *testing.T) {
		cookies := e.startSession(t, "alice")
		r := request("POST", "/@logout", "")
		for _, c := range cookies {
			r.AddCookie(c)
		}
		r.Header.Set("X-CSRFToken", cookies[1].Value)
		w := e.serve(t, r)
		if w.Code != http.StatusNoContent {
			t.Fatalf("@logout: %d %s", w.Code, w.Body)
		}
		for _, c := range w.Result().Cookies() {
			if c.MaxAge >= 0 {
				t.Fatalf("@logout kept cookie %s", c)
			}
		}
		assertProblem(t, e.serve(t, e.withCookies(request("GET", "/@me", ""), cookies)), 401, "")
	})
	t.Run("basic has nothing to end", func(t *testing.T) {
		assertProblem(t, e.serve(t, request("POST", "/@logout", "", basic("alice")...)), 400, "@logout ends a session")
	})
	t.Run("anonymous", func(t *testing.T) {
		w := e.serve(t, request("POST", "/@logout", ""))
		assertProblem(t, w, 401, problem.NoCredentials)
		if w.Header().Get("WWW-Authenticate") != `Bearer realm="fuzz"` {
			t.Fatalf("WWW-Authenticate = %q", w.Header().Get("WWW-Authenticate"))
		}
	})
}

// startSession logs user in with POST @session and returns the session and
// CSRF cookies.
func (e *testEndpoints) startSession(t *testing.T, user string) []*http.Cookie {
	t.Helper()
	w := e.serve(t, request("POST", "/@session", `{"username":"`+user+`","password":"`+password+`"}`))
	if w.Code != http.StatusOK {
		t.Fatalf("@session: %d %s", w.Code, w.Body)
	}
	var resp sessionResponse
	decode(t, w, &resp)
	if resp.User != user {
		t.Fatalf("@session answered %s", w.Body)
	}
	cookies := w.Result().Cookies()
	if len(cookies) != 2 || cookies[0].Value == "" || cookies[1].Value == "" || !cookies[0].HttpOnly {
		t.Fatalf("@session set cookies %v; want an HttpOnly session cookie and a CSRF cookie", cookies)
	}
	return cookies
}

func (e *testEndpoints) withCookies(r *http.Request, cookies []*http.Cookie) *http.Request {
	for _, c := range cookies {
		r.AddCookie(c)
	}
	return r
}

func TestSession(t *testing.T) {
	e := newTestEndpoints(t)
	cookies := e.startSession(t, "alice")

	w := e.serve(t, e.withCookies(request("GET", "/@me", ""), cookies))
	var who meResponse
	decode(t, w, &who)
	if who.User != "alice" || who.Method != "session" {
		t.Fatalf("@me with the session = %+v", who)
	}

	// DELETE without the CSRF header is refused; with it the session ends.
	assertProblem(t, e.serve(t, e.withCookies(request("DELETE", "/@session", ""), cookies)), 403, "")
	r := e.withCookies(request("DELETE", "/@session", ""), cookies)
	r.Header.Set("X-CSRFToken", cookies[1].Value)
	if w := e.serve(t, r); w.Code != http.StatusNoContent {
		t.Fatalf("DELETE @session: %d %s", w.Code, w.Body)
	}
	assertProblem(t, e.serve(t, e.withCookies(request("GET", "/@me", ""), cookies)), 401, "")

	assertProblem(t, e.serve(t, request("POST", "/@session", `{"username":"alice","password":"wrong"}`)), 401, "")
	assertProblem(t, e.serve(t, request("DELETE", "/@session", "", basic("alice")...)), 400, "no session cookie")
	assertProblem(t, e.serve(t, request("PUT", "/@session", "")), 405, "")
}

func TestMe(t *testing.T) {
	e := newTestEndpoints(t)
	w := e.serve(t, request("GET", "/@me", "", basic("admin")...))
	if w.Code != 200 {
		t.Fatalf("@me: %d %s", w.Code, w.Body)
	}
	var who meResponse
	decode(t, w, &who)
	if who.User != "admin" || who.Method != "basic" || strings.Join(who.Roles, ",") != "admin" {
		t.Fatalf("@me = %+v", who)
	}
	assertProblem(t, e.serve(t, request("GET", "/@me", "")), 401, problem.NoCredentials)
	assertProblem(t, e.serve(t, request("GET", "/@me/more", "", basic("admin")...)), 404, "No such endpoint")
	assertProblem(t, e.serve(t, request("POST", "/@me", "", basic("admin")...)), 405, "")
	assertProblem(t, e.serve(t, request("GET", "/@me", "", "Authorization", testusers.BasicHeader("admin", "wrong"))), 401, "")
}

func TestJWKS(t *testing.T) {
	e := newTestEndpoints(t)
	for _, path := range []string{"/@jwks", "/.well-known/jwks.json"} {
		w := e.serve(t, request("GET", path, ""))
		var set struct {
			Keys []map[string]any `json:"keys"`
		}
		decode(t, w, &set)
		// The only key is HS256: a shared secret is never published.
		if w.Code != 200 || set.Keys == nil || len(set.Keys) != 0 {
			t.Fatalf("GET %s: %d %s", path, w.Code, w.Body)
		}
	}
	assertProblem(t, e.serve(t, request("POST", "/@jwks", "")), 405, "")
}

func TestTokensCreateListDelete(t *testing.T) {
	e := newTestEndpoints(t)
	ctx := context.Background()

	view := e.createToken(t, "alice", `{"description":"ci","roles":["editor"],"expiration_days":10}`)
	if view.Key == "" || view.User != "alice" || strings.Join(view.Roles, ",") != "editor" || view.Description != "ci" {
		t.Fatalf("created %+v", view)
	}
	stored, err := e.store.Token(ctx, view.ID)
	if err != nil {
		t.Fatalf("the created token is not in the store: %v", err)
	}
	if stored.Owner != "alice" || len(stored.KeyHash) == 0 || strings.Contains(string(stored.KeyHash), view.Key) {
		t.Fatalf("stored %+v; want alice's token with the key's hash only", stored)
	}
	// The key is a credential of the token authenticator.
	w := e.serve(t, request("GET", "/@me", "", "Authorization", "Token "+view.Key))
	var who meResponse
	decode(t, w, &who)
	if who.User != "alice" || who.Method != "token" || who.TokenID != view.ID {
		t.Fatalf("@me with the key = %+v", who)
	}

	// Listing shows the token without its key, to its owner and to an admin.
	for _, caller := range []string{"alice", "admin"} {
		w := e.serve(t, request("GET", "/@tokens?user=alice", "", basic(caller)...))
		var list tokenList
		decode(t, w, &list)
		if list.Count != 1 || list.Results[0].ID != view.ID || list.Results[0].Key != "" {
			t.Fatalf("GET @tokens as %s = %s", caller, w.Body)
		}
	}
	assertProblem(t, e.serve(t, request("GET", "/@tokens?user=admin", "", basic("alice")...)), 403, "Only members of the token admin roles")

	// An admin's token is not alice's to see or delete.
	admins := e.createToken(t, "admin", "")
	assertProblem(t, e.serve(t, request("GET", "/@tokens/"+admins.ID, "", basic("alice")...)), 403, "belongs to another user")
	assertProblem(t, e.serve(t, request("DELETE", "/@tokens/"+admins.ID, "", basic("alice")...)), 403, "belongs to another user")
	assertProblem(t, e.serve(t, request("DELETE", "/@tokens/nosuch", "", basic("alice")...)), 404, "No such token")

	w = e.serve(t, request("DELETE", "/@tokens/"+view.ID, "", basic("alice")...))
	if w.Code != http.StatusNoContent {
		t.Fatalf("DELETE @tokens/%s: %d %s", view.ID, w.Code, w.Body)
	}
	if _, err := e.store.Token(ctx, view.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the deleted token is still stored: %v", err)
	}
	assertProblem(t, e.serve(t, request("GET", "/@me", "", "Authorization", "Token "+view.Key)), 401, "")
}

func TestTokensCreateRefusals(t *testing.T) {
	e := newTestEndpoints(t)
	key := e.createToken(t, "alice", "").Key
	for _, c := range []struct {
		name, body string
		header     []string
		status     int
		detail     string
	}{
		{"anonymous without password", "", nil, 401, problem.NoCredentials},
		{"anonymous with wrong password", `{"username":"alice","password":"wrong"}`, nil, 401, ""},
		{"role the owner lacks", `{"roles":["admin"]}`, basic("alice"), 403, `does not have the role "admin"`},
		{"token for another user", `{"user":"admin"}`, basic("alice"), 403, "token admin roles"},
		{"API token creating a token", "", []string{"Authorization", "Token " + key}, 403, "An API token cannot create API tokens"},
		{"expiry in the past", `{"expires":"1999-01-01T00:00:00Z"}`, basic("alice"), 400, "The expiry is in the past."},
		{"both day spellings", `{"expiration_days":1,"expirationDays":1}`, basic("alice"), 400, "not both"},
		{"admin for a disabled user", `{"user":"carol"}`, basic("admin"), 400, `User "carol" does not exist or is disabled.`},
		{"allowed_ips not an address", `{"allowed_ips":["example.com"]}`, basic("alice"), 400, "allowed_ips:"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := e.tokens(t)
			assertProblem(t, e.serve(t, request("POST", "/@tokens", c.body, c.header...)), c.status, c.detail)
			if after := e.tokens(t); after != before {
				t.Fatalf("a refused request changed the tokens:\n%s\n%s", before, after)
			}
		})
	}
}

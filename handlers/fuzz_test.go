package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddy-restauth/caddy-restauth/authenticators"
	"github.com/caddy-restauth/caddy-restauth/identity"
)

// carriesPassword reports whether body, read as raw bytes, as a form, as
// multipart or as JSON, contains password: the oracle for "a login
// succeeded only with the real password".
func carriesPassword(contentType string, body []byte) bool {
	if bytes.Contains(body, []byte(password)) {
		return true
	}
	if s, err := url.QueryUnescape(string(body)); err == nil && strings.Contains(s, password) {
		return true
	}
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	r.Header.Set("Content-Type", contentType)
	if err := r.ParseMultipartForm(maxBodyBytes); err == nil || r.PostForm != nil {
		for _, vs := range r.PostForm {
			if slices.Contains(vs, password) {
				return true
			}
		}
	}
	var doc any
	return json.Unmarshal(body, &doc) == nil && strings.Contains(fmt.Sprint(doc), password)
}

// credentialBodies are seeds for the endpoints that take a name and
// password: JSON and form, right and wrong, malformed, and too large.
func credentialBodies(f *testing.F) {
	big := bytes.Repeat([]byte("a"), maxBodyBytes+1)
	for _, s := range []struct{ contentType, body string }{
		{"application/json", `{"login": "alice", "password": "` + password + `"}`},
		{"application/json", `{"username": "alice", "password": "` + password + `"}`},
		{"application/json; charset=utf-8", `{"username": "admin", "password": "wrong"}`},
		{"application/json", `{"username": "carol", "password": "` + password + `"}`},
		{"application/json", `{"username": "alice"}`},
		{"application/json", `{"username": 1}`},
		{"application/json", `[`},
		{"", `{"login": "alice", "password": "` + password + `"}`},
		{"application/x-www-form-urlencoded", "username=alice&password=" + url.QueryEscape(password)},
		{"application/x-www-form-urlencoded", "login=alice&password=wrong"},
		{"application/x-www-form-urlencoded", "username=%zz"},
		{"multipart/form-data; boundary=X", "--X\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nalice\r\n--X\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\n" + password + "\r\n--X--\r\n"},
		{"multipart/form-data", "--X\r\n"},
		{"application/x-www-form-urlencoded", "password=" + string(big)},
		{"application/json", string(big)},
	} {
		f.Add(s.contentType, []byte(s.body))
	}
}

// FuzzLoginBody fuzzes the body of POST @login. Invariants: the status is
// 200, 400, 401 or 413; a 400 or 413 leaves the store unchanged; a 200
// only for a body that carries the real password, and its token
// authenticates through the jwt authenticator as the user it was issued
// to.
func FuzzLoginBody(f *testing.F) {
	e := newTestEndpoints(f)
	credentialBodies(f)
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		w := e.post(t, "/@login", contentType, body, nil, 200, 400, 401, 413)
		if w.Code != http.StatusOK {
			return
		}
		if !carriesPassword(contentType, body) {
			t.Fatalf("login succeeded without the password: %s %q", contentType, body)
		}
		var resp tokenResponse
		if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", "Bearer "+resp.Token)
		id, err := e.jwt.Authenticate(r)
		if err != nil || id == nil || (id.User != "alice" && id.User != "admin") {
			t.Fatalf("the issued token gives %+v, %v", id, err)
		}
	})
}

// FuzzSessionBody fuzzes the body of POST @session. Invariants: the status
// is 200, 400, 401 or 413; a 400 or 413 leaves the store unchanged; a 200
// only for a body that carries the real password, and it sets both
// cookies.
func FuzzSessionBody(f *testing.F) {
	e := newTestEndpoints(f)
	credentialBodies(f)
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		w := e.post(t, "/@session", contentType, body, nil, 200, 400, 401, 413)
		if w.Code != http.StatusOK {
			return
		}
		if !carriesPassword(contentType, body) {
			t.Fatalf("session login succeeded without the password: %s %q", contentType, body)
		}
		if cookies := w.Result().Cookies(); len(cookies) != 2 || cookies[0].Value == "" || cookies[1].Value == "" {
			t.Fatalf("a session login set cookies %v", cookies)
		}
	})
}

// FuzzTokensBody fuzzes the body of POST @tokens, anonymous (NetBox
// provisioning with a password in the body), as alice and as an admin.
// Invariants: the status is 201, 400, 401, 403 or 413; a 400 or 413 leaves
// the store unchanged; a 201 stores exactly the token it shows, owned by
// the caller (or, for an admin, by an enabled user; anonymously, only with
// the real password), with a subset of the owner's roles, an expiry within
// max_ttl and a description of at most 200 characters.
func FuzzTokensBody(f *testing.F) {
	e := newTestEndpoints(f)
	callers := []*identity.Identity{
		nil,
		identity.New("alice", []string{"editor", "member"}, "basic", ""),
		identity.New("admin", []string{"admin"}, "basic", ""),
	}
	for _, s := range []struct {
		caller uint8
		body   string
	}{
		{0, `{"username": "alice", "password": "` + password + `", "description": "ci"}`},
		{0, `{"user": "alice", "password": "` + password + `", "expirationDays": 30}`},
		{0, `{"username": "alice", "password": "wrong"}`},
		{1, ``},
		{1, `{"description": "x", "expires": "2030-01-31T12:00:00Z", "write_enabled": false, "allowed_ips": ["192.0.2.0/24", "2001:db8::1"]}`},
		{1, `{"roles": ["editor"], "expiration_days": 10}`},
		{1, `{"roles": ["admin"]}`},
		{1, `{"expiration_day": 10}`},
		{1, `{"expiration_days": 10, "expirationDays": 10}`},
		{1, `{"allowed_ips": ["fe80::1%eth0"]}`},
		{1, `{"expires": "1999-01-01T00:00:00Z"}`},
		{2, `{"user": "alice", "roles": ["member"]}`},
		{2, `{"user": "carol"}`},
		{1, `{"user": "admin"}`},
		{1, strings.Repeat(" ", maxBodyBytes+1)},
	} {
		f.Add(s.caller, "application/json", []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, caller uint8, contentType string, body []byte) {
		id := callers[int(caller)%len(callers)]
		now := time.Now()
		w := e.post(t, "/@tokens", contentType, body, id, 201, 400, 401, 403, 413)
		if w.Code != http.StatusCreated {
			return
		}
		var view TokenView
		if err := json.Unmarshal(w.Body.Bytes(), &view); err != nil {
			t.Fatal(err)
		}
		stored, err := e.store.Token(context.Background(), view.ID)
		if err != nil {
			t.Fatalf("the created token %q is not in the store: %v", view.ID, err)
		}
		// Keep the store small: the next input starts from the same state.
		defer func() { _ = e.store.Store.DeleteToken(context.Background(), view.ID) }()
		if stored.Owner != view.User || !slices.Equal(stored.Roles, view.Roles) {
			t.Fatalf("shown %+v, stored %+v", view, stored)
		}
		owner, ok := e.env.Users.Lookup(stored.Owner)
		if !ok {
			t.Fatalf("token created for %q, who is not an enabled user", stored.Owner)
		}
		switch {
		case id == nil && !carriesPassword(contentType, body):
			t.Fatalf("an anonymous caller got a token without the password: %q", body)
		case id != nil && id.User != "admin" && stored.Owner != id.User:
			t.Fatalf("%s created a token for %s", id.User, stored.Owner)
		}
		for _, r := range stored.Roles {
			if !slices.Contains(owner.Roles, r) {
				t.Fatalf("token of %s carries role %q", stored.Owner, r)
			}
		}
		if stored.Expires == nil || !stored.Expires.After(now) || stored.Expires.After(time.Now().Add(maxTTL)) {
			t.Fatalf("token expiry %v is not within max_ttl", stored.Expires)
		}
		if len([]rune(stored.Description)) > 200 { // the documented limit
			t.Fatalf("description of %d characters", len([]rune(stored.Description)))
		}
		for _, n := range stored.AllowedIPs {
			if _, err := authenticators.ParseNetwork(n); err != nil {
				t.Fatalf("stored allowed_ips entry %q: %v", n, err)
			}
		}
	})
}

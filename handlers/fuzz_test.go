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
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
	"golang.org/x/crypto/bcrypt"

	"github.com/caddy-restauth/caddy-restauth/authenticators"
	"github.com/caddy-restauth/caddy-restauth/identity"
	"github.com/caddy-restauth/caddy-restauth/store"
)

// fuzzPassword is the password of every user of the endpoint fuzz targets.
const fuzzPassword = "fuzz-Pa55word"

// fuzzMaxTTL is the token authenticator's max_ttl in the fuzz targets.
const fuzzMaxTTL = 365 * 24 * time.Hour

// countingStore is a store that counts the calls that change it, so a
// target can tell that a request left the store as it was.
type countingStore struct {
	store.Store
	writes atomic.Int64
}

func (s *countingStore) CreateToken(ctx context.Context, t store.Token) error {
	s.writes.Add(1)
	return s.Store.CreateToken(ctx, t)
}

func (s *countingStore) DeleteToken(ctx context.Context, id string) error {
	s.writes.Add(1)
	return s.Store.DeleteToken(ctx, id)
}

func (s *countingStore) TouchTokens(ctx context.Context, used map[string]time.Time) error {
	s.writes.Add(1)
	return s.Store.TouchTokens(ctx, used)
}

func (s *countingStore) Revoke(ctx context.Context, jti string, until time.Time) (bool, error) {
	s.writes.Add(1)
	return s.Store.Revoke(ctx, jti, until)
}

func (s *countingStore) CreateSession(ctx context.Context, sess store.Session) error {
	s.writes.Add(1)
	return s.Store.CreateSession(ctx, sess)
}

func (s *countingStore) UpdateSession(ctx context.Context, sess store.Session) error {
	s.writes.Add(1)
	return s.Store.UpdateSession(ctx, sess)
}

func (s *countingStore) DeleteSession(ctx context.Context, idHash []byte) error {
	s.writes.Add(1)
	return s.Store.DeleteSession(ctx, idHash)
}

func (s *countingStore) AddFailure(ctx context.Context, key string, window time.Duration) (store.Counter, error) {
	s.writes.Add(1)
	return s.Store.AddFailure(ctx, key, window)
}

func (s *countingStore) SetFailures(ctx context.Context, key string, c store.Counter) error {
	s.writes.Add(1)
	return s.Store.SetFailures(ctx, key, c)
}

func (s *countingStore) ResetFailures(ctx context.Context, key string) error {
	s.writes.Add(1)
	return s.Store.ResetFailures(ctx, key)
}

// fuzzEndpoints are the endpoints of a chain of jwt, session and token
// authenticators over a counting memory store, with users alice (editor,
// member), admin (admin) and the disabled carol, all with fuzzPassword.
// Throttling is off, so every guess is checked.
type fuzzEndpoints struct {
	*Endpoints
	store *countingStore
	jwt   *authenticators.JWT
}

func newFuzzEndpoints(f *testing.F) *fuzzEndpoints {
	f.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(fuzzPassword), bcrypt.MinCost)
	if err != nil {
		f.Fatal(err)
	}
	users, err := identity.NewDirectory([]identity.User{
		{Name: "alice", PasswordHash: string(hash), Roles: []string{"editor", "member"}},
		{Name: "admin", PasswordHash: string(hash), Roles: []string{"admin"}},
		{Name: "carol", PasswordHash: string(hash), Roles: []string{"editor"}, Disabled: true},
	})
	if err != nil {
		f.Fatal(err)
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	f.Cleanup(cancel)
	mem := &store.Memory{Name: f.Name()}
	if err := mem.Provision(ctx); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = mem.Cleanup() })
	st := &countingStore{Store: mem}
	env := authenticators.Env{
		Users:     users,
		Passwords: authenticators.NewPasswords(users, st, authenticators.Throttle{Off: true}),
		Store:     st,
		Logger:    zap.NewNop(),
		Realm:     "fuzz",
	}
	jwtAuth := &authenticators.JWT{Keys: []authenticators.JWTKey{
		{Algorithm: "hs256", Secret: "fuzz-hs256-secret-0123456789abcdef"},
	}}
	tok := &authenticators.Token{MaxTTL: caddy.Duration(fuzzMaxTTL)}
	if err := tok.Provision(caddy.Context{}); err != nil {
		f.Fatal(err)
	}
	chain := []authenticators.Authenticator{jwtAuth, &authenticators.Session{}, tok}
	for _, a := range chain {
		if v, ok := a.(caddy.Validator); ok {
			if err := v.Validate(); err != nil {
				f.Fatal(err)
			}
		}
		if err := a.(authenticators.Binder).Bind(env); err != nil {
			f.Fatal(err)
		}
		if c, ok := a.(caddy.CleanerUpper); ok {
			f.Cleanup(func() { _ = c.Cleanup() })
		}
	}
	return &fuzzEndpoints{Endpoints: New("/", env, `Bearer realm="fuzz"`, chain), store: st, jwt: jwtAuth}
}

// post sends body to the endpoint at path as caller (nil: anonymous) and
// checks the invariant every endpoint shares: its status is one of
// allowed, and a 400 or 413 leaves the store unchanged (no write at all,
// the same tokens).
func (e *fuzzEndpoints) post(t *testing.T, path, contentType string, body []byte, caller *identity.Identity, allowed ...int) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	m, ok := e.Match(r)
	if !ok {
		t.Fatalf("no endpoint at %s", path)
	}
	writes := e.store.writes.Load()
	before := e.tokens(t)
	w := httptest.NewRecorder()
	e.Serve(w, r, m, caller)
	if !slices.Contains(allowed, w.Code) {
		t.Fatalf("POST %s (%s): status %d, want one of %v; body %s", path, contentType, w.Code, allowed, w.Body)
	}
	if w.Code == http.StatusBadRequest || w.Code == http.StatusRequestEntityTooLarge {
		if n := e.store.writes.Load() - writes; n != 0 {
			t.Fatalf("POST %s answered %d but wrote to the store %d times", path, w.Code, n)
		}
		if after := e.tokens(t); after != before {
			t.Fatalf("POST %s answered %d but the tokens changed:\n%s\n%s", path, w.Code, before, after)
		}
	}
	if ct := w.Header().Get("Content-Type"); w.Code != http.StatusNoContent && !strings.Contains(ct, "json") {
		t.Fatalf("POST %s: status %d with Content-Type %q", path, w.Code, ct)
	}
	return w
}

// tokens is every stored token, as JSON.
func (e *fuzzEndpoints) tokens(t *testing.T) string {
	t.Helper()
	toks, err := e.store.Tokens(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(toks)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// carriesPassword reports whether body, read as raw bytes, as a form, as
// multipart or as JSON, contains fuzzPassword: the oracle for "a login
// succeeded only with the real password".
func carriesPassword(contentType string, body []byte) bool {
	if bytes.Contains(body, []byte(fuzzPassword)) {
		return true
	}
	if s, err := url.QueryUnescape(string(body)); err == nil && strings.Contains(s, fuzzPassword) {
		return true
	}
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	r.Header.Set("Content-Type", contentType)
	if err := r.ParseMultipartForm(maxBodyBytes); err == nil || r.PostForm != nil {
		for _, vs := range r.PostForm {
			if slices.Contains(vs, fuzzPassword) {
				return true
			}
		}
	}
	var doc any
	return json.Unmarshal(body, &doc) == nil && strings.Contains(fmt.Sprint(doc), fuzzPassword)
}

// credentialBodies are seeds for the endpoints that take a name and
// password: JSON and form, right and wrong, malformed, and too large.
func credentialBodies(f *testing.F) {
	big := bytes.Repeat([]byte("a"), maxBodyBytes+1)
	for _, s := range []struct{ contentType, body string }{
		{"application/json", `{"login": "alice", "password": "` + fuzzPassword + `"}`},
		{"application/json", `{"username": "alice", "password": "` + fuzzPassword + `"}`},
		{"application/json; charset=utf-8", `{"username": "admin", "password": "wrong"}`},
		{"application/json", `{"username": "carol", "password": "` + fuzzPassword + `"}`},
		{"application/json", `{"username": "alice"}`},
		{"application/json", `{"username": 1}`},
		{"application/json", `[`},
		{"", `{"login": "alice", "password": "` + fuzzPassword + `"}`},
		{"application/x-www-form-urlencoded", "username=alice&password=" + url.QueryEscape(fuzzPassword)},
		{"application/x-www-form-urlencoded", "login=alice&password=wrong"},
		{"application/x-www-form-urlencoded", "username=%zz"},
		{"multipart/form-data; boundary=X", "--X\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nalice\r\n--X\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\n" + fuzzPassword + "\r\n--X--\r\n"},
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
	e := newFuzzEndpoints(f)
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
	e := newFuzzEndpoints(f)
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
	e := newFuzzEndpoints(f)
	callers := []*identity.Identity{
		nil,
		identity.New("alice", []string{"editor", "member"}, "basic", ""),
		identity.New("admin", []string{"admin"}, "basic", ""),
	}
	for _, s := range []struct {
		caller uint8
		body   string
	}{
		{0, `{"username": "alice", "password": "` + fuzzPassword + `", "description": "ci"}`},
		{0, `{"user": "alice", "password": "` + fuzzPassword + `", "expirationDays": 30}`},
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
		var view tokenView
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
		if stored.Expires == nil || !stored.Expires.After(now) || stored.Expires.After(time.Now().Add(fuzzMaxTTL)) {
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

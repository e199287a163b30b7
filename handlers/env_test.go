package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-restauth/caddy-restauth/authenticators"
	"github.com/caddy-restauth/caddy-restauth/identity"
	"github.com/caddy-restauth/caddy-restauth/store"
	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
	"golang.org/x/crypto/bcrypt"
)

// password is the password of every user of the endpoint tests.
const password = "fuzz-Pa55word"

// maxTTL is the token authenticator's max_ttl in the endpoint tests.
const maxTTL = 365 * 24 * time.Hour

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

// testEndpoints are the endpoints of a chain of jwt, session, token and
// basic authenticators over a counting memory store, provisioned and bound
// as the rest_auth handler does, with users alice (editor, member), admin
// (admin) and the disabled carol, all with password. Throttling is off,
// so every guess is checked. The endpoint tests and fuzz targets share it.
type testEndpoints struct {
	*Endpoints
	store *countingStore
	jwt   *authenticators.JWT
	chain []authenticators.Authenticator
}

func newTestEndpoints(f testing.TB) *testEndpoints {
	f.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
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
	tok := &authenticators.Token{MaxTTL: caddy.Duration(maxTTL)}
	if err := tok.Provision(caddy.Context{}); err != nil {
		f.Fatal(err)
	}
	chain := []authenticators.Authenticator{jwtAuth, &authenticators.Session{}, tok, &authenticators.Basic{}}
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
	return &testEndpoints{Endpoints: New("/", env, `Bearer realm="fuzz"`, chain), store: st, jwt: jwtAuth, chain: chain}
}

// post sends body to the endpoint at path as caller (nil: anonymous) and
// checks the invariant every endpoint shares: its status is one of
// allowed, and a 400 or 413 leaves the store unchanged (no write at all,
// the same tokens).
func (e *testEndpoints) post(t *testing.T, path, contentType string, body []byte, caller *identity.Identity, allowed ...int) *httptest.ResponseRecorder {
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
func (e *testEndpoints) tokens(t *testing.T) string {
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

// serve answers r as the rest_auth handler does for an endpoint: the first
// authenticator of the chain that finds a credential decides who calls (a
// present but invalid credential is refused with its status), then the
// endpoint the path names answers.
func (e *testEndpoints) serve(t *testing.T, r *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	var caller *identity.Identity
	for _, a := range e.chain {
		id, err := a.Authenticate(r)
		var rej *authenticators.Rejection
		switch {
		case errors.As(err, &rej):
			rej.Write(w, e.challenge)
			return w
		case err != nil:
			t.Fatalf("%s %s: authenticating: %v", r.Method, r.URL, err)
		}
		if id != nil {
			caller = id
			break
		}
	}
	m, ok := e.Match(r)
	if !ok {
		t.Fatalf("no endpoint at %s", r.URL.Path)
	}
	e.Serve(w, r, m, caller)
	return w
}

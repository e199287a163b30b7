package authenticators

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddy-restauth/caddy-restauth/identity"
	"github.com/caddy-restauth/caddy-restauth/store"
	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
	"golang.org/x/crypto/bcrypt"
)

// The one user of the package's tests and fuzz targets and its real
// credentials. Everything
// fixed, so that the seed corpora in testdata/fuzz/ carry valid
// credentials the fuzzer can mutate.
const (
	fuzzUser     = "alice"
	fuzzPassword = "fuzz-Pa55word"
	// fuzzTokenKey is the API token key stored for alice.
	fuzzTokenKey = TokenPrefix + "FuzzTokenId0.fuzz-token-secret-0123456789abcdefghijklmno"
	// fuzzHS256Secret is the shared secret of the keyring's HS256 key.
	fuzzHS256Secret = "fuzz-hs256-secret-0123456789abcdef"
)

// testEnv is the environment the rest_auth handler binds its
// authenticators to: alice with a cheap bcrypt hash, a memory
// store, throttling off (every guess is hashed, none is refused with 429,
// so the fuzzer can reach the success path at any time).
func testEnv(tb testing.TB) Env {
	tb.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(fuzzPassword), bcrypt.MinCost)
	if err != nil {
		tb.Fatal(err)
	}
	dir, err := identity.NewDirectory([]identity.User{
		{Name: fuzzUser, PasswordHash: string(hash), Roles: []string{"editor"}},
		{Name: "carol", PasswordHash: string(hash), Disabled: true},
	})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	tb.Cleanup(cancel)
	st := &store.Memory{Name: tb.Name()}
	if err := st.Provision(ctx); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = st.Cleanup() })
	return Env{
		Users:     dir,
		Passwords: NewPasswords(dir, st, Throttle{Off: true}),
		Store:     st,
		Logger:    zap.NewNop(),
		Realm:     "fuzz",
	}
}

// bind binds a to env and registers its cleanup.
func bind(tb testing.TB, env Env, a Binder) {
	tb.Helper()
	if err := a.Bind(env); err != nil {
		tb.Fatal(err)
	}
	if c, ok := a.(caddy.CleanerUpper); ok {
		tb.Cleanup(func() { _ = c.Cleanup() })
	}
}

// storeTestToken stores alice's API token under fuzzTokenKey.
func storeTestToken(tb testing.TB, env Env, t *Token) {
	tb.Helper()
	id, ok := parseKey(fuzzTokenKey)
	if !ok {
		tb.Fatal("fuzzTokenKey is not a well-formed key")
	}
	hasher, err := t.hasher.get(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	sum := hasher.Sum(fuzzTokenKey)
	err = env.Store.CreateToken(context.Background(), store.Token{
		ID: id, KeyHash: sum[:], Owner: fuzzUser, Roles: []string{"editor"},
		Created: time.Now(), WriteEnabled: true,
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// testJWT is a jwt authenticator whose keyring has a real HS256, EdDSA and
// ES256 key (testdata/jwt/), as configured by an operator.
func testJWT(tb testing.TB, env Env) *JWT {
	tb.Helper()
	return testJWTWith(tb, env, &JWT{})
}

// testJWTWith is testJWT with the options already set in j.
func testJWTWith(tb testing.TB, env Env, j *JWT) *JWT {
	tb.Helper()
	j.Keys = []JWTKey{
		{Algorithm: "hs256", Secret: fuzzHS256Secret},
		{Algorithm: "ed25519", File: filepath.Join("testdata", "jwt", "ed25519.pem")},
		{Algorithm: "es256", File: filepath.Join("testdata", "jwt", "es256.pem")},
	}
	if err := j.Validate(); err != nil {
		tb.Fatal(err)
	}
	bind(tb, env, j)
	return j
}

// validJWTs are the tokens of testdata/jwt/valid_tokens.txt: alice's,
// signed by each key of the keyring, expiring in 2100. No other text may
// ever authenticate as a JWT.
func validJWTs(tb testing.TB) []string {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "jwt", "valid_tokens.txt"))
	if err != nil {
		tb.Fatal(err)
	}
	return strings.Fields(string(data))
}

// outcome is what an authenticator answers: the identity's user and method
// (empty: no identity), or the rejection's status and (part of) its detail.
type outcome struct {
	user, method string
	status       int
	detail       string
}

// assertOutcome runs r through a and checks its answer against want; an
// empty want is "absent": no credential of this kind, the chain goes on.
func assertOutcome(t *testing.T, a Authenticator, r *http.Request, want outcome) *identity.Identity {
	t.Helper()
	id, err := a.Authenticate(r)
	var rej *Rejection
	switch {
	case err != nil && !errors.As(err, &rej):
		t.Fatalf("error %v is not a rejection", err)
	case want.status != 0:
		if rej == nil || rej.StatusCode() != want.status || !strings.Contains(rej.Detail, want.detail) {
			t.Fatalf("answered %+v, %v; want a %d rejection containing %q", id, err, want.status, want.detail)
		}
	case err != nil:
		t.Fatalf("rejected: %v; want %+v", err, want)
	case want.user == "" && id != nil:
		t.Fatalf("identity %+v; want none", id)
	case want.user != "" && (id == nil || id.User != want.user || id.Method != want.method):
		t.Fatalf("identity %+v; want %s by %s", id, want.user, want.method)
	}
	return id
}

// withHeader is a GET request carrying the header name: value.
func withHeader(name, value string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if name != "" {
		r.Header.Set(name, value)
	}
	return r
}

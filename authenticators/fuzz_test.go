package authenticators

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
	"golang.org/x/crypto/bcrypt"

	"github.com/caddy-restauth/caddy-restauth/identity"
	"github.com/caddy-restauth/caddy-restauth/store"
)

// The one user of the fuzz targets and its real credentials. Everything
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

// fuzzEnv (also used by the clock tests) is a bound environment: alice with a cheap bcrypt hash, a memory
// store, throttling off (every guess is hashed, none is refused with 429,
// so the fuzzer can reach the success path at any time).
func fuzzEnv(f testing.TB) Env {
	f.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(fuzzPassword), bcrypt.MinCost)
	if err != nil {
		f.Fatal(err)
	}
	dir, err := identity.NewDirectory([]identity.User{
		{Name: fuzzUser, PasswordHash: string(hash), Roles: []string{"editor"}},
		{Name: "carol", PasswordHash: string(hash), Disabled: true},
	})
	if err != nil {
		f.Fatal(err)
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	f.Cleanup(cancel)
	st := &store.Memory{Name: f.Name()}
	if err := st.Provision(ctx); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = st.Cleanup() })
	return Env{
		Users:     dir,
		Passwords: NewPasswords(dir, st, Throttle{Off: true}),
		Store:     st,
		Logger:    zap.NewNop(),
		Realm:     "fuzz",
	}
}

// bind binds a to env and registers its cleanup.
func bind(f testing.TB, env Env, a Binder) {
	f.Helper()
	if err := a.Bind(env); err != nil {
		f.Fatal(err)
	}
	if c, ok := a.(caddy.CleanerUpper); ok {
		f.Cleanup(func() { _ = c.Cleanup() })
	}
}

// storeFuzzToken stores alice's API token under fuzzTokenKey.
func storeFuzzToken(f *testing.F, env Env, t *Token) {
	f.Helper()
	id, ok := parseKey(fuzzTokenKey)
	if !ok {
		f.Fatal("fuzzTokenKey is not a well-formed key")
	}
	hasher, err := t.hasher.get(context.Background())
	if err != nil {
		f.Fatal(err)
	}
	sum := hasher.sum(fuzzTokenKey)
	err = env.Store.CreateToken(context.Background(), store.Token{
		ID: id, KeyHash: sum[:], Owner: fuzzUser, Roles: []string{"editor"},
		Created: time.Now(), WriteEnabled: true,
	})
	if err != nil {
		f.Fatal(err)
	}
}

// fuzzJWT is a jwt authenticator whose keyring has a real HS256, EdDSA and
// ES256 key (testdata/jwt/), as configured by an operator.
func fuzzJWT(f testing.TB, env Env) *JWT {
	f.Helper()
	j := &JWT{Keys: []JWTKey{
		{Algorithm: "hs256", Secret: fuzzHS256Secret},
		{Algorithm: "ed25519", File: filepath.Join("testdata", "jwt", "ed25519.pem")},
		{Algorithm: "es256", File: filepath.Join("testdata", "jwt", "es256.pem")},
	}}
	if err := j.Validate(); err != nil {
		f.Fatal(err)
	}
	bind(f, env, j)
	return j
}

// validJWTs are the tokens of testdata/jwt/valid_tokens.txt: alice's,
// signed by each key of the keyring, expiring in 2100. No other text may
// ever authenticate as a JWT.
func validJWTs(f *testing.F) []string {
	f.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "jwt", "valid_tokens.txt"))
	if err != nil {
		f.Fatal(err)
	}
	return strings.Fields(string(data))
}

// checkOutcome fails unless (id, err) is one of the three answers of the
// Authenticator contract, and err is a rejection (the memory store never
// fails, so nothing may look like a backend failure).
func checkOutcome(t *testing.T, id *identity.Identity, err error) {
	t.Helper()
	if id != nil && err != nil {
		t.Fatalf("both an identity and an error: %v", err)
	}
	var rej *Rejection
	if err != nil && !errors.As(err, &rej) {
		t.Fatalf("error is not a rejection: %v", err)
	}
	if rej != nil && rej.StatusCode() != http.StatusUnauthorized && rej.StatusCode() != http.StatusForbidden {
		t.Fatalf("rejection status %d, want 401 or 403", rej.StatusCode())
	}
}

// checkAlice fails unless id is alice's identity by method.
func checkAlice(t *testing.T, id *identity.Identity, method string) {
	t.Helper()
	if id.User != fuzzUser || id.Method != method || !slices.Equal(id.Roles, []string{"editor"}) {
		t.Fatalf("identity %+v, want alice (editor) by %s", id, method)
	}
}

func basicValue(user, password string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
}

// FuzzAuthorization runs an Authorization header through the basic, jwt
// and token authenticators as the default chain does. Invariant: an
// identity comes only from a header whose credential is exactly a real
// one (alice's password, one of the real JWTs, alice's token key); the
// scheme is matched case-insensitively and spaces after it are skipped
// (RFC 9110 §11.1). Anything else is absent or a rejection.
func FuzzAuthorization(f *testing.F) {
	env := fuzzEnv(f)
	basic := &Basic{Challenge: true}
	bind(f, env, basic)
	jwtAuth := fuzzJWT(f, env)
	tok := &Token{}
	if err := tok.Provision(caddy.Context{}); err != nil {
		f.Fatal(err)
	}
	bind(f, env, tok)
	storeFuzzToken(f, env, tok)
	jwts := validJWTs(f)
	chain := []Authenticator{basic, jwtAuth, tok}

	for _, seed := range []string{
		"Basic " + basicValue(fuzzUser, fuzzPassword),
		"basic  " + basicValue(fuzzUser, fuzzPassword),
		"Basic " + basicValue(fuzzUser, "wrong"),
		"Basic " + basicValue("carol", fuzzPassword),
		"Basic " + basicValue("", fuzzPassword),
		"Basic !!!",
		"Bearer " + jwts[0],
		"Bearer " + fuzzTokenKey,
		"Token " + fuzzTokenKey,
		"Token",
		"Token " + fuzzTokenKey[:len(fuzzTokenKey)-1] + "x",
		"Digest username=alice",
		"",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header["Authorization"] = []string{header}
		for _, a := range chain {
			id, err := a.Authenticate(r)
			checkOutcome(t, id, err)
			if err != nil {
				return
			}
			if id == nil {
				continue
			}
			scheme, credential, _ := strings.Cut(header, " ")
			credential = strings.TrimLeft(credential, " ")
			switch {
			case strings.EqualFold(scheme, "Basic"):
				raw, err := base64.StdEncoding.DecodeString(credential)
				if err != nil || string(raw) != fuzzUser+":"+fuzzPassword {
					t.Fatalf("Basic %q authenticated", credential)
				}
				checkAlice(t, id, "basic")
			case strings.EqualFold(scheme, "Bearer") && slices.Contains(jwts, credential):
				checkAlice(t, id, "jwt")
			case (strings.EqualFold(scheme, "Bearer") || strings.EqualFold(scheme, "Token")) && credential == fuzzTokenKey:
				checkAlice(t, id, "token")
			default:
				t.Fatalf("header %q authenticated as %+v", header, id)
			}
			return
		}
	})
}

// FuzzDotAuth fuzzes the DOTAUTH header. Invariant: an identity only for
// base64 of exactly alice's name and password; a header that is not that
// is absent (empty) or a rejection.
func FuzzDotAuth(f *testing.F) {
	env := fuzzEnv(f)
	a := &DotAuth{}
	bind(f, env, a)
	for _, seed := range []string{
		basicValue(fuzzUser, fuzzPassword),
		basicValue(fuzzUser, fuzzPassword+"x"),
		basicValue(fuzzUser+":", fuzzPassword),
		basicValue(fuzzUser, ""),
		"YWxpY2U=",
		"not base64",
		"",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, value string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header["Dotauth"] = []string{value}
		id, err := a.Authenticate(r)
		checkOutcome(t, id, err)
		if value == "" && (id != nil || err == nil) {
			t.Fatalf("an empty header is an invalid credential, got %+v, %v", id, err)
		}
		if id == nil {
			return
		}
		raw, decErr := base64.StdEncoding.DecodeString(value)
		if decErr != nil || string(raw) != fuzzUser+":"+fuzzPassword {
			t.Fatalf("DOTAUTH %q authenticated", value)
		}
		checkAlice(t, id, "dotauth")
	})
}

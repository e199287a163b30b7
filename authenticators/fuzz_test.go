package authenticators

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-restauth/caddy-restauth/identity"
)

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
	env := testEnv(f)
	basic := &Basic{Challenge: true}
	bind(f, env, basic)
	jwtAuth := testJWT(f, env)
	tok := &Token{}
	if err := tok.Provision(caddy.Context{}); err != nil {
		f.Fatal(err)
	}
	bind(f, env, tok)
	storeTestToken(f, env, tok)
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
	env := testEnv(f)
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

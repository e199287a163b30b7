package authenticators

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

// FuzzJWT mutates real tokens (testdata/fuzz/FuzzJWT and
// testdata/jwt/valid_tokens.txt: alice's tokens signed by the HS256, EdDSA
// and ES256 keys of the keyring) and sends them through the jwt
// authenticator's public path, as a Bearer header and as a cookie.
// Invariant: a token authenticates only when it is, byte for byte, one of
// the real tokens; anything else is a 401, never an identity, whichever
// verifier the authenticator uses.
func FuzzJWT(f *testing.F) {
	env := testEnv(f)
	j := testJWTWith(f, env, &JWT{Cookie: "auth_token"})
	jwts := validJWTs(f)
	for _, tok := range jwts {
		f.Add(tok)
		header, payload, _ := strings.Cut(tok, ".")
		f.Add(header + "." + payload[:strings.IndexByte(payload, '.')+1]) // signature cut off
	}
	f.Add("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJhbGljZSJ9.")
	f.Add("not.a.jwt")
	f.Fuzz(func(t *testing.T, token string) {
		valid := slices.Contains(jwts, token)
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header["Authorization"] = []string{"Bearer " + token}
		checkJWTOutcome(t, j, r, token, valid)
		if isAPITokenKey(token) || token == "" || strings.ContainsAny(token, "; \t\"") {
			return // not a JWT for this authenticator, or not one cookie value
		}
		r = httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header["Cookie"] = []string{"auth_token=" + token}
		checkJWTOutcome(t, j, r, token, valid)
	})
}

func checkJWTOutcome(t *testing.T, j *JWT, r *http.Request, token string, valid bool) {
	t.Helper()
	id, err := j.Authenticate(r)
	checkOutcome(t, id, err)
	switch {
	case isAPITokenKey(token):
		if id != nil || err != nil {
			t.Fatalf("a token key is the token authenticator's, got %+v, %v", id, err)
		}
	case valid:
		if id == nil {
			t.Fatalf("a real token was refused: %v", err)
		}
		checkAlice(t, id, "jwt")
	case id != nil:
		t.Fatalf("forged token %q authenticated as %+v", token, id)
	}
}

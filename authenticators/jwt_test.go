package authenticators

import (
	"net/http"
	"strings"
	"testing"
)

func TestJWT(t *testing.T) {
	env := testEnv(t)
	j := testJWT(t, env)
	acct, ok := env.Users.Lookup(fuzzUser)
	if !ok {
		t.Fatal("no alice")
	}
	issued, expires, err := j.Issue(t.Context(), acct)
	if err != nil || issued == "" || expires.IsZero() {
		t.Fatalf("Issue: %q %v %v", issued, expires, err)
	}
	cases := []struct {
		name, header string
		want         outcome
	}{
		{"issued", "Bearer " + issued, outcome{user: fuzzUser, method: "jwt"}},
		{"no header", "", outcome{}},
		{"basic is left to the chain", "Basic " + basicValue(fuzzUser, fuzzPassword), outcome{}},
		{"tampered signature", "Bearer " + issued[:len(issued)-4] + "AAAA", outcome{status: http.StatusUnauthorized}},
		{"not a JWT", "Bearer abc.def", outcome{status: http.StatusUnauthorized}},
	}
	// Every key of the keyring verifies: the fixed tokens are signed by
	// each of them.
	for _, tok := range validJWTs(t) {
		cases = append(cases, struct {
			name, header string
			want         outcome
		}{"signed with " + strings.SplitN(tok, ".", 2)[0], "Bearer " + tok, outcome{user: fuzzUser, method: "jwt"}})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := withHeader("", "")
			if c.header != "" {
				r.Header.Set("Authorization", c.header)
			}
			assertOutcome(t, j, r, c.want)
		})
	}

	// Revoked: the same token is refused from then on, and a second
	// revocation (a concurrent renew or logout) is refused too.
	id := assertOutcome(t, j, withHeader("Authorization", "Bearer "+issued), outcome{user: fuzzUser, method: "jwt"})
	if err := j.Revoke(t.Context(), id); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	if revoked, err := env.Store.IsRevoked(t.Context(), id.TokenID); err != nil || !revoked {
		t.Fatalf("the store does not hold the revocation: %v %v", revoked, err)
	}
	assertOutcome(t, j, withHeader("Authorization", "Bearer "+issued), outcome{status: http.StatusUnauthorized})
	if err := j.Revoke(t.Context(), id); err == nil {
		t.Fatal("a token was revoked twice")
	}

	// Only the asymmetric keys are published, never the HS256 secret.
	jwks := j.PublicJWKs()
	if len(jwks) != 2 {
		t.Fatalf("PublicJWKs() = %v, want the Ed25519 and ES256 keys", jwks)
	}
	for _, k := range jwks {
		if k["kty"] == "oct" || k["k"] != "" || k["d"] != "" {
			t.Fatalf("published key %v carries a secret", k)
		}
	}
}

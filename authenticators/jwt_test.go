package authenticators

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/caddy-restauth/caddy-restauth/identity"
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

// TestRevocationReadTimedWhenItReachesTheStore: a JWT's revocation check
// that the store answers from memory (never revoked) is not timed as a
// store operation; once the token is revoked, the check reads the store,
// the "is_revoked" histogram counts it, and the token is refused.
func TestRevocationReadTimedWhenItReachesTheStore(t *testing.T) {
	env := testEnv(t)
	env.Store = Measure(env.Store, "test_revocation_read")
	j := testJWT(t, env)
	reads := timedStoreOps(t, "test_revocation_read", "is_revoked")
	acct, _ := env.Users.Lookup(fuzzUser)
	issued, _, err := j.Issue(t.Context(), acct)
	if err != nil {
		t.Fatal(err)
	}
	var id *identity.Identity
	for range 2 { // verified, then cached
		id = assertOutcome(t, j, withHeader("Authorization", "Bearer "+issued), outcome{user: fuzzUser, method: "jwt"})
	}
	if n := reads(); n != 0 {
		t.Fatalf("revocation reads timed for a token never revoked = %d, want 0", n)
	}
	if _, err := env.Store.Revoke(t.Context(), id.TokenID, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	assertOutcome(t, j, withHeader("Authorization", "Bearer "+issued), outcome{status: http.StatusUnauthorized})
	if n := reads(); n != 1 {
		t.Fatalf("revocation reads timed for a revoked token = %d, want 1", n)
	}
}

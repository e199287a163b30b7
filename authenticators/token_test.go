package authenticators

import (
	"net/http"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

func TestToken(t *testing.T) {
	env := testEnv(t)
	tok := &Token{}
	if err := tok.Provision(caddy.Context{}); err != nil {
		t.Fatal(err)
	}
	if err := tok.Validate(); err != nil {
		t.Fatal(err)
	}
	bind(t, env, tok)
	storeTestToken(t, env, tok)
	wrongSecret := fuzzTokenKey[:len(fuzzTokenKey)-4] + "zzzz"
	for _, c := range []struct {
		name, header string
		want         outcome
	}{
		{"Token scheme", "Token " + fuzzTokenKey, outcome{user: fuzzUser, method: "token"}},
		{"Bearer with the key prefix", "Bearer " + fuzzTokenKey, outcome{user: fuzzUser, method: "token"}},
		{"no header", "", outcome{}},
		{"other Bearer is left to jwt", "Bearer abc.def.ghi", outcome{}},
		{"wrong secret", "Token " + wrongSecret, outcome{status: http.StatusUnauthorized}},
		{"unknown id", "Token " + strings.Replace(fuzzTokenKey, "FuzzTokenId0", "OtherTokenId", 1), outcome{status: http.StatusUnauthorized}},
		{"malformed", "Token abc", outcome{status: http.StatusUnauthorized}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := withHeader("", "")
			if c.header != "" {
				r.Header.Set("Authorization", c.header)
			}
			id := assertOutcome(t, tok, r, c.want)
			if id != nil && id.TokenID != "FuzzTokenId0" {
				t.Fatalf("TokenID = %q", id.TokenID)
			}
		})
	}
	if got := tok.WWWAuthenticate(); len(got) != 2 || got[1] != "Token" {
		t.Fatalf("WWWAuthenticate() = %q", got)
	}
}

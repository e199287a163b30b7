package integration

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"github.com/caddy-restauth/caddy-restauth/internal/oidctest"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// trustConfig runs rest_auth with our own HS256 key and a trust block for
// p (Keycloak's claims), with extra options in the trust block.
func trustConfig(t *testing.T, p *oidctest.Provider, up *upstream, extra string) string {
	t.Helper()
	return siteConfig(t, fmt.Sprintf(`jwt {
			key hs256 %s
			trust acme {
				issuer %s
				audience api://orders
				user_claim preferred_username
				roles_claim realm_access.roles
				ca_file %s
				%s
			}
		}`, hsSecret, p.Issuer(), p.CAFile, extra), up.addr())
}

func TestIDPTokensOfEveryAlgorithm(t *testing.T) {
	keys := []*oidctest.Key{
		oidctest.NewKey(t, "rs", "RS256"),
		oidctest.NewKey(t, "ps", "PS256"),
		oidctest.NewKey(t, "es", "ES256"),
		oidctest.NewKey(t, "ed", "EdDSA"),
	}
	p := oidctest.NewProvider(t, keys...)
	up := newUpstream(t)
	tester := startCaddy(t, trustConfig(t, p, up, ""))

	for _, k := range keys {
		t.Run(k.Method.Alg(), func(t *testing.T) {
			token := k.Mint(t, p.Claims(nil))
			resp, body := call(t, tester, "GET", httpBase+"/orders", bearer(token), "")
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d (%s), want 200", resp.StatusCode, body)
			}
			got := up.received(t)
			if got.Get("X-Remote-User") != "zoe" || got.Get("X-Remote-Roles") != "reader,writer" || got.Get("Authorization") != "" {
				t.Fatalf("upstream got user %q roles %q authorization %q; want zoe, reader,writer and no token",
					got.Get("X-Remote-User"), got.Get("X-Remote-Roles"), got.Get("Authorization"))
			}

			resp, body = call(t, tester, "GET", httpBase+"/@me", bearer(token), "")
			var me struct {
				User, Method, Issuer string
				Roles                []string
			}
			if err := json.Unmarshal([]byte(body), &me); err != nil || resp.StatusCode != 200 {
				t.Fatalf("@me: %d %s", resp.StatusCode, body)
			}
			if me.User != "zoe" || me.Method != "jwt" || me.Issuer != p.Issuer() || strings.Join(me.Roles, ",") != "reader,writer" {
				t.Fatalf("@me = %+v; want zoe, jwt, issuer %s, roles reader,writer", me, p.Issuer())
			}

			for _, endpoint := range []string{"/@login-renew", "/@logout"} {
				resp, body = call(t, tester, "POST", httpBase+endpoint, bearer(token), "")
				assertProblem(t, resp, body, http.StatusBadRequest, "never renewed or revoked")
			}
		})
	}

	t.Run("our own tokens still work", func(t *testing.T) {
		token := login(t, tester, httpBase, "alice", alicePassword)
		resp, body := call(t, tester, "GET", httpBase+"/orders", bearer(token), "")
		if resp.StatusCode != 200 || up.received(t).Get("X-Remote-User") != "alice" {
			t.Fatalf("own token: %d %s", resp.StatusCode, body)
		}
	})
}

func TestIDPAttacks(t *testing.T) {
	rs := oidctest.NewKey(t, "rs", "RS256")
	es := oidctest.NewKey(t, "es", "ES256")
	weak := oidctest.NewKey(t, "weak", "RS256", 1024)
	p := oidctest.NewProvider(t, rs, es, weak)
	up := newUpstream(t)
	tester := startCaddy(t, trustConfig(t, p, up, ""))

	// Make sure the keys are fetched: a valid token passes.
	if resp, body := call(t, tester, "GET", httpBase+"/orders", bearer(rs.Mint(t, p.Claims(nil))), ""); resp.StatusCode != 200 {
		t.Fatalf("valid token: %d %s", resp.StatusCode, body)
	}

	rsaPublic, err := x509.MarshalPKIXPublicKey(rs.Priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	rsaPublicPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: rsaPublic})
	valid := rs.Mint(t, p.Claims(nil))
	parts := strings.Split(valid, ".")
	stranger := oidctest.NewKey(t, "rs", "RS256") // not the provider's, same kid
	hour := time.Now().Add(time.Hour).Unix()

	tests := []struct {
		name  string
		token string
	}{
		{"alg none", sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, map[string]any{"kid": "rs"}, p.Claims(nil))},
		{"HS256 signed with the RSA public key", sign(t, jwt.SigningMethodHS256, rsaPublicPEM, map[string]any{"kid": "rs"}, p.Claims(nil))},
		{"HS256 signed with the RSA modulus", sign(t, jwt.SigningMethodHS256, []byte(rs.JWK["n"]), map[string]any{"kid": "rs"}, p.Claims(nil))},
		{"PS256 with an RS256 key", sign(t, jwt.SigningMethodPS256, rs.Priv, map[string]any{"kid": "rs"}, p.Claims(nil))},
		{"unknown kid", sign(t, jwt.SigningMethodRS256, rs.Priv, map[string]any{"kid": "nope"}, p.Claims(nil))},
		{"no kid", sign(t, jwt.SigningMethodRS256, rs.Priv, nil, p.Claims(nil))},
		{"signed by another key with the provider's kid", stranger.Mint(t, p.Claims(nil))},
		{"wrong issuer", rs.Mint(t, p.Claims(jwt.MapClaims{"iss": "https://evil.example/realms/acme"}))},
		{"issuer differing in a trailing slash", rs.Mint(t, p.Claims(jwt.MapClaims{"iss": p.Issuer() + "/"}))},
		{"wrong audience", rs.Mint(t, p.Claims(jwt.MapClaims{"aud": "api://billing"}))},
		{"no audience", rs.Mint(t, p.Claims(jwt.MapClaims{"aud": nil}))},
		{"expired", rs.Mint(t, p.Claims(jwt.MapClaims{"exp": time.Now().Add(-time.Minute).Unix()}))},
		{"no exp", rs.Mint(t, p.Claims(jwt.MapClaims{"exp": nil}))},
		{"nbf in the future", es.Mint(t, p.Claims(jwt.MapClaims{"nbf": hour}))},
		{"iat in the future", es.Mint(t, p.Claims(jwt.MapClaims{"iat": hour}))},
		{"no user claim", es.Mint(t, p.Claims(jwt.MapClaims{"preferred_username": nil}))},
		{"tampered claims", parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"`+p.Issuer()+`","aud":"api://orders","preferred_username":"admin","exp":`+fmt.Sprint(hour)+`}`)) + "." + parts[2]},
		{"tampered signature", parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))},
		{"1024-bit RSA key", weak.Mint(t, p.Claims(nil))},
		// The provider's names must be valid as ours are: a role with a
		// comma would reach the upstream as two roles.
		{"a role with a comma", rs.Mint(t, p.Claims(jwt.MapClaims{"realm_access": map[string]any{"roles": []string{"a,admin"}}}))},
		{"an empty role", rs.Mint(t, p.Claims(jwt.MapClaims{"realm_access": map[string]any{"roles": []string{"", "reader"}}}))},
		{"a role with a space", rs.Mint(t, p.Claims(jwt.MapClaims{"realm_access": map[string]any{"roles": []string{"a b"}}}))},
		{"a user with a line break", rs.Mint(t, p.Claims(jwt.MapClaims{"preferred_username": "zoe\r\nX-Remote-Roles: admin"}))},
		{"a user with a colon", rs.Mint(t, p.Claims(jwt.MapClaims{"preferred_username": "zoe:x"}))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := call(t, tester, "GET", httpBase+"/orders", bearer(tc.token), "")
			assertInvalidToken(t, resp, body)
		})
	}
}

func TestIDPKeyRotationAndKidFlood(t *testing.T) {
	old := oidctest.NewKey(t, "2026-01", "RS256")
	p := oidctest.NewProvider(t, old)
	up := newUpstream(t)
	tester := startCaddy(t, trustConfig(t, p, up, ""))
	oldToken := old.Mint(t, p.Claims(nil))
	if resp, body := call(t, tester, "GET", httpBase+"/orders", bearer(oldToken), ""); resp.StatusCode != 200 {
		t.Fatalf("token of the first key: %d %s", resp.StatusCode, body)
	}

	// The provider rotates: the new key signs, the old one is withdrawn.
	next := oidctest.NewKey(t, "2026-02", "ES256")
	p.Publish(next)
	before := p.JWKSFetches.Load()
	if resp, body := call(t, tester, "GET", httpBase+"/orders", bearer(next.Mint(t, p.Claims(nil))), ""); resp.StatusCode != 200 {
		t.Fatalf("token of the new key: %d %s", resp.StatusCode, body)
	}
	if got := p.JWKSFetches.Load() - before; got != 1 {
		t.Fatalf("the new kid fetched the JWKS %d times, want 1", got)
	}
	resp, body := call(t, tester, "GET", httpBase+"/orders", bearer(oldToken), "")
	assertInvalidToken(t, resp, body) // its key was withdrawn

	// A flood of unknown kids right after costs no fetch at all.
	before = p.JWKSFetches.Load()
	for i := range 50 {
		bogus := sign(t, jwt.SigningMethodES256, next.Priv, map[string]any{"kid": fmt.Sprintf("bogus-%d", i)}, p.Claims(nil))
		resp, body := call(t, tester, "GET", httpBase+"/orders", bearer(bogus), "")
		assertInvalidToken(t, resp, body)
	}
	if got := p.JWKSFetches.Load() - before; got != 0 {
		t.Fatalf("50 unknown kids fetched the JWKS %d times, want 0 (one refetch per 30 s)", got)
	}
}

func TestIDPOutages(t *testing.T) {
	k := oidctest.NewKey(t, "rs", "RS256")
	p := oidctest.NewProvider(t, k)
	p.Down.Store(true)
	up := newUpstream(t)

	// Down at start: Caddy starts, the provider's tokens get 503, our own
	// tokens keep working.
	tester := startCaddy(t, trustConfig(t, p, up, "refresh 1s"))
	resp, body := call(t, tester, "GET", httpBase+"/orders", bearer(k.Mint(t, p.Claims(nil))), "")
	assertProblem(t, resp, body, http.StatusServiceUnavailable, "could not be fetched yet")
	own := login(t, tester, httpBase, "alice", alicePassword)
	if resp, body := call(t, tester, "GET", httpBase+"/orders", bearer(own), ""); resp.StatusCode != 200 {
		t.Fatalf("own token while the provider is down: %d %s", resp.StatusCode, body)
	}

	// Back up: its tokens pass.
	p.Down.Store(false)
	eventually(t, 10*time.Second, func() (bool, string) {
		resp, body := call(t, tester, "GET", httpBase+"/orders", bearer(k.Mint(t, p.Claims(nil))), "")
		return resp.StatusCode == 200, fmt.Sprintf("status %d %s", resp.StatusCode, body)
	})

	// Down again: after a failed background refresh, the cached keys keep
	// verifying new tokens.
	p.Down.Store(true)
	failed := p.JWKSFetches.Load()
	eventually(t, 10*time.Second, func() (bool, string) {
		return p.JWKSFetches.Load() > failed, "no refresh tried while the provider is down"
	})
	resp, body = call(t, tester, "GET", httpBase+"/orders", bearer(k.Mint(t, p.Claims(jwt.MapClaims{"jti": "after-outage"}))), "")
	if resp.StatusCode != 200 || up.received(t).Get("X-Remote-User") != "zoe" {
		t.Fatalf("new token during a later outage: %d %s", resp.StatusCode, body)
	}
}

func TestIDPUsersRequiredAndSeveralIssuers(t *testing.T) {
	acmeKey := oidctest.NewKey(t, "acme", "RS256")
	otherKey := oidctest.NewKey(t, "other", "EdDSA")
	acme := oidctest.NewProvider(t, acmeKey)
	other := oidctest.NewProvider(t, otherKey)
	up := newUpstream(t)
	tester := startCaddy(t, siteConfig(t, fmt.Sprintf(`jwt {
			key hs256 %s
			trust acme {
				issuer %s
				audience api://orders
				user_claim preferred_username
				users required
				ca_file %s
			}
			trust other {
				issuer %s
				jwks_url %s/certs
				allow_any_audience
				roles_claim groups
				ca_file %s
			}
		}`, hsSecret, acme.Issuer(), acme.CAFile, other.Issuer(), other.Server.URL, other.CAFile), up.addr()))

	tests := []struct {
		name       string
		token      string
		user, role string // "" for a 401
	}{
		{"required user with our roles", acmeKey.Mint(t, acme.Claims(jwt.MapClaims{"preferred_username": "alice"})), "alice", "editor,member"},
		{"unknown user", acmeKey.Mint(t, acme.Claims(nil)), "", ""},
		{"disabled user", acmeKey.Mint(t, acme.Claims(jwt.MapClaims{"preferred_username": "carol"})), "", ""},
		{"second issuer, roles as a string, sub as user", otherKey.Mint(t, other.Claims(jwt.MapClaims{"aud": "anything", "groups": "ops"})), "f81d4fae-7dec-11d0-a765-00a0c91e6bf6", "ops"},
		{"second issuer's key for the first issuer", otherKey.Mint(t, acme.Claims(jwt.MapClaims{"preferred_username": "alice"})), "", ""},
		{"first issuer's key for the second issuer", acmeKey.Mint(t, other.Claims(nil)), "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := call(t, tester, "GET", httpBase+"/orders", bearer(tc.token), "")
			if tc.user == "" {
				assertInvalidToken(t, resp, body)
				return
			}
			got := up.received(t)
			if resp.StatusCode != 200 || got.Get("X-Remote-User") != tc.user || got.Get("X-Remote-Roles") != tc.role {
				t.Fatalf("status %d, upstream user %q roles %q; want 200, %q, %q", resp.StatusCode, got.Get("X-Remote-User"), got.Get("X-Remote-Roles"), tc.user, tc.role)
			}
		})
	}
}

func TestIDPConfigErrors(t *testing.T) {
	trust := func(opts string) string {
		return "jwt {\n\t\t\ttrust acme {\n\t\t\t\t" + opts + "\n\t\t\t}\n\t\t}"
	}
	assertConfigErrors(t, []configCase{
		{"plain HTTP JWKS to a non-loopback name", trust("issuer https://idp.example.com\n\t\t\t\taudience api\n\t\t\t\tjwks_url http://idp.example.com/certs"), "must be fetched over HTTPS"},
		{"plain HTTP issuer", trust("issuer http://idp.example.com\n\t\t\t\taudience api"), "must be fetched over HTTPS"},
		{"no issuer", trust("audience api"), "`issuer <url>` is required"},
		{"no audience", trust("issuer https://idp.example.com"), "allow_any_audience"},
		{"HS256", trust("issuer https://idp.example.com\n\t\t\t\taudience api\n\t\t\t\talgorithms RS256 HS256"), `algorithm "HS256" is not accepted`},
		{"none", trust("issuer https://idp.example.com\n\t\t\t\taudience api\n\t\t\t\talgorithms none"), `algorithm "none" is not accepted`},
		{"users", trust("issuer https://idp.example.com\n\t\t\t\taudience api\n\t\t\t\tusers maybe"), "users required"},
		{"unknown option", trust("issuer https://idp.example.com\n\t\t\t\taudience api\n\t\t\t\tsecret x"), `unknown option "secret"`},
		{"no name", "jwt {\n\t\t\ttrust {\n\t\t\t\tissuer https://idp.example.com\n\t\t\t}\n\t\t}", "trust <name>"},
	})
	assertLoadErrors(t, []configCase{
		{"missing ca_file", trust("issuer https://idp.example.com\n\t\t\t\taudience api\n\t\t\t\tca_file /nonexistent/ca.pem"), "reading ca_file"},
	})
}

func TestIDPBackgroundRefreshAndLeeway(t *testing.T) {
	old := oidctest.NewKey(t, "old", "ES256")
	p := oidctest.NewProvider(t, old)
	up := newUpstream(t)
	tester := startCaddy(t, siteConfig(t, fmt.Sprintf(`jwt {
			key hs256 %s
			leeway 2m
			trust acme {
				issuer %s
				audience api://orders
				user_claim preferred_username
				refresh 1s
				ca_file %s
			}
		}`, hsSecret, p.Issuer(), p.CAFile), up.addr()))

	// nbf and iat a minute ahead, exp a minute ago: within the leeway.
	soon := time.Now().Add(time.Minute).Unix()
	skewed := old.Mint(t, p.Claims(jwt.MapClaims{"nbf": soon, "iat": soon, "exp": time.Now().Add(-time.Minute).Unix()}))
	if resp, body := call(t, tester, "GET", httpBase+"/orders", bearer(skewed), ""); resp.StatusCode != 200 {
		t.Fatalf("token within the leeway: %d %s", resp.StatusCode, body)
	}
	late := old.Mint(t, p.Claims(jwt.MapClaims{"nbf": time.Now().Add(3 * time.Minute).Unix()}))
	resp, body := call(t, tester, "GET", httpBase+"/orders", bearer(late), "")
	assertInvalidToken(t, resp, body)

	// The provider withdraws the key: once the background refresh has
	// fetched the new JWKS, the token verified before is refused.
	token := old.Mint(t, p.Claims(nil))
	if resp, body := call(t, tester, "GET", httpBase+"/orders", bearer(token), ""); resp.StatusCode != 200 {
		t.Fatalf("token before the rotation: %d %s", resp.StatusCode, body)
	}
	p.Publish(oidctest.NewKey(t, "new", "EdDSA"))
	eventually(t, 10*time.Second, func() (bool, string) {
		resp, body := call(t, tester, "GET", httpBase+"/orders", bearer(token), "")
		return resp.StatusCode == http.StatusUnauthorized, fmt.Sprintf("status %d %s", resp.StatusCode, body)
	})
}

// TestIDPUsersAndAPITokens: a user whom only the provider knows (users
// optional) is not this site's user of the same name: it can neither list,
// create nor revoke API tokens, whatever roles the provider gives it. With
// users required, the provider's user is this site's, and manages its
// tokens as it would with a password.
func TestIDPUsersAndAPITokens(t *testing.T) {
	key := oidctest.NewKey(t, "rs", "RS256")
	p := oidctest.NewProvider(t, key)
	up := newUpstream(t)
	alice := withBasic("alice", alicePassword)

	optional := startCaddy(t, trustConfig(t, p, up, ""))
	mine := createToken(t, optional, alice, `{}`)
	foreign := bearer(key.Mint(t, p.Claims(jwt.MapClaims{"preferred_username": "alice", "realm_access": map[string]any{"roles": []string{"admin"}}})))
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/@tokens", ""},
		{"GET", "/@tokens?user=bob", ""},
		{"POST", "/@tokens", `{}`},
		{"POST", "/@tokens", `{"user": "bob"}`},
		{"DELETE", "/@tokens/" + mine.ID, ""},
	} {
		resp, body := call(t, optional, c.method, httpBase+c.path, foreign, c.body)
		assertProblem(t, resp, body, http.StatusForbidden, "users of this site")
	}
	resp, body := call(t, optional, "GET", httpBase+"/items", withToken(mine.Key), "")
	assertUpstream(t, up, resp, body, "alice", "editor,member")

	required := startCaddy(t, trustConfig(t, p, up, "users required"))
	issued := time.Now().Add(-time.Second).Unix()
	local := bearer(key.Mint(t, p.Claims(jwt.MapClaims{"preferred_username": "alice", "iat": issued})))
	tok := createToken(t, required, local, `{}`)
	resp, body = call(t, required, "GET", httpBase+"/items", withToken(tok.Key), "")
	assertUpstream(t, up, resp, body, "alice", "editor,member")

	// The provider's user is this site's: logging alice out everywhere
	// (admin API) refuses the provider's tokens issued before it too.
	logout, err := http.Post(fmt.Sprintf("http://localhost:%d/rest_auth/users/alice/logout", adminPort), "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	logout.Body.Close()
	if logout.StatusCode != http.StatusOK {
		t.Fatalf("admin logout: %d", logout.StatusCode)
	}
	resp, body = call(t, required, "GET", httpBase+"/items", local, "")
	assertInvalidToken(t, resp, body)
	// (A token issued after the logout works: TestJWTLogoutSurvivesASlowStoreAtStart
	// moves the clock for that; here it would mean waiting for the next second.)
}

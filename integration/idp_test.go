package integration

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// trustConfig runs rest_auth with our own HS256 key and a trust block for
// p (Keycloak's claims), with extra options in the trust block.
func trustConfig(t *testing.T, p *oidcProvider, up *upstream, extra string) string {
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
		}`, hsSecret, p.issuer(), p.caFile, extra), up.addr())
}

func TestIDPTokensOfEveryAlgorithm(t *testing.T) {
	keys := []*providerKey{
		newProviderKey(t, "rs", "RS256"),
		newProviderKey(t, "ps", "PS256"),
		newProviderKey(t, "es", "ES256"),
		newProviderKey(t, "ed", "EdDSA"),
	}
	p := newOIDCProvider(t, keys...)
	up := newUpstream(t)
	tester := startCaddy(t, trustConfig(t, p, up, ""))

	for _, k := range keys {
		t.Run(k.method.Alg(), func(t *testing.T) {
			token := k.mint(t, p.idpClaims(nil))
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
			if me.User != "zoe" || me.Method != "jwt" || me.Issuer != p.issuer() || strings.Join(me.Roles, ",") != "reader,writer" {
				t.Fatalf("@me = %+v; want zoe, jwt, issuer %s, roles reader,writer", me, p.issuer())
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
	rs := newProviderKey(t, "rs", "RS256")
	es := newProviderKey(t, "es", "ES256")
	weak := newProviderKey(t, "weak", "RS256", 1024)
	p := newOIDCProvider(t, rs, es, weak)
	up := newUpstream(t)
	tester := startCaddy(t, trustConfig(t, p, up, ""))

	// Make sure the keys are fetched: a valid token passes.
	if resp, body := call(t, tester, "GET", httpBase+"/orders", bearer(rs.mint(t, p.idpClaims(nil))), ""); resp.StatusCode != 200 {
		t.Fatalf("valid token: %d %s", resp.StatusCode, body)
	}

	rsaPublic, err := x509.MarshalPKIXPublicKey(rs.priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	rsaPublicPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: rsaPublic})
	valid := rs.mint(t, p.idpClaims(nil))
	parts := strings.Split(valid, ".")
	stranger := newProviderKey(t, "rs", "RS256") // not the provider's, same kid
	hour := time.Now().Add(time.Hour).Unix()

	tests := []struct {
		name  string
		token string
	}{
		{"alg none", sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, map[string]any{"kid": "rs"}, p.idpClaims(nil))},
		{"HS256 signed with the RSA public key", sign(t, jwt.SigningMethodHS256, rsaPublicPEM, map[string]any{"kid": "rs"}, p.idpClaims(nil))},
		{"HS256 signed with the RSA modulus", sign(t, jwt.SigningMethodHS256, []byte(rs.jwk["n"]), map[string]any{"kid": "rs"}, p.idpClaims(nil))},
		{"PS256 with an RS256 key", sign(t, jwt.SigningMethodPS256, rs.priv, map[string]any{"kid": "rs"}, p.idpClaims(nil))},
		{"unknown kid", sign(t, jwt.SigningMethodRS256, rs.priv, map[string]any{"kid": "nope"}, p.idpClaims(nil))},
		{"no kid", sign(t, jwt.SigningMethodRS256, rs.priv, nil, p.idpClaims(nil))},
		{"signed by another key with the provider's kid", stranger.mint(t, p.idpClaims(nil))},
		{"wrong issuer", rs.mint(t, p.idpClaims(jwt.MapClaims{"iss": "https://evil.example/realms/acme"}))},
		{"issuer differing in a trailing slash", rs.mint(t, p.idpClaims(jwt.MapClaims{"iss": p.issuer() + "/"}))},
		{"wrong audience", rs.mint(t, p.idpClaims(jwt.MapClaims{"aud": "api://billing"}))},
		{"no audience", rs.mint(t, p.idpClaims(jwt.MapClaims{"aud": nil}))},
		{"expired", rs.mint(t, p.idpClaims(jwt.MapClaims{"exp": time.Now().Add(-time.Minute).Unix()}))},
		{"no exp", rs.mint(t, p.idpClaims(jwt.MapClaims{"exp": nil}))},
		{"nbf in the future", es.mint(t, p.idpClaims(jwt.MapClaims{"nbf": hour}))},
		{"iat in the future", es.mint(t, p.idpClaims(jwt.MapClaims{"iat": hour}))},
		{"no user claim", es.mint(t, p.idpClaims(jwt.MapClaims{"preferred_username": nil}))},
		{"tampered claims", parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"`+p.issuer()+`","aud":"api://orders","preferred_username":"admin","exp":`+fmt.Sprint(hour)+`}`)) + "." + parts[2]},
		{"tampered signature", parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))},
		{"1024-bit RSA key", weak.mint(t, p.idpClaims(nil))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := call(t, tester, "GET", httpBase+"/orders", bearer(tc.token), "")
			assertInvalidToken(t, resp, body)
		})
	}
}

func TestIDPKeyRotationAndKidFlood(t *testing.T) {
	old := newProviderKey(t, "2026-01", "RS256")
	p := newOIDCProvider(t, old)
	up := newUpstream(t)
	tester := startCaddy(t, trustConfig(t, p, up, ""))
	oldToken := old.mint(t, p.idpClaims(nil))
	if resp, body := call(t, tester, "GET", httpBase+"/orders", bearer(oldToken), ""); resp.StatusCode != 200 {
		t.Fatalf("token of the first key: %d %s", resp.StatusCode, body)
	}

	// The provider rotates: the new key signs, the old one is withdrawn.
	next := newProviderKey(t, "2026-02", "ES256")
	p.publish(next)
	before := p.jwksFetches.Load()
	if resp, body := call(t, tester, "GET", httpBase+"/orders", bearer(next.mint(t, p.idpClaims(nil))), ""); resp.StatusCode != 200 {
		t.Fatalf("token of the new key: %d %s", resp.StatusCode, body)
	}
	if got := p.jwksFetches.Load() - before; got != 1 {
		t.Fatalf("the new kid fetched the JWKS %d times, want 1", got)
	}
	resp, body := call(t, tester, "GET", httpBase+"/orders", bearer(oldToken), "")
	assertInvalidToken(t, resp, body) // its key was withdrawn

	// A flood of unknown kids right after costs no fetch at all.
	before = p.jwksFetches.Load()
	for i := range 50 {
		bogus := sign(t, jwt.SigningMethodES256, next.priv, map[string]any{"kid": fmt.Sprintf("bogus-%d", i)}, p.idpClaims(nil))
		resp, body := call(t, tester, "GET", httpBase+"/orders", bearer(bogus), "")
		assertInvalidToken(t, resp, body)
	}
	if got := p.jwksFetches.Load() - before; got != 0 {
		t.Fatalf("50 unknown kids fetched the JWKS %d times, want 0 (one refetch per 30 s)", got)
	}
}

func TestIDPOutages(t *testing.T) {
	k := newProviderKey(t, "rs", "RS256")
	p := newOIDCProvider(t, k)
	p.down.Store(true)
	up := newUpstream(t)

	// Down at start: Caddy starts, the provider's tokens get 503, our own
	// tokens keep working.
	tester := startCaddy(t, trustConfig(t, p, up, "refresh 1s"))
	resp, body := call(t, tester, "GET", httpBase+"/orders", bearer(k.mint(t, p.idpClaims(nil))), "")
	assertProblem(t, resp, body, http.StatusServiceUnavailable, "could not be fetched yet")
	own := login(t, tester, httpBase, "alice", alicePassword)
	if resp, body := call(t, tester, "GET", httpBase+"/orders", bearer(own), ""); resp.StatusCode != 200 {
		t.Fatalf("own token while the provider is down: %d %s", resp.StatusCode, body)
	}

	// Back up: its tokens pass.
	p.down.Store(false)
	eventually(t, 10*time.Second, func() (bool, string) {
		resp, body := call(t, tester, "GET", httpBase+"/orders", bearer(k.mint(t, p.idpClaims(nil))), "")
		return resp.StatusCode == 200, fmt.Sprintf("status %d %s", resp.StatusCode, body)
	})

	// Down again: after a failed background refresh, the cached keys keep
	// verifying new tokens.
	p.down.Store(true)
	failed := p.jwksFetches.Load()
	eventually(t, 10*time.Second, func() (bool, string) {
		return p.jwksFetches.Load() > failed, "no refresh tried while the provider is down"
	})
	resp, body = call(t, tester, "GET", httpBase+"/orders", bearer(k.mint(t, p.idpClaims(jwt.MapClaims{"jti": "after-outage"}))), "")
	if resp.StatusCode != 200 || up.received(t).Get("X-Remote-User") != "zoe" {
		t.Fatalf("new token during a later outage: %d %s", resp.StatusCode, body)
	}
}

func TestIDPUsersRequiredAndSeveralIssuers(t *testing.T) {
	acmeKey := newProviderKey(t, "acme", "RS256")
	otherKey := newProviderKey(t, "other", "EdDSA")
	acme := newOIDCProvider(t, acmeKey)
	other := newOIDCProvider(t, otherKey)
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
		}`, hsSecret, acme.issuer(), acme.caFile, other.issuer(), other.srv.URL, other.caFile), up.addr()))

	tests := []struct {
		name       string
		token      string
		user, role string // "" for a 401
	}{
		{"required user with our roles", acmeKey.mint(t, acme.idpClaims(jwt.MapClaims{"preferred_username": "alice"})), "alice", "editor,member"},
		{"unknown user", acmeKey.mint(t, acme.idpClaims(nil)), "", ""},
		{"disabled user", acmeKey.mint(t, acme.idpClaims(jwt.MapClaims{"preferred_username": "carol"})), "", ""},
		{"second issuer, roles as a string, sub as user", otherKey.mint(t, other.idpClaims(jwt.MapClaims{"aud": "anything", "groups": "ops"})), "f81d4fae-7dec-11d0-a765-00a0c91e6bf6", "ops"},
		{"second issuer's key for the first issuer", otherKey.mint(t, acme.idpClaims(jwt.MapClaims{"preferred_username": "alice"})), "", ""},
		{"first issuer's key for the second issuer", acmeKey.mint(t, other.idpClaims(nil)), "", ""},
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
	old := newProviderKey(t, "old", "ES256")
	p := newOIDCProvider(t, old)
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
		}`, hsSecret, p.issuer(), p.caFile), up.addr()))

	// nbf and iat a minute ahead, exp a minute ago: within the leeway.
	soon := time.Now().Add(time.Minute).Unix()
	skewed := old.mint(t, p.idpClaims(jwt.MapClaims{"nbf": soon, "iat": soon, "exp": time.Now().Add(-time.Minute).Unix()}))
	if resp, body := call(t, tester, "GET", httpBase+"/orders", bearer(skewed), ""); resp.StatusCode != 200 {
		t.Fatalf("token within the leeway: %d %s", resp.StatusCode, body)
	}
	late := old.mint(t, p.idpClaims(jwt.MapClaims{"nbf": time.Now().Add(3 * time.Minute).Unix()}))
	resp, body := call(t, tester, "GET", httpBase+"/orders", bearer(late), "")
	assertInvalidToken(t, resp, body)

	// The provider withdraws the key: once the background refresh has
	// fetched the new JWKS, the token verified before is refused.
	token := old.mint(t, p.idpClaims(nil))
	if resp, body := call(t, tester, "GET", httpBase+"/orders", bearer(token), ""); resp.StatusCode != 200 {
		t.Fatalf("token before the rotation: %d %s", resp.StatusCode, body)
	}
	p.publish(newProviderKey(t, "new", "EdDSA"))
	eventually(t, 10*time.Second, func() (bool, string) {
		resp, body := call(t, tester, "GET", httpBase+"/orders", bearer(token), "")
		return resp.StatusCode == http.StatusUnauthorized, fmt.Sprintf("status %d %s", resp.StatusCode, body)
	})
}

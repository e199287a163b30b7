package integration

import (
	"encoding/base64"
	"net/http"
	"testing"

	"github.com/caddy-restauth/caddy-restauth/internal/testusers"
	"github.com/caddyserver/caddy/v2/caddytest"
)

// TestAmbiguousCredentialHeaders: an empty credential header, or more than
// one, is a problem answer, never anonymous access (an empty first
// Authorization header used to hide a wrong second one).
func TestAmbiguousCredentialHeaders(t *testing.T) {
	up := newUpstream(t)
	tester := startCaddy(t, siteConfig(t, "anonymous read\n\t\torder basic jwt token session dotauth", up.addr()))
	dotauth := func(user, password string) string {
		return base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
	}
	cases := []struct {
		name   string
		header string
		values []string
		status int
		detail string
	}{
		{"empty Authorization before a wrong one", "Authorization", []string{"", testusers.BasicHeader("bob", "wrong")}, 400, "more than one Authorization header"},
		{"right and wrong Authorization", "Authorization", []string{testusers.BasicHeader("bob", bobPassword), testusers.BasicHeader("bob", "wrong")}, 400, "more than one Authorization header"},
		{"two right Authorization", "Authorization", []string{testusers.BasicHeader("bob", bobPassword), testusers.BasicHeader("bob", bobPassword)}, 400, "more than one Authorization header"},
		{"empty Authorization", "Authorization", []string{""}, 401, "empty Authorization header"},
		{"empty DOTAUTH before a wrong one", "DOTAUTH", []string{"", dotauth("bob", "wrong")}, 400, "more than one Dotauth header"},
		{"two right DOTAUTH", "DOTAUTH", []string{dotauth("bob", bobPassword), dotauth("bob", bobPassword)}, 400, "more than one Dotauth header"},
		{"empty DOTAUTH", "DOTAUTH", []string{""}, 401, "empty Dotauth header"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := callHeaders(t, tester, "GET", httpBase+"/x", http.Header{c.header: c.values}, "")
			assertProblem(t, resp, body, c.status, c.detail)
		})
	}
	if up.count() != 0 {
		t.Errorf("the upstream received %d requests with ambiguous credentials", up.count())
	}
}

// TestJWTCookieFollowsOrder: the first credential in `order` that the
// request carries decides, the JWT cookie included.
func TestJWTCookieFollowsOrder(t *testing.T) {
	cases := []struct {
		order string
		// bob's credential sent next to alice's JWT cookie
		bob  func(t *testing.T, tester *caddytest.Tester) string
		want string
	}{
		{"jwt token", bobsToken, "alice"},
		{"token jwt", bobsToken, "bob"},
		{"jwt basic", bobsBasic, "alice"},
		{"basic jwt", bobsBasic, "bob"},
		// Both are JWTs: the Authorization header is the jwt credential.
		{"jwt", bobsJWT, "bob"},
	}
	for _, c := range cases {
		t.Run(c.order, func(t *testing.T) {
			up := newUpstream(t)
			tester := startCaddy(t, siteConfig(t, "order "+c.order+"\n\t\tjwt {\n\t\t\tcookie access_token\n\t\t}", up.addr()))
			aliceJWT := login(t, tester, httpBase, "alice", alicePassword)
			resp, body := call(t, tester, "GET", httpBase+"/x", map[string]string{
				"Cookie":        "access_token=" + aliceJWT,
				"Authorization": c.bob(t, tester),
			}, "")
			if resp.StatusCode != 200 {
				t.Fatalf("status %d (%s)", resp.StatusCode, body)
			}
			got := up.received(t)
			if user := got.Get("X-Remote-User"); user != c.want {
				t.Fatalf("upstream user %q, want %q", user, c.want)
			}
			if got.Get("Authorization") != "" || got.Get("Cookie") != "" {
				t.Errorf("credentials reached the upstream: Authorization %q Cookie %q", got.Get("Authorization"), got.Get("Cookie"))
			}
		})
	}
}

func bobsToken(t *testing.T, tester *caddytest.Tester) string {
	return "Token " + createToken(t, tester, nil, `{"username": "bob", "password": "`+bobPassword+`"}`).Key
}

func bobsBasic(*testing.T, *caddytest.Tester) string {
	return testusers.BasicHeader("bob", bobPassword)
}

func bobsJWT(t *testing.T, tester *caddytest.Tester) string {
	return "Bearer " + login(t, tester, httpBase, "bob", bobPassword)
}

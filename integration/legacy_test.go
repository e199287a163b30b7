package integration

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/caddy-restauth/caddy-restauth/internal/testusers"
	"github.com/caddyserver/caddy/v2/caddytest"
)

// credential puts one method's good or bad credential on a request.
type credential struct {
	method string
	apply  func(path string, h map[string]string, good bool) string // returns the path
}

// orderTestCredentials builds a credential per method for user alice. JWT
// travels in a cookie here so that it can accompany an Authorization
// header (Basic) in one request.
func orderTestCredentials(t *testing.T, tester *caddytest.Tester) []credential {
	jwtToken := login(t, tester, httpBase, "alice", alicePassword)
	resp, body := call(t, newTester(t), "POST", httpBase+"/@tokens", map[string]string{"Content-Type": "application/json"},
		`{"username":"alice","password":"`+alicePassword+`"}`)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("provisioning a token: %d %s", resp.StatusCode, body)
	}
	apiKey := body[strings.Index(body, `"key":"`)+7:]
	apiKey = apiKey[:strings.IndexByte(apiKey, '"')]
	sid := cookieNamed(sessionLogin(t, newTester(t), httpBase, "alice", alicePassword), "sessionid").Value
	pw := func(good bool) string {
		if good {
			return alicePassword
		}
		return "wrong-password"
	}
	addCookie := func(h map[string]string, c string) {
		if h["Cookie"] != "" {
			c = h["Cookie"] + "; " + c
		}
		h["Cookie"] = c
	}
	return []credential{
		{"url_params", func(path string, h map[string]string, good bool) string {
			return "/user/alice/password/" + pw(good) + path
		}},
		{"dotauth", func(path string, h map[string]string, good bool) string {
			h["DOTAUTH"] = base64.StdEncoding.EncodeToString([]byte("alice:" + pw(good)))
			return path
		}},
		{"basic", func(path string, h map[string]string, good bool) string {
			h["Authorization"] = testusers.BasicHeader("alice", pw(good))
			return path
		}},
		{"jwt", func(path string, h map[string]string, good bool) string {
			tok := jwtToken
			if !good {
				tok += "x"
			}
			addCookie(h, "jwt="+tok)
			return path
		}},
		{"token", func(path string, h map[string]string, good bool) string {
			key := apiKey
			if !good {
				key = "rat_AAAAAAAAAAAA.unknown"
			}
			h["Authorization"] = "Token " + key
			return path
		}},
		{"session", func(path string, h map[string]string, good bool) string {
			v := sid
			if !good {
				v = "expired-or-unknown"
			}
			addCookie(h, "sessionid="+v)
			return path
		}},
	}
}

// authorizationHeaderMethods use the Authorization header (the JWT cookie
// is only read when no Authorization header is sent): no two of them can be
// present in one request.
var authorizationHeaderMethods = map[string]bool{"basic": true, "token": true, "jwt": true}

// TestOrderFirstPresentDecides: for every ordered pair of the six methods,
// in the dotCMS order and in the reverse order, the earlier credential
// decides: a bad one is 401 even when the later one is good, a good one
// wins even when the later one is bad. Pairs of Authorization-header methods
// cannot occur in a single request.
func TestOrderFirstPresentDecides(t *testing.T) {
	for _, order := range []string{"url_params dotauth basic jwt token session", "session token jwt basic dotauth url_params"} {
		t.Run(order, func(t *testing.T) {
			up := newUpstream(t)
			tester := startCaddy(t, siteConfig(t, "order "+order+"\n\t\tthrottle off\n\t\tjwt {\n\t\t\tcookie jwt\n\t\t}", up.addr()))
			creds := map[string]credential{}
			for _, c := range orderTestCredentials(t, tester) {
				creds[c.method] = c
			}
			methods := strings.Fields(order)
			for i, first := range methods {
				for _, later := range methods[i+1:] {
					if authorizationHeaderMethods[first] && authorizationHeaderMethods[later] {
						continue // one Authorization header cannot carry both
					}
					for _, firstGood := range []bool{true, false} {
						name := fmt.Sprintf("%s(good=%v) before %s(good=%v)", first, firstGood, later, !firstGood)
						h := map[string]string{}
						path := creds[later].apply("/res", h, !firstGood)
						path = creds[first].apply(path, h, firstGood)
						resp, body := call(t, newTester(t), "GET", httpBase+path, h, "")
						if !firstGood {
							if resp.StatusCode != http.StatusUnauthorized {
								t.Errorf("%s: status %d (%s), want 401", name, resp.StatusCode, body)
							}
							continue
						}
						if resp.StatusCode != 200 {
							t.Errorf("%s: status %d (%s), want 200", name, resp.StatusCode, body)
							continue
						}
						got := up.received(t)
						if got.Get("X-Remote-User") != "alice" || up.requestURI(t) != "/res" {
							t.Errorf("%s: upstream got user %q path %q", name, got.Get("X-Remote-User"), up.requestURI(t))
						}
						if got.Get("Dotauth") != "" || got.Get("Authorization") != "" || strings.Contains(got.Get("Cookie"), "sessionid") || strings.Contains(got.Get("Cookie"), "jwt=") {
							t.Errorf("%s: a credential reached the upstream: %v", name, got)
						}
					}
				}
			}
		})
	}
}

// TestLegacyMethodsOffByDefault: without `order`, DOTAUTH and URL
// parameters are no credentials at all.
func TestLegacyMethodsOffByDefault(t *testing.T) {
	up := newUpstream(t)
	tester := startCaddy(t, siteConfig(t, "anonymous read", up.addr()))
	dot := base64.StdEncoding.EncodeToString([]byte("alice:" + alicePassword))
	resp, _ := call(t, tester, "GET", httpBase+"/x", map[string]string{"DOTAUTH": dot}, "")
	if resp.StatusCode != 200 || up.received(t).Get("X-Remote-User") != "" {
		t.Fatalf("DOTAUTH without order authenticated: %d %q", resp.StatusCode, up.received(t).Get("X-Remote-User"))
	}
}

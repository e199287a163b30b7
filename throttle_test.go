package restauth

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"testing"

	"github.com/caddyserver/caddy/v2/caddytest"
)

// passwordPath sends one password attempt for alice on one path.
type passwordPath struct {
	name string
	try  func(t *testing.T, tester *caddytest.Tester, password string) (*http.Response, string)
}

var passwordPaths = []passwordPath{
	{"basic", func(t *testing.T, tc *caddytest.Tester, pw string) (*http.Response, string) {
		return call(t, tc, "GET", httpBase+"/x", withBasic("alice", pw), "")
	}},
	{"dotauth", func(t *testing.T, tc *caddytest.Tester, pw string) (*http.Response, string) {
		return call(t, tc, "GET", httpBase+"/x", map[string]string{"DOTAUTH": base64.StdEncoding.EncodeToString([]byte("alice:" + pw))}, "")
	}},
	{"url_params", func(t *testing.T, tc *caddytest.Tester, pw string) (*http.Response, string) {
		return call(t, tc, "GET", httpBase+"/user/alice/password/"+url.PathEscape(pw)+"/x", nil, "")
	}},
	{"@login", func(t *testing.T, tc *caddytest.Tester, pw string) (*http.Response, string) {
		return call(t, tc, "POST", httpBase+"/@login", map[string]string{"Content-Type": "application/json"}, `{"login":"alice","password":"`+pw+`"}`)
	}},
	{"@session", func(t *testing.T, tc *caddytest.Tester, pw string) (*http.Response, string) {
		return call(t, tc, "POST", httpBase+"/@session", map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
			url.Values{"username": {"alice"}, "password": {pw}}.Encode())
	}},
	{"@tokens provisioning", func(t *testing.T, tc *caddytest.Tester, pw string) (*http.Response, string) {
		return call(t, tc, "POST", httpBase+"/@tokens", map[string]string{"Content-Type": "application/json"},
			`{"username":"alice","password":"`+pw+`"}`)
	}},
}

// TestThrottleEveryPasswordPath: on each path, the 6th bad password within
// the window gets 429 with Retry-After, and so does the right password
// until the lockout ends.
func TestThrottleEveryPasswordPath(t *testing.T) {
	for _, p := range passwordPaths {
		t.Run(p.name, func(t *testing.T) {
			up := newUpstream(t)
			tester := startCaddy(t, siteConfig(t, "order url_params dotauth basic jwt token session\n\t\tthrottle {\n\t\t\tmax_failures 5\n\t\t\twindow 15m\n\t\t\tlockout 10m\n\t\t}", up.addr()))
			for i := 1; i <= 5; i++ {
				resp, body := p.try(t, tester, "wrong-"+strconv.Itoa(i))
				assertProblem(t, resp, body, http.StatusUnauthorized, "Invalid username or password.")
			}
			for _, pw := range []string{"wrong-6", alicePassword} {
				resp, body := p.try(t, tester, pw)
				assertProblem(t, resp, body, http.StatusTooManyRequests, "Too many failed logins")
				ra, err := strconv.Atoi(resp.Header.Get("Retry-After"))
				if err != nil || ra < 590 || ra > 600 {
					t.Errorf("Retry-After = %q, want about 600 seconds", resp.Header.Get("Retry-After"))
				}
			}
			// Another user is not locked out.
			if resp, body := call(t, tester, "GET", httpBase+"/x", withBasic("bob", bobPassword), ""); resp.StatusCode != 200 {
				t.Errorf("bob during alice's lockout: %d %s", resp.StatusCode, body)
			}
		})
	}
}

// TestThrottleSuccessResetsAndOtherCredentialsKeepWorking: a success resets
// the user's counter; a locked-out user's JWT and session keep working.
func TestThrottleSuccessResetsAndOtherCredentialsKeepWorking(t *testing.T) {
	up := newUpstream(t)
	tester := startCaddy(t, siteConfig(t, "", up.addr()))
	bad := func(n int) {
		for i := 0; i < n; i++ {
			resp, body := call(t, tester, "GET", httpBase+"/x", withBasic("alice", "wrong"), "")
			assertProblem(t, resp, body, http.StatusUnauthorized, "")
		}
	}
	bad(4)
	if resp, _ := call(t, tester, "GET", httpBase+"/x", withBasic("alice", alicePassword), ""); resp.StatusCode != 200 {
		t.Fatalf("right password after 4 failures: %d", resp.StatusCode)
	}
	bad(4) // the success reset the counter: 4 more are still under the limit
	token := login(t, tester, httpBase, "alice", alicePassword)
	browser := newTester(t)
	sessionLogin(t, browser, httpBase, "alice", alicePassword)

	bad(5) // now locked out
	resp, body := call(t, tester, "GET", httpBase+"/x", withBasic("alice", alicePassword), "")
	assertProblem(t, resp, body, http.StatusTooManyRequests, "")
	if resp, _ := call(t, tester, "GET", httpBase+"/x", bearer(token), ""); resp.StatusCode != 200 {
		t.Errorf("locked-out user's JWT: %d, want 200", resp.StatusCode)
	}
	if resp, _ := call(t, browser, "GET", httpBase+"/x", nil, ""); resp.StatusCode != 200 {
		t.Errorf("locked-out user's session: %d, want 200", resp.StatusCode)
	}
}

// TestThrottlePerAddress: failures from one address across many user names
// lock that address out.
func TestThrottlePerAddress(t *testing.T) {
	up := newUpstream(t)
	tester := startCaddy(t, siteConfig(t, "throttle {\n\t\t\tmax_address_failures 3\n\t\t}", up.addr()))
	for _, u := range []string{"u1", "u2", "u3"} {
		resp, body := call(t, tester, "GET", httpBase+"/x", withBasic(u, "x"), "")
		assertProblem(t, resp, body, http.StatusUnauthorized, "")
	}
	resp, body := call(t, tester, "GET", httpBase+"/x", withBasic("bob", bobPassword), "")
	assertProblem(t, resp, body, http.StatusTooManyRequests, "this address")
}

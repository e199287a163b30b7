package integration

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddytest"
)

// sessionLogin posts form credentials to @session (as requests'
// `session.post(url, data=credentials)` does) and returns the response.
func sessionLogin(t *testing.T, tester *caddytest.Tester, base, user, password string) *http.Response {
	t.Helper()
	form := url.Values{"username": {user}, "password": {password}}.Encode()
	resp, body := call(t, tester, "POST", base+"/@session", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, form)
	if resp.StatusCode != 200 {
		t.Fatalf("@session login: %d %s", resp.StatusCode, body)
	}
	return resp
}

func cookieNamed(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// jarCookie is the value of a cookie in the tester's jar for base.
func jarCookie(t *testing.T, tester *caddytest.Tester, base, name string) string {
	t.Helper()
	u, _ := url.Parse(base)
	for _, c := range tester.Client.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

func TestSessionKeystoneFlow(t *testing.T) {
	up := newUpstream(t)
	tester := startCaddy(t, siteConfig(t, "", up.addr()))

	resp := sessionLogin(t, tester, httpBase, "alice", alicePassword)
	sid, csrf := cookieNamed(resp, "sessionid"), cookieNamed(resp, "csrftoken")
	if sid == nil || csrf == nil {
		t.Fatalf("cookies = %v, want sessionid and csrftoken", resp.Cookies())
	}
	if !sid.HttpOnly || sid.SameSite != http.SameSiteLaxMode || sid.Path != "/" || sid.Secure {
		t.Errorf("sessionid cookie = %+v, want HttpOnly, SameSite=Lax, Path=/, not Secure over HTTP", sid)
	}
	if csrf.HttpOnly {
		t.Error("csrftoken must be readable by scripts")
	}

	// Read with the cookie only.
	resp, body := call(t, tester, "GET", httpBase+"/users/users/", nil, "")
	if resp.StatusCode != 200 || up.received(t).Get("X-Remote-User") != "alice" {
		t.Fatalf("read with session: %d %s", resp.StatusCode, body)
	}
	if c := up.received(t).Get("Cookie"); strings.Contains(c, "sessionid") || strings.Contains(c, "csrftoken") {
		t.Errorf("upstream received the session cookies: %q", c)
	}
	// Write with the CSRF header.
	resp, body = call(t, tester, "PATCH", httpBase+"/users/users/1", map[string]string{"X-CSRFToken": csrf.Value}, "")
	if resp.StatusCode != 200 {
		t.Fatalf("PATCH with X-CSRFToken: %d %s", resp.StatusCode, body)
	}

	// Another session's CSRF token does not fit this session.
	other := newTester(t)
	resp = sessionLogin(t, other, httpBase, "bob", bobPassword)
	otherCSRF := cookieNamed(resp, "csrftoken").Value

	for _, c := range []struct {
		name    string
		headers map[string]string
		detail  string
	}{
		{"no header", nil, "CSRF token missing"},
		{"wrong header", map[string]string{"X-CSRFToken": "nope"}, "CSRF token incorrect"},
		{"another session's token", map[string]string{"X-CSRFToken": otherCSRF}, "CSRF token incorrect"},
	} {
		resp, body := call(t, tester, "PATCH", httpBase+"/users/users/1", c.headers, "")
		assertProblem(t, resp, body, http.StatusForbidden, c.detail)
	}

	// Log out (POST @logout with the CSRF header, as the seed does).
	oldSID := jarCookie(t, tester, httpBase, "sessionid")
	resp, body = call(t, tester, "POST", httpBase+"/@logout", map[string]string{"X-CSRFToken": csrf.Value}, "")
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("@logout: %d %s", resp.StatusCode, body)
	}
	if c := cookieNamed(resp, "sessionid"); c == nil || c.MaxAge >= 0 {
		t.Errorf("@logout did not expire the session cookie: %v", resp.Cookies())
	}
	// The old cookie, replayed, gets 401 (and is expired again).
	replay := newTester(t)
	resp, body = call(t, replay, "GET", httpBase+"/users/users/", map[string]string{"Cookie": "sessionid=" + oldSID}, "")
	assertProblem(t, resp, body, http.StatusUnauthorized, "session has expired or ended")
	if c := cookieNamed(resp, "sessionid"); c == nil || c.MaxAge >= 0 {
		t.Errorf("a dead session's 401 should expire its cookie: %v", resp.Cookies())
	}
}

func TestSessionLoginVariants(t *testing.T) {
	up := newUpstream(t)
	tester := startCaddy(t, siteConfig(t, "", up.addr()))
	// JSON credentials work too.
	resp, body := call(t, tester, "POST", httpBase+"/@session", map[string]string{"Content-Type": "application/json"},
		`{"username":"dave","password":"`+davePassword+`"}`)
	if resp.StatusCode != 200 || !strings.Contains(body, `"user":"dave"`) || !strings.Contains(body, `"roles":["admin","editor"]`) {
		t.Fatalf("JSON login: %d %s", resp.StatusCode, body)
	}
	first := jarCookie(t, tester, httpBase, "sessionid")
	csrf := jarCookie(t, tester, httpBase, "csrftoken")

	// Logging in again gives a new id and ends the old session (fixation).
	resp, body = call(t, tester, "POST", httpBase+"/@session", map[string]string{"Content-Type": "application/json", "X-CSRFToken": csrf},
		`{"username":"dave","password":"`+davePassword+`"}`)
	if resp.StatusCode != 200 {
		t.Fatalf("second login: %d %s", resp.StatusCode, body)
	}
	second := jarCookie(t, tester, httpBase, "sessionid")
	if second == "" || second == first {
		t.Fatal("a new login kept the session id")
	}
	resp, body = call(t, newTester(t), "GET", httpBase+"/x", map[string]string{"Cookie": "sessionid=" + first}, "")
	assertProblem(t, resp, body, http.StatusUnauthorized, "")

	// Bad logins.
	for _, c := range []struct {
		ctype, body string
		status      int
	}{
		{"application/x-www-form-urlencoded", "username=dave&password=wrong", 401},
		{"application/x-www-form-urlencoded", "username=dave", 400},
		{"application/json", `{"username":`, 400},
	} {
		resp, body := call(t, newTester(t), "POST", httpBase+"/@session", map[string]string{"Content-Type": c.ctype}, c.body)
		assertProblem(t, resp, body, c.status, "")
	}

	// DELETE @session ends it.
	csrf = jarCookie(t, tester, httpBase, "csrftoken")
	resp, _ = call(t, tester, "DELETE", httpBase+"/@session", map[string]string{"X-CSRFToken": csrf}, "")
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE @session: %d", resp.StatusCode)
	}
	resp, body = call(t, newTester(t), "GET", httpBase+"/x", map[string]string{"Cookie": "sessionid=" + second}, "")
	assertProblem(t, resp, body, http.StatusUnauthorized, "")
}

func TestSessionOriginOverHTTPS(t *testing.T) {
	up := newUpstream(t)
	tester := startCaddy(t, siteConfig(t, "session {\n\t\t\ttrusted_origins https://app.example.com\n\t\t}", up.addr()))
	resp := sessionLogin(t, tester, httpsBase, "alice", alicePassword)
	if sid := cookieNamed(resp, "sessionid"); sid == nil || !sid.Secure {
		t.Fatalf("over HTTPS the session cookie must be Secure: %v", resp.Cookies())
	}
	csrf := jarCookie(t, tester, httpsBase, "csrftoken")
	self := "https://" + strings.TrimPrefix(httpsBase, "https://")
	cases := []struct {
		name    string
		headers map[string]string
		status  int
		detail  string
	}{
		{"same origin", map[string]string{"Origin": self}, 200, ""},
		{"trusted origin", map[string]string{"Origin": "https://app.example.com"}, 200, ""},
		{"same-origin referer", map[string]string{"Referer": self + "/page"}, 200, ""},
		{"foreign origin", map[string]string{"Origin": "https://evil.example"}, 403, "Origin checking failed"},
		{"plain-http origin of this host", map[string]string{"Origin": "http://" + strings.TrimPrefix(httpsBase, "https://")}, 403, "Origin checking failed"},
		{"foreign referer", map[string]string{"Referer": "https://evil.example/x"}, 403, "Referer checking failed"},
		{"neither", map[string]string{}, 403, "Referer checking failed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.headers["X-CSRFToken"] = csrf
			resp, body := call(t, tester, "PATCH", httpsBase+"/x", c.headers, "")
			if c.status == 200 {
				if resp.StatusCode != 200 {
					t.Fatalf("status %d (%s)", resp.StatusCode, body)
				}
				return
			}
			assertProblem(t, resp, body, c.status, c.detail)
		})
	}
}

// TestSessionUserRemoval: a disabled user's session stops working. (That
// an expired session is refused is tested with a moved clock, without
// waiting: authenticators.TestSessionMaxAgeClock and
// TestSessionIdleTimeoutClock.)
func TestSessionUserRemoval(t *testing.T) {
	up := newUpstream(t)
	// A disabled user's session stops working.
	browser := startCaddy(t, siteConfig(t, "", up.addr()))
	sessionLogin(t, browser, httpBase, "bob", bobPassword)
	config := strings.ReplaceAll(siteConfig(t, "", up.addr()), testdataPath(t, "users.json"), testdataPath(t, "users_bob_disabled.json"))
	startCaddy(t, config) // same store, bob now disabled
	resp, body := call(t, browser, "GET", httpBase+"/x", nil, "")
	assertProblem(t, resp, body, http.StatusUnauthorized, "no longer exists or is disabled")
}

// TestSessionLoginProtections: a login from a foreign page is refused
// (login CSRF), and an ended session's cookie does not block a new login.
func TestSessionLoginProtections(t *testing.T) {
	up := newUpstream(t)
	tester := startCaddy(t, siteConfig(t, "", up.addr()))
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": "https://evil.example"}
	resp, body := call(t, tester, "POST", httpBase+"/@session", form, "username=alice&password="+alicePassword)
	assertProblem(t, resp, body, http.StatusForbidden, "Origin checking failed")

	resp, body = call(t, tester, "POST", httpBase+"/@session",
		map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Cookie": "sessionid=ended-long-ago"},
		"username=alice&password="+alicePassword)
	if resp.StatusCode != 200 {
		t.Fatalf("login with a stale session cookie: %d %s", resp.StatusCode, body)
	}
	resp, body = call(t, tester, "POST", httpBase+"/@login",
		map[string]string{"Content-Type": "application/json", "Cookie": "sessionid=ended-long-ago"},
		`{"login":"alice","password":"`+alicePassword+`"}`)
	if resp.StatusCode != 200 {
		t.Fatalf("@login with a stale session cookie: %d %s", resp.StatusCode, body)
	}
	// Elsewhere the stale cookie is still a 401.
	resp, body = call(t, tester, "GET", httpBase+"/x", map[string]string{"Cookie": "sessionid=ended-long-ago"}, "")
	assertProblem(t, resp, body, http.StatusUnauthorized, "")
}

package integration

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// browserAccept is the Accept header of a Chromium page load.
const browserAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"

// TestLoginPageRedirects: with login_page, a browser navigation without a
// credential is sent to the sign-in page; API clients, unsafe methods and
// invalid credentials keep their 401, and what anonymous users may read
// is served.
func TestLoginPageRedirects(t *testing.T) {
	up := newUpstream(t)
	for _, tc := range []struct {
		name, options, method, accept, auth string
		status                              int
		location                            string
	}{
		{"navigation", "login_page", "GET", browserAccept, "", 303, "/@signin?next=%2Fdocs%2Fpage%3Fa%3D1"},
		{"HEAD navigation", "login_page", "HEAD", browserAccept, "", 303, "/@signin?next=%2Fdocs%2Fpage%3Fa%3D1"},
		{"own path", "login_page /signin", "GET", browserAccept, "", 303, "/signin?next=%2Fdocs%2Fpage%3Fa%3D1"},
		{"endpoints prefix", "login_page\n\t\tendpoints /api", "GET", browserAccept, "", 303, "/api/@signin?next=%2Fdocs%2Fpage%3Fa%3D1"},
		{"JSON client", "login_page", "GET", "application/json", "", 401, ""},
		{"curl", "login_page", "GET", "*/*", "", 401, ""},
		{"form post", "login_page", "POST", browserAccept, "", 401, ""},
		{"wrong password", "login_page", "GET", browserAccept, withBasic("alice", "wrong")["Authorization"], 401, ""},
		{"signed in", "login_page", "GET", browserAccept, withBasic("alice", alicePassword)["Authorization"], 200, ""},
		{"anonymous read", "login_page\n\t\tanonymous read", "GET", browserAccept, "", 200, ""},
		{"anonymous read, write", "login_page\n\t\tanonymous read", "POST", browserAccept, "", 401, ""},
		{"off", "", "GET", browserAccept, "", 401, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			startCaddy(t, siteConfig(t, tc.options, up.addr()))
			req, err := http.NewRequest(tc.method, httpBase+"/docs/page?a=1", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Accept", tc.accept)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp := noRedirects(t, req)
			if resp.StatusCode != tc.status || resp.Header.Get("Location") != tc.location {
				t.Errorf("got %d Location %q, want %d %q", resp.StatusCode, resp.Header.Get("Location"), tc.status, tc.location)
			}
		})
	}
}

// TestLoginPageEndedSession: a browser whose session ended is sent to sign
// in again, and told to drop the dead cookies; unless anonymous users may
// read the page (then the ended session is a 401, as without login_page).
func TestLoginPageEndedSession(t *testing.T) {
	up := newUpstream(t)
	for _, tc := range []struct {
		name, options string
		status        int
		location      string
	}{
		{"protected", "login_page", 303, "/@signin?next=%2Fdocs"},
		{"anonymous read", "login_page\n\t\tanonymous read", 401, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tester := startCaddy(t, siteConfig(t, tc.options, up.addr()))
			resp, _ := call(t, tester, "POST", httpBase+"/@session", map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
				url.Values{"username": {"alice"}, "password": {alicePassword}}.Encode())
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("POST @session: %d", resp.StatusCode)
			}
			cookies := resp.Cookies()
			csrf := ""
			for _, c := range cookies {
				if c.Name == "csrftoken" {
					csrf = c.Value
				}
			}
			resp, _ = call(t, tester, "DELETE", httpBase+"/@session", map[string]string{"X-CSRFToken": csrf}, "")
			if resp.StatusCode != http.StatusNoContent {
				t.Fatalf("DELETE @session: %d", resp.StatusCode)
			}
			req, err := http.NewRequest("GET", httpBase+"/docs", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Accept", browserAccept)
			for _, c := range cookies {
				req.AddCookie(c)
			}
			resp = noRedirects(t, req)
			if resp.StatusCode != tc.status || resp.Header.Get("Location") != tc.location {
				t.Fatalf("ended session: %d %q, want %d %q", resp.StatusCode, resp.Header.Get("Location"), tc.status, tc.location)
			}
			if set := strings.Join(resp.Header.Values("Set-Cookie"), "\n"); !strings.Contains(set, "sessionid=;") {
				t.Errorf("the dead session cookie is not expired: %q", set)
			}
			if up.count() != 0 {
				t.Errorf("the upstream was called %d times", up.count())
			}
		})
	}
}

// noRedirects sends req and returns the response without following a
// redirect.
func noRedirects(t *testing.T, req *http.Request) *http.Response {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// TestLoginPageUnderHandlePath: under handle_path /app/*, the sign-in page
// is reached at /app/@signin, and the redirect and the form say so.
func TestLoginPageUnderHandlePath(t *testing.T) {
	up := newUpstream(t)
	config := strings.Replace(siteConfig(t, "login_page", up.addr()), "\trest_auth {", "\thandle_path /app/* {\n\trest_auth {", 1)
	config = strings.Replace(config, "\treverse_proxy "+up.addr()+"\n}", "\treverse_proxy "+up.addr()+"\n\t}\n}", 1)
	startCaddy(t, config)
	req, err := http.NewRequest("GET", httpBase+"/app/docs/page?a=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", browserAccept)
	resp := noRedirects(t, req)
	if want := "/app/@signin?next=%2Fapp%2Fdocs%2Fpage%3Fa%3D1"; resp.StatusCode != 303 || resp.Header.Get("Location") != want {
		t.Fatalf("got %d Location %q, want 303 %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}
	page, err := http.Get(httpBase + resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	defer page.Body.Close()
	body := new(strings.Builder)
	_, _ = io.Copy(body, page.Body)
	if page.StatusCode != 200 || !strings.Contains(body.String(), `action="/app/@signin"`) || !strings.Contains(body.String(), `href="/app/@account/style.css"`) {
		t.Fatalf("sign-in page under /app: %d\n%s", page.StatusCode, body)
	}
}

// TestLoginPageStaleJWTCookie: a browser that still sends a revoked JWT
// cookie is sent to sign in and told to drop the cookie, so that after
// signing in (a session) it is not sent back to the sign-in page forever.
func TestLoginPageStaleJWTCookie(t *testing.T) {
	up := newUpstream(t)
	tester := startCaddy(t, siteConfig(t, "login_page\n\t\tjwt {\n\t\t\tcookie access_token\n\t\t}", up.addr()))
	token := login(t, tester, httpBase, "alice", alicePassword)
	if resp, body := call(t, tester, "POST", httpBase+"/@logout", bearer(token), ""); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("@logout: %d %s", resp.StatusCode, body)
	}
	req, err := http.NewRequest("GET", httpBase+"/docs/page", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", browserAccept)
	req.Header.Set("Cookie", "access_token="+token)
	resp := noRedirects(t, req)
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/@signin?") {
		t.Fatalf("got %d Location %q, want 303 to the sign-in page", resp.StatusCode, resp.Header.Get("Location"))
	}
	expired := false
	for _, c := range resp.Cookies() {
		if c.Name == "access_token" && c.MaxAge < 0 {
			expired = true
		}
	}
	if !expired {
		t.Fatalf("the redirect does not expire the revoked token cookie: %q", resp.Header["Set-Cookie"])
	}
}

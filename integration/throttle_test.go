package integration

import (
	"bufio"
	"encoding/base64"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

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
			tester := startCaddy(t, siteConfig(t, "order url_params dotauth basic jwt token session\n\t\tthrottle {\n\t\t\tper_user_address 5\n\t\t\twindow 15m\n\t\t\tlockout 10m\n\t\t}", up.addr()))
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

// basicFrom sends a Basic request as a client at addr (through the trusted
// loopback proxy's X-Forwarded-For).
func basicFrom(t *testing.T, tester *caddytest.Tester, addr, user, password string) (*http.Response, string) {
	t.Helper()
	h := withBasic(user, password)
	h["X-Forwarded-For"] = addr
	return call(t, tester, "GET", httpBase+"/x", h, "")
}

// assertLockedOut checks a 429 problem naming who is locked out, with a
// Retry-After of about the 10m lockout.
func assertLockedOut(t *testing.T, resp *http.Response, body, who string) {
	t.Helper()
	assertProblem(t, resp, body, http.StatusTooManyRequests, "Too many failed logins for "+who+";")
	if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 590 || ra > 600 {
		t.Errorf("Retry-After = %q, want about 600 seconds", resp.Header.Get("Retry-After"))
	}
}

// TestThrottleLockoutIsPerUserAndAddress: wrong passwords for alice from an
// attacker's address lock alice out from that address only; alice logs in
// from her own address, the attacker's address stays locked, and only the
// much higher per-user ceiling locks alice out everywhere.
func TestThrottleLockoutIsPerUserAndAddress(t *testing.T) {
	up := newUpstream(t)
	config := siteConfig(t, "throttle {\n\t\t\tper_user_address 3\n\t\t\tper_user 7\n\t\t\tper_address 20\n\t\t\tlockout 10m\n\t\t}", up.addr())
	tester := startCaddy(t, globalWithClientIPHeader+config[len(globalOptions):])
	const attacker, alicesAddress = "203.0.113.66", "198.51.100.7"

	for i := 0; i < 3; i++ {
		resp, body := basicFrom(t, tester, attacker, "alice", "wrong")
		assertProblem(t, resp, body, http.StatusUnauthorized, "Invalid username or password.")
	}
	resp, body := basicFrom(t, tester, attacker, "alice", alicePassword)
	assertLockedOut(t, resp, body, "this user from this address")

	resp, body = basicFrom(t, tester, alicesAddress, "alice", alicePassword)
	assertUpstream(t, up, resp, body, "alice", "editor,member")

	resp, body = basicFrom(t, tester, attacker, "alice", alicePassword)
	assertLockedOut(t, resp, body, "this user from this address")
	// The lockout is for alice only: the attacker's address is not blocked.
	resp, body = basicFrom(t, tester, attacker, "bob", bobPassword)
	assertUpstream(t, up, resp, body, "bob", "viewer")

	// Guessing spread over many addresses meets the per-user ceiling (7
	// here; alice's success above cleared her earlier failures).
	for i := 1; i <= 7; i++ {
		resp, body := basicFrom(t, tester, "192.0.2."+strconv.Itoa(i), "alice", "wrong")
		assertProblem(t, resp, body, http.StatusUnauthorized, "Invalid username or password.")
	}
	resp, body = basicFrom(t, tester, alicesAddress, "alice", alicePassword)
	assertLockedOut(t, resp, body, "this user")
	resp, body = basicFrom(t, tester, "192.0.2.1", "bob", bobPassword)
	assertUpstream(t, up, resp, body, "bob", "viewer")
}

// TestThrottlePerAddress: failures from one address across many user names
// lock that address out; other addresses are unaffected.
func TestThrottlePerAddress(t *testing.T) {
	up := newUpstream(t)
	config := siteConfig(t, "throttle {\n\t\t\tper_address 3\n\t\t\tlockout 10m\n\t\t}", up.addr())
	tester := startCaddy(t, globalWithClientIPHeader+config[len(globalOptions):])
	const attacker = "203.0.113.66"
	for _, u := range []string{"u1", "u2", "u3"} {
		resp, body := basicFrom(t, tester, attacker, u, "x")
		assertProblem(t, resp, body, http.StatusUnauthorized, "")
	}
	resp, body := basicFrom(t, tester, attacker, "bob", bobPassword)
	assertLockedOut(t, resp, body, "this address")
	resp, body = basicFrom(t, tester, "198.51.100.7", "bob", bobPassword)
	assertUpstream(t, up, resp, body, "bob", "viewer")
}

// TestThrottleBadConfigFailsAtLoad: nonsense throttle limits stop the
// config from loading.
func TestThrottleBadConfigFailsAtLoad(t *testing.T) {
	assertConfigErrors(t, []configCase{
		{"zero", "throttle {\n\t\t\tper_user_address 0\n\t\t}", `throttle: per_user_address must be a positive whole number, not "0"`},
		{"not a number", "throttle {\n\t\t\tper_address many\n\t\t}", `throttle: per_address must be a positive whole number, not "many"`},
		{"ceiling under the per-address limit", "throttle {\n\t\t\tper_user_address 10\n\t\t\tper_user 5\n\t\t}", "throttle: per_user (5) must not be lower than per_user_address (10)"},
		{"old name", "throttle {\n\t\t\tmax_failures 5\n\t\t}", "throttle: max_failures was replaced by per_user_address"},
		{"bad window", "throttle {\n\t\t\twindow -1m\n\t\t}", `throttle: window must be a positive duration, not "-1m"`},
	})
}

// halfClosedBasic sends GET /x with alice's Basic credential over a
// connection of its own, closes the connection's write side at once (Go's
// server then cancels the request's context, and still answers), and
// returns the status of the answer.
func halfClosedBasic(t *testing.T, password string) int {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(httpBase, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	req := "GET /x HTTP/1.1\r\nHost: localhost\r\nAuthorization: " + withBasic("alice", password)["Authorization"] + "\r\n\r\n"
	if _, err := conn.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the answer to a half-closed request: %v", err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

// TestThrottleCountsHalfClosedGuesses: a client that half-closes its
// connection after each guess (found by an attack probe: its guesses went
// uncounted, and its right password got a 200 through a lockout) is
// throttled like any other. With bolt, whose operations honour a
// cancelled context.
func TestThrottleCountsHalfClosedGuesses(t *testing.T) {
	up := newUpstream(t)
	memory := "store memory {\n\t\t\tname " + storeName(t) + "\n\t\t}"
	config := siteConfig(t, "", up.addr())
	if !strings.Contains(config, memory) {
		t.Fatal("siteConfig no longer has its memory store block: update this test")
	}
	tester := startCaddy(t, strings.ReplaceAll(config, memory, "store bolt "+filepath.Join(t.TempDir(), "restauth.db")))
	if resp, body := call(t, tester, "GET", httpBase+"/x", withBasic("alice", alicePassword), ""); resp.StatusCode != 200 {
		t.Fatalf("alice's password, to cache it: %d %s", resp.StatusCode, body)
	}
	for i := range 5 {
		if got := halfClosedBasic(t, "wrong"); got != http.StatusUnauthorized {
			t.Fatalf("half-closed wrong guess %d: %d, want 401", i+1, got)
		}
	}
	for _, pw := range []string{"wrong", alicePassword} {
		if got := halfClosedBasic(t, pw); got != http.StatusTooManyRequests {
			t.Errorf("half-closed request after 5 half-closed failures: %d, want 429", got)
		}
	}
	resp, body := call(t, tester, "GET", httpBase+"/x", withBasic("alice", alicePassword), "")
	assertProblem(t, resp, body, http.StatusTooManyRequests, "Too many failed logins for this user from this address;")
}

// TestThrottleCountsAddressesAsOne: behind a trusted proxy, an IPv4
// client written as IPv4-mapped IPv6 is the same address, and an IPv6
// client is counted by its /64, so neither respelling nor rotating the
// interface part escapes the per-address limits (found by the attack
// probe); another /64 is another address.
func TestThrottleCountsAddressesAsOne(t *testing.T) {
	up := newUpstream(t)
	config := siteConfig(t, "throttle {\n\t\t\tper_user_address 3\n\t\t\tlockout 10m\n\t\t}", up.addr())
	tester := startCaddy(t, globalWithClientIPHeader+config[len(globalOptions):])
	for _, tc := range []struct {
		name      string
		guesses   []string
		then      string
		elsewhere string
	}{
		{"IPv4, also IPv4-mapped", []string{"::ffff:203.0.113.66", "203.0.113.66", "::ffff:cb00:7142"}, "203.0.113.66", "203.0.113.67"},
		{"IPv6 /64", []string{"2001:db8:1:2::a", "2001:db8:1:2::b", "2001:db8:1:2:ffff::c"}, "2001:db8:1:2::d", "2001:db8:1:3::a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, addr := range tc.guesses {
				resp, body := basicFrom(t, tester, addr, "alice", "wrong")
				assertProblem(t, resp, body, http.StatusUnauthorized, "Invalid username or password.")
			}
			resp, body := basicFrom(t, tester, tc.then, "alice", alicePassword)
			assertLockedOut(t, resp, body, "this user from this address")
			resp, body = basicFrom(t, tester, tc.elsewhere, "alice", alicePassword)
			assertUpstream(t, up, resp, body, "alice", "editor,member")
		})
	}
}

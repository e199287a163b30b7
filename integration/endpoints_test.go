package integration

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestMeEndpoint(t *testing.T) {
	up := newUpstream(t)
	tester := startCaddy(t, siteConfig(t, "", up.addr()))

	resp, body := call(t, tester, "GET", httpBase+"/@me", withBasic("alice", alicePassword), "")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d type %q body %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	var me struct {
		User   string   `json:"user"`
		Roles  []string `json:"roles"`
		Method string   `json:"method"`
	}
	if err := json.Unmarshal([]byte(body), &me); err != nil {
		t.Fatal(err)
	}
	if me.User != "alice" || len(me.Roles) != 2 || me.Method != "basic" {
		t.Errorf("@me = %+v", me)
	}
	if up.count() != 0 {
		t.Error("@me was passed to the upstream")
	}

	resp, body = call(t, tester, "GET", httpBase+"/@me", nil, "")
	assertProblem(t, resp, body, http.StatusUnauthorized, "Authentication credentials were not provided.")
	resp, body = call(t, tester, "GET", httpBase+"/@me", withBasic("alice", "bad"), "")
	assertProblem(t, resp, body, http.StatusUnauthorized, "Invalid username or password.")
	resp, body = call(t, tester, "POST", httpBase+"/@me", withBasic("alice", alicePassword), "")
	assertProblem(t, resp, body, http.StatusMethodNotAllowed, "")
	if resp.Header.Get("Allow") == "" {
		t.Error("405 without Allow")
	}
}

func TestEndpointsPrefix(t *testing.T) {
	up := newUpstream(t)
	tester := startCaddy(t, siteConfig(t, "endpoints /api", up.addr()))
	resp, body := call(t, tester, "GET", httpBase+"/api/@me", withBasic("bob", bobPassword), "")
	if resp.StatusCode != 200 {
		t.Fatalf("/api/@me: status %d (%s)", resp.StatusCode, body)
	}
	// Outside the prefix, @me is an ordinary path that goes upstream.
	resp, _ = call(t, tester, "GET", httpBase+"/@me", withBasic("bob", bobPassword), "")
	if resp.StatusCode != 200 || up.count() != 1 {
		t.Fatalf("/@me outside the prefix: status %d, upstream hits %d", resp.StatusCode, up.count())
	}
}

// TestEndpointsRefuseLargeBodies: every endpoint answers 413 to a body over
// 64 KiB, whatever its content type, and a body just under the limit is
// not refused for its size.
func TestEndpointsRefuseLargeBodies(t *testing.T) {
	up := newUpstream(t)
	tester := startCaddy(t, siteConfig(t, "", up.addr()))
	form := "username=alice&password=" + alicePassword + "&pad="
	bodies := map[string]func(size int) string{
		"application/json":                  func(n int) string { return `{"pad":"` + strings.Repeat("a", n) + `"}` },
		"application/x-www-form-urlencoded": func(n int) string { return form + strings.Repeat("a", n) },
		"multipart/form-data; boundary=b": func(n int) string {
			return "--b\r\nContent-Disposition: form-data; name=\"pad\"\r\n\r\n" + strings.Repeat("a", n) + "\r\n--b--\r\n"
		},
		"text/plain": func(n int) string { return strings.Repeat("a", n) },
		"":           func(n int) string { return strings.Repeat("a", n) },
	}
	endpoints := []string{"/@login", "/@login-renew", "/@logout", "/@session", "/@tokens", "/@tokens/x", "/@me", "/@jwks", "/.well-known/jwks.json"}
	for _, path := range endpoints {
		for contentType, body := range bodies {
			t.Run(path+" "+contentType, func(t *testing.T) {
				h := withBasic("alice", alicePassword)
				if contentType != "" {
					h["Content-Type"] = contentType
				}
				resp, got := call(t, tester, "POST", httpBase+path, h, body(70<<10))
				assertProblem(t, resp, got, http.StatusRequestEntityTooLarge, "larger than 64 KiB")
				if resp, got := call(t, tester, "POST", httpBase+path, h, body(60<<10)); resp.StatusCode == http.StatusRequestEntityTooLarge {
					t.Errorf("60 KiB body: %d %s", resp.StatusCode, got)
				}
			})
		}
	}
	if up.count() != 0 {
		t.Error("an endpoint request reached the upstream")
	}
}

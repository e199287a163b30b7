package restauth

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/caddy-restauth/caddy-restauth/internal/redistest"
)

// redisSite is a site on the process's port whose store is the redis
// server srv, with every authenticator on and generated keys (kept in
// redis, so shared by every process).
func redisSite(t *testing.T, up *upstream, srv *redistest.Server) string {
	return `http://127.0.0.1:{HTTP_PORT} {
	rest_auth {
		users_file ` + testdataPath(t, "users.json") + `
		order basic jwt token session
		jwt
		token
		store redis {
			address ` + srv.Addr() + `
		}
	}
	reverse_proxy ` + up.addr() + `
}
`
}

// processRequest sends a request to p with the given headers.
func processRequest(t *testing.T, p *caddyProcess, method, path string, headers map[string]string, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, p.BaseURL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", method, path, err, p.Log())
	}
	defer resp.Body.Close()
	var sb strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp, sb.String()
}

// TestRedisTwoProcesses: two Caddy processes sharing one redis agree on
// tokens, JWT logouts, sessions and failed-login counts.
func TestRedisTwoProcesses(t *testing.T) {
	srv := redistest.Start(t)
	up := newUpstream(t)
	a := newCaddyProcess(t, redisSite(t, up, srv))
	a.Start()
	b := newCaddyProcess(t, redisSite(t, up, srv))
	b.Start()

	t.Run("token made on A works on B", func(t *testing.T) {
		tok := provisionInProcess(t, a)
		useToken(t, b, tok.Key, 200)
		status, body := tokenProcessCall(t, a, "DELETE", "/@tokens/"+tok.ID, "Token "+tok.Key, "")
		if status != http.StatusNoContent {
			t.Fatalf("DELETE on A: %d %s", status, body)
		}
		useToken(t, a, tok.Key, 401)
		deadline := time.Now().Add(time.Second)
		for {
			status, _ := tokenProcessCall(t, b, "GET", "/api/items", "Token "+tok.Key, "")
			if status == http.StatusUnauthorized {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("token deleted on A still %d on B after 1s", status)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})

	t.Run("JWT logged out on A is 401 on B within 1s", func(t *testing.T) {
		resp, body := processRequest(t, a, "POST", "/@login", map[string]string{"Content-Type": "application/json"},
			`{"login":"alice","password":"`+alicePassword+`"}`)
		if resp.StatusCode != 200 {
			t.Fatalf("@login on A: %d %s", resp.StatusCode, body)
		}
		token := strings.Split(strings.Split(body, `"token":"`)[1], `"`)[0]
		if resp, body := processRequest(t, b, "GET", "/items", bearer(token), ""); resp.StatusCode != 200 {
			t.Fatalf("JWT from A on B: %d %s", resp.StatusCode, body)
		}
		if resp, body := processRequest(t, a, "POST", "/@logout", bearer(token), ""); resp.StatusCode != http.StatusNoContent {
			t.Fatalf("@logout on A: %d %s", resp.StatusCode, body)
		}
		deadline := time.Now().Add(time.Second)
		for {
			resp, _ := processRequest(t, b, "GET", "/items", bearer(token), "")
			if resp.StatusCode == http.StatusUnauthorized {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("JWT logged out on A still %d on B after 1s", resp.StatusCode)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})

	t.Run("session made on A works on B", func(t *testing.T) {
		form := url.Values{"username": {"alice"}, "password": {alicePassword}}.Encode()
		resp, body := processRequest(t, a, "POST", "/@session", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, form)
		if resp.StatusCode != 200 {
			t.Fatalf("@session on A: %d %s", resp.StatusCode, body)
		}
		sid := cookieNamed(resp, "sessionid")
		if sid == nil {
			t.Fatalf("no sessionid cookie from A: %v", resp.Cookies())
		}
		cookie := map[string]string{"Cookie": "sessionid=" + sid.Value}
		if resp, body := processRequest(t, b, "GET", "/items", cookie, ""); resp.StatusCode != 200 {
			t.Fatalf("session from A on B: %d %s", resp.StatusCode, body)
		}
		csrf := cookieNamed(resp, "csrftoken")
		if csrf == nil {
			t.Fatalf("no csrftoken cookie from A: %v", resp.Cookies())
		}
		logout := map[string]string{"Cookie": "sessionid=" + sid.Value + "; csrftoken=" + csrf.Value, "X-CSRFToken": csrf.Value}
		if resp, body := processRequest(t, b, "DELETE", "/@session", logout, ""); resp.StatusCode/100 != 2 {
			t.Fatalf("DELETE @session on B: %d %s", resp.StatusCode, body)
		}
		deadline := time.Now().Add(time.Second)
		for {
			resp, _ := processRequest(t, a, "GET", "/items", cookie, "")
			if resp.StatusCode == http.StatusUnauthorized {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("session ended on B still %d on A after 1s", resp.StatusCode)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})

	t.Run("6th failed login split across A and B is 429", func(t *testing.T) {
		for i, p := range []*caddyProcess{a, b, a, b, a} {
			if resp, body := processRequest(t, p, "GET", "/items", withBasic("bob", "wrong"), ""); resp.StatusCode != 401 {
				t.Fatalf("failure %d: %d %s", i+1, resp.StatusCode, body)
			}
		}
		resp, body := processRequest(t, b, "GET", "/items", withBasic("bob", "wrong"), "")
		if resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("6th failure on B: %d %s, want 429", resp.StatusCode, body)
		}
	})
}

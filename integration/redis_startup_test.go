package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/caddy-restauth/caddy-restauth/internal/redistest"
)

// TestRedisDownAtStart: Caddy loads (and reloads) while Redis is down.
// Basic auth works; every path that needs the store (the generated JWT
// key, API tokens, sessions) answers 503 until Redis is up, and then works
// without a reload.
func TestRedisDownAtStart(t *testing.T) {
	srv := redistest.Reserve(t) // Redis is not running yet
	up := newUpstream(t)
	chain := "basic\n\t\tjwt%s\n\t\ttoken\n\t\tsession"
	tester := startCaddy(t, redisSiteConfig(t, srv, fmt.Sprintf(chain, ""), up.addr()))
	alice := withBasic("alice", alicePassword)

	assertOutage := func(when string) {
		t.Helper()
		if resp, body := call(t, tester, "GET", httpBase+"/items", alice, ""); resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: Basic with redis down: %d %s", when, resp.StatusCode, body)
		}
		if resp, body := call(t, tester, "GET", httpBase+"/items", withBasic("alice", "wrong"), ""); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%s: a wrong Basic password with redis down: %d %s, want 401", when, resp.StatusCode, body)
		}
		for _, c := range []struct {
			name, method, path string
			headers            map[string]string
			body               string
		}{
			{"JWT login", "POST", "/@login", jsonHeaders(nil), `{"login":"alice","password":"` + alicePassword + `"}`},
			{"a JWT", "GET", "/items", bearer(sign(t, jwt.SigningMethodHS256, []byte("x"), map[string]any{"kid": "x"}, jwt.MapClaims{"sub": "alice", "exp": time.Now().Add(time.Hour).Unix()})), ""},
			{"token creation", "POST", "/@tokens", jsonHeaders(alice), `{}`},
			{"an API token", "GET", "/items", withToken("rat_AAAAAAAAAAAA." + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), ""},
			{"session login", "POST", "/@session", jsonHeaders(nil), `{"username":"alice","password":"` + alicePassword + `"}`},
			{"a session", "GET", "/items", map[string]string{"Cookie": "sessionid=abc"}, ""},
		} {
			resp, body := call(t, tester, c.method, httpBase+c.path, c.headers, c.body)
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Fatalf("%s: %s with redis down: %d %s, want 503", when, c.name, resp.StatusCode, body)
			}
			assertProblem(t, resp, body, http.StatusServiceUnavailable, "")
		}
	}
	assertOutage("after start")

	// A reload during the outage succeeds too (a changed config, so that
	// Caddy really loads it: tokens now live one hour).
	reloaded := redisSiteConfig(t, srv, fmt.Sprintf(chain, " {\n\t\t\tttl 1h\n\t\t}"), up.addr())
	tester.InitServer(reloaded, "caddyfile")
	if t.Failed() {
		t.Fatal("reloading while redis is down failed")
	}
	assertOutage("after a reload")

	// Redis comes up: no reload, the store-dependent paths just work.
	srv.Restart()
	var token string
	eventually(t, 10*time.Second, func() (bool, string) {
		resp, body := call(t, tester, "POST", httpBase+"/@login", jsonHeaders(nil), `{"login":"alice","password":"`+alicePassword+`"}`)
		if resp.StatusCode != http.StatusOK {
			return false, "JWT login after redis came up: " + resp.Status + " " + body
		}
		var out struct{ Token string }
		_ = json.Unmarshal([]byte(body), &out)
		token = out.Token
		return true, ""
	})
	if _, claims := tokenParts(t, token); claims["exp"].(float64)-claims["iat"].(float64) != 3600 {
		t.Errorf("token lifetime %v s, want the reloaded config's 1h", claims["exp"].(float64)-claims["iat"].(float64))
	}
	if resp, body := call(t, tester, "GET", httpBase+"/items", bearer(token), ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("the JWT after redis came up: %d %s", resp.StatusCode, body)
	}
	tok := createToken(t, tester, alice, `{}`)
	if resp, body := call(t, tester, "GET", httpBase+"/items", withToken(tok.Key), ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("the API token after redis came up: %d %s", resp.StatusCode, body)
	}
	if resp := sessionLogin(t, tester, httpBase, "alice", alicePassword); resp.StatusCode != http.StatusOK {
		t.Fatalf("session login after redis came up: %d", resp.StatusCode)
	}
	if resp, body := call(t, tester, "GET", httpBase+"/items", nil, ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("the session after redis came up: %d %s", resp.StatusCode, body)
	}
	// The generated secrets were created in Redis on first need.
	keys, err := srv.Client().Keys(t.Context(), storeName(t)+":*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) == 0 {
		t.Error("nothing was stored in redis")
	}
}

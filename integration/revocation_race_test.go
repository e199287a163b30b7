package integration

import (
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/caddyserver/caddy/v2/caddytest"

	"github.com/caddy-restauth/caddy-restauth/internal/redistest"
)

// raceAnswer is one response of raceRequests.
type raceAnswer struct {
	status int
	body   string
}

// raceRequests sends n copies of one request at once (every goroutine
// waits for the same start signal) and returns the answers.
func raceRequests(t *testing.T, tester *caddytest.Tester, n int, method, url string, headers map[string]string) []raceAnswer {
	t.Helper()
	answers := make([]raceAnswer, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			req, err := http.NewRequest(method, url, nil)
			if err != nil {
				errs[i] = err
				return
			}
			for k, v := range headers {
				req.Header.Set(k, v)
			}
			<-start
			resp, err := tester.Client.Do(req)
			if err != nil {
				errs[i] = err
				return
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			answers[i], errs[i] = raceAnswer{resp.StatusCode, string(body)}, err
		})
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("%s %s: %v", method, url, err)
		}
	}
	return answers
}

// countStatuses counts the answers by status.
func countStatuses(answers []raceAnswer) map[int]int {
	counts := make(map[int]int)
	for _, a := range answers {
		counts[a.status]++
	}
	return counts
}

// TestConcurrentRenewForksNoToken: of 20 simultaneous @login-renew of one
// JWT exactly one gets a new token, the others 401; likewise one of 20
// simultaneous @logout succeeds. With the memory and the redis store.
func TestConcurrentRenewForksNoToken(t *testing.T) {
	const n = 20
	jwtOptions := "jwt {\n\t\t\tkey hs256 " + hsSecret + "\n\t\t}"
	stores := []struct {
		name   string
		config func(t *testing.T, upstreamAddr string) string
	}{
		{"memory", func(t *testing.T, upstreamAddr string) string {
			return siteConfig(t, jwtOptions, upstreamAddr)
		}},
		{"redis", func(t *testing.T, upstreamAddr string) string {
			return redisSiteConfig(t, redistest.Start(t), jwtOptions, upstreamAddr)
		}},
	}
	for _, s := range stores {
		t.Run(s.name, func(t *testing.T) {
			up := newUpstream(t)
			tester := startCaddy(t, s.config(t, up.addr()))
			for round := range 3 {
				token := login(t, tester, httpBase, "alice", alicePassword)
				answers := raceRequests(t, tester, n, "POST", httpBase+"/@login-renew", bearer(token))
				if c := countStatuses(answers); c[http.StatusOK] != 1 || c[http.StatusUnauthorized] != n-1 {
					t.Fatalf("round %d: %d concurrent renewals answered %v, want one 200 and %d × 401", round, n, c, n-1)
				}
				var renewed string
				for _, a := range answers {
					if a.status == http.StatusOK {
						var out struct{ Token string }
						if err := json.Unmarshal([]byte(a.body), &out); err != nil || out.Token == "" {
							t.Fatalf("renewal body %s: %v", a.body, err)
						}
						renewed = out.Token
					}
				}
				resp, body := call(t, tester, "GET", httpBase+"/items", bearer(token), "")
				assertInvalidToken(t, resp, body)
				if resp, body := call(t, tester, "GET", httpBase+"/items", bearer(renewed), ""); resp.StatusCode != http.StatusOK {
					t.Fatalf("the one renewed token: %d %s", resp.StatusCode, body)
				}

				answers = raceRequests(t, tester, n, "POST", httpBase+"/@logout", bearer(renewed))
				if c := countStatuses(answers); c[http.StatusNoContent] != 1 || c[http.StatusUnauthorized] != n-1 {
					t.Fatalf("round %d: %d concurrent logouts answered %v, want one 204 and %d × 401", round, n, c, n-1)
				}
				resp, body = call(t, tester, "GET", httpBase+"/items", bearer(renewed), "")
				assertInvalidToken(t, resp, body)
			}
		})
	}
}

// TestConcurrentTokenRevoke: two simultaneous DELETEs of one API token:
// one 204, one 404, and the token is gone.
func TestConcurrentTokenRevoke(t *testing.T) {
	up := newUpstream(t)
	tester := startCaddy(t, siteConfig(t, "", up.addr()))
	alice := withBasic("alice", alicePassword)
	for round := range 3 {
		tok := createToken(t, tester, alice, `{}`)
		answers := raceRequests(t, tester, 2, "DELETE", httpBase+"/@tokens/"+tok.ID, alice)
		if c := countStatuses(answers); c[http.StatusNoContent] != 1 || c[http.StatusNotFound] != 1 {
			t.Fatalf("round %d: two concurrent DELETEs answered %v, want one 204 and one 404", round, c)
		}
		resp, body := call(t, tester, "GET", httpBase+"/items", withToken(tok.Key), "")
		assertProblem(t, resp, body, http.StatusUnauthorized, "")
	}
}

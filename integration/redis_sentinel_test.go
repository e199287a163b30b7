package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-restauth/caddy-restauth/internal/redistest"
)

// loadCredential is one token, JWT or session of alice, as a client sends it.
type loadCredential struct {
	kind string // "token", "JWT", "session"
	// headers authenticate a request.
	headers map[string]string
	// revoke is the request that takes the credential away.
	revoke func(p *caddyProcess) (int, error)
}

// loadRecord is one request of the load: to which process, with which
// credential, when it was sent and what it got.
type loadRecord struct {
	process, cred int
	sent          time.Time
	status        int
}

// revocationRecord is when a process answered that a credential is gone.
type revocationRecord struct {
	process int
	at      time.Time
}

// TestRedisSentinelFailoverUnderLoad: two Caddy processes share a master
// watched by Sentinel, with revocations waiting for a replica. Under a
// stream of requests with API tokens, JWTs and sessions, the master is
// killed. No request sent after its credential was revoked (on the
// process that revoked it, or a second later on the other) is ever
// answered 200; the 503s of the failover stop by themselves; revocations
// made before and during the failover that were acknowledged still hold
// on both processes afterwards, and the other credentials work.
func TestRedisSentinelFailoverUnderLoad(t *testing.T) {
	t.Parallel() // Caddy processes of their own: runs beside the other process tests
	sentinel := redistest.StartSentinel(t)
	up := newUpstream(t)
	storeOptions := []string{"sentinel " + redistest.SentinelMaster + " " + strings.Join(sentinel.Addrs(), " "), "wait_replicas 1"}
	procs := []*caddyProcess{newCaddyProcess(t, redisSite(t, up, storeOptions...)), newCaddyProcess(t, redisSite(t, up, storeOptions...))}
	for _, p := range procs {
		p.Start()
	}

	// Three of each kind: revoked before the failover, during it, never.
	var creds []loadCredential
	for i := range 3 {
		p := procs[i%2]
		creds = append(creds, newTokenCredential(t, p), newJWTCredential(t, p), newSessionCredential(t, p))
	}
	const (
		before = iota
		during
		never
	)
	phase := func(cred int) int { return cred / 3 }

	var mu sync.Mutex
	var records []loadRecord
	revoked := map[int]revocationRecord{}
	markRevoked := func(cred, process int, at time.Time) {
		mu.Lock()
		defer mu.Unlock()
		if _, ok := revoked[cred]; !ok {
			revoked[cred] = revocationRecord{process, at}
		}
	}
	// revokeUntilDone revokes cred, retrying while the store is
	// unavailable, until a process acknowledges it or says it is gone.
	revokeUntilDone := func(cred int, deadline time.Time) {
		for attempt := 0; ; attempt++ {
			process := (cred + attempt) % 2
			status, err := creds[cred].revoke(procs[process])
			if err == nil && (status/100 == 2 || status == http.StatusUnauthorized || status == http.StatusNotFound) {
				markRevoked(cred, process, time.Now())
				return
			}
			if err == nil && status != http.StatusServiceUnavailable {
				t.Errorf("revoking %s %d: %d", creds[cred].kind, cred, status)
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("revoking %s %d: still %d, %v after the deadline", creds[cred].kind, cred, status, err)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	for cred := range creds {
		if phase(cred) == before {
			revokeUntilDone(cred, time.Now().Add(5*time.Second))
		}
	}

	// The load: every worker cycles through every credential on both
	// processes until stopped.
	stop := make(chan struct{})
	var workers sync.WaitGroup
	client := &http.Client{Timeout: 10 * time.Second}
	for w := range 4 {
		workers.Go(func() {
			for i := w; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				cred, process := i%len(creds), (i/len(creds))%2
				sent := time.Now()
				status, err := get(client, procs[process], "/items", creds[cred].headers)
				if err != nil {
					t.Errorf("GET with %s %d on process %d: %v", creds[cred].kind, cred, process, err)
					return
				}
				mu.Lock()
				records = append(records, loadRecord{process, cred, sent, status})
				mu.Unlock()
			}
		})
	}
	stopLoad := sync.OnceFunc(func() { close(stop); workers.Wait() })
	t.Cleanup(stopLoad)
	count := func(status int, since time.Time) int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, r := range records {
			if r.status == status && !r.sent.Before(since) {
				n++
			}
		}
		return n
	}
	started := time.Now()
	eventually(t, 5*time.Second, func() (bool, string) {
		return count(http.StatusOK, started) >= 20, "the load got no 200s"
	})

	old := sentinel.Master()
	killed := time.Now()
	old.Kill()
	var revokers sync.WaitGroup
	for cred := range creds {
		if phase(cred) == during {
			revokers.Go(func() { revokeUntilDone(cred, killed.Add(30*time.Second)) })
		}
	}
	sentinel.WaitFailover(old, 30*time.Second)
	failedOver := time.Since(killed)
	revokers.Wait()

	// The 503s stop by themselves: a whole second of load without one.
	var recovered time.Time
	eventually(t, 20*time.Second, func() (bool, string) {
		mu.Lock()
		last := killed
		for _, r := range records {
			if r.status == http.StatusServiceUnavailable && r.sent.After(last) {
				last = r.sent
			}
		}
		mu.Unlock()
		if time.Since(last) < time.Second {
			return false, "503s until " + last.Format(time.StampMilli)
		}
		recovered = last
		return count(http.StatusOK, last) > 0, "no 200 since the last 503"
	})
	stopLoad()
	unavailable := count(http.StatusServiceUnavailable, killed)
	t.Logf("failover in %v, last 503 %v after the kill, %d 503s, %d requests in all",
		failedOver.Round(time.Millisecond), recovered.Sub(killed).Round(time.Millisecond), unavailable, len(records))
	if unavailable == 0 {
		t.Error("no request got 503 while the master was down: did the load reach the store?")
	}

	// No revoked credential was ever let through.
	for _, r := range records {
		rev, ok := revoked[r.cred]
		if !ok || r.status != http.StatusOK {
			continue
		}
		grace := time.Duration(0)
		if r.process != rev.process {
			grace = time.Second // what the docs promise between processes
		}
		if r.sent.After(rev.at.Add(grace)) {
			t.Errorf("%s %d, revoked on process %d at %s, got 200 on process %d for a request sent %v later",
				creds[r.cred].kind, r.cred, rev.process, rev.at.Format(time.StampMilli), r.process, r.sent.Sub(rev.at))
		}
	}
	// After the failover: what was revoked stays revoked, the rest works.
	for cred, c := range creds {
		want := http.StatusUnauthorized
		if phase(cred) == never {
			want = http.StatusOK
		} else if _, ok := revoked[cred]; !ok {
			continue // reported above
		}
		for process, p := range procs {
			status, err := get(client, p, "/items", c.headers)
			if err != nil || status != want {
				t.Errorf("after the failover, %s %d on process %d: %d, %v; want %d", c.kind, cred, process, status, err, want)
			}
		}
	}
}

// get sends a GET to p and returns the status.
func get(client *http.Client, p *caddyProcess, path string, headers map[string]string) (int, error) {
	return send(client, p, "GET", path, headers, "")
}

// send is p.Do for goroutines: it returns transport errors instead of
// failing the test.
func send(client *http.Client, p *caddyProcess, method, path string, headers map[string]string, body string) (int, error) {
	req, err := http.NewRequest(method, p.BaseURL+path, strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, err
}

// newTokenCredential provisions an API token on p; revoking deletes it.
func newTokenCredential(t *testing.T, p *caddyProcess) loadCredential {
	tok := provisionInProcess(t, p)
	auth := withToken(tok.Key)
	return loadCredential{kind: "token", headers: auth, revoke: func(p *caddyProcess) (int, error) {
		return send(http.DefaultClient, p, "DELETE", "/@tokens/"+tok.ID, auth, "")
	}}
}

// newJWTCredential logs in on p; revoking logs out.
func newJWTCredential(t *testing.T, p *caddyProcess) loadCredential {
	resp, body := p.Do(t, "POST", "/@login", jsonHeaders(nil), `{"login":"alice","password":"`+alicePassword+`"}`)
	var out struct{ Token string }
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &out) != nil || out.Token == "" {
		t.Fatalf("@login: %d %s", resp.StatusCode, body)
	}
	auth := bearer(out.Token)
	return loadCredential{kind: "JWT", headers: auth, revoke: func(p *caddyProcess) (int, error) {
		return send(http.DefaultClient, p, "POST", "/@logout", auth, "")
	}}
}

// newSessionCredential starts a session on p; revoking ends it.
func newSessionCredential(t *testing.T, p *caddyProcess) loadCredential {
	form := url.Values{"username": {"alice"}, "password": {alicePassword}}.Encode()
	resp, body := p.Do(t, "POST", "/@session", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, form)
	sid, csrf := cookieNamed(resp, "sessionid"), cookieNamed(resp, "csrftoken")
	if resp.StatusCode != http.StatusOK || sid == nil || csrf == nil {
		t.Fatalf("@session: %d %s %v", resp.StatusCode, body, resp.Cookies())
	}
	logout := map[string]string{"Cookie": fmt.Sprintf("sessionid=%s; csrftoken=%s", sid.Value, csrf.Value), "X-CSRFToken": csrf.Value}
	return loadCredential{kind: "session", headers: map[string]string{"Cookie": "sessionid=" + sid.Value},
		revoke: func(p *caddyProcess) (int, error) {
			return send(http.DefaultClient, p, "DELETE", "/@session", logout, "")
		}}
}

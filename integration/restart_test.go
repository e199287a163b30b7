package integration

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddy-restauth/caddy-restauth/internal/poll"
)

// TestBuiltBinaryRestartAndReload runs the built Caddy binary, restarts it
// and reloads its config; Basic auth and the bolt store keep working.
func TestBuiltBinaryRestartAndReload(t *testing.T) {
	t.Parallel() // a Caddy process of its own: runs beside the other process tests
	up := newUpstream(t)
	p := newCaddyProcess(t, processSite(t, up, ""))
	p.Start()
	check := func(stage string) {
		t.Helper()
		req, _ := http.NewRequest("GET", p.BaseURL+"/x", nil)
		req.SetBasicAuth("alice", alicePassword)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", stage, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || up.received(t).Get("X-Remote-User") != "alice" {
			t.Fatalf("%s: status %d\n%s", stage, resp.StatusCode, p.Log())
		}
	}
	check("start")
	p.Reload()
	check("reload")
	p.Restart()
	check("restart")
}

// TestJWTSurvivesRestartAndReload runs the whole JWT flow through a built
// Caddy with the default bolt store and a generated key, restarting and
// reloading in between: tokens, the generated key and revocations persist.
func TestJWTSurvivesRestartAndReload(t *testing.T) {
	t.Parallel() // a Caddy process of its own: runs beside the other process tests
	up := newUpstream(t)
	p := newCaddyProcess(t, processSite(t, up, ""))
	p.Start()
	loginBody := `{"login":"alice","password":"` + alicePassword + `"}`
	resp, body := p.Do(t, "POST", "/@login", nil, loginBody)
	if resp.StatusCode != 200 {
		t.Fatalf("@login: %d %s", resp.StatusCode, body)
	}
	// The key is generated on first need (so that Caddy starts with the
	// store down), here the first login.
	if !strings.Contains(p.Log(), "generated an HS256 key") {
		t.Errorf("no log line about the generated key:\n%s", p.Log())
	}
	var first struct{ Token string }
	_ = json.Unmarshal([]byte(body), &first)
	expect := func(stage, token string, status int) {
		t.Helper()
		resp, body := p.Do(t, "GET", "/items", bearer(token), "")
		if resp.StatusCode != status {
			t.Fatalf("%s: status %d, want %d (%s)\n%s", stage, resp.StatusCode, status, body, p.Log())
		}
	}
	expect("call", first.Token, 200)

	p.Restart() // the generated key survives
	expect("after restart", first.Token, 200)

	resp, body = p.Do(t, "POST", "/@login-renew", bearer(first.Token), "")
	if resp.StatusCode != 200 {
		t.Fatalf("@login-renew: %d %s", resp.StatusCode, body)
	}
	var second struct{ Token string }
	_ = json.Unmarshal([]byte(body), &second)
	expect("old token after renew", first.Token, 401)

	p.Reload()
	expect("old token after reload", first.Token, 401)
	expect("new token after reload", second.Token, 200)

	resp, _ = p.Do(t, "POST", "/@logout", bearer(second.Token), "")
	if resp.StatusCode != 204 {
		t.Fatalf("@logout: %d", resp.StatusCode)
	}
	p.Restart() // the revocation survives
	expect("logged-out token after restart", second.Token, 401)
	if strings.Contains(p.Log(), alicePassword) {
		t.Error("the Caddy log contains the password")
	}
}

// TestSessionSurvivesRestartAndReload: sessions live in the bolt store.
func TestSessionSurvivesRestartAndReload(t *testing.T) {
	t.Parallel() // a Caddy process of its own: runs beside the other process tests
	up := newUpstream(t)
	p := newCaddyProcess(t, processSite(t, up, ""))
	p.Start()
	resp, body := p.Do(t, "POST", "/@session",
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, "username=bob&password="+bobPassword)
	if resp.StatusCode != 200 {
		t.Fatalf("@session: %d %s", resp.StatusCode, body)
	}
	var sid, csrf string
	for _, c := range resp.Cookies() {
		switch c.Name {
		case "sessionid":
			sid = c.Value
		case "csrftoken":
			csrf = c.Value
		}
	}
	cookies := map[string]string{"Cookie": "sessionid=" + sid, "X-CSRFToken": csrf}
	for _, stage := range []string{"start", "restart", "reload"} {
		switch stage {
		case "restart":
			p.Restart()
		case "reload":
			p.Reload()
		}
		resp, body := p.Do(t, "PATCH", "/x", cookies, "")
		if resp.StatusCode != 200 || up.received(t).Get("X-Remote-User") != "bob" {
			t.Fatalf("%s: %d %s\n%s", stage, resp.StatusCode, body, p.Log())
		}
	}
	resp, _ = p.Do(t, "DELETE", "/@session", cookies, "")
	if resp.StatusCode != 204 {
		t.Fatalf("DELETE @session: %d", resp.StatusCode)
	}
	p.Restart()
	if resp, _ := p.Do(t, "GET", "/x", cookies, ""); resp.StatusCode != 401 {
		t.Fatalf("ended session after restart: %d", resp.StatusCode)
	}
}

// TestValidateBesideRunningCaddy: `caddy validate` on the config of a
// running Caddy, whose bolt store file is open and locked, succeeds:
// provisioning never opens the file (it used to wait 5 s for the lock and
// fail with "restauth.db: timeout").
func TestValidateBesideRunningCaddy(t *testing.T) {
	up := newUpstream(t)
	p := newCaddyProcess(t, processSite(t, up, ""))
	p.Start()
	// A failed login writes a counter: the running Caddy holds the file.
	if resp, _ := p.Do(t, "GET", "/x", withBasic("alice", "wrong"), ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong password: status %d", resp.StatusCode)
	}
	cmd := exec.Command(p.bin, "validate", "--config", p.config, "--adapter", "caddyfile")
	cmd.Env = p.env()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("caddy validate beside a running Caddy: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "Valid configuration") {
		t.Errorf("caddy validate did not report a valid configuration:\n%s", out)
	}
	// Nothing opens the store while the config is only provisioned (the
	// JWT authenticator's reader of logouts used to, at once).
	if strings.Contains(string(out), "token store") {
		t.Errorf("caddy validate opened the store:\n%s", out)
	}
	if resp, _ := p.Do(t, "GET", "/x", withBasic("alice", alicePassword), ""); resp.StatusCode != http.StatusOK {
		t.Errorf("the running Caddy after validate: status %d\n%s", resp.StatusCode, p.Log())
	}
}

// TestValidateCreatesNoStoreFile: `caddy validate` of a config whose bolt
// file does not exist yet leaves it so, with jwt and session on.
func TestValidateCreatesNoStoreFile(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	path := filepath.Join(t.TempDir(), "new.db")
	p := newCaddyProcess(t, processSite(t, up, "store bolt "+path+"\n\t\tjwt\n\t\tsession"))
	cmd := exec.Command(p.bin, "validate", "--config", p.config, "--adapter", "caddyfile")
	cmd.Env = p.env()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("caddy validate: %v\n%s", err, out)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("caddy validate left %s behind (stat: %v)", path, err)
	}
}

// TestSecondCaddyOnOneBoltFile: a second Caddy process configured with a
// bolt file another one serves from starts, answers 503 where it needs the
// store and keeps Basic working, logging the held file once rather than
// once per request (each request used to wait 5 s for the lock and log an
// error). Once the first process stops, the second opens the file.
func TestSecondCaddyOnOneBoltFile(t *testing.T) {
	t.Parallel() // Caddy processes of its own: runs beside the other process tests
	up := newUpstream(t)
	site := processSite(t, up, "store bolt "+filepath.Join(t.TempDir(), "shared.db"))
	a := newCaddyProcess(t, site)
	a.Start()
	resp, body := a.Do(t, "POST", "/@tokens", withBasic("alice", alicePassword), "")
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create token on the first Caddy: %d %s", resp.StatusCode, body)
	}
	var tok struct{ Key string }
	if err := json.Unmarshal([]byte(body), &tok); err != nil {
		t.Fatal(err)
	}
	withToken := map[string]string{"Authorization": "Token " + tok.Key}

	b := newCaddyProcess(t, site)
	b.Start()
	for i := range 5 {
		if resp, body := b.Do(t, "GET", "/x", withToken, ""); resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("token %d on the second Caddy: %d %s, want 503", i, resp.StatusCode, body)
		}
		if resp, body := b.Do(t, "GET", "/x", withBasic("alice", alicePassword), ""); resp.StatusCode != http.StatusOK {
			t.Fatalf("Basic %d on the second Caddy: %d %s, want 200", i, resp.StatusCode, body)
		}
	}
	for i := range 3 {
		if resp, body := b.Do(t, "POST", "/@tokens", withBasic("alice", alicePassword), ""); resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("token creation %d on the second Caddy: %d %s, want 503", i, resp.StatusCode, body)
		}
	}
	if n := strings.Count(b.Log(), "cannot open token store"); n != 1 {
		t.Errorf("the held file is logged %d times, want once:\n%s", n, b.Log())
	}
	if n := strings.Count(b.Log(), `"level":"error"`); n != 1 {
		t.Errorf("%d errors logged for one held file, want 1:\n%s", n, b.Log())
	}

	a.Stop()
	poll.Until(t, "the second Caddy serving the token once the first stopped", 30*time.Second, func() (bool, string) {
		resp, body := b.Do(t, "GET", "/x", withToken, "")
		return resp.StatusCode == http.StatusOK, fmt.Sprintf("%d %s", resp.StatusCode, body)
	})
}

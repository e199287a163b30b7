package integration

import (
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
)

// adminCall sends a request to the process's admin endpoint.
func adminCall(t *testing.T, p *caddyProcess, method, path, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+p.adminAddr+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(data)
}

// restAuthCLI runs `caddy rest-auth args...` against the process.
func restAuthCLI(t *testing.T, p *caddyProcess, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := exec.Command(p.bin, append([]string{"rest-auth", "--address", p.adminAddr}, args...)...)
	cmd.Env = p.env()
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

func decodeJSON(t *testing.T, body string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("decoding %q: %v", body, err)
	}
}

// TestAdminAPI calls every admin.api.rest_auth route on a real Caddy and
// checks what the site's clients notice.
func TestAdminAPI(t *testing.T) {
	up := newUpstream(t)
	p := newCaddyProcess(t, processSite(t, up, ""))
	p.Start()
	jsonBody := map[string]string{"Content-Type": "application/json"}

	// Create a token for alice: its key works on the site.
	resp, body := adminCall(t, p, "POST", "/rest_auth/tokens", `{"user":"alice","description":"ci","expiration_days":30,"roles":["editor"],"write_enabled":false}`)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	var tok struct {
		ID, Key, User string
		Roles         []string
		WriteEnabled  bool `json:"write_enabled"`
	}
	decodeJSON(t, body, &tok)
	if tok.Key == "" || tok.User != "alice" || len(tok.Roles) != 1 || tok.WriteEnabled {
		t.Fatalf("created token = %s", body)
	}
	if loc := resp.Header.Get("Location"); loc != "/rest_auth/tokens/"+tok.ID {
		t.Errorf("Location = %q", loc)
	}
	if resp, body := p.Do(t, "GET", "/", map[string]string{"Authorization": "Token " + tok.Key}, ""); resp.StatusCode != 200 || up.received(t).Get("X-Remote-User") != "alice" {
		t.Fatalf("the new token on the site: %d %s", resp.StatusCode, body)
	}
	families := scrapeMetrics(t, p.adminAddr)
	if n, _ := metricValue(families, "caddy_rest_auth_tokens", map[string]string{}); n != 1 {
		t.Errorf("caddy_rest_auth_tokens = %v, want 1", n)
	}

	// List: the token, never a key.
	resp, body = adminCall(t, p, "GET", "/rest_auth/tokens?user=alice", "")
	var list struct {
		Count   int
		Results []map[string]any
	}
	decodeJSON(t, body, &list)
	if resp.StatusCode != 200 || list.Count != 1 || list.Results[0]["id"] != tok.ID || strings.Contains(body, tok.Key) || list.Results[0]["key"] != nil {
		t.Fatalf("list: %d %s", resp.StatusCode, body)
	}

	// Revoke: 204, then 404; the key stops working.
	if resp, body := adminCall(t, p, "DELETE", "/rest_auth/tokens/"+tok.ID, ""); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", resp.StatusCode, body)
	}
	resp, body = adminCall(t, p, "DELETE", "/rest_auth/tokens/"+tok.ID, "")
	assertProblem(t, resp, body, http.StatusNotFound, "No such token")
	if resp, body := p.Do(t, "GET", "/", map[string]string{"Authorization": "Token " + tok.Key}, ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("revoked token on the site: %d %s", resp.StatusCode, body)
	}

	// Sessions: listed without their ids, ended.
	login := func() string {
		resp, body := p.Do(t, "POST", "/@session", jsonBody, `{"username":"alice","password":"`+alicePassword+`"}`)
		if resp.StatusCode != 200 {
			t.Fatalf("session login: %d %s", resp.StatusCode, body)
		}
		return "sessionid=" + cookieNamed(resp, "sessionid").Value
	}
	cookie := login()
	resp, body = adminCall(t, p, "GET", "/rest_auth/sessions?user=alice", "")
	var sessions struct {
		Count   int
		Results []map[string]any
	}
	decodeJSON(t, body, &sessions)
	if resp.StatusCode != 200 || sessions.Count != 1 || sessions.Results[0]["created"] == nil || sessions.Results[0]["last_seen"] == nil ||
		sessions.Results[0]["client_address"] != "127.0.0.1" ||
		strings.Contains(body, strings.TrimPrefix(cookie, "sessionid=")) {
		t.Fatalf("sessions: %d %s", resp.StatusCode, body)
	}
	resp, body = adminCall(t, p, "DELETE", "/rest_auth/sessions?user=alice", "")
	if resp.StatusCode != 200 || strings.TrimSpace(body) != `{"ended":1}` {
		t.Fatalf("end sessions: %d %s", resp.StatusCode, body)
	}
	if resp, body := p.Do(t, "GET", "/", map[string]string{"Cookie": cookie}, ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("ended session on the site: %d %s", resp.StatusCode, body)
	}

	// Logout everywhere: session, JWT and (with tokens) API tokens stop working.
	cookie = login()
	resp, body = p.Do(t, "POST", "/@login", jsonBody, `{"login":"alice","password":"`+alicePassword+`"}`)
	var jwt struct{ Token string }
	decodeJSON(t, body, &jwt)
	_, body = adminCall(t, p, "POST", "/rest_auth/tokens", `{"user":"alice"}`)
	decodeJSON(t, body, &tok)
	for name, h := range map[string]string{"Cookie": cookie, "Authorization": "Bearer " + jwt.Token} {
		if resp, body := p.Do(t, "GET", "/", map[string]string{name: h}, ""); resp.StatusCode != 200 {
			t.Fatalf("%s before logout: %d %s", name, resp.StatusCode, body)
		}
	}
	resp, body = adminCall(t, p, "POST", "/rest_auth/users/alice/logout", `{"tokens":true}`)
	if resp.StatusCode != 200 || strings.TrimSpace(body) != `{"sessions":1,"tokens":1}` {
		t.Fatalf("logout: %d %s", resp.StatusCode, body)
	}
	for _, c := range []struct{ name, value string }{
		{"Cookie", cookie}, {"Authorization", "Bearer " + jwt.Token}, {"Authorization", "Token " + tok.Key},
	} {
		if resp, body := p.Do(t, "GET", "/", map[string]string{c.name: c.value}, ""); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%.12s… after logout: %d %s", c.value, resp.StatusCode, body)
		}
	}

	// Mistakes are problems.
	for _, c := range []struct {
		method, path, body string
		status             int
		detail             string
	}{
		{"GET", "/rest_auth/tokens?store=/nowhere.db", "", 404, "No rest_auth handler uses the store /nowhere.db"},
		{"POST", "/rest_auth/tokens", `{"description":"no owner"}`, 400, `Send "user"`},
		{"POST", "/rest_auth/tokens", `{"user":"nobody"}`, 400, `User "nobody" does not exist`},
		{"GET", "/rest_auth/sessions", "", 400, "?user=<name>"},
		{"PUT", "/rest_auth/tokens", "", 405, "not allowed"},
		{"GET", "/rest_auth/nothing", "", 404, "No such rest_auth admin route"},
	} {
		resp, body := adminCall(t, p, c.method, c.path, c.body)
		assertProblem(t, resp, body, c.status, c.detail)
	}

	events := auditEvents(t, p.Log())
	for _, want := range []map[string]any{
		{"event": "token_created", "user": "alice", "by": "admin_api"},
		{"event": "token_revoked", "user": "alice", "by": "admin_api", "token_id": tok.ID},
		{"event": "session_ended", "user": "alice", "by": "admin_api"},
		{"event": "jwt_revoked", "user": "alice", "by": "admin_api"},
	} {
		if findEvent(events, want) == nil {
			t.Errorf("no audit event %v", want)
		}
	}
}

// TestRestAuthCommand runs `caddy rest-auth` as the built binary against
// a running Caddy.
func TestRestAuthCommand(t *testing.T) {
	up := newUpstream(t)
	p := newCaddyProcess(t, processSite(t, up, ""))
	p.Start()

	out, errOut, err := restAuthCLI(t, p, "token", "create", "--user", "bob", "--description", "deploy bot", "--expires", "30d", "--read-only")
	if err != nil {
		t.Fatalf("token create: %v\n%s%s", err, out, errOut)
	}
	key := ""
	for _, line := range strings.Split(out, "\n") {
		if k, ok := strings.CutPrefix(line, "key: "); ok {
			key = k
		}
	}
	if key == "" || strings.Count(out, key) != 1 || !strings.Contains(out, "deploy bot") {
		t.Fatalf("token create printed:\n%s", out)
	}
	if resp, body := p.Do(t, "GET", "/", map[string]string{"Authorization": "Token " + key}, ""); resp.StatusCode != 200 {
		t.Fatalf("the CLI's token on the site: %d %s", resp.StatusCode, body)
	}
	if resp, body := p.Do(t, "POST", "/", map[string]string{"Authorization": "Token " + key}, ""); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("--read-only token writing: %d %s", resp.StatusCode, body)
	}

	out, errOut, err = restAuthCLI(t, p, "token", "list", "--user", "bob", "--json")
	var list struct {
		Count   int
		Results []struct{ ID string }
	}
	if err != nil {
		t.Fatalf("token list: %v %s", err, errOut)
	}
	decodeJSON(t, out, &list)
	if list.Count != 1 || strings.Contains(out, key) {
		t.Fatalf("token list --json: %s", out)
	}
	out, _, _ = restAuthCLI(t, p, "token", "list")
	if !strings.Contains(out, "ID") || !strings.Contains(out, list.Results[0].ID) || strings.Contains(out, key) {
		t.Fatalf("token list table:\n%s", out)
	}

	if out, errOut, err = restAuthCLI(t, p, "token", "revoke", list.Results[0].ID); err != nil {
		t.Fatalf("token revoke: %v %s%s", err, out, errOut)
	}
	_, errOut, err = restAuthCLI(t, p, "token", "revoke", list.Results[0].ID)
	if err == nil || !strings.Contains(errOut, "No such token.") {
		t.Fatalf("revoking again: err %v, stderr %s", err, errOut)
	}

	resp, body := p.Do(t, "POST", "/@session", map[string]string{"Content-Type": "application/json"}, `{"username":"alice","password":"`+alicePassword+`"}`)
	if resp.StatusCode != 200 {
		t.Fatalf("session login: %d %s", resp.StatusCode, body)
	}
	out, errOut, err = restAuthCLI(t, p, "session", "list", "--user", "alice")
	if err != nil || strings.Count(strings.TrimSpace(out), "\n") != 1 || !strings.Contains(out, "LAST SEEN") {
		t.Fatalf("session list: %v %s\n%s", err, errOut, out)
	}
	out, errOut, err = restAuthCLI(t, p, "user", "logout", "alice", "--tokens")
	if err != nil || !strings.Contains(out, "1 sessions ended, 0 tokens revoked") {
		t.Fatalf("user logout: %v %s\n%s", err, errOut, out)
	}
	if _, errOut, err = restAuthCLI(t, p, "token", "list", "--store", "/nowhere.db"); err == nil || !strings.Contains(errOut, "No rest_auth handler uses the store") {
		t.Fatalf("unknown store: err %v, stderr %s", err, errOut)
	}
}

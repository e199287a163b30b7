package integration

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/caddy-restauth/caddy-restauth/internal/testusers"
)

// tokenSite is a site on the process's port with the default bolt store
// and the given token block options.
func tokenSite(t *testing.T, up *upstream, realm, tokenOptions string) string {
	return processSite(t, up, "realm "+realm+"\n\t\ttoken {\n\t\t\t"+tokenOptions+"\n\t\t}")
}

// tokenProcessCall sends a request with an Authorization value (if any)
// and a JSON body (if any) to the Caddy process.
func tokenProcessCall(t *testing.T, p *caddyProcess, method, path, auth, body string) (int, string) {
	t.Helper()
	headers := map[string]string{}
	if auth != "" {
		headers["Authorization"] = auth
	}
	if body != "" {
		headers["Content-Type"] = "application/json"
	}
	resp, data := p.Do(t, method, path, headers, body)
	return resp.StatusCode, data
}

// processToken returns the token with id as GET @tokens lists it for alice.
func processToken(t *testing.T, p *caddyProcess, id string) tokenObject {
	t.Helper()
	status, body := tokenProcessCall(t, p, "GET", "/@tokens", testusers.BasicHeader("alice", alicePassword), "")
	if status != 200 {
		t.Fatalf("GET @tokens: %d %s", status, body)
	}
	for _, tok := range decodeTokenList(t, body) {
		if tok.ID == id {
			return tok
		}
	}
	t.Fatalf("token %s not listed: %s", id, body)
	return tokenObject{}
}

// waitLastUsed polls @tokens until the token's last_used is shown.
func waitLastUsed(t *testing.T, p *caddyProcess, id string) string {
	t.Helper()
	var lastUsed string
	eventually(t, 30*time.Second, func() (bool, string) {
		tok := processToken(t, p, id)
		if tok.LastUsed == nil {
			return false, "last_used of " + id + " never shown\n" + p.Log()
		}
		lastUsed = *tok.LastUsed
		return true, ""
	})
	return lastUsed
}

// provisionInProcess creates a token for alice with her password.
func provisionInProcess(t *testing.T, p *caddyProcess) tokenObject {
	t.Helper()
	status, body := tokenProcessCall(t, p, "POST", "/@tokens", "", `{"username": "alice", "password": "`+alicePassword+`"}`)
	if status != http.StatusCreated {
		t.Fatalf("provision: %d %s", status, body)
	}
	var tok tokenObject
	if err := json.Unmarshal([]byte(body), &tok); err != nil || tok.Key == "" {
		t.Fatalf("provision body %s: %v", body, err)
	}
	return tok
}

// useToken calls the API with the token and expects status.
func useToken(t *testing.T, p *caddyProcess, key string, status int) {
	t.Helper()
	got, body := tokenProcessCall(t, p, "GET", "/api/items", "Token "+key, "")
	if got != status {
		t.Fatalf("GET with token: %d, want %d (%s)\n%s", got, status, body, p.Log())
	}
}

// TestBuiltBinaryTokenLifecycle runs the built Caddy with the default bolt
// store: provision, call, list without key, last_used stored and kept
// across a restart and a reload, revoke, refused.
func TestBuiltBinaryTokenLifecycle(t *testing.T) {
	t.Parallel() // a Caddy process of its own: runs beside the other process tests
	up := newUpstream(t)
	p := newCaddyProcess(t, tokenSite(t, up, "one", "flush_interval 1s"))
	p.Start()

	tok := provisionInProcess(t, p)
	if tok.LastUsed != nil {
		t.Fatalf("a new token has last_used %s", *tok.LastUsed)
	}
	useToken(t, p, tok.Key, 200)
	if got := up.received(t).Get("X-Remote-User"); got != "alice" {
		t.Fatalf("upstream user %q", got)
	}
	if strings.Contains(processToken(t, p, tok.ID).Key, "rat_") {
		t.Fatal("the list shows the key")
	}
	lastUsed := waitLastUsed(t, p, tok.ID)

	p.Restart()
	useToken(t, p, tok.Key, 200)
	if got := processToken(t, p, tok.ID); got.LastUsed == nil || *got.LastUsed != lastUsed {
		t.Fatalf("after restart last_used = %v, want %s (kept, and not rewritten within 60 s)", got.LastUsed, lastUsed)
	}

	p.WriteConfig(tokenSite(t, up, "two", "flush_interval 1s"))
	p.Reload()
	useToken(t, p, tok.Key, 200)
	if got := processToken(t, p, tok.ID); got.LastUsed == nil || *got.LastUsed != lastUsed {
		t.Fatalf("after reload last_used = %v, want %s", got.LastUsed, lastUsed)
	}

	status, body := tokenProcessCall(t, p, "DELETE", "/@tokens/"+tok.ID, "Token "+tok.Key, "")
	if status != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", status, body)
	}
	useToken(t, p, tok.Key, http.StatusUnauthorized)
	p.Restart()
	useToken(t, p, tok.Key, http.StatusUnauthorized)
}

// TestBuiltBinaryTokenFlushOnExit checks that uses not yet written when
// Caddy stops or reloads are written on the way out.
func TestBuiltBinaryTokenFlushOnExit(t *testing.T) {
	t.Parallel() // a Caddy process of its own: runs beside the other process tests
	up := newUpstream(t)
	p := newCaddyProcess(t, tokenSite(t, up, "one", "flush_interval 1h"))
	p.Start()

	first := provisionInProcess(t, p)
	useToken(t, p, first.Key, 200)
	p.Restart()
	if got := processToken(t, p, first.ID); got.LastUsed == nil {
		t.Fatalf("last_used recorded before a restart was lost\n%s", p.Log())
	}

	second := provisionInProcess(t, p)
	useToken(t, p, second.Key, 200)
	p.WriteConfig(tokenSite(t, up, "two", "flush_interval 1h"))
	p.Reload()
	if got := processToken(t, p, second.ID); got.LastUsed == nil {
		t.Fatalf("last_used recorded before a reload was lost\n%s", p.Log())
	}
}

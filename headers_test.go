package restauth

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSpoofedIdentityHeadersAreRemoved(t *testing.T) {
	up := newUpstream(t)
	tester := startCaddy(t, siteConfig(t, "anonymous read", up.addr()))
	spoofs := []string{"X-Remote-User", "X_Remote_User", "x-remote_user", "X-Remote-Roles", "X_REMOTE_ROLES"}
	for _, auth := range []map[string]string{nil, withBasic("bob", bobPassword)} {
		h := map[string]string{}
		for k, v := range auth {
			h[k] = v
		}
		for _, s := range spoofs {
			h[s] = "admin"
		}
		resp, body := call(t, tester, "GET", httpBase+"/", h, "")
		if resp.StatusCode != 200 {
			t.Fatalf("status %d (%s)", resp.StatusCode, body)
		}
		got := up.received(t)
		for name, values := range got {
			if headerNamesEquivalent(name, "X-Remote-User") || headerNamesEquivalent(name, "X-Remote-Roles") {
				for _, v := range values {
					if v == "admin" {
						t.Errorf("upstream received spoofed %s: %q (authenticated=%v)", name, v, auth != nil)
					}
				}
			}
		}
		if auth != nil && (got.Get("X-Remote-User") != "bob" || got.Get("X-Remote-Roles") != "viewer") {
			t.Errorf("upstream got %q/%q, want bob/viewer", got.Get("X-Remote-User"), got.Get("X-Remote-Roles"))
		}
	}
}

func TestCustomIdentityHeaderNames(t *testing.T) {
	up := newUpstream(t)
	tester := startCaddy(t, siteConfig(t, "user_header X-Auth-User\n\t\troles_header X-Auth-Groups", up.addr()))
	resp, _ := call(t, tester, "GET", httpBase+"/", map[string]string{
		"Authorization": basicHeader("alice", alicePassword),
		"X_Auth_User":   "root",
	}, "")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	got := up.received(t)
	if got.Get("X-Auth-User") != "alice" || got.Get("X-Auth-Groups") != "editor,member" {
		t.Errorf("upstream got user %q groups %q", got.Get("X-Auth-User"), got.Get("X-Auth-Groups"))
	}
	if v := got.Values("X_Auth_User"); len(v) > 0 {
		t.Errorf("spoofed X_Auth_User reached upstream: %q", v)
	}
	if got.Get("X-Remote-User") != "" {
		t.Error("default header sent although renamed")
	}
}

func TestAccessLogHasUserIDAndPlaceholders(t *testing.T) {
	up := newUpstream(t)
	logFile := filepath.Join(t.TempDir(), "access.log")
	config := globalOptions + httpBase + ` {
	log {
		output file ` + logFile + `
		format json
	}
	rest_auth {
		users_file ` + testdataPath(t, "users.json") + `
		store memory
	}
	request_header X-Seen "{http.auth.user.id}|{http.auth.user.roles}|{http.auth.user.method}"
	reverse_proxy ` + up.addr() + `
}
`
	tester := startCaddy(t, config)
	resp, _ := call(t, tester, "GET", httpBase+"/logged", withBasic("alice", alicePassword), "")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if got := up.received(t).Get("X-Seen"); got != "alice|editor,member|basic" {
		t.Errorf("placeholders = %q, want alice|editor,member|basic", got)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		data, _ := os.ReadFile(logFile)
		for _, line := range strings.Split(string(data), "\n") {
			var entry struct {
				UserID  string `json:"user_id"`
				Request struct {
					URI     string              `json:"uri"`
					Headers map[string][]string `json:"headers"`
				} `json:"request"`
			}
			if json.Unmarshal([]byte(line), &entry) == nil && entry.Request.URI == "/logged" {
				if entry.UserID != "alice" {
					t.Fatalf("access log user_id = %q, want alice", entry.UserID)
				}
				if strings.Contains(string(data), alicePassword) {
					t.Fatal("the access log contains the password")
				}
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no access log entry for /logged in %q", data)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

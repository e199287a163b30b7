package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"
)

// usersFileApplied is how soon an edited users_file applies.
const usersFileApplied = 2 * time.Second

// replaceFile overwrites dst with the fixture name, as an editor would.
func replaceFile(t *testing.T, dst, name string) {
	t.Helper()
	if err := os.WriteFile(dst, []byte(readFile(t, testdataPath(t, name))), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestUsersFileEditsApply: disabling bob in users_file ends every
// credential of bob's (cached Basic, JWT, API token, session) without a
// reload; a broken file then keeps the last good users and logs an error.
func TestUsersFileEditsApply(t *testing.T) {
	up := newUpstream(t)
	dir := t.TempDir()
	users, logFile := filepath.Join(dir, "users.json"), filepath.Join(dir, "caddy.log")
	replaceFile(t, users, "users.json")
	config := strings.Replace(siteConfig(t, "", up.addr()), testdataPath(t, "users.json"), users, -1)
	config = strings.Replace(config, "\tservers {", "\tlog {\n\t\toutput file "+logFile+"\n\t\tformat json\n\t}\n\tservers {", 1)
	tester := startCaddy(t, config)

	basic := withBasic("bob", bobPassword)
	jwt := bearer(login(t, tester, httpBase, "bob", bobPassword))
	token := withToken(createToken(t, tester, basic, `{}`).Key)
	browser := newTester(t)
	sessionLogin(t, browser, httpBase, "bob", bobPassword)
	credentials := []struct {
		name    string
		tester  *caddytest.Tester
		headers map[string]string
	}{{"basic", tester, basic}, {"jwt", tester, jwt}, {"token", tester, token}, {"session", browser, nil}}
	statuses := func() []int {
		var got []int
		for _, c := range credentials {
			resp, _ := call(t, c.tester, "GET", httpBase+"/x", c.headers, "")
			got = append(got, resp.StatusCode)
		}
		return got
	}
	for i, s := range statuses() { // Basic is now in the verified-password cache
		if s != 200 {
			t.Fatalf("bob's %s before the edit: %d", credentials[i].name, s)
		}
	}

	replaceFile(t, users, "users_bob_disabled.json")
	eventually(t, usersFileApplied, func() (bool, string) {
		got := statuses()
		for _, s := range got {
			if s != http.StatusUnauthorized {
				return false, fmt.Sprint("bob's basic, jwt, token, session: ", got)
			}
		}
		return true, ""
	})

	replaceFile(t, users, "users_invalid.json")
	eventually(t, usersFileApplied, func() (bool, string) {
		data, _ := os.ReadFile(logFile)
		for _, line := range strings.Split(string(data), "\n") {
			var entry struct {
				Level, Logger, Msg, Path string
			}
			if json.Unmarshal([]byte(line), &entry) == nil && entry.Level == "error" &&
				entry.Logger == "http.handlers.rest_auth" && strings.Contains(entry.Msg, "users_file cannot be used") && entry.Path == users {
				return true, ""
			}
		}
		return false, "no error logged for the broken users_file"
	})
	if resp, body := call(t, tester, "GET", httpBase+"/x", withBasic("alice", alicePassword), ""); resp.StatusCode != 200 {
		t.Errorf("alice with the broken file: %d %s, want the last good users", resp.StatusCode, body)
	}
	for i, s := range statuses() {
		if s != http.StatusUnauthorized {
			t.Errorf("bob's %s with the broken file: %d, want 401 (last good users)", credentials[i].name, s)
		}
	}
	if log := readFile(t, logFile); strings.Contains(log, bobPassword) || strings.Contains(log, alicePassword) {
		t.Error("a password reached the log")
	}

	// A config without the handler stops its watcher.
	startCaddy(t, globalOptions)
	eventually(t, usersFileApplied, func() (bool, string) {
		stacks := make([]byte, 1<<20)
		stacks = stacks[:runtime.Stack(stacks, true)]
		return !strings.Contains(string(stacks), "(*usersFile).watch"), "the users_file watcher still runs after the config was replaced"
	})
}
